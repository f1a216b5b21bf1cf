"""HTTP caching: validators, 304 answers, and bodies rendered once per version.

Everything here hangs on `status.fingerprint`, one query that changes whenever anything the
status views and feeds show changes. It is the validator (`ETag`) and the key of a small
per-process cache of what was rendered from it: each process keeps its own copies, but since
each asks the database for the fingerprint on every request, no process serves a body that
another process's write has made stale. A request costs that one statement while nothing
changed, and one more (`status.snapshot`) to build the new version when something did.
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import Request, Response
from markupsafe import Markup
from pydantic import BaseModel
from sqlmodel import Session

from app.core.config import get_settings
from app.models.user import User
from app.services import status as service
from app.web.render import VARY, Representation, add_vary, context, env, representation

CONDITIONAL = {304: {"description": "Not modified since the `ETag` / `Last-Modified` given."}}
CACHE_SIZE = 128


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
    return _validate(request, response, session, user, variant)[1]


def feed(
    request: Request,
    response: Response,
    session: Session,
    *,
    variant: str,
    media_type: str,
    build: Callable[[str], bytes],
    headers: dict[str, str] | None = None,
) -> Response:
    """A public feed (Atom, iCalendar): 304 when the client's copy is current, else the body
    `build(base_url)` made for this version, rendered once and reused. Calendar programs poll
    without `If-None-Match`, and rendering hundreds of events costs far more than the one
    query behind the `ETag`."""
    unchanged = conditional(request, response, session, None, variant)
    if unchanged is not None:
        return unchanged
    base_url = get_settings().base_url  # PORTAL_BASE_URL, never the Host header
    body = _cache.get(f"{response.headers['ETag']}|{base_url}", lambda: build(base_url))
    answer = Response(body, media_type=media_type, headers={**response.headers, **(headers or {})})
    add_vary(answer)
    return answer


def rendered(
    request: Request,
    response: Response,
    session: Session,
    user: User | None,
    *,
    template: str,
    block: str,
    build: Callable[[], BaseModel],
    validators: bool = True,
) -> Response:
    """A `@shared` resource that changes only with the fingerprint (the status page, the
    services), in each representation, built once per version: 304 when the client's copy is
    current; else the data `build()` returns (and the headers it set, e.g. `Link`), and its JSON
    and its `block` (the fragment) rendered once and reused. `validators=False` for a route whose
    contract has no `ETag` and no 304: its bodies are reused all the same.

    A page is the fragment inside the per-person frame (navigation, name, CSRF token), so only
    the frame is rendered per request. The block is rendered for nobody in particular: what it
    shows must not depend on who asks.
    """
    if validators:
        seed, unchanged = _validate(request, response, session, user, "")
        if unchanged is not None:
            return unchanged
    else:
        seed = service.fingerprint(session=session)[0]
    kind = representation(request)
    key = f"{seed}|{template}|{request.url.query}"
    data, added = _cache.get(f"{key}|data", lambda: _with_headers(response, build))
    response.headers.update(added)
    headers = dict(response.headers)
    if kind is Representation.json:
        body = _cache.get(f"{key}|json", lambda: data.model_dump_json().encode())
        answer = Response(body, media_type="application/json", headers=headers)
    else:
        live = _cache.get(f"{key}|{block}", lambda: _block(request, template, block, data))
        if kind is Representation.page:
            live = _frame(request, template, block, live, data)
        answer = Response(live, media_type="text/html; charset=utf-8", headers=headers)
    add_vary(answer)
    return answer


def clear() -> None:
    """Forgets every rendered body (tests and benchmarks that time a full render)."""
    _cache.clear()


# --- helpers ----------------------------------------------------------------------------------


class _Rendered:
    """A bounded LRU of rendered bodies; a body missing is built once, however many requests
    ask for it at the same moment (the first change after a quiet hour meets a crowd)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, Any] = OrderedDict()
        self.lock = threading.Lock()
        self.building: dict[str, threading.Lock] = {}

    def get(self, key: str, build: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            building = self.building.setdefault(key, threading.Lock())
        with building:
            with self.lock:
                if key in self.items:
                    return self.items[key]
            try:
                value = build()
                with self.lock:
                    self.items[key] = value
                    while len(self.items) > self.size:
                        self.items.popitem(last=False)
            finally:
                with self.lock:
                    self.building.pop(key, None)
        return value

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_cache = _Rendered(CACHE_SIZE)


def _validate(
    request: Request, response: Response, session: Session, user: User | None, variant: str
) -> tuple[str, Response | None]:
    """The fingerprint's seed, and a 304 when the client's copy is current."""
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
        return seed, Response(status_code=304, headers={**headers, "Vary": VARY})
    return seed, None


def _with_headers(response: Response, build: Callable[[], BaseModel]) -> tuple[BaseModel, dict]:
    """What `build()` returns, and the headers it added to `response`, to send with every reuse."""
    before = set(response.headers)
    data = build()
    return data, {k: v for k, v in response.headers.items() if k not in before}


def _block(request: Request, template: str, block: str, data: BaseModel) -> str:
    """`block` of `template` as anybody sees it (no user, no CSRF token)."""
    values = context(request, data=data) | {"user": None, "csrf_token": None}
    compiled = env.get_template(template)
    ctx = compiled.new_context(values)
    return "".join(compiled.blocks[block](ctx))


def _frame(request: Request, template: str, block: str, inner: str, data: BaseModel) -> str:
    """The whole page for this request, with `block` replaced by its rendered text."""
    compiled = env.get_template(template)
    ctx = compiled.new_context(context(request, data=data))

    def prerendered(_ctx) -> Iterator[str]:
        yield Markup(inner)  # noqa: S704  (our own template's output, escaped when rendered)

    ctx.blocks[block] = [prerendered]
    return "".join(compiled.root_render_func(ctx))


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
