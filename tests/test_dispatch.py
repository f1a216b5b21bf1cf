"""Routing by first path segment (`app.web.dispatch.narrow`) picks the very route FastAPI's
plain in-order matching picks, for every route of the app and for paths no route has."""

import re
from unittest import mock

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Match

from app.main import create_app


def _chosen(app, method: str, path: str) -> tuple[int, str | None, Match]:
    """The first top-level entry that matches fully (else the first partial one), and the
    endpoint it resolves to: what the router would call."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    partial = None
    for index, route in enumerate(app.router.routes):
        match, child = route.matches(dict(scope))
        endpoint = child.get("endpoint")
        found = (index, getattr(endpoint, "__qualname__", None), match)
        if match is Match.FULL:
            return found
        if match is Match.PARTIAL and partial is None:
            partial = found
    return partial or (-1, None, Match.NONE)


@pytest.fixture(scope="module")
def apps():
    with mock.patch("app.web.dispatch.narrow", lambda app: None):
        plain = create_app()
    return plain, create_app()


def _api_routes(routes) -> list[APIRoute]:
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # an included router, kept as one entry
            found += _api_routes(route.original_router.routes)
    return found


def _requests(app) -> list[tuple[str, str]]:
    found = []
    for route in _api_routes(app.router.routes):
        path = re.sub(r"\{[^}]+\}", "2026-00001", route.path)
        found += [(method, path) for method in sorted(route.methods)]
    unknown = ["/", "/nowhere", "/institutions/new", "/static/portal.css", "/tickets/", "/x/y/z"]
    return found + [(method, path) for path in unknown for method in ("GET", "POST")]


def test_narrowing_changes_no_route_choice(apps):
    plain, narrowed = apps
    requests = _requests(plain)
    assert len(requests) > 150
    for method, path in requests:
        assert _chosen(narrowed, method, path) == _chosen(plain, method, path), (method, path)


def test_most_routers_are_narrowed(apps):
    _, narrowed = apps
    kinds = [type(route).__name__ for route in narrowed.router.routes]
    assert kinds.count("Narrowed") >= 30
