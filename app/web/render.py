"""One endpoint, three representations (DESIGN.md §5).

A shared route returns data; `shared(...)` decides per request whether the client gets an htmx
fragment (one block of the resource's template), the full page, or JSON through the route's
response model.
"""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block
from pydantic import TypeAdapter
from pydantic_core import PydanticSerializationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import get_settings
from app.core.db import reads_without_waiting
from app.core.security import CSRF_FIELD, CSRF_HEADER
from app.models import labels
from app.models.user import User
from app.services import lists
from app.web.deps import SessionDep
from app.web.nav import navigation

TEMPLATES_DIR = Path(__file__).parent.parent / "ui" / "templates"
VARY = "Accept, HX-Request"


class Representation(Enum):
    json = "json"
    page = "page"
    fragment = "fragment"


def representation(request: Request) -> Representation:
    headers = request.headers
    if (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    ):
        return Representation.fragment
    if prefers_html(headers.get("accept", "")):
        return Representation.page
    return Representation.json


def accept_quality(accept: str) -> dict[str, float]:
    """Each media range of an `Accept` header with its q value (the highest, if repeated)."""
    ranks: dict[str, float] = {}
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        if not media:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranks[media] = max(ranks.get(media, 0.0), q)
    return ranks


def prefers_html(accept: str) -> bool:
    """True when `text/html` is acceptable and ranked above JSON (`*/*` alone means JSON)."""
    ranks = accept_quality(accept)
    html = ranks.get("text/html", 0.0)
    wildcards = ("application/problem+json", "*/*", "application/*")
    json = max(ranks.get("application/json", 0.0), *(ranks.get(m, 0.0) - 0.001 for m in wildcards))
    return html > 0 and html > json


def add_vary(response: Response) -> None:
    existing = response.headers.get("Vary")
    if existing is None:
        response.headers["Vary"] = VARY
    elif "hx-request" not in existing.lower():
        response.headers["Vary"] = f"{existing}, {VARY}"


# --- templates --------------------------------------------------------------------------------


def _local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    if value is None:
        return ""
    return value.astimezone(get_settings().tz).strftime(fmt)


def _relative(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = (value - datetime.now(UTC)).total_seconds()
    future, seconds = seconds > 0, abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    # A template is read once per process: checking its file on every render (and every
    # include) cost a `stat` per row of a list. Restart the server to see an edited template.
    auto_reload=False,
)
env.filters.update(
    local=_local,
    relative=_relative,
    label=labels.label,
    labels=labels.labels,
    filesize=labels.filesize,
    field_label=labels.field_label,
    extract=labels.extract,
    mail_kind=labels.mail_kind,
)
env.globals.update(
    CSRF_FIELD=CSRF_FIELD,
    CSRF_HEADER=CSRF_HEADER,
)
# Macros as globals: a fragment rendered on its own cannot see imports made outside its block.
_macros = env.get_template("macros.html").module
env.globals.update(
    {
        name: getattr(_macros, name)
        for name in (
            "field",
            "select",
            "status_badge",
            "pager",
            "list_table",
            "filter_panel",
            "change_history",
        )
    }
)


def _feed_key(user: User | None) -> str | None:
    """The reader's personal key for the feeds a page advertises (`<link rel="alternate">`)."""
    return lists.feed_key(user.id) if user is not None and user.id else None


env.globals["feed_key"] = _feed_key


def context(request: Request, **values: Any) -> dict[str, Any]:
    user = getattr(request.state, "user", None)
    settings = get_settings()
    return {
        "request": request,
        "user": user,
        "csrf_token": getattr(request.state, "csrf_token", None),
        "nav": navigation(request, user),
        "consortium_name": settings.consortium_name,
        "timezone": settings.timezone,
        "base_url": settings.base_url,  # absolute links: PORTAL_BASE_URL, never the Host header
        **values,
    }


def html(
    request: Request,
    template: str,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """Renders a whole template, or only `block` of it."""
    ctx = context(request, **values)
    body = (
        render_block(env, template, block, **ctx)
        if block
        else env.get_template(template).render(ctx)
    )
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    add_vary(response)
    return response


# --- shared routes ----------------------------------------------------------------------------


@dataclass
class View:
    """What a view function gets: the route's data and what it was made from."""

    data: Any
    request: Request
    session: Session
    user: User | None
    params: dict[str, Any]  # the route's own arguments (e.g. the loaded ticket, the filters)


_HIDDEN = {Request: "_rq", Response: "_rs", SessionDep: "_db"}
ViewFn = Callable[[View], dict[str, Any]]
Export = Callable[[View], Response]

# The exports a shared route may register, by `?format=` name, with their media types.
EXPORT_MEDIA = {"csv": "text/csv", "vcard": "text/vcard"}


def export_format(request: Request, formats: dict[str, Export]) -> str | None:
    """A registered export when `?format=` names it, or when `Accept` ranks it above HTML and
    JSON (for plain links `?format=json` means JSON)."""
    requested = request.query_params.get("format")
    if requested is not None:
        return requested if requested in formats else None
    if representation(request) is not Representation.json:
        return None
    ranks = accept_quality(request.headers.get("accept", ""))
    media = {EXPORT_MEDIA[name]: name for name in formats}
    other = max((q for m, q in ranks.items() if m not in media), default=0.0)
    best = max(media, key=lambda m: ranks.get(m, 0.0), default=None)
    if best is not None and ranks.get(best, 0.0) > other:
        return media[best]
    return None


READ_METHODS = frozenset({"GET", "HEAD"})


def _same_fields(one: Any, other: Any) -> bool:
    fields = getattr(one, "model_fields", None)
    return fields is not None and fields.keys() == getattr(other, "model_fields", {}).keys()


class JsonOut:
    """The JSON representation of one shared route, serialised once by pydantic-core.

    FastAPI would validate the route's result against its response model and then serialise
    it. A result that already *is* the response model (services build their public models
    with `model_construct` from rows the database has already checked) is serialised
    directly; anything else (an ORM row, a dict) is validated first, exactly as FastAPI
    would. `SharedRoute` fills in the route's response model and status code, so the OpenAPI
    document does not change.
    """

    adapter: TypeAdapter | None = None
    model: Any = None
    parents: tuple[type, ...] = ()
    status_code: int | None = None

    def body(self, result: Any) -> bytes:
        assert self.adapter is not None
        if type(result) in self.parents and _same_fields(type(result), self.model):
            # e.g. `page()`'s plain `Page` for a route declaring `Page[InstitutionPublic]`
            result = self.model.model_construct(**result.__dict__)
        if type(result) is self.model:
            try:
                return self.adapter.dump_json(result, by_alias=True, warnings="error")
            except PydanticSerializationError:
                pass  # something inside is not its declared model: validate, as FastAPI would
        value = self.adapter.validate_python(result, from_attributes=True)
        return self.adapter.dump_json(value, by_alias=True)

    def respond(self, result: Any, response: Response) -> Response:
        answer = Response(
            self.body(result),
            status_code=self.status_code or response.status_code or 200,
            media_type="application/json",
        )
        answer.headers.raw.extend(
            (k, v) for k, v in response.headers.raw if k not in (b"content-length",)
        )
        return answer


def shared(
    template: str,
    block: str,
    *,
    context: ViewFn | None = None,
    event: str | None = None,
    exports: dict[str, Export] | None = None,
    push: bool = True,
):
    """Decorates a resource route so it also answers browsers (page) and htmx (fragment).

    The route returns its resource and keeps its `response_model` for JSON. Only for a page or
    a fragment is `context(View)` called for what the template needs beside the data. Headers
    the route sets on its `Response` parameter (Location, Link, ETag) reach every
    representation. After a write, htmx also gets the `event` as `HX-Trigger` and, where the
    route set a `Location`, the URL pushed to history (not with `push=False`: a reply joins
    the page it was written on). `exports` are further representations (CSV, vCard) chosen by
    `?format=` or `Accept`; each builds its own response.
    """
    exports = exports or {}

    def decorate(endpoint):
        signature = inspect.signature(endpoint)
        params = list(signature.parameters.values())
        # FastAPI injects one Request, Response and session per route: reuse the route's own.
        own = {
            kind: next((p.name for p in params if p.annotation is kind), None) for kind in _HIDDEN
        }
        for kind, name in _HIDDEN.items():
            if own[kind] is None:
                params.append(
                    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind)
                )

        def view_of(kwargs: dict) -> tuple[View, Response]:
            got = {kind: kwargs[own[kind] or name] for kind, name in _HIDDEN.items()}
            for kind, name in _HIDDEN.items():
                if own[kind] is None:
                    kwargs.pop(name)
            request = got[Request]
            user = getattr(request.state, "user", None)
            view = View(None, request, got[SessionDep], user, kwargs)
            return view, got[Response]

        def finish(result: Any, view: View, response: Response) -> Any:
            add_vary(response)
            if isinstance(result, Response):
                add_vary(result)
                return result
            request = view.request
            kind = representation(request)
            if kind is Representation.json:
                return result
            view.data = result
            headers = dict(response.headers)
            if kind is Representation.fragment and request.method not in ("GET", "HEAD"):
                if event:
                    headers["HX-Trigger"] = event
                if push and "location" in headers:
                    headers["HX-Push-Url"] = headers["location"]
            return html(
                request,
                template,
                block=block if kind is Representation.fragment else None,
                headers=headers,
                data=result,
                **(context(view) if context else {}),
            )

        def exported(view: View) -> Response | None:
            name = export_format(view.request, exports) if exports else None
            if name is None:
                return None
            answer = exports[name](view)
            add_vary(answer)
            return answer

        if inspect.iscoroutinefunction(endpoint):

            async def call(kwargs: dict, view: View) -> Any:
                return await endpoint(**kwargs)

        else:

            async def call(kwargs: dict, view: View) -> Any:
                # A read runs in the event loop when that cannot make the loop wait for a
                # connection (`reads_without_waiting`); anything else goes to the thread pool,
                # where a write may also wait for a lock.
                if view.request.method in READ_METHODS and reads_without_waiting(view.session):
                    return endpoint(**kwargs)
                return await run_in_threadpool(endpoint, **kwargs)

        @functools.wraps(endpoint)
        async def wrapper(**kwargs):
            view, response = view_of(kwargs)
            answer = exported(view)
            if answer is not None:
                return answer
            result = await call(kwargs, view)
            if (
                json_out.adapter is not None
                and not isinstance(result, Response)
                and representation(view.request) is Representation.json
            ):
                add_vary(response)
                return json_out.respond(result, response)
            return finish(result, view, response)

        json_out = JsonOut()
        wrapper.__signature__ = signature.replace(parameters=params)
        wrapper.__shared__ = tuple(EXPORT_MEDIA[name] for name in exports)
        wrapper.__json_out__ = json_out
        return wrapper

    return decorate


class SharedRoute(APIRoute):
    """Lists `text/html` (and any registered export) beside JSON for every `@shared` route, so
    no route repeats it."""

    def __init__(self, path: str, endpoint: Callable, **kwargs: Any) -> None:
        media = getattr(endpoint, "__shared__", None)
        if media is not None:
            code = kwargs.get("status_code") or 200
            responses = dict(kwargs.get("responses") or {})
            entry = dict(responses.get(code, {}))
            content = dict(entry.get("content", {}))
            for kind in ("text/html", *media):
                content.setdefault(kind, {"schema": {"type": "string"}})
            responses[code] = {**entry, "content": content}
            kwargs["responses"] = responses
        super().__init__(path, endpoint, **kwargs)
        json_out = getattr(endpoint, "__json_out__", None)
        if json_out is not None and self.response_model is not None:
            json_out.adapter = TypeAdapter(self.response_model)
            json_out.model = self.response_model
            if isinstance(self.response_model, type):
                json_out.parents = self.response_model.__mro__[1:]
            json_out.status_code = self.status_code
