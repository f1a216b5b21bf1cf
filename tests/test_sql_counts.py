"""SQL statements per request for every list route, at two page sizes (issue 11).

A list costs a fixed number of statements whatever its page size: authentication, the page
(with its total in the same statement) and one statement per kind of related row, never one per
row (the per-row query that made django-helpdesk crawl, DESIGN.md §8). The counts are exact, so
an extra statement anywhere in a list's path fails here first. Timings are measured by
`bench/lists.py`, never in a test.
"""

import pytest

from app.models.api_client import ApiClientCreate
from app.models.canned_reply import CannedReplyCreate
from app.models.user import Role
from app.models.webhook import WebhookCreate
from app.services import api_clients, audit, canned_replies, webhooks

# Transaction control the test harness adds around every request (savepoints) is not counted.
SMALL, LARGE = 2, 5
ROWS = LARGE + 2  # every list has more rows than the larger page: both pages are full

# path → (who asks, statements per request). Authentication is one statement (the token's
# user); `None` asks anonymously.
LISTS = {
    "/institutions": ("staff", 2),
    "/liaisons": ("staff", 3),  # + the page's appointments
    "/liaisons?active=false": ("staff", 3),
    "/institutions/OWN/liaisons": ("staff", 5),  # institution, people, appointments, confirmation
    "/maintenance": (None, 3),  # windows, their services, their institutions
    "/incidents": (None, 3),  # incidents, their updates, their services
    "/directory-changes": ("staff", 3),  # + the queue's counts by status
    "/audit": ("staff", 2),
    "/tickets": ("staff", None),
    "/tickets?mine=false": ("library", None),
    "/announcements": ("staff", 5),  # count, page, their lists, list names
    "/lists": ("staff", 4),  # lists, today's appointments, manual members
    "/events": ("staff", 6),  # events, their lists, list names, going, mine
    "/duties": ("staff", 3),
    "/users": ("admin", 3),
    "/api-clients": ("admin", 3),
    "/webhooks": ("admin", 3),
    "/canned-replies": ("staff", 3),  # count and page
}


@pytest.fixture
def crowded(world, make, db):
    """More than a page of everything every list shows, for both sides' users to see."""
    library = world.own.library_staff
    everyone = make.mailing_list()
    for n in range(ROWS):
        make.institution(name=f"Crowded College {n}")
        make.liaison(world.own.code, roles=("fulfillment", "billing"))
        make.liaison(world.own.code, ended_on=world.own.contact.created_at.date())
        make.window(title=f"Window {n}", institutions=(world.own.code,) if n % 2 else ())
        make.incident(title=f"Incident {n}", services=("alma", "primo_ve"))
        make.directory_change(world.own.director)
        make.ticket(library, subject=f"Crowded problem {n}")
        audit.record(
            db, actor=world.staff, action="update", entity_type="institution", entity_id="OWN"
        )
        make.announcement((everyone,), subject=f"Announcement {n}")
        make.mailing_list(slug=f"crowded-{n}")
        make.event((everyone,), title=f"Meeting {n}")
        make.duty(title=f"Duty {n}")
        make.user(Role.library_staff, institution=world.own.code)
        client_data = ApiClientCreate(name=f"Tool {n}", scopes=["tickets:read"])
        api_clients.create_client(session=db, actor=world.admin, data=client_data)
        hook = WebhookCreate(
            name=f"Hook {n}", url="https://93.184.215.14/h", events=["task.completed"]
        )
        webhooks.create_webhook(session=db, actor=world.admin, data=hook)
        reply = CannedReplyCreate(name=f"Reply {n}", body="Thank you, {requester name}.")
        canned_replies.create_reply(session=db, actor=world.staff, data=reply)
    db.commit()
    return world


def _headers(world, who: str | None) -> dict[str, str]:
    user = {
        "admin": world.admin,
        "staff": world.staff,
        "library": world.own.library_staff,
        None: None,
    }[who]
    return {**world.headers(user), "Accept": "application/json"}


def _with_limit(path: str, limit: int) -> str:
    return f"{path}{'&' if '?' in path else '?'}limit={limit}"


@pytest.mark.parametrize("path", list(LISTS))
def test_statements_per_list_do_not_grow_with_the_page(client, crowded, counted, path):
    who, expected = LISTS[path]
    headers = _headers(crowded, who)
    counts = {}
    for limit in (SMALL, LARGE):
        with counted() as seen:
            response = client.get(_with_limit(path, limit), headers=headers)
        assert response.status_code == 200, response.text
        assert len(response.json()["data"]) == limit, "the page is not full: the test proves less"
        counts[limit] = len(seen)
    assert counts[SMALL] == counts[LARGE], f"{path}: {counts} statements — a per-row query"
    if expected is not None:
        assert counts[SMALL] == expected, f"{path}: {counts[SMALL]} statements, not {expected}"


def test_the_count_still_comes_with_a_page_past_the_end(client, crowded, counted):
    """The total rides on the page's rows; a page with no row asks for it separately."""
    headers = _headers(crowded, "staff")
    with counted() as seen:
        response = client.get("/institutions?offset=100000&limit=5", headers=headers)
    body = response.json()
    assert body["data"] == [] and body["count"] >= ROWS
    assert len(seen) == LISTS["/institutions"][1] + 1


def test_a_library_user_counts_the_same_as_staff(client, crowded, counted):
    """The visibility filter is part of the statement, not a second one."""
    counts = []
    for who in ("staff", "library"):
        headers = _headers(crowded, who)
        with counted() as seen:
            assert client.get("/directory-changes?limit=5", headers=headers).status_code == 200
        counts.append(len(seen))
    assert counts[0] == counts[1]
