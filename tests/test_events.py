"""Events: time zone-correct times, invitations with an .ics, the calendar feed parsed back by
icalendar (stable UID, SEQUENCE, CANCELLED), RSVPs, materials, the personal feed key."""

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlmodel import select

from app.core.config import get_settings
from app.models.outbox import OutboxMessage
from app.models.user import Role
from app.services import lists
from app.services.feeds import host_of


@pytest.fixture
def staff(make):
    return make.signed_in(Role.consortium_staff)[1]


def invitations(db) -> list[OutboxMessage]:
    return list(
        db.exec(select(OutboxMessage).where(OutboxMessage.template == "events/invitation")).all()
    )


def vevents(body: bytes) -> dict[str, object]:
    return {str(e["uid"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


def test_schedule_invite_with_ics_and_the_calendar_follows_changes(client, db, make, staff):
    make.mailing_list("event-list", roles=("liaison",))
    make.liaison(roles=("liaison",), email="guest@lib.edu")
    year = datetime.now(UTC).year + 1
    # Naive times are Chicago wall-clock time: 09:30 CST (after the clocks fall back) is 15:30
    # UTC; the same time before, in CDT, is 14:30 UTC.
    response = client.post(
        "/events",
        json={
            "title": "Annual Meeting",
            "starts_at": f"{year}-11-20T09:30",
            "ends_at": f"{year}-11-20T15:00",
            "location": "Champaign",
            "lists": ["event-list"],
        },
        headers=staff,
    )
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["starts_at"] == f"{year}-11-20T15:30:00Z"
    assert event["sequence"] == 0 and event["status"] == "upcoming"
    assert event["lists"] == ["event-list"]

    [invite] = invitations(db)
    assert invite.recipients == ["guest@lib.edu"]
    [attachment] = invite.attachments
    assert attachment["content_type"].startswith("text/calendar")
    attached = vevents(attachment["content"].encode())
    uid = f"event-{event['id']}@{host_of(get_settings().base_url)}"
    assert list(attached) == [uid]
    assert attached[uid]["dtstart"].dt == datetime(year, 11, 20, 15, 30, tzinfo=UTC)

    _, member = make.signed_in(Role.liaison)
    feed = vevents(client.get("/events.ics", headers=member).content)
    assert int(feed[uid]["sequence"]) == 0 and str(feed[uid]["status"]) == "CONFIRMED"

    moved = client.patch(
        f"/events/{event['id']}", json={"starts_at": f"{year}-10-20T10:00"}, headers=staff
    )
    assert moved.status_code == 200 and moved.json()["sequence"] == 1
    assert moved.json()["starts_at"] == f"{year}-10-20T15:00:00Z"  # CDT
    client.delete(f"/events/{event['id']}", headers=staff)
    feed = vevents(client.get("/events.ics", headers=member).content)
    assert int(feed[uid]["sequence"]) == 2 and str(feed[uid]["status"]) == "CANCELLED"
    one = client.get(f"/events/{event['id']}.ics", headers=member)
    assert one.headers["content-type"].startswith("text/calendar")
    single = vevents(one.content)
    assert list(single) == [uid]  # the same UID and SEQUENCE as the feed: one calendar entry
    assert int(single[uid]["sequence"]) == 2 and str(single[uid]["status"]) == "CANCELLED"
    assert client.get(f"/events/{event['id']}.ics").status_code == 401
    assert client.get("/events/999999.ics", headers=member).status_code == 404
    assert len(invitations(db)) == 3  # invited, updated, cancelled


def test_bad_event_input_writes_nothing(client, db, make, staff):
    make.mailing_list("event-list", roles=("liaison",))
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases = [
        {"starts_at": past, "ends_at": datetime.now(UTC).isoformat(), "lists": ["event-list"]},
        {"starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T09:00", "lists": ["event-list"]},
        {"starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T11:00", "lists": []},
        {
            "starts_at": "2030-01-01T10:00",
            "ends_at": "2030-01-01T11:00",
            "lists": ["event-list"],
            "link": "javascript:alert(1)",
        },
    ]
    for body in cases:
        response = client.post("/events", json={"title": "X", **body}, headers=staff)
        assert response.status_code == 422, body
    assert client.get("/events", headers=staff).json()["count"] == 0


def test_rsvp_per_person_and_materials_after_the_event(client, make, staff):
    group = make.mailing_list("event-list", roles=("liaison",))
    event = make.event((group,), title="Webinar")
    _, one = make.signed_in(Role.liaison)
    _, two = make.signed_in(Role.director)
    assert (
        client.post(f"/events/{event.id}/rsvp", json={"answer": "yes"}, headers=one).json()[
            "my_rsvp"
        ]
        == "yes"
    )
    client.post(f"/events/{event.id}/rsvp", json={"answer": "no"}, headers=two)
    client.post(f"/events/{event.id}/rsvp", json={"answer": "yes"}, headers=two)
    data = client.get(f"/events/{event.id}", headers=one).json()
    assert data["going"] == 2 and data["my_rsvp"] == "yes"
    assert (
        client.post(f"/events/{event.id}/rsvp", json={"answer": "later"}, headers=one).status_code
        == 422
    )

    past = make.event(
        (group,), title="Last month", starts_at=datetime.now(UTC) - timedelta(days=30)
    )
    saved = client.patch(
        f"/events/{past.id}",
        json={"materials": "[Slides](https://example.org/s.pdf)"},
        headers=staff,
    )
    assert saved.status_code == 200
    page = client.get(f"/events/{past.id}", headers={**staff, "Accept": "text/html"})
    assert "Materials" in page.text and 'href="https://example.org/s.pdf"' in page.text
    closed = client.post(f"/events/{past.id}/rsvp", json={"answer": "yes"}, headers=one)
    assert closed.status_code == 409


def test_the_calendar_needs_a_member_or_their_personal_key(client, make):
    user, _ = make.signed_in(Role.library_staff)
    assert client.get("/events.ics").status_code == 401
    key = lists.feed_key(user.id)
    assert client.get(f"/events.ics?key={key}").status_code == 200
    assert client.get(f"/events.ics?key={key[:-1]}x").status_code == 401
    assert client.get(f"/events.ics?key={user.id + 1}.{key.split('.')[1]}").status_code == 401
