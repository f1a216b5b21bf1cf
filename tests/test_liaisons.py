"""The directory of people: appointments, seat rules, filters, exports, representations."""

import csv
import io
import threading
from datetime import date

import pytest
import vobject
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.core.errors import Conflict
from app.models.audit import AuditEntry
from app.models.liaison import Appointment, ContactRole, LiaisonCreate
from app.models.user import Role, User
from app.services import liaisons
from tests.conftest import is_postgres


def _person(client, headers, **values):
    body = {"name": "Ann Able", "email": "ann@one.example.edu", "institution": "ONE"}
    body.update(values)
    response = client.post("/liaisons", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_staff_add_a_person_and_the_contract_fields_are_there(client, make):
    make.institution("ONE", name="One College")
    _, staff = make.signed_in(Role.consortium_staff)
    created = _person(client, staff, roles=["liaison", "fulfillment"], phone="+1 217 555 0100")
    assert {"id", "name", "email", "phone", "title", "institution", "roles", "active"} <= set(
        created
    )
    assert created["roles"] == ["liaison", "fulfillment"]
    assert created["active"] is True and created["ended_on"] is None
    assert created["institution"] == "ONE" and created["institution_name"] == "One College"
    response = client.get(f"/liaisons/{created['id']}", headers=staff)
    assert response.json()["email"] == "ann@one.example.edu"
    assert client.post("/liaisons", json={}, headers=staff).status_code == 422


def test_appointing_a_new_liaison_ends_the_previous_and_keeps_history(client, make, db):
    make.institution("ONE")
    _, staff = make.signed_in(Role.consortium_staff)
    old = _person(client, staff, roles=["liaison", "fulfillment"], started_on="2024-03-01")
    new = _person(client, staff, name="Ben New", email="ben@one.example.edu", roles=["liaison"])
    assert new["roles"] == ["liaison"]
    before = client.get(f"/liaisons/{old['id']}", headers=staff).json()
    assert before["roles"] == ["fulfillment"]  # still a functional contact
    ended = [a for a in before["appointments"] if a["role"] == "liaison"]
    assert ended[0]["ended_on"] == new["started_on"] and ended[0]["current"] is False
    current = db.exec(
        select(Appointment).where(
            Appointment.institution == "ONE",
            Appointment.role == ContactRole.liaison,
            Appointment.ended_on.is_(None),
        )
    ).all()
    assert [a.liaison_id for a in current] == [new["id"]]
    entries = db.exec(select(AuditEntry).where(AuditEntry.entity_type == "liaison")).all()
    assert {(e.entity_id, e.action) for e in entries} >= {
        (str(old["id"]), "create"),
        (str(new["id"]), "create"),
        (str(old["id"]), "end"),
    }


def test_the_database_refuses_a_second_current_liaison(make, db):
    """The seat rule is the partial unique index, not only code: a raw insert is refused."""
    institution = make.institution()
    first = make.liaison(institution.code, roles=("liaison",))
    second = make.liaison(institution.code, roles=("fulfillment",))
    nested = db.begin_nested()
    db.add(
        Appointment(
            liaison_id=second.id,
            institution=institution.code,
            role=ContactRole.liaison,
            started_on=date(2025, 1, 1),
        )
    )
    with pytest.raises(IntegrityError):
        db.flush()
    nested.rollback()
    # An ended appointment and a non-seat role are not limited.
    db.add(
        Appointment(
            liaison_id=second.id,
            institution=institution.code,
            role=ContactRole.liaison,
            started_on=date(2020, 1, 1),
            ended_on=date(2021, 1, 1),
        )
    )
    db.add(
        Appointment(
            liaison_id=first.id,
            institution=institution.code,
            role=ContactRole.fulfillment,
            started_on=date(2025, 1, 1),
        )
    )
    db.flush()


@pytest.mark.skipif(
    not is_postgres(),
    reason="needs PostgreSQL: SQLite serialises writers, so two writes can never race there",
)
def test_two_concurrent_appointments_to_one_seat_exactly_one_wins(engine, monkeypatch):
    """Real threads on real connections, released together after their checks."""
    code = "RACE"
    with Session(engine) as session:
        session.exec(text("DELETE FROM institution WHERE code = 'RACE'"))
        session.exec(
            text(
                "INSERT INTO institution (code, name, kind, status, alma_code, created_at,"
                " updated_at) VALUES ('RACE', 'Race College', 'other', 'active',"
                " '01CARLI_RACE', now(), now())"
            )
        )
        staff = User(
            email="race-staff@consortium.example.org", name="Racer", role="consortium_staff"
        )
        session.add(staff)
        session.commit()
        staff_id = staff.id
    barrier = threading.Barrier(2, timeout=20)
    checked = liaisons.free_email

    def free_email_then_wait(session, email, own_id=None):
        result = checked(session, email, own_id)
        barrier.wait()  # both requests have done their checks; now both write
        return result

    monkeypatch.setattr(liaisons, "free_email", free_email_then_wait)
    outcomes: list[str] = []

    def appoint(n: int) -> None:
        with Session(engine, expire_on_commit=False) as session:
            actor = session.get(User, staff_id)
            data = LiaisonCreate(
                name=f"Racer {n}", email=f"racer{n}@race.example.edu", institution=code,
                roles=["liaison"],
            )  # fmt: skip
            try:
                liaisons.create_liaison(session=session, actor=actor, data=data)
                outcomes.append("won")
            except Conflict:
                outcomes.append("409")

    try:
        threads = [threading.Thread(target=appoint, args=(n,)) for n in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(outcomes) == ["409", "won"]
        with Session(engine) as session:
            current = session.exec(
                select(Appointment).where(
                    Appointment.institution == code, Appointment.ended_on.is_(None)
                )
            ).all()
            assert len(current) == 1
    finally:
        with engine.begin() as conn:
            ids = "SELECT id FROM liaison WHERE institution = 'RACE'"
            conn.execute(text(f"DELETE FROM audit_entry WHERE actor = {int(staff_id)}"))  # noqa: S608
            conn.execute(text("DELETE FROM appointment WHERE institution = 'RACE'"))
            conn.execute(text(f"DELETE FROM directory_invitation WHERE liaison_id IN ({ids})"))  # noqa: S608
            conn.execute(text("DELETE FROM liaison WHERE institution = 'RACE'"))
            conn.execute(text(f"DELETE FROM user_account WHERE id = {int(staff_id)}"))  # noqa: S608
            conn.execute(text("DELETE FROM institution WHERE code = 'RACE'"))


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"roles": ["wizard"]}, 422, "roles.0"),
        ({"roles": ["liaison", "liaison"]}, 422, "roles"),
        ({"roles": []}, 422, "roles"),
        ({"email": "not-an-address"}, 422, "email"),
        ({"institution": "NOPE"}, 422, "institution"),
        ({"email": "taken@one.example.edu"}, 409, "email"),
        ({"colour": "blue"}, 422, "colour"),
    ],
)
def test_bad_input_is_refused_with_a_problem_and_nothing_written(
    client, make, db, body, status, field
):
    make.institution("ONE")
    _, staff = make.signed_in(Role.consortium_staff)
    _person(client, staff, email="taken@one.example.edu", roles=["fulfillment"])
    count = len(db.exec(select(Appointment)).all())
    values = {"name": "Bad Input", "email": "bad@one.example.edu", "institution": "ONE"}
    values.setdefault("roles", ["cataloging"])
    response = client.post("/liaisons", json={**values, **body}, headers=staff)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert len(db.exec(select(Appointment)).all()) == count


def test_an_appointment_cannot_end_before_it_starts(client, make):
    make.institution("ONE")
    _, staff = make.signed_in(Role.consortium_staff)
    _person(client, staff, roles=["liaison"], started_on="2099-01-01")
    response = client.post(
        "/liaisons",
        json={"name": "Early Bird", "email": "early@one.example.edu", "institution": "ONE",
              "roles": ["liaison"], "started_on": "2098-01-01"},
        headers=staff,
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "ended_on"


def test_patch_changes_fields_and_roles_and_delete_ends_appointments(client, make):
    make.institution("ONE")
    _, staff = make.signed_in(Role.consortium_staff)
    person = _person(client, staff, roles=["fulfillment"])
    response = client.patch(
        f"/liaisons/{person['id']}",
        json={"title": "Head of Access Services", "roles": ["fulfillment", "delivery"]},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Head of Access Services"
    assert response.json()["roles"] == ["fulfillment", "delivery"]
    assert (
        client.patch(f"/liaisons/{person['id']}", json={"name": ""}, headers=staff).status_code
        == 422
    )

    response = client.delete(f"/liaisons/{person['id']}?role=delivery", headers=staff)
    assert response.json()["roles"] == ["fulfillment"]
    response = client.delete(f"/liaisons/{person['id']}", headers=staff)
    assert response.status_code == 200
    ended = response.json()
    assert ended["active"] is False and ended["roles"] == [] and ended["ended_on"]
    assert len(ended["appointments"]) == 2  # history kept
    assert client.delete(f"/liaisons/{person['id']}", headers=staff).status_code == 409
    assert client.get("/liaisons/999999", headers=staff).status_code == 404


def test_ending_the_last_appointment_closes_the_account(client, make, db):
    institution = make.institution()
    _, staff = make.signed_in(Role.consortium_staff)
    account = make.user(Role.liaison, institution.code)
    person = make.liaison(institution.code, roles=("liaison", "fulfillment"), account=account.id)
    client.delete(f"/liaisons/{person.id}?role=liaison", headers=staff)
    db.refresh(account)
    assert account.active and account.role == Role.library_staff  # the role follows
    client.delete(f"/liaisons/{person.id}", headers=staff)
    db.refresh(account)
    assert account.active is False
    assert client.get("/auth/me", headers=make.headers(account)).status_code == 401


def test_filters_role_institution_active_and_search(client, make):
    a = make.institution("AAA", name="Alpha University")
    b = make.institution("BBB", name="Beta College")
    make.liaison(a.code, roles=("fulfillment",), name="Fran Fulfil")
    make.liaison(b.code, roles=("fulfillment", "liaison"), name="Lou Liaison")
    make.liaison(b.code, roles=("cataloging",), name="Cat Former", ended_on=date(2025, 1, 1))
    _, headers = make.signed_in(Role.library_staff)

    def names(query):
        response = client.get(f"/liaisons?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return {p["name"] for p in response.json()["data"]}

    assert {"Fran Fulfil", "Lou Liaison"} <= names("role=fulfillment")
    assert names("role=fulfillment&institution=BBB") == {"Lou Liaison"}
    assert names("institution=bbb&active=false") == {"Cat Former"}
    assert names("active=false&role=cataloging&institution=BBB") == {"Cat Former"}
    assert names("q=beta") == {"Lou Liaison"}
    assert names("q=fran") == {"Fran Fulfil"}
    assert client.get("/liaisons?role=wizard", headers=headers).status_code == 422


def test_the_list_runs_a_fixed_number_of_statements(client, make, connection):
    institution = make.institution()
    for n in range(30):
        make.liaison(institution.code, roles=("fulfillment", "delivery"), name=f"P {n:02d}")
    _, headers = make.signed_in(Role.library_staff)
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.strip().upper() not in ("BEGIN", "COMMIT") and "SAVEPOINT" not in statement:
            seen.append(statement)

    counts = []
    event.listen(connection, "before_cursor_execute", count)
    try:
        for limit in (2, 30):
            seen.clear()
            response = client.get(f"/liaisons?role=fulfillment&limit={limit}", headers=headers)
            assert len(response.json()["data"]) == limit
            counts.append(len(seen))
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert counts[0] == counts[1]


# --- exports ----------------------------------------------------------------------------------


def _directory(make):
    one = make.institution("ONE", name="One College")
    make.liaison(
        one.code,
        roles=("liaison", "fulfillment"),
        name="Zoë Ærøe-Ñúñez",
        title="Head, Access; ILL",
        email="zoe@one.example.edu",
        phone="+1 (217) 555-0101",
    )
    make.liaison(one.code, roles=("director",), name="Dee Director", email="dee@one.example.edu")
    return one


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/liaisons?institution=ONE", {"Accept": "text/csv"}),
        ("/liaisons?institution=ONE&format=csv", {"Accept": "text/html"}),
        ("/institutions/ONE/liaisons", {"Accept": "text/csv;q=0.9, application/json;q=0.5"}),
        ("/institutions/ONE/liaisons?format=csv", {}),
    ],
)
def test_csv_export(client, make, path, headers):
    _directory(make)
    _, auth = make.signed_in(Role.library_staff)
    response = client.get(path, headers={**auth, **headers})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "Accept" in response.headers["vary"]
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"Zoë Ærøe-Ñúñez", "Dee Director"}
    assert by_name["Zoë Ærøe-Ñúñez"]["roles"] == "liaison; fulfillment"
    assert by_name["Zoë Ærøe-Ñúñez"]["title"] == "Head, Access; ILL"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/liaisons?institution=ONE", {"Accept": "text/vcard"}),
        ("/liaisons?institution=ONE&format=vcard", {}),
        ("/institutions/ONE/liaisons", {"Accept": "text/vcard"}),
    ],
)
def test_vcard_export_parses_back_with_vobject(client, make, path, headers):
    _directory(make)
    _, auth = make.signed_in(Role.library_staff)
    response = client.get(path, headers={**auth, **headers})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/vcard; charset=utf-8"
    assert "\r\n" in response.text
    assert all(len(line.encode()) <= 75 for line in response.text.split("\r\n"))
    cards = {c.fn.value: c for c in vobject.readComponents(response.text)}
    assert set(cards) == {"Zoë Ærøe-Ñúñez", "Dee Director"}
    zoe = cards["Zoë Ærøe-Ñúñez"]
    assert zoe.version.value == "4.0"
    assert zoe.email.value == "zoe@one.example.edu"
    assert zoe.title.value == "Head, Access; ILL"  # escaped commas and semicolons survive
    assert zoe.n.value.family == "Ærøe-Ñúñez" and zoe.n.value.given == "Zoë"
    assert zoe.org.value == ["One College"]
    assert zoe.tel.value == "tel:+1217555-0101"


def test_one_person_as_vcard(client, make):
    one = _directory(make)
    person = make.liaison(one.code, roles=("systems",), name="Sol Systems", title="x" * 150)
    _, auth = make.signed_in(Role.library_staff)
    response = client.get(f"/liaisons/{person.id}", headers={**auth, "Accept": "text/vcard"})
    card = vobject.readOne(response.text)
    assert card.fn.value == "Sol Systems" and card.title.value == "x" * 150
    assert client.get(f"/liaisons/{person.id}?format=vcard", headers=auth).text == response.text
    json = client.get(f"/liaisons/{person.id}", headers={**auth, "Accept": "application/json"})
    assert json.json()["name"] == "Sol Systems"


# --- htmx ---------------------------------------------------------------------------------------


def test_htmx_write_gets_event_and_pushed_url(client, make):
    one = make.institution("ONE")
    person = make.liaison(one.code)
    _, staff = make.signed_in(Role.consortium_staff)
    response = client.patch(
        f"/liaisons/{person.id}", json={"phone": "555"}, headers={**staff, "HX-Request": "true"}
    )
    assert response.headers["hx-trigger"] == "liaison-saved"
    assert response.headers["hx-push-url"] == f"/liaisons/{person.id}"
    assert "<html" not in response.text and "555" in response.text


def test_institution_page_loads_contacts_with_a_plain_link_fallback(client, make):
    make.institution("ONE")
    _, auth = make.signed_in(Role.library_staff)
    page = client.get("/institutions/ONE", headers={**auth, "Accept": "text/html"}).text
    assert 'hx-get="/institutions/ONE/liaisons"' in page
    assert 'href="/institutions/ONE/liaisons"' in page
