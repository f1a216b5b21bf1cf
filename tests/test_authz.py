"""The authorisation matrix: each role × own / other institution × read / create / edit / delete."""

import pytest

from app.models.user import Role

ROLES = [None, *Role]  # None: anonymous
STAFF = {Role.consortium_admin, Role.consortium_staff}


def _expected(role, action):
    if role is None:
        return 401
    if action == "read":
        return 200
    if role in STAFF:
        return {"create": 201, "edit": 200, "delete": 204}[action]
    return 403


def _request(client, action, target, headers):
    if action == "read":
        return client.get(f"/institutions/{target}", headers=headers)
    if action == "create":
        return client.post("/institutions", json={"code": "AZN", "name": "New"}, headers=headers)
    if action == "edit":
        return client.patch(f"/institutions/{target}", json={"city": "Normal"}, headers=headers)
    return client.delete(f"/institutions/{target}", headers=headers)


@pytest.mark.parametrize("whose", ["own", "other"])
@pytest.mark.parametrize("action", ["read", "create", "edit", "delete"])
@pytest.mark.parametrize("role", ROLES, ids=lambda r: getattr(r, "value", "anonymous"))
def test_institution_matrix(client, make, role, action, whose):
    own = make.institution("OWN", status="prospective")
    make.institution("OTH", status="prospective")
    headers = {}
    if role is not None:
        institution = None if role in STAFF else own.code
        headers = make.headers(make.user(role, institution))
    target = "OWN" if whose == "own" else "OTH"
    response = _request(client, action, target, headers)
    assert response.status_code == _expected(role, action), response.text


@pytest.mark.parametrize("role", ROLES, ids=lambda r: getattr(r, "value", "anonymous"))
def test_audit_trail_is_for_consortium_staff_only(client, make, role):
    headers = make.headers(make.user(role)) if role else {}
    response = client.get("/audit", headers=headers)
    expected = 401 if role is None else 200 if role in STAFF else 403
    assert response.status_code == expected


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_staff_only_forms_are_refused_to_library_roles(client, make, role):
    make.institution("FRM")
    headers = {**make.headers(make.user(role)), "Accept": "text/html"}
    expected = 200 if role in STAFF else 403
    assert client.get("/institutions/new", headers=headers).status_code == expected
    assert client.get("/institutions/FRM/edit", headers=headers).status_code == expected


def test_library_pages_hide_staff_actions(client, make):
    make.institution("HID")
    liaison = make.headers(make.user(Role.liaison, "HID"))
    staff = make.headers(make.user(Role.consortium_staff))
    for headers, visible in ((liaison, False), (staff, True)):
        page = client.get("/institutions/HID", headers={**headers, "Accept": "text/html"}).text
        assert ('href="/institutions/HID/edit"' in page) is visible
        assert ("/audit?entity_type=institution" in page) is visible
