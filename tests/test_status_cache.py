"""`/status` and the feeds rendered once per version of what they show (issue 11 point 3): one
SQL statement per request while nothing changes, the new version as soon as something does,
and nobody's page shown to anybody else."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from app.models.status import StatusPublic
from app.models.user import Role
from app.services import status as service
from app.web import caching

JSON = {"Accept": "application/json"}
PAGE = {"Accept": "text/html"}
FRAGMENT = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def cold_cache() -> Iterator[None]:
    caching.clear()
    yield
    caching.clear()


@contextmanager
def statements(connection) -> Iterator[list[str]]:
    """The SQL run meanwhile, without the test harness's transaction statements."""
    seen: list[str] = []

    def count(conn, cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", count)


@pytest.mark.parametrize("headers", [JSON, PAGE, FRAGMENT], ids=["json", "page", "fragment"])
def test_a_second_request_costs_one_statement_and_answers_the_same(
    client, make, connection, headers
):
    make.window(starts_at=datetime.now(UTC) - timedelta(minutes=10), title="Alma is read-only")
    make.incident(title="Primo VE slow")
    with statements(connection) as first_sql:
        first = client.get("/status", headers=headers)
    with statements(connection) as again_sql:
        again = client.get("/status", headers=headers)
    assert first.status_code == again.status_code == 200
    assert len(first_sql) > 2  # built: the fingerprint, then the windows, incidents, services
    assert len(again_sql) == 1, again_sql  # reused: the fingerprint alone
    assert again.content == first.content
    assert "Alma is read-only" in again.text and "Primo VE slow" in again.text
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["vary"] == "Accept, HX-Request"


def test_the_cached_json_is_the_status_model(client, make, db):
    make.window(starts_at=datetime.now(UTC) + timedelta(days=2), title="Next week")
    client.get("/status")
    body = client.get("/status").json()
    fresh = service.status_page(session=db)
    assert StatusPublic.model_validate(body).model_dump(exclude={"generated_at"}) == (
        fresh.model_dump(exclude={"generated_at"})
    )


@pytest.mark.parametrize("headers", [JSON, PAGE, FRAGMENT], ids=["json", "page", "fragment"])
def test_a_write_shows_at_once(client, make, headers):
    assert "Fresh window" not in client.get("/status", headers=headers).text
    make.window(starts_at=datetime.now(UTC) + timedelta(days=1), title="Fresh window")
    assert "Fresh window" in client.get("/status", headers=headers).text


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


@pytest.mark.parametrize("path", ["/feeds/status.atom", "/maintenance.ics"])
def test_feeds_are_reused_until_a_write(client, make, connection, path):
    make.window(title="First window")
    first = client.get(path)
    with statements(connection) as sql:
        again = client.get(path)
    assert len(sql) == 1
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    make.window(title="Second window")
    assert "Second window" in client.get(path).text
