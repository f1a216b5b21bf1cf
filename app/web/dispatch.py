"""Route matching that skips, by the path's first segment, the routers that cannot match.

FastAPI tries every included router in order, and each router every one of its routes, so a
request for `/tickets` pays for about forty routers' regular expressions first (0.1–0.2 ms a
request; bench/README.md, issue 11). A router whose every path starts with a literal segment
(`/tickets/…`, `/institutions`) can only match a request whose path starts with one of those
segments; for any other request it now answers "no match" at once. Order and outcome do not
change: a router with any other kind of route (a path parameter first, a mount, a nested
prefix) is always tried, exactly as before.
"""

import re

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

_LITERAL_FIRST = re.compile(r"/([^/{}]*)(?:/|$)")


def _first_segments(route: BaseRoute, prefix: str = "") -> set[str] | None:
    """The literal first path segments `route` can match, or None when it could match any."""
    included = getattr(fastapi_routing, "_IncludedRouter", None)
    if included is not None and isinstance(route, included):
        prefix += route.include_context.prefix or ""
        found: set[str] = set()
        for child in route.original_router.routes:
            segments = _first_segments(child, prefix)
            if segments is None:
                return None
            found |= segments
        return found
    path = getattr(route, "path", None)
    if not isinstance(route, fastapi_routing.APIRoute | fastapi_routing.APIWebSocketRoute):
        return None  # a mount, a host, a plain Starlette route: always tried
    literal = _LITERAL_FIRST.match(prefix + path) if isinstance(path, str) else None
    return {literal.group(1)} if literal else None


def _first_segment(scope: Scope) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.split("/", 2)[1] if path.startswith("/") else path


def narrow(app: FastAPI) -> None:
    """Gives each top-level included router a first-segment check before its own matching."""
    included = getattr(fastapi_routing, "_IncludedRouter", None)
    if included is None:
        return  # another FastAPI: plain matching, which is correct, only slower

    class Narrowed(included):
        segments: frozenset[str] = frozenset()

        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            if scope["type"] in ("http", "websocket") and (
                _first_segment(scope) not in self.segments
            ):
                return Match.NONE, {}
            return super().matches(scope)

    for route in app.router.routes:
        if type(route) is not included:
            continue
        segments = _first_segments(route)
        if segments is not None:
            route.__class__ = Narrowed
            route.segments = frozenset(segments)
