"""One endpoint, three representations (DESIGN.md §5): every shared route of the route table
(`tests/routes.py`) × every header case, as a consortium admin who may call them all."""

from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest

from tests.factories import World
from tests.routes import (
    CALLERS,
    ROUTES,
    Route,
    assert_varies,
    call,
    media_type,
    shared_routes,
    undone,
)

JSON = "json"
PAGE = "page"
FRAGMENT = "fragment"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclass(frozen=True)
class HeaderCase:
    id: str
    headers: dict[str, str]
    expected: str


HEADER_CASES = [
    HeaderCase("no-headers", {}, JSON),
    HeaderCase("any", {"Accept": "*/*"}, JSON),
    HeaderCase("json", {"Accept": "application/json"}, JSON),
    HeaderCase("html", {"Accept": "text/html"}, PAGE),
    HeaderCase("browser", {"Accept": BROWSER}, PAGE),
    HeaderCase("q-prefers-json", {"Accept": "text/html;q=0.5, application/json"}, JSON),
    HeaderCase("q-prefers-html", {"Accept": "application/json;q=0.5, text/html"}, PAGE),
    HeaderCase("htmx", {"HX-Request": "true", "Accept": "*/*"}, FRAGMENT),
    HeaderCase("htmx-html", {"HX-Request": "true", "Accept": "text/html"}, FRAGMENT),
    HeaderCase(
        "htmx-boosted", {"HX-Request": "true", "HX-Boosted": "true", "Accept": BROWSER}, PAGE
    ),
    HeaderCase(
        "htmx-history-restore",
        {"HX-Request": "true", "HX-History-Restore-Request": "true", "Accept": BROWSER},
        PAGE,
    ),
]


ANONYMOUS = CALLERS[0]


def is_page(response: httpx.Response) -> bool:
    return response.text.lstrip().lower().startswith("<!doctype html>")


def test_every_shared_route_has_an_entry():
    table = [(route.method, route.path) for route in ROUTES]
    assert len(set(table)) == len(table), "one entry per route"
    assert len({route.id for route in ROUTES}) == len(ROUTES), "ids are unique"
    assert shared_routes() - set(table) == set(), "add these shared routes to tests/routes.py"
    assert set(table) - shared_routes() == set(), "these entries are no (longer) shared routes"


# App defects the matrix found, by (route, representation). Such a case is reported as an
# expected failure while it fails, and fails once it passes, until its entry is removed.
KNOWN_BROKEN: dict[tuple[str, str], str] = {}


def check_representation(world: World, route: Route, case: HeaderCase, response) -> None:
    # Pages and fragments always answer 200: htmx swaps 2xx only, and a page is a page.
    expected_status = route.status if case.expected == JSON else 200
    assert response.status_code == expected_status, f"{case.id}: {response.text}"
    assert_varies(response)
    if case.expected == JSON:
        assert media_type(response) == "application/json"
        assert isinstance(response.json(), dict)
    else:
        assert media_type(response) == "text/html"
        assert is_page(response) == (case.expected == PAGE)
        assert ("<html" in response.text) == (case.expected == PAGE)
    if case.expected == FRAGMENT and route.writes:
        assert response.headers["hx-trigger"], "htmx hears that the write happened"
    shown = route.shows(world)
    if shown is not None:
        assert shown in response.text


def check_sign_in(world: World, route: Route, responses: dict[str, httpx.Response]) -> None:
    """JSON: 401 problem; browsers: 303 to the login page; htmx: 401 and HX-Redirect."""
    api, page, fragment = responses[JSON], responses[PAGE], responses[FRAGMENT]
    assert (api.status_code, media_type(api)) == (401, "application/problem+json")
    assert api.headers["www-authenticate"] == "Bearer"
    assert api.json()["status"] == 401
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=" + quote(route.url(world), safe="/")
    assert fragment.status_code == 401
    assert fragment.headers["hx-redirect"] == page.headers["location"]
    for response in responses.values():
        assert_varies(response)


def check_refusal(status: int, responses: dict[str, httpx.Response]) -> None:
    """403 / 404: a problem for JSON, an error page for browsers, an error fragment (that
    swaps nothing) for htmx."""
    api, page, fragment = responses[JSON], responses[PAGE], responses[FRAGMENT]
    assert (api.status_code, media_type(api)) == (status, "application/problem+json")
    assert api.json()["status"] == status
    assert (page.status_code, media_type(page)) == (status, "text/html")
    assert is_page(page)
    assert (fragment.status_code, media_type(fragment)) == (status, "text/html")
    assert not is_page(fragment)
    assert fragment.headers["hx-reswap"] == "none"
    assert 'hx-swap-oob="true"' in fragment.text
    for response in responses.values():
        assert_varies(response)


ERROR_CASES = {
    JSON: {"Accept": "application/json"},
    PAGE: {"Accept": BROWSER},
    FRAGMENT: {"HX-Request": "true"},
}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_every_shared_route_answers_in_the_negotiated_representation(
    client, connection, db, world, subtests, route
):
    """Each header case as a subtest (`[tickets.update] [htmx-boosted]`), its writes undone;
    then the errors: sign-in asked for, and a refusal to a library role, in each
    representation."""
    for case in HEADER_CASES:
        with subtests.test(case.id), undone(connection, db):
            response = call(client, world, route, case.headers, user=world.admin)
            reason = KNOWN_BROKEN.get((route.id, case.expected))
            try:
                check_representation(world, route, case, response)
            except AssertionError:
                if reason:
                    pytest.xfail(reason)
                raise
            assert reason is None, "fixed: remove the entry from KNOWN_BROKEN"
    if route.status_for(ANONYMOUS) == 401:
        with subtests.test("sign-in"):
            responses = {k: call(client, world, route, h) for k, h in ERROR_CASES.items()}
            check_sign_in(world, route, responses)
    refused = next((c for c in CALLERS if route.status_for(c) in (403, 404)), None)
    if refused is not None:
        with subtests.test(f"refused-{refused.id}"):
            user = refused.user(world)
            responses = {
                k: call(client, world, route, h, user=user) for k, h in ERROR_CASES.items()
            }
            check_refusal(route.status_for(refused), responses)


def test_htmx_write_gets_its_event_and_pushed_url(client, world):
    response = client.patch(
        f"/institutions/{world.own.code}",
        json={"city": "Joliet"},
        headers={**world.headers(world.staff), "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.headers["hx-trigger"] == "institution-saved"
    assert response.headers["hx-push-url"] == f"/institutions/{world.own.code}"
    assert "Joliet" in response.text and "<html" not in response.text


def test_json_write_gets_201_and_location(client, staff):
    response = client.post("/institutions", json={"code": "LOC", "name": "Located"}, headers=staff)
    assert response.status_code == 201
    assert response.headers["location"] == "/institutions/LOC"
    assert response.json()["code"] == "LOC"


def test_the_login_redirect_keeps_the_query_string(client):
    page = client.get("/institutions?q=x", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/institutions%3Fq%3Dx"
    fragment = client.get(
        "/institutions",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/tickets?view=mine"},
    )
    assert fragment.status_code == 401
    assert fragment.headers["hx-redirect"] == "/login?next=/tickets%3Fview%3Dmine"
