"""The iCalendar feed read by the `icalendar` parser and the Atom feed read by feedparser."""

from datetime import UTC, datetime, timedelta

import feedparser
from icalendar import Calendar

from app.core.config import get_settings
from app.models.user import Role
from app.services.feeds import host_of

START = datetime(2027, 2, 6, 6, 0, tzinfo=UTC)
HOST = host_of(get_settings().base_url)  # UIDs and tag URIs name the configured public host


def events(client, **params) -> dict[str, object]:
    response = client.get("/maintenance.ics", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["version"]) == "2.0"
    assert "Liaison Portal" in str(calendar["prodid"])
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def test_ics_has_one_event_per_window_field_by_field(client, make):
    window = make.window(
        starts_at=START,
        hours=3.5,
        services=("alma", "primo_ve"),
        title="Alma release",
        description="Quarterly release.",
    )
    found = events(client)
    uid = f"maintenance-{window.id}@{HOST}"
    assert list(found) == [uid]
    event = found[uid]
    assert str(event["summary"]) == "Alma release"
    assert event.decoded("dtstart") == START
    assert event.decoded("dtend") == START + timedelta(hours=3, minutes=30)
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert int(event["sequence"]) == 0
    assert str(event["status"]) == "CONFIRMED"
    assert "Alma, Primo VE" in str(event["description"])  # names, not codes
    assert "Quarterly release." in str(event["description"])
    assert str(event["url"]).endswith(f"/maintenance/{window.id}")
    assert event.decoded("dtstamp").utcoffset() == timedelta(0)  # DTSTAMP is UTC (RFC 5545)


def test_ics_sequence_rises_on_every_edit_and_a_cancel_keeps_the_uid(client, make):
    _, staff = make.signed_in(Role.consortium_staff)
    window = make.window(starts_at=START)
    uid = f"maintenance-{window.id}@{HOST}"
    client.patch(f"/maintenance/{window.id}", json={"description": "More words"}, headers=staff)
    client.patch(f"/maintenance/{window.id}", json={"starts_at": "2027-02-06T01:00"}, headers=staff)
    edited = events(client)[uid]
    assert int(edited["sequence"]) == 2
    assert edited.decoded("dtstart") == datetime(2027, 2, 6, 7, 0, tzinfo=UTC)
    client.delete(f"/maintenance/{window.id}", headers=staff)
    cancelled = events(client)[uid]
    assert str(cancelled["status"]) == "CANCELLED"
    assert int(cancelled["sequence"]) == 3


def test_ics_filters_by_service_and_institution(client, make):
    code = make.institution().code
    alma = make.window(starts_at=START, services=("alma",))
    network = make.window(starts_at=START, services=("network",), institutions=(code,))
    other = make.window(
        starts_at=START, services=("network",), institutions=(make.institution().code,)
    )
    uid = f"maintenance-{{}}@{HOST}".format
    assert set(events(client, service="alma")) == {uid(alma.id)}
    assert set(events(client, institution=code)) == {uid(alma.id), uid(network.id)}
    assert set(events(client, service="network", institution=code.lower())) == {uid(network.id)}
    assert uid(other.id) in events(client)


def test_atom_feed_has_windows_and_incident_updates(client, make):
    _, staff = make.signed_in(Role.consortium_staff)
    window = make.window(starts_at=START, title="Primo VE release")
    cancelled = make.window(starts_at=START + timedelta(days=7), title="Follow-up")
    client.delete(f"/maintenance/{cancelled.id}", headers=staff)
    incident = make.incident(title="Primo VE searches fail")
    client.post(
        f"/incidents/{incident.id}/updates",
        json={"status": "identified", "body": "The vendor found the cause."},
        headers=staff,
    )
    response = client.get("/feeds/status.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert "maintenance and incidents" in feed.feed.title
    by_id = {e.id: e for e in feed.entries}
    entry = by_id[f"tag:{HOST},2026:maintenance/{window.id}"]
    assert entry.title.startswith("Maintenance: Primo VE release")
    assert entry.link.endswith(f"/maintenance/{window.id}")
    assert "CST" in entry.title
    assert by_id[f"tag:{HOST},2026:maintenance/{cancelled.id}"].title.startswith("Cancelled:")
    updates = [e for e in feed.entries if f"incident/{incident.id}/update" in e.id]
    assert {e.summary for e in updates} == {"Looking into it.", "The vendor found the cause."}
    assert feed.entries[0].summary == "The vendor found the cause."  # newest first
    assert all(e.updated_parsed for e in feed.entries)
