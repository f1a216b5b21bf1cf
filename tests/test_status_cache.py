"""`/status`, the feeds and `/services` rendered once per version of what they show (issue 11
point 3): two SQL statements to build a new version (the version, then everything shown), one
while nothing changes, the new version as soon as something does, in every process, and nobody's
page shown to anybody else."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.models.status import StatusPublic
from app.models.user import Role
from app.web import caching

JSON = {"Accept": "application/json"}
PAGE = {"Accept": "text/html"}
FRAGMENT = {"HX-Request": "true"}
# Every view the cache serves: name → (path, headers).
VIEWS = {
    "status json": ("/status", JSON),
    "status page": ("/status", PAGE),
    "status fragment": ("/status", FRAGMENT),
    "atom": ("/feeds/status.atom", {}),
    "ics": ("/maintenance.ics", {}),
    "ics for a service": ("/maintenance.ics?service=analytics", {}),
    "services json": ("/services", JSON),
    "services page": ("/services", PAGE),
    "services fragment": ("/services", FRAGMENT),
}


@pytest.fixture(autouse=True)
def cold_cache() -> Iterator[None]:
    caching.clear()
    yield
    caching.clear()


@pytest.fixture
def busy(make, client):
    """Something for every view to show: an active and an upcoming window, an open incident
    with two updates and a library's report, a resolved one in the last 90 days."""
    now = datetime.now(UTC)
    make.window(starts_at=now - timedelta(minutes=10), title="Alma is read-only")
    make.window(starts_at=now + timedelta(days=3), title="Primo release", services=("analytics",))
    make.window(starts_at=now - timedelta(days=5), title="Last week's window")
    incident = make.incident(title="Primo VE slow")
    make.incident(title="Fixed already", status="resolved", resolved_at=now)
    _, staff = make.signed_in(Role.consortium_staff)
    update = {"status": "identified", "body": "The vendor found the cause."}
    added = client.post(f"/incidents/{incident.id}/updates", json=update, headers=staff)
    assert added.status_code == 201, added.text
    return incident


@pytest.mark.parametrize("view", list(VIEWS))
def test_a_new_version_costs_two_statements_and_reusing_it_one(client, busy, counted, view):
    path, headers = VIEWS[view]
    with counted() as built:
        first = client.get(path, headers=headers)
    with counted() as reused:
        again = client.get(path, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert len(built) == 2, built  # the version, then everything the view shows
    assert len(reused) == 1, reused  # the version alone
    assert again.content == first.content


def test_a_reused_status_keeps_its_validator_and_vary(client, busy):
    first = client.get("/status", headers=PAGE)
    again = client.get("/status", headers=PAGE)
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["vary"] == "Accept, HX-Request"
    assert "Alma is read-only" in again.text and "The vendor found the cause." in again.text


def test_what_status_shows_is_what_each_record_reads_on_its_own(client, busy):
    """The one-statement status page shows every window and incident exactly as its own route
    (the maintenance and incidents slices' queries) does."""
    client.get("/status")  # built, then reused below
    body = client.get("/status").json()
    windows = body["active"] + body["upcoming"]
    windows += [w for day in body["history"] for w in day["maintenance"]]
    incidents = body["incidents"] + [i for day in body["history"] for i in day["incidents"]]
    assert len({w["id"] for w in windows}) == 3 and len({i["id"] for i in incidents}) == 2
    for window in windows:
        assert window == client.get(f"/maintenance/{window['id']}").json()
    for incident in incidents:
        assert incident == client.get(f"/incidents/{incident['id']}").json()
    assert StatusPublic.model_validate(body).overall == "degraded"  # the incident


@dataclass
class Change:
    """A change to something the views show, made after every view was rendered and cached;
    `shows`: view → a text the view must now contain (`-text`: must no longer contain)."""

    name: str
    make: Callable  # (client, make, staff headers, connection, the busy incident) → None
    shows: dict[str, str]


def _sql(connection, statement: str, **values) -> None:
    """A write by another process: plain SQL on the database, no portal code in this one."""
    connection.execute(text(statement), values)


STATUS = ("status json", "status page", "status fragment")
FEEDS = ("atom", "ics", "ics for a service")
SERVICES = ("services json", "services page", "services fragment")
CHANGES = [
    Change(
        "maintenance created",
        lambda client, make, staff, connection, incident: client.post(
            "/maintenance",
            json={
                "title": "Fresh window",
                "starts_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                "ends_at": (datetime.now(UTC) + timedelta(days=1, hours=2)).isoformat(),
                "services": ["analytics"],
            },
            headers=staff,
        ),
        dict.fromkeys((*STATUS, *FEEDS), "Fresh window"),
    ),
    Change(
        "maintenance changed",
        lambda client, make, staff, connection, incident: client.patch(
            f"/maintenance/{_window_id(client, 'Primo release')}",
            json={"title": "Primo release moved"},
            headers=staff,
        ),
        dict.fromkeys((*STATUS, *FEEDS), "Primo release moved"),
    ),
    Change(
        "maintenance cancelled",
        lambda client, make, staff, connection, incident: client.delete(
            f"/maintenance/{_window_id(client, 'Primo release')}", headers=staff
        ),
        {
            **dict.fromkeys(STATUS, "-Primo release"),
            "atom": "Cancelled: Primo release",
            "ics": "STATUS:CANCELLED",
            "ics for a service": "STATUS:CANCELLED",
        },
    ),
    Change(
        "incident update",
        lambda client, make, staff, connection, incident: client.post(
            f"/incidents/{incident.id}/updates",
            json={"status": "monitoring", "body": "A fix is in place."},
            headers=staff,
        ),
        dict.fromkeys((*STATUS, "atom"), "A fix is in place."),
    ),
    Change(
        "a service goes down",
        lambda client, make, staff, connection, incident: client.post(
            "/incidents",
            json={
                "title": "Network down",
                "services": ["network"],
                "body": "Down.",
                "impact": "outage",
            },
            headers=staff,
        ),
        {**dict.fromkeys(SERVICES, "outage"), **dict.fromkeys(STATUS, "Network down")},
    ),
    Change(
        "a window starts (the clock, no write)",
        lambda client, make, staff, connection, incident: _sql(
            connection,
            "UPDATE maintenance SET starts_at = :at WHERE title = 'Primo release'",
            at=datetime.now(UTC) - timedelta(minutes=1),
        ),
        {
            "services json": '"slug":"analytics","status":"maintenance"',
            "services page": '<li id="analytics" class="s-maintenance">',
            "services fragment": '<li id="analytics" class="s-maintenance">',
            "status fragment": '<li class="s-maintenance"><span>Alma Analytics',
        },
    ),
    Change(
        "another process writes",
        lambda client, make, staff, connection, incident: _sql(
            connection,
            "UPDATE maintenance SET title = 'Renamed elsewhere', updated_at = :at "
            "WHERE title = 'Primo release'",
            at=datetime.now(UTC),
        ),
        dict.fromkeys((*STATUS, *FEEDS), "Renamed elsewhere"),
    ),
]


def _window_id(client, title: str) -> int:
    return next(w["id"] for w in client.get("/maintenance").json()["data"] if w["title"] == title)


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.name)
def test_a_change_shows_at_once_on_every_view_that_shows_it(client, make, connection, busy, change):
    """Every view is rendered and cached first; the next request after the change answers the
    new version. The cache is keyed by a version read from the database on every request, so
    a write by plain SQL (as from another process) and the clock show as promptly as a write
    through this process."""
    _, staff = make.signed_in(Role.consortium_staff)
    before = {}
    for view, (path, headers) in VIEWS.items():
        before[view] = client.get(path, headers=headers).text
        assert client.get(path, headers=headers).text == before[view]  # cached now
    answer = change.make(client, make, staff, connection, busy)
    assert answer is None or answer.status_code < 300, answer.text
    for view, expected in change.shows.items():
        path, headers = VIEWS[view]
        after = client.get(path, headers=headers).text
        if expected.startswith("-"):
            assert expected[1:] in before[view] and expected[1:] not in after, view
        else:
            assert expected not in before[view] and expected in after, view


def test_a_library_reporting_an_incident_changes_what_status_shows(client, make):
    incident = make.incident(title="Primo VE slow")
    user, headers = make.signed_in(Role.liaison)
    ticket = make.ticket(requester=user)
    before = client.get("/status")
    assert before.json()["incidents"][0]["reports"] == 0
    linked = client.post(
        f"/incidents/{incident.id}/tickets", json={"ticket": ticket.number}, headers=headers
    )
    assert linked.status_code == 201
    after = client.get("/status")
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["incidents"][0]["reports"] == 1


def test_each_person_sees_their_own_page_around_the_shared_part(client, make):
    make.window(starts_at=datetime.now(UTC) + timedelta(days=1), title="Shared window")
    staff, staff_headers = make.signed_in(Role.consortium_staff)
    liaison, liaison_headers = make.signed_in(Role.liaison)
    pages = {
        "staff": client.get("/status", headers={**staff_headers, **PAGE}).text,
        "liaison": client.get("/status", headers={**liaison_headers, **PAGE}).text,
        "anonymous": client.get("/status", headers=PAGE).text,
    }
    assert all("Shared window" in page for page in pages.values())
    assert staff.name in pages["staff"] and "Schedule maintenance" in pages["staff"]
    assert liaison.name in pages["liaison"] and staff.name not in pages["liaison"]
    assert "Schedule maintenance" not in pages["liaison"]
    assert "Sign in" in pages["anonymous"] and liaison.name not in pages["anonymous"]


def test_a_reused_page_of_services_keeps_its_next_link(client, counted):
    first = client.get("/services?limit=2", headers=JSON)
    with counted() as reused:
        again = client.get("/services?limit=2", headers=JSON)
    assert len(reused) == 1
    assert again.json() == first.json() and len(again.json()["data"]) == 2
    assert again.json()["next"].endswith("/services?offset=2&limit=2")
    assert again.headers["link"] == first.headers["link"] == f'<{first.json()["next"]}>; rel="next"'
    assert "etag" not in again.headers  # `/services` promises no validators: none are sent
