"""Derived statuses across both daylight-saving changes (the plain clock rule is a table in
test_maintenance.py), the status page, current notices, the banner and conditional GET."""

from datetime import UTC, datetime, timedelta

import pytest

from app.models.incident import IncidentStatus
from app.models.maintenance import MaintenanceStatus
from app.models.user import Role
from app.services import status as service

S = MaintenanceStatus


def test_spring_forward_window_lasts_two_real_hours(client, make):
    """01:00 CST → 04:00 CDT on 14 March 2027 is two hours, not three."""
    _, staff = make.signed_in(Role.consortium_staff)
    body = {
        "title": "Across spring forward",
        "starts_at": "2027-03-14T01:00",
        "ends_at": "2027-03-14T04:00",
        "services": ["alma"],
    }
    data = client.post("/maintenance", json=body, headers=staff).json()
    assert (data["starts_at"], data["ends_at"]) == ("2027-03-14T07:00:00Z", "2027-03-14T09:00:00Z")
    from app.services.maintenance import get_window

    row = get_window(session=make.session, window_id=data["id"])
    assert row.status_at(datetime(2027, 3, 14, 8, 59, tzinfo=UTC)) == S.in_progress  # 03:59 CDT
    assert row.status_at(datetime(2027, 3, 14, 9, 0, tzinfo=UTC)) == S.completed  # 04:00 CDT


def test_fall_back_window_lasts_three_real_hours(client, make):
    """00:30 CDT → 02:30 CST on 7 November 2027: the hour from 01:00 happens twice."""
    _, staff = make.signed_in(Role.consortium_staff)
    body = {
        "title": "Across fall back",
        "starts_at": "2027-11-07T00:30",
        "ends_at": "2027-11-07T02:30",
        "services": ["alma"],
    }
    data = client.post("/maintenance", json=body, headers=staff).json()
    assert (data["starts_at"], data["ends_at"]) == ("2027-11-07T05:30:00Z", "2027-11-07T08:30:00Z")
    from app.services.maintenance import get_window

    row = get_window(session=make.session, window_id=data["id"])
    second_one_forty_five = datetime(2027, 11, 7, 7, 45, tzinfo=UTC)  # 01:45 CST, the repeat
    assert row.status_at(second_one_forty_five) == S.in_progress
    assert row.status_at(datetime(2027, 11, 7, 8, 30, tzinfo=UTC)) == S.completed
    ambiguous = {**body, "starts_at": "2027-11-07T01:30", "ends_at": "2027-11-07T03:00"}
    # An ambiguous local time is read as the first one (daylight time).
    assert client.post("/maintenance", json=ambiguous, headers=staff).json()["starts_at"] == (
        "2027-11-07T06:30:00Z"
    )


def test_service_status_is_the_worst_of_incidents_and_windows(db, make):
    now = datetime.now(UTC)
    make.window(starts_at=now - timedelta(hours=1), services=("alma", "network"))
    make.window(starts_at=now + timedelta(hours=1), services=("analytics",))
    make.incident(services=("network",), impact="outage")
    make.incident(services=("primo_ve",), impact="degraded")
    make.incident(services=("carli_files",), status=IncidentStatus.resolved, impact="outage")
    got = {s.slug: s.status.value for s in service.service_statuses(session=db, now=now)}
    assert got == {
        "alma": "maintenance",
        "primo_ve": "degraded",
        "ishare_catalog": "operational",
        "analytics": "operational",
        "carli_files": "operational",
        "network": "outage",
        "carli_website": "operational",
    }
    later = {
        s.slug: s.status
        for s in service.service_statuses(session=db, now=now + timedelta(hours=1, minutes=30))
    }
    assert later["alma"] == "operational" and later["analytics"] == "maintenance"


def test_current_notices_for_an_institution(db, make):
    now = datetime.now(UTC)
    mine, other = make.institution().code, make.institution().code
    everyone = make.window(starts_at=now - timedelta(minutes=5))
    ours = make.window(starts_at=now + timedelta(days=2), institutions=(mine,))
    make.window(starts_at=now + timedelta(days=2), institutions=(other,))
    make.window(starts_at=now + timedelta(days=20))
    cancelled = make.window(starts_at=now + timedelta(days=1))
    cancelled.cancelled_at = now
    db.add(cancelled)
    db.commit()
    incident = make.incident()
    notices = service.current_notices(session=db, institution=mine)
    assert [w.id for w in notices.active] == [everyone.id]
    assert [w.id for w in notices.upcoming] == [ours.id]
    assert [i.id for i in notices.incidents] == [incident.id]
    assert notices


def test_status_page_json_lists_everything_and_90_days_of_history(client, make):
    now = datetime.now(UTC)
    make.window(starts_at=now - timedelta(days=10), title="Ten days ago")
    make.window(starts_at=now - timedelta(days=100), title="Too old")
    make.window(starts_at=now - timedelta(minutes=30), title="Right now")
    make.window(starts_at=now + timedelta(days=5), title="Next week")
    make.incident(title="Open one")
    data = client.get("/status").json()
    assert data["overall"] == "degraded"
    assert [w["title"] for w in data["active"]] == ["Right now"]
    assert [w["title"] for w in data["upcoming"]] == ["Next week"]
    assert [i["title"] for i in data["incidents"]] == ["Open one"]
    titles = [w["title"] for day in data["history"] for w in day["maintenance"]]
    assert "Ten days ago" in titles and "Too old" not in titles


def test_status_is_public_and_polls_cheaply_with_304(client, make):
    make.window()
    first = client.get("/status")
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert "no-cache" in first.headers["cache-control"]
    again = client.get("/status", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/status", headers={"If-Modified-Since": modified}).status_code == 304
    html = client.get("/status", headers={"Accept": "text/html", "If-None-Match": etag})
    assert html.status_code == 200, "a page must not reuse the JSON's validator"
    make.window(title="Something new")
    changed = client.get("/status", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_the_validator_moves_when_a_window_starts(db, make):
    start = datetime.now(UTC) + timedelta(days=1)
    make.window(starts_at=start)
    before, _ = service.fingerprint(session=db, now=start - timedelta(minutes=1))
    after, modified = service.fingerprint(session=db, now=start + timedelta(minutes=1))
    assert before != after
    assert start <= modified <= start + timedelta(minutes=1)


@pytest.mark.parametrize("path", ["/feeds/status.atom", "/maintenance.ics"])
def test_feeds_answer_304_too(client, make, path):
    make.window()
    first = client.get(path)
    assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304


def test_banner_is_empty_when_nothing_is_active(client, make):
    _, headers = make.signed_in(Role.liaison)
    make.window()  # upcoming only
    assert client.get("/status/banner", headers=headers).text == ""
    make.window(starts_at=datetime.now(UTC) - timedelta(minutes=5), title="Alma is down now")
    banner = client.get("/status/banner", headers=headers)
    assert "Maintenance in progress" in banner.text and "Alma is down now" in banner.text
    page = client.get("/institutions", headers={**headers, "Accept": "text/html"})
    assert 'hx-get="/status/banner"' in page.text
