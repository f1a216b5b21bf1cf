"""One endpoint, three representations (DESIGN.md §5).

A shared route returns data; `shared(...)` decides per request whether the client gets an htmx
fragment (one block of the resource's template), the full page, or JSON through the route's
response model.
"""

import functools
import inspect
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block

from app.core.config import get_settings
from app.core.security import CSRF_FIELD, CSRF_HEADER
from app.services.access import is_staff
from app.ui.nav import navigation

TEMPLATES_DIR = Path(__file__).parent / "templates"
VARY = "Accept, HX-Request"
HTML_CONTENT = {"text/html": {"schema": {"type": "string"}}}


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


def _label(value: Any) -> str:
    """`public_university` → `Public university`."""
    text = value.value if isinstance(value, Enum) else str(value or "")
    return text.replace("_", " ").capitalize()


env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(local=_local, relative=_relative, label=_label)
env.globals.update(
    CSRF_FIELD=CSRF_FIELD,
    CSRF_HEADER=CSRF_HEADER,
    is_staff=is_staff,
)
# Macros as globals: a fragment rendered on its own cannot see imports made outside its block.
_macros = env.get_template("macros.html").module
env.globals.update(
    {name: getattr(_macros, name) for name in ("field", "select", "status_badge", "pager")}
)


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


def shared(
    template: str, block: str, *, event: str | None = None, extra: dict[str, Any] | None = None
):
    """Decorates a resource route so it also answers browsers (page) and htmx (fragment).

    The route keeps its `response_model` for JSON. Headers it sets on its `Response` parameter
    (Location, Link, ETag) reach every representation. After a write, htmx also gets the
    `event` as `HX-Trigger` and, where the route set a `Location`, the URL pushed to history.
    `extra` is fixed template context (e.g. the choices of a filter).
    """

    def decorate(endpoint):
        signature = inspect.signature(endpoint)
        params = list(signature.parameters.values())
        # FastAPI injects one Request and one Response per route: reuse the route's own if any.
        names = {}
        for kind, default in ((Request, "_rq"), (Response, "_rs")):
            own = next((p.name for p in params if p.annotation is kind), None)
            names[kind] = own or default
            if own is None:
                params.append(
                    inspect.Parameter(default, inspect.Parameter.KEYWORD_ONLY, annotation=kind)
                )

        def call(kwargs: dict) -> tuple[Request, Response]:
            request = kwargs[names[Request]] if names[Request] != "_rq" else kwargs.pop("_rq")
            response = kwargs[names[Response]] if names[Response] != "_rs" else kwargs.pop("_rs")
            return request, response

        def finish(result: Any, request: Request, response: Response) -> Any:
            add_vary(response)
            if isinstance(result, Response):
                add_vary(result)
                return result
            kind = representation(request)
            if kind is Representation.json:
                return result
            headers = dict(response.headers)
            if kind is Representation.fragment and request.method not in ("GET", "HEAD"):
                if event:
                    headers["HX-Trigger"] = event
                if "location" in headers:
                    headers["HX-Push-Url"] = headers["location"]
            return html(
                request,
                template,
                block=block if kind is Representation.fragment else None,
                status_code=200,
                headers=headers,
                data=result,
                **(extra or {}),
            )

        if inspect.iscoroutinefunction(endpoint):

            @functools.wraps(endpoint)
            async def wrapper(**kwargs):
                request, response = call(kwargs)
                return finish(await endpoint(**kwargs), request, response)

        else:

            @functools.wraps(endpoint)
            def wrapper(**kwargs):
                request, response = call(kwargs)
                return finish(endpoint(**kwargs), request, response)

        wrapper.__signature__ = signature.replace(parameters=params)
        return wrapper

    return decorate
