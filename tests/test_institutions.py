"""Institutions over the API: the contract of DESIGN.md §3, lifecycle rules and bad input."""

import pytest
from sqlalchemy import func, select

from app.models.audit import AuditEntry
from app.models.institution import Institution
from app.models.user import Role
from app.services import institutions as service

CONTRACT_FIELDS = {
    "code",
    "name",
    "city",
    "kind",
    "status",
    "alma_code",
    "joined_on",
    "left_on",
    "website",
}


def state(db) -> tuple:
    """Everything a bad request must leave untouched."""
    db.expire_all()
    rows = db.exec(select(Institution).order_by(Institution.code)).scalars().all()
    audits = db.scalar(select(func.count()).select_from(AuditEntry))
    return tuple((i.code, i.name, i.status, i.city, i.alma_code) for i in rows), audits


def test_create_read_update_round_trip(client, staff):
    created = client.post(
        "/institutions",
        json={"code": "QED", "name": "Quincy Example College", "city": "Quincy", "kind": "other"},
        headers=staff,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body.keys() >= CONTRACT_FIELDS
    assert body["alma_code"] == "01CARLI_QED"
    assert body["status"] == "prospective"
    fetched = client.get("/institutions/QED", headers=staff).json()
    assert fetched == body
    patched = client.patch("/institutions/QED", json={"city": "Quincy, IL"}, headers=staff)
    assert patched.status_code == 200
    assert patched.json()["city"] == "Quincy, IL"
    assert patched.json()["updated_at"] >= body["updated_at"]


def test_code_is_normalised_and_alma_code_can_be_given(client, staff):
    response = client.post(
        "/institutions",
        json={"code": " abc ", "name": "Lower Case", "alma_code": "01CARLI_ABCX"},
        headers=staff,
    )
    assert response.status_code == 201
    assert response.json()["code"] == "ABC"
    assert response.json()["alma_code"] == "01CARLI_ABCX"


def test_the_alma_prefix_is_configurable(client, staff, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "alma_code_prefix", "01TEST_")
    response = client.post("/institutions", json={"code": "PFX", "name": "Prefixed"}, headers=staff)
    assert response.json()["alma_code"] == "01TEST_PFX"


def test_code_is_immutable(client, make, staff):
    make.institution("IMM")
    response = client.patch("/institutions/IMM", json={"code": "NEW"}, headers=staff)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "code"


def test_list_filters_sort_and_paginate(client, make, staff):
    make.institution("FA1", name="Alpha Filter College", city="Aurora", kind="community_college")
    make.institution("FA2", name="Beta Filter University", city="Peoria", kind="public_university")
    make.institution("FA3", name="Gamma Filter College", city="Aurora", status="former")
    listed = client.get("/institutions", params={"q": "filter", "sort": "-name"}, headers=staff)
    assert [i["code"] for i in listed.json()["data"]] == ["FA3", "FA2", "FA1"]
    by_city = client.get("/institutions", params={"q": "aurora"}, headers=staff).json()
    assert {i["code"] for i in by_city["data"]} == {"FA1", "FA3"}
    by_code = client.get("/institutions", params={"q": "fa2"}, headers=staff).json()
    assert [i["code"] for i in by_code["data"]] == ["FA2"]
    active = client.get("/institutions", params={"q": "filter", "status": "active"}, headers=staff)
    assert {i["code"] for i in active.json()["data"]} == {"FA1", "FA2"}
    kind = client.get(
        "/institutions", params={"q": "filter", "kind": "public_university"}, headers=staff
    )
    assert [i["code"] for i in kind.json()["data"]] == ["FA2"]

    first = client.get("/institutions", params={"q": "filter", "limit": 2}, headers=staff)
    assert first.json()["count"] == 3
    assert len(first.json()["data"]) == 2
    next_url = first.json()["next"]
    assert first.headers["link"] == f'<{next_url}>; rel="next"'
    second = client.get(next_url, headers=staff).json()
    assert [i["code"] for i in second["data"]] == ["FA3"]
    assert second["next"] is None


def test_search_treats_wildcards_literally(client, make, staff):
    make.institution("WLD", name="Hundred Percent College")
    response = client.get("/institutions", params={"q": "%"}, headers=staff)
    assert response.json()["count"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "password_hash"}, "sort"),
        ({"status": "closed"}, "status"),
        ({"kind": "zoo"}, "kind"),
    ],
)
def test_bad_query_parameters_name_the_parameter(client, staff, params, field):
    response = client.get("/institutions", params=params, headers=staff)
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert [e["field"] for e in problem["errors"]] == [field]
    assert problem["errors"][0]["location"] == "query"


def test_lifecycle_follows_the_allowed_path(client, make, staff):
    make.institution("LIF", status="prospective")
    steps = [("joining", 200), ("active", 200), ("leaving", 200), ("former", 200)]
    for target, expected in steps:
        response = client.patch("/institutions/LIF", json={"status": target}, headers=staff)
        assert response.status_code == expected, (target, response.text)
    body = client.get("/institutions/LIF", headers=staff).json()
    assert body["status"] == "former"
    assert body["joined_on"] == str(service.today())
    assert body["left_on"] == str(service.today())


@pytest.mark.parametrize(
    ("start", "target"),
    [("prospective", "active"), ("active", "former"), ("former", "active"), ("active", "joining")],
)
def test_lifecycle_refuses_skipped_steps(client, make, db, staff, start, target):
    make.institution("SKP", status=start)
    before = state(db)
    response = client.patch("/institutions/SKP", json={"status": target}, headers=staff)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "status", "message": f"cannot change from {start} to {target}"}
    ]
    assert state(db) == before


def test_dates_given_with_the_transition_are_kept(client, make, staff):
    make.institution("DAT", status="joining")
    response = client.patch(
        "/institutions/DAT", json={"status": "active", "joined_on": "2024-07-01"}, headers=staff
    )
    assert response.json()["joined_on"] == "2024-07-01"
    backwards = client.patch("/institutions/DAT", json={"left_on": "2020-01-01"}, headers=staff)
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "left_on"


def test_every_write_is_audited_with_before_and_after(client, make, db, staff):
    make.institution("AUD", name="Audit College", city="Elgin")
    client.patch(
        "/institutions/AUD", json={"city": "Evanston", "name": "Audit College"}, headers=staff
    )
    client.patch("/institutions/AUD", json={"city": "Evanston"}, headers=staff)  # no change
    history = client.get(
        "/audit", params={"entity_type": "institution", "entity_id": "AUD"}, headers=staff
    ).json()
    assert history["count"] == 1
    entry = history["data"][0]
    assert entry["action"] == "update"
    assert entry["before"] == {"city": "Elgin"}
    assert entry["after"] == {"city": "Evanston"}
    assert entry["actor"] == client.get("/auth/me", headers=staff).json()["id"]


def test_delete_only_removes_a_mistaken_prospective_entry(client, make, db, staff):
    make.institution("OOPS", status="prospective")
    make.institution("HIST", status="active")
    assert client.delete("/institutions/HIST", headers=staff).status_code == 409
    assert client.delete("/institutions/OOPS", headers=staff).status_code == 204
    assert client.get("/institutions/OOPS", headers=staff).status_code == 404


def test_delete_refuses_an_institution_that_others_refer_to(client, make, db, staff):
    make.institution("REF", status="prospective")
    make.user(Role.library_staff, institution="REF")
    before = state(db)
    response = client.delete("/institutions/REF", headers=staff)
    assert response.status_code == 409
    assert "former" in response.json()["detail"]
    assert state(db) == before


BAD_BODIES = [
    ({"code": "TOOLONGCODE", "name": "x"}, 422, "code"),
    ({"code": "A", "name": "x"}, 422, "code"),
    ({"code": "AB-C", "name": "x"}, 422, "code"),
    ({"code": "OKAY"}, 422, "name"),
    ({"code": "OKAY", "name": ""}, 422, "name"),
    ({"code": "OKAY", "name": "x" * 201}, 422, "name"),
    ({"code": "OKAY", "name": 42}, 422, "name"),
    ({"code": "OKAY", "name": "x", "kind": "zoo"}, 422, "kind"),
    ({"code": "OKAY", "name": "x", "status": "closed"}, 422, "status"),
    ({"code": "OKAY", "name": "x", "website": "not a url"}, 422, "website"),
    ({"code": "OKAY", "name": "x", "joined_on": "yesterday"}, 422, "joined_on"),
    ({"code": "OKAY", "name": "x", "surprise": 1}, 422, "surprise"),
    ({"code": "DUP", "name": "x"}, 409, "code"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_BODIES)
def test_bad_bodies_get_a_problem_naming_the_field_and_change_nothing(
    client, make, db, staff, body, status, field
):
    make.institution("DUP")
    before = state(db)
    response = client.post("/institutions", json=body, headers=staff)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert state(db) == before


def test_malformed_json_is_a_400(client, db, staff):
    before = state(db)
    response = client.post(
        "/institutions",
        content=b'{"code": "BAD", "name": ',
        headers={**staff, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["title"] == "Malformed JSON"
    assert state(db) == before


def test_a_body_over_one_mebibyte_is_a_413(client, db, staff):
    before = state(db)
    big = {"code": "BIG", "name": "x", "city": "y" * (1024 * 1024)}
    response = client.post("/institutions", json=big, headers=staff)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert state(db) == before


def test_unknown_institution_is_a_404(client, staff):
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(method, "/institutions/ZZZZ", json={}, headers=staff)
        assert response.status_code == 404, method
        assert response.json()["detail"] == "No institution has the code ZZZZ."


def test_patch_cannot_null_required_fields(client, make, db, staff):
    make.institution("NUL")
    before = state(db)
    response = client.patch("/institutions/NUL", json={"name": None}, headers=staff)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    assert state(db) == before


def test_empty_form_fields_mean_no_value(client, make, staff):
    """htmx's json-enc sends every emptied input as ""."""
    make.institution("EMP", city="Macomb")
    response = client.patch(
        "/institutions/EMP", json={"city": "", "website": "", "joined_on": ""}, headers=staff
    )
    assert response.status_code == 200
    assert response.json()["city"] is None


def test_an_unchosen_filter_from_a_plain_form_means_any(client, make, staff):
    make.institution("ANY", name="Any Filter College")
    response = client.get("/institutions?q=any+filter&status=&kind=", headers=staff)
    assert response.status_code == 200
    assert [i["code"] for i in response.json()["data"]] == ["ANY"]
