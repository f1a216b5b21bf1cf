"""One endpoint, three representations: the matrix every shared route must pass (DESIGN.md §5)."""

import pytest

from app.models.user import Role

JSON = "json"
PAGE = "page"
FRAGMENT = "fragment"

HEADER_CASES = [
    ({"Accept": "application/json"}, JSON),
    ({"Accept": "*/*"}, JSON),
    ({}, JSON),
    ({"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, PAGE),
    ({"Accept": "text/html"}, PAGE),
    ({"Accept": "application/json;q=0.5, text/html"}, PAGE),
    ({"Accept": "text/html;q=0.5, application/json"}, JSON),
    ({"HX-Request": "true", "Accept": "*/*"}, FRAGMENT),
    ({"HX-Request": "true", "HX-Boosted": "true", "Accept": "text/html"}, PAGE),
    ({"HX-Request": "true", "HX-History-Restore-Request": "true", "Accept": "text/html"}, PAGE),
]


def _routes(make):
    make.institution("REP", name="Representation College")
    return [
        ("GET", "/institutions", None, "Representation College"),
        ("GET", "/institutions/REP", None, "Representation College"),
        ("GET", "/audit?entity_type=institution", None, None),
        ("POST", "/institutions", {"code": "NEW1", "name": "Made Here"}, "Made Here"),
        ("PATCH", "/institutions/REP", {"city": "Peoria"}, "Peoria"),
    ]


@pytest.mark.parametrize(("headers", "expected"), HEADER_CASES)
def test_every_shared_route_answers_in_the_negotiated_representation(
    client, make, headers, expected
):
    _, auth = make.signed_in(Role.consortium_admin)
    for method, path, body, text in _routes(make):
        response = client.request(method, path, json=body, headers={**auth, **headers})
        assert response.status_code in (200, 201), (method, path, response.text)
        assert "HX-Request" in response.headers["vary"] and "Accept" in response.headers["vary"]
        kind = response.headers["content-type"].split(";")[0]
        if expected == JSON:
            assert kind == "application/json", (method, path)
            assert isinstance(response.json(), dict)
        else:
            assert kind == "text/html", (method, path)
            is_page = response.text.lstrip().lower().startswith("<!doctype html>")
            assert is_page == (expected == PAGE), (method, path)
        if text:
            assert text in response.text


def test_htmx_write_gets_trigger_event_and_pushed_url(client, make):
    _, auth = make.signed_in(Role.consortium_staff)
    make.institution("HXW")
    response = client.patch(
        "/institutions/HXW", json={"city": "Joliet"}, headers={**auth, "HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.headers["hx-trigger"] == "institution-saved"
    assert response.headers["hx-push-url"] == "/institutions/HXW"
    assert "Joliet" in response.text and "<html" not in response.text


def test_json_write_gets_201_and_location(client, make):
    _, auth = make.signed_in(Role.consortium_staff)
    response = client.post("/institutions", json={"code": "LOC", "name": "Located"}, headers=auth)
    assert response.status_code == 201
    assert response.headers["location"] == "/institutions/LOC"
    assert response.json()["code"] == "LOC"


@pytest.mark.parametrize(
    ("headers", "content_type", "marker"),
    [
        ({}, "application/problem+json", '"status":404'),
        ({"Accept": "text/html"}, "text/html", "<!doctypehtml>"),
        ({"HX-Request": "true"}, "text/html", 'hx-swap-oob="true"'),
    ],
)
def test_errors_follow_the_same_negotiation(client, make, headers, content_type, marker):
    _, auth = make.signed_in(Role.consortium_staff)
    response = client.get("/institutions/NOPE", headers={**auth, **headers})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(content_type)
    assert marker in response.text.replace(" ", "")
    assert "HX-Request" in response.headers["vary"]
    if headers.get("HX-Request"):
        assert response.headers["hx-reswap"] == "none"


def test_unauthenticated_browser_is_sent_to_login_and_htmx_is_redirected(client):
    page = client.get("/institutions?q=x", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/institutions%3Fq%3Dx"
    fragment = client.get("/institutions", headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert fragment.headers["hx-redirect"].startswith("/login?next=")
    api = client.get("/institutions")
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"
    assert api.headers["content-type"] == "application/problem+json"
