"""Change requests, the authorisation matrix, freshness and gaps, invitations, import, demo."""

from datetime import timedelta

import pytest
from sqlmodel import select

from app.core.db import utcnow
from app.demo import directory as demo_directory
from app.models.audit import AuditEntry
from app.models.directory import DirectoryConfirmation, DirectoryInvitation
from app.models.directory_change import DirectoryChange
from app.models.liaison import Appointment, ContactRole, Liaison
from app.models.outbox import OutboxMessage
from app.models.user import Role, User

ROLES = [None, *Role]  # None: anonymous
STAFF = {Role.consortium_admin, Role.consortium_staff}


def _handover(client, headers, code="OWN"):
    body = {
        "kind": "add",
        "liaison": {"name": "Nova Newliaison", "email": "nova@own.example.edu",
                    "roles": ["liaison"], "title": "Head of Collections"},
        "note": "Lee retires at the end of the month.",
    }  # fmt: skip
    return client.post("/directory-changes", json=body, headers=headers)


# --- the flow ---------------------------------------------------------------------------------


def test_hand_over_request_approved_changes_the_directory_with_audit_and_mail(client, make, db):
    make.institution("OWN")
    old = make.liaison("OWN", roles=("liaison",), name="Lee Leaving")
    requester, lib = make.signed_in(Role.liaison, "OWN")
    staff_user, staff = make.signed_in(Role.consortium_staff)

    response = _handover(client, lib)
    assert response.status_code == 201, response.text
    change = response.json()
    assert change["status"] == "pending" and change["institution"] == "OWN"
    assert response.headers["location"] == f"/directory-changes/{change['id']}"
    # Nothing changes before a decision.
    assert client.get("/liaisons?institution=OWN&role=liaison", headers=lib).json()["count"] == 1

    queue = client.get("/directory-changes?status=pending", headers=staff).json()
    assert queue["counts"]["pending"] == 1 and queue["data"][0]["id"] == change["id"]

    response = client.post(
        f"/directory-changes/{change['id']}/approve", json={"reason": "ok"}, headers=staff
    )
    assert response.status_code == 200, response.text
    decided = response.json()
    assert decided["status"] == "approved" and decided["decided_by"] == staff_user.id
    current = client.get("/liaisons?institution=OWN&role=liaison", headers=lib).json()["data"]
    assert [p["name"] for p in current] == ["Nova Newliaison"]
    assert decided["liaison_id"] == current[0]["id"]
    history = client.get(f"/liaisons/{old.id}", headers=lib).json()
    assert history["active"] is False and history["appointments"][0]["ended_on"]

    actions = {
        (e.entity_type, e.action)
        for e in db.exec(select(AuditEntry).where(AuditEntry.actor == staff_user.id)).all()
    }
    assert {("directory_change", "approve"), ("liaison", "create"), ("liaison", "end")} <= actions
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.template == "directory/decision"))
    message = mail.one()
    assert message.recipients == [requester.email] and message.context["outcome"] == "approved"

    # The requester sees the outcome; a second decision is refused.
    mine = client.get("/directory-changes", headers=lib).json()
    assert mine["data"][0]["status"] == "approved"
    again = client.post(
        f"/directory-changes/{change['id']}/reject", json={"reason": "x"}, headers=staff
    )
    assert again.status_code == 409


def test_rejected_request_leaves_the_directory_unchanged(client, make, db):
    make.institution("OWN")
    make.liaison("OWN", roles=("liaison",), name="Lee Staying")
    _, lib = make.signed_in(Role.director, "OWN")
    _, staff = make.signed_in(Role.consortium_staff)
    change = _handover(client, lib).json()
    assert (
        client.post(f"/directory-changes/{change['id']}/reject", json={}, headers=staff).status_code
        == 422
    )
    response = client.post(
        f"/directory-changes/{change['id']}/reject", json={"reason": "Send it from the director"},
        headers=staff,
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["reason"] == "Send it from the director"
    names = [p["name"] for p in client.get("/liaisons?institution=OWN", headers=lib).json()["data"]]
    assert names == ["Lee Staying"]
    assert db.exec(select(Liaison).where(Liaison.email == "nova@own.example.edu")).first() is None


def test_update_and_end_requests_apply_on_approval(client, make):
    make.institution("OWN")
    person = make.liaison("OWN", roles=("fulfillment", "delivery"), name="Uma Update")
    _, lib = make.signed_in(Role.liaison, "OWN")
    _, staff = make.signed_in(Role.consortium_staff)
    update = client.post(
        "/directory-changes",
        json={"kind": "update", "liaison_id": person.id,
              "liaison": {"title": "Access Lead", "roles": ["fulfillment"]}},
        headers=lib,
    ).json()  # fmt: skip
    end = client.post(
        "/directory-changes",
        json={"kind": "end", "liaison_id": person.id, "liaison": {"roles": ["fulfillment"]}},
        headers=lib,
    ).json()
    client.post(f"/directory-changes/{update['id']}/approve", headers=staff)
    after = client.get(f"/liaisons/{person.id}", headers=lib).json()
    assert after["title"] == "Access Lead" and after["roles"] == ["fulfillment"]
    client.post(f"/directory-changes/{end['id']}/approve", headers=staff)
    assert client.get(f"/liaisons/{person.id}", headers=lib).json()["active"] is False


def _add(**liaison) -> dict:
    return {"kind": "add", "liaison": {"name": "X", "email": "x@y.example.edu", **liaison}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_add(email="nope", roles=["liaison"]), "liaison.email"),
        (_add(roles=["wizard"]), "liaison.roles.0"),
        (_add(), "liaison.roles"),
        ({"kind": "update", "liaison": {}}, "body"),
        ({"kind": "end", "liaison_id": 0, "liaison": {"name": "X"}}, None),
        ({"kind": "move"}, "kind"),
    ],
)
def test_bad_change_requests_are_refused_and_nothing_is_written(client, make, db, body, field):
    make.institution("OWN")
    _, lib = make.signed_in(Role.liaison, "OWN")
    response = client.post("/directory-changes", json=body, headers=lib)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in {e["field"] for e in response.json()["errors"]}
    assert db.exec(select(DirectoryChange)).first() is None


def test_a_request_for_another_institution_is_404(client, make, db):
    make.institution("OWN")
    make.institution("OTH")
    theirs = make.liaison("OTH", roles=("liaison",))
    _, lib = make.signed_in(Role.director, "OWN")
    add = {"kind": "add", "liaison": {"name": "X Y", "email": "xy@oth.example.edu",
                                      "institution": "OTH", "roles": ["billing"]}}  # fmt: skip
    assert client.post("/directory-changes", json=add, headers=lib).status_code == 404
    end = {"kind": "end", "liaison_id": theirs.id}
    assert client.post("/directory-changes", json=end, headers=lib).status_code == 404
    assert db.exec(select(DirectoryChange)).first() is None


# --- the authorisation matrix -----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES, ids=lambda r: getattr(r, "value", "anonymous"))
def test_library_sees_only_its_own_requests_and_staff_see_all(client, make, role):
    make.institution("OWN")
    make.institution("OTH")
    mine = make.directory_change(make.user(Role.director, "OWN"))
    theirs = make.directory_change(make.user(Role.director, "OTH"))
    headers = make.headers(make.user(role, None if role in STAFF else "OWN")) if role else {}
    response = client.get("/directory-changes", headers=headers)
    if role is None:
        assert response.status_code == 401
        return
    ids = {c["id"] for c in response.json()["data"]}
    # Library staff neither file nor read change requests (issue 10): only the leads do.
    own = {mine.id} if role in (Role.director, Role.liaison) else set()
    assert ids == ({mine.id, theirs.id} if role in STAFF else own)
    assert client.get(f"/directory-changes/{theirs.id}", headers=headers).status_code == (
        200 if role in STAFF else 404
    )


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_staff_only_directory_routes(client, make, role):
    make.institution("OWN")
    person = make.liaison("OWN", roles=("liaison",))
    headers = make.headers(make.user(role, None if role in STAFF else "OWN"))
    staff = role in STAFF
    assert client.get("/reports/directory-gaps", headers=headers).status_code == (
        200 if staff else 403
    )
    invite = client.post(f"/liaisons/{person.id}/invitation", headers=headers)
    assert invite.status_code == (201 if staff else 403)
    csv = {"file": ("a.csv", b"name,email,institution,roles\n")}
    assert client.post("/liaisons/import", files=csv, headers=headers).status_code == (
        200 if staff else 403
    )
    page = {**headers, "Accept": "text/html"}
    assert client.get("/liaisons/new", headers=page).status_code == (200 if staff else 403)
    assert client.get(f"/liaisons/{person.id}/edit", headers=page).status_code == (
        200 if staff else 403
    )


# --- freshness and gaps -----------------------------------------------------------------------


def test_confirmation_and_the_gaps_report(client, make, db):
    make.institution("FUL", name="Full College")
    make.institution("VAC", name="Vacant College")
    make.institution("OLD", name="Former College", status="former")
    make.liaison("FUL", roles=("liaison",))
    make.liaison("FUL", roles=("director",))
    make.liaison("VAC", roles=("director",))
    _, staff = make.signed_in(Role.consortium_staff)
    _, lib = make.signed_in(Role.liaison, "FUL")

    def gaps():
        response = client.get("/reports/directory-gaps?limit=200", headers=staff)
        assert response.status_code == 200
        return {g["institution"]: g for g in response.json()["data"]}

    found = gaps()
    assert found["VAC"]["vacant"] == ["liaison"] and found["VAC"]["stale"] is True
    assert found["FUL"]["vacant"] == [] and found["FUL"]["stale"] is True  # never confirmed
    assert "OLD" not in found

    response = client.post("/institutions/FUL/liaisons/confirmation", headers=lib)
    assert response.status_code == 201
    assert "FUL" not in gaps()
    contacts = client.get("/institutions/FUL/liaisons", headers=lib).json()
    assert contacts["confirmed_at"] and contacts["vacant"] == []
    assert client.get("/institutions/VAC/liaisons", headers=lib).json()["vacant"] == ["liaison"]

    # A confirmation older than the period (180 days by default) is stale again.
    confirmation = db.exec(select(DirectoryConfirmation)).one()
    confirmation.confirmed_at = utcnow() - timedelta(days=181)
    db.add(confirmation)
    db.commit()
    assert gaps()["FUL"]["stale"] is True

    # Others may not confirm for FUL: library staff 403, another library 404.
    _, reader = make.signed_in(Role.library_staff, "FUL")
    assert client.post("/institutions/FUL/liaisons/confirmation", headers=reader).status_code == 403
    _, stranger = make.signed_in(Role.liaison, "VAC")
    assert (
        client.post("/institutions/FUL/liaisons/confirmation", headers=stranger).status_code == 404
    )


# --- invitations ------------------------------------------------------------------------------


def test_invitation_is_single_use_and_the_account_follows_the_appointment(client, make, db):
    make.institution("INV")
    person = make.liaison(
        "INV", roles=("director",), name="Ida Invited", email="ida@inv.example.edu"
    )
    _, staff = make.signed_in(Role.consortium_staff)
    response = client.post(f"/liaisons/{person.id}/invitation", headers=staff)
    assert response.status_code == 201
    url = response.json()["url"]
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.template == "directory/invitation"))
    assert mail.one().recipients == ["ida@inv.example.edu"]
    assert url.split("/")[-1] not in str(db.exec(select(DirectoryInvitation.token_hash)).all())

    page = client.get(url, headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Ida Invited" in page.text
    weak = client.post(url, data={"password": "short"}, follow_redirects=False)
    assert weak.status_code == 422 and "at least 12" in weak.text
    done = client.post(url, data={"password": "Prairie-Stacks-2031"}, follow_redirects=False)
    assert done.status_code == 303
    user = db.exec(select(User).where(User.email == "ida@inv.example.edu")).one()
    assert (user.role, user.institution, user.active) == (Role.director, "INV", True)
    db.refresh(person)
    assert person.account == user.id
    token = client.post(
        "/auth/token", data={"username": user.email, "password": "Prairie-Stacks-2031"}
    )
    assert token.status_code == 200
    assert client.post(url, data={"password": "Prairie-Stacks-2031"}).status_code == 404  # used


def test_expired_invitation_and_former_contacts_are_refused(client, make, db):
    make.institution("INV")
    person = make.liaison("INV", roles=("billing",))
    former = make.liaison("INV", roles=("billing",), ended_on=utcnow().date())
    _, staff = make.signed_in(Role.consortium_staff)
    assert client.post(f"/liaisons/{former.id}/invitation", headers=staff).status_code == 409
    url = client.post(f"/liaisons/{person.id}/invitation", headers=staff).json()["url"]
    invitation = db.exec(select(DirectoryInvitation)).one()
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.add(invitation)
    db.commit()
    assert client.get(url, headers={"Accept": "text/html"}).status_code == 404


# --- import -----------------------------------------------------------------------------------


def _import(client, headers, content: bytes, dry_run: bool = True):
    path = "/liaisons/import" + ("" if dry_run else "?dry_run=false")
    return client.post(path, files={"file": ("people.csv", content, "text/csv")}, headers=headers)


def test_import_dry_run_reports_every_bad_row_and_writes_nothing(client, make, db):
    make.institution("IMP")
    make.liaison("IMP", roles=("billing",), email="taken@imp.example.edu")
    _, staff = make.signed_in(Role.consortium_staff)
    content = (
        b"name,email,institution,roles,phone\n"
        b"Good Row,good@imp.example.edu,IMP,liaison,\n"  # line 2
        b"Bad Mail,not-an-address,IMP,fulfillment,\n"  # line 3
        b"No Place,np@imp.example.edu,NOPE,fulfillment,\n"  # line 4
        b"Odd Role,odd@imp.example.edu,IMP,wizard,\n"  # line 5
        b"Twin,good@imp.example.edu,IMP,billing,\n"  # line 6: duplicate of line 2
        b"Second Liaison,two@imp.example.edu,IMP,liaison,\n"  # line 7
        b"Taken,TAKEN@imp.example.edu,IMP,billing,\n"  # line 8: updates the listed person
        b"Short,row\n"  # line 9
    )
    before = len(db.exec(select(Liaison)).all())
    response = _import(client, staff, content)
    assert response.status_code == 200
    report = response.json()
    assert report["dry_run"] is True and report["valid"] is False and report["created"] == 0
    problems = {(e["line"], e["field"]) for e in report["errors"]}
    assert problems == {
        (3, "email"), (4, "institution"), (5, "roles"), (6, "email"), (7, "roles"), (9, "row"),
    }  # fmt: skip
    assert all(e["reason"] for e in report["errors"])
    outcomes = {r["line"]: r["action"] for r in report["results"]}
    assert outcomes[2] == "add" and outcomes[8] == "update" and outcomes[3] == "error"
    real = _import(client, staff, content, dry_run=False)
    assert real.status_code == 422
    assert real.headers["content-type"] == "application/problem+json"
    assert len(real.json()["errors"]) == len(report["errors"])
    assert len(db.exec(select(Liaison)).all()) == before


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"nom,email,institution,roles\nA,a@x.example.edu,IMP,billing\n", "name"),
        (b"name,email,institution,roles,colour\n", "colour"),
        (b"name,name,email,institution,roles\n", "name"),
        (
            "name,email,institution,roles\nJosé,j@x.example.edu,IMP,billing\n".encode("latin-1"),
            "file",
        ),
        (b"name,email,institution,roles\n", "file"),
        (b"", "name"),
    ],
)
def test_import_refuses_malformed_files(client, make, content, field):
    make.institution("IMP")
    _, staff = make.signed_in(Role.consortium_staff)
    report = _import(client, staff, content).json()
    assert report["valid"] is False
    assert field in {e["field"] for e in report["errors"]}


def test_import_writes_every_row_when_all_are_valid(client, make, db):
    make.institution("IMP")
    old = make.liaison("IMP", roles=("liaison",))
    _, staff = make.signed_in(Role.consortium_staff)
    content = (
        "\ufeffname,email,institution,roles,title,started_on\n"
        "Ines Import,ines@imp.example.edu,imp,liaison; fulfillment,Head,2026-01-05\n"
        "Ivo Import,ivo@imp.example.edu,IMP,billing,,\n"
    ).encode()
    assert _import(client, staff, content).json()["valid"] is True
    assert db.exec(select(Liaison).where(Liaison.email == "ines@imp.example.edu")).first() is None
    response = _import(client, staff, content, dry_run=False)
    assert response.status_code == 200 and response.json()["created"] == 2
    people = client.get("/liaisons?institution=IMP", headers=staff).json()["data"]
    assert {p["name"] for p in people} == {"Ines Import", "Ivo Import"}
    db.refresh(old)
    ended = db.exec(select(Appointment).where(Appointment.liaison_id == old.id)).one()
    assert ended.ended_on.isoformat() == "2026-01-05"  # the import handed the seat over


def test_an_export_imports_again(client, make):
    make.institution("IMP")
    make.liaison("IMP", roles=("liaison", "billing"), name="Exa Export", title="Lead, ILL")
    _, staff = make.signed_in(Role.consortium_staff)
    exported = client.get("/liaisons?institution=IMP&format=csv", headers=staff).text
    renamed = exported.replace("@", "+copy@")
    report = _import(client, staff, renamed.encode()).json()
    assert report["rows"] == 1
    assert {e["field"] for e in report["errors"]} == {"roles"} or report["valid"]


# --- demo -------------------------------------------------------------------------------------


def test_demo_directory_has_people_vacancies_and_a_pending_request(db, make):
    for code in ("UIU", "ISU", "AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH"):
        make.institution(code)
    admin = make.user(Role.consortium_admin)
    for email, role, code in (
        ("director@uiu.example.edu", Role.director, "UIU"),
        ("liaison@isu.example.edu", Role.liaison, "ISU"),
    ):
        make.user(role, code, email=email)
    added = demo_directory.load(db, admin)
    assert added["people"] > 20 and added["directory_changes"] == 1
    assert demo_directory.load(db, admin) == {}  # idempotent
    people = db.exec(select(Liaison)).all()
    assert all(p.email.endswith(".example.edu") for p in people)
    linked = {p.email for p in people if p.account}
    assert linked == {"director@uiu.example.edu", "liaison@isu.example.edu"}
    seats = db.exec(
        select(Appointment.institution, Appointment.role).where(
            Appointment.role.in_([ContactRole.liaison, ContactRole.director])
        )
    ).all()
    assert len(seats) < 2 * 10  # some seat is vacant
    assert {("UIU", ContactRole.director), ("ISU", ContactRole.liaison)} <= set(seats)


def test_htmx_form_errors_land_beside_the_nested_fields(client, make):
    make.institution("OWN")
    _, lib = make.signed_in(Role.liaison, "OWN")
    form = {"kind": "add", "liaison.name": "Flat Form", "liaison.email": "flat@own.example.edu",
            "liaison.phone": "", "liaison.institution": "OWN", "note": ""}  # fmt: skip
    response = client.post("/directory-changes", json=form, headers={**lib, "HX-Request": "true"})
    assert response.status_code == 422
    assert response.headers["hx-reswap"] == "none"
    assert 'id="error-liaison.roles"' in response.text
    form["liaison.roles"] = "liaison"
    response = client.post("/directory-changes", json=form, headers={**lib, "HX-Request": "true"})
    assert response.status_code == 200 and "Flat Form" in response.text
    assert response.headers["hx-trigger"] == "directory-change-saved"
