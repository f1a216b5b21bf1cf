"""HTTP caching: validators, 304 answers, and bodies rendered once per version."""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request, Response
from sqlmodel import Session

from app.models.user import User
from app.services import status as service
from app.web.render import VARY, representation

CONDITIONAL = {304: {"description": "Not modified since the `ETag` / `Last-Modified` given."}}


def conditional(
    request: Request,
    response: Response,
    session: Session,
    user: User | None,
    variant: str = "",
) -> Response | None:
    """Sets `ETag`, `Last-Modified` and `Cache-Control`; a 304 when the client's copy is current.

    The validator changes with every write and every window start or end (see
    `status.fingerprint`); it differs per representation, query and signed-in person (pages
    carry the navigation).
    """
    seed, modified = service.fingerprint(session=session)
    kind = representation(request).value
    who = user.id if user and kind != "json" else "-"
    etag = f'W/"{seed[:20]}-{_short(f"{kind}|{who}|{variant}|{request.url.query}")}"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": "private, no-cache" if user else "public, no-cache",
    }
    response.headers.update(headers)
    if _not_modified(request, etag, modified):
        return Response(status_code=304, headers={**headers, "Vary": VARY})
    return None


_rendered: OrderedDict[str, bytes] = OrderedDict()
_rendered_lock = threading.Lock()


def cached(response: Response, base_url: str, build: Callable[[], bytes]) -> bytes:
    """A feed body, rendered once per version: calendar programs poll without `If-None-Match`,
    and rendering hundreds of events costs far more than the one query behind the `ETag`."""
    key = f"{response.headers['ETag']}|{base_url}"
    with _rendered_lock:
        if key in _rendered:
            _rendered.move_to_end(key)
            return _rendered[key]
    body = build()
    with _rendered_lock:
        _rendered[key] = body
        while len(_rendered) > 64:
            _rendered.popitem(last=False)
    return body


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    given = request.headers.get("if-none-match")
    if given is not None:
        tags = {t.strip().removeprefix("W/") for t in given.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
