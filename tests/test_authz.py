"""The authorisation matrix (DESIGN.md §2): every shared route of the route table
(`tests/routes.py`) × every caller — anonymous, each library role at the record's own
institution and at another one, consortium staff and admin — over JSON."""

import pytest

from app.models.user import Role
from tests.routes import CALLERS, ROUTES, assert_varies, call, media_type, undone

STAFF = {Role.consortium_admin, Role.consortium_staff}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_authorisation_matrix(client, connection, db, world, subtests, route):
    """Each caller as a subtest (`[tickets.read] [liaison@other]`), its writes undone."""
    for caller in CALLERS:
        expected = route.status_for(caller)
        with subtests.test(caller.id), undone(connection, db):
            headers = {"Accept": "application/json"}
            response = call(client, world, route, headers, user=caller.user(world))
            assert response.status_code == expected, f"{caller.id}: {response.text}"
            assert_varies(response)
            if expected < 400:
                assert media_type(response) == "application/json"
                assert isinstance(response.json(), dict)
            else:
                assert media_type(response) == "application/problem+json"
                assert response.json()["status"] == expected
            if expected == 401:
                assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_staff_only_forms_are_refused_to_library_roles(client, world, role):
    headers = {**world.headers(world.user(role)), "Accept": "text/html"}
    expected = 200 if role in STAFF else 403
    assert client.get("/institutions/new", headers=headers).status_code == expected
    edit = client.get(f"/institutions/{world.own.code}/edit", headers=headers)
    assert edit.status_code == expected


def test_library_pages_hide_staff_actions(client, world):
    code = world.own.code
    for user, visible in ((world.own.liaison, False), (world.staff, True)):
        headers = {**world.headers(user), "Accept": "text/html"}
        page = client.get(f"/institutions/{code}", headers=headers).text
        assert (f'href="/institutions/{code}/edit"' in page) is visible
        assert ("/audit?entity_type=institution" in page) is visible


@pytest.mark.parametrize("role", [None, *Role], ids=lambda r: getattr(r, "value", "anonymous"))
def test_an_institution_with_history_is_never_deleted(client, world, role):
    """DELETE /institutions/{code} is not shared, so it is not in the table: staff may remove
    an entry made by mistake, never one with history (409); nobody else may try."""
    fresh = world.make.institution("DEL", status="prospective")
    headers = world.headers(world.user(role) if role else None)
    expected = {None: 401, **dict.fromkeys(STAFF, 204)}.get(role, 403)
    assert client.delete(f"/institutions/{fresh.code}", headers=headers).status_code == expected
    with_history = client.delete(f"/institutions/{world.own.code}", headers=headers)
    assert with_history.status_code == (409 if role in STAFF else expected)
