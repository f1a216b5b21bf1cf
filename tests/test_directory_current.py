"""The one "current appointment" rule (issue 12, A3): an appointment starting later is not
current yet: the seat stays vacant, notices go to whoever holds it today, pages say when."""

from datetime import date, timedelta

from app.models.liaison import holds_on, upcoming_on
from app.models.user import Role
from app.services import liaisons
from app.services.access import Notice
from app.services.institutions import today

HTML = {"Accept": "text/html"}


def _long(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def test_the_rule_itself():
    day = date(2026, 6, 1)
    assert holds_on(date(2026, 6, 1), None, day)  # starts today: current
    assert not holds_on(date(2026, 6, 2), None, day)  # starts tomorrow: not yet
    assert holds_on(date(2025, 1, 1), date(2026, 6, 2), day)  # ends tomorrow: still current
    assert not holds_on(date(2025, 1, 1), day, day)  # handed over today: the successor's day
    assert upcoming_on(date(2026, 7, 1), None, day)
    assert not upcoming_on(date(2026, 7, 1), date(2026, 7, 1), day)  # cancelled before it began


def test_a_director_starting_next_month_leaves_the_seat_vacant_today(client, make, db):
    make.institution("FUT", name="Future College")
    make.liaison("FUT", roles=("liaison",), started_on=date(2025, 3, 3), name="Lia Now")
    _, staff = make.signed_in(Role.consortium_staff)
    starts = today() + timedelta(days=31)
    created = client.post(
        "/liaisons",
        json={"name": "Dee Later", "email": "dee@fut.example.edu", "institution": "FUT",
              "roles": ["director"], "started_on": starts.isoformat()},
        headers=staff,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    person = created.json()
    assert person["roles"] == [] and person["active"] is False
    assert person["appointments"][0]["upcoming"] is True
    assert person["appointments"][0]["current"] is False
    # The vacancy report, the institution's seats and the contacts page agree.
    gaps = client.get("/reports/directory-gaps", headers=staff).json()["data"]
    (gap,) = [g for g in gaps if g["institution"] == "FUT"]
    assert gap["vacant"] == ["director"]
    assert gap["filled_from"] == {"director": starts.isoformat()}
    report = client.get("/reports/directory-gaps", headers=HTML | staff).text
    assert f"Director vacant</span> (filled from {_long(starts)})" in report
    contacts = client.get("/institutions/FUT/liaisons", headers=staff).json()
    assert contacts["vacant"] == ["director"]
    page = client.get("/institutions/FUT/liaisons", headers=HTML | staff).text
    assert f"Director, starts {_long(starts)}" in page
    assert "Liaison since 3 March 2025" in page
    assert f"Dee Later starts {_long(starts)}" in page  # beside the vacant seat
    detail = client.get(f"/liaisons/{person['id']}", headers=HTML | staff).text
    assert f"starts {_long(starts)}" in detail
    # Still listed among current contacts (so staff find them), marked with the start.
    listed = client.get("/liaisons?institution=FUT", headers=HTML | staff).text
    assert "Dee Later" in listed and f"Director, starts {_long(starts)}" in listed


def test_a_future_hand_over_keeps_the_present_holder_until_the_day(client, make, db):
    make.institution("HND")
    old = make.liaison("HND", roles=("director",), started_on=date(2020, 1, 1), name="Old Boss")
    _, staff = make.signed_in(Role.consortium_staff)
    starts = today() + timedelta(days=10)
    response = client.post(
        "/liaisons",
        json={"name": "New Boss", "email": "new@hnd.example.edu", "institution": "HND",
              "roles": ["director"], "started_on": starts.isoformat()},
        headers=staff,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    present = client.get(f"/liaisons/{old.id}", headers=staff).json()
    assert present["roles"] == ["director"] and present["active"] is True
    assert client.get("/institutions/HND/liaisons", headers=staff).json()["vacant"] == ["liaison"]
    # Notices (maintenance, incidents) go to whoever holds the role today.
    heard = {p.name for p in liaisons.library_contacts(db, Notice.maintenance, ["HND"])}
    assert heard == {"Old Boss"}
    page = client.get("/institutions/HND/liaisons", headers=HTML | staff).text
    assert f"until {_long(starts)}" in page and f"Director, starts {_long(starts)}" in page


def test_ending_an_appointment_that_has_not_started_cancels_it(client, make, db):
    make.institution("CAN")
    _, staff = make.signed_in(Role.consortium_staff)
    starts = today() + timedelta(days=5)
    person = client.post(
        "/liaisons",
        json={"name": "Never Was", "email": "never@can.example.edu", "institution": "CAN",
              "roles": ["liaison"], "started_on": starts.isoformat()},
        headers=staff,
    ).json()  # fmt: skip
    ended = client.delete(f"/liaisons/{person['id']}", headers=staff)
    assert ended.status_code == 200, ended.text
    (appointment,) = ended.json()["appointments"]
    assert appointment["ended_on"] == appointment["started_on"]
    assert appointment["current"] is False and appointment["upcoming"] is False
    former = client.get("/liaisons?institution=CAN&active=false", headers=staff).json()
    assert [p["name"] for p in former["data"]] == ["Never Was"]
