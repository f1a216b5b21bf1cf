"""The route table: every shared route (DESIGN.md §5), how to call it, and who may.

One entry per shared route drives both matrices: the representation matrix
(`test_representation.py`: every route × every header case) and the authorisation matrix
(`test_authz.py`: every route × every caller). `test_every_shared_route_has_an_entry` fails
when a shared route is added to the app without an entry here.

Every record an entry addresses belongs to `World.own`; the callers are anonymous, each library
role at that institution ("own") and at the neighbour ("other"), consortium staff and admin.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import Session

from app.models.user import Role, User
from tests.factories import World

OK = 0  # in an `Access`: the route's own success status


@dataclass(frozen=True)
class Access:
    """The status each kind of caller gets. `lead` is the director and the liaison alike (the
    director may always act as liaison); `other` is every library role at the neighbour."""

    anonymous: int = 401
    library_staff: int = 403
    lead: int = 403
    other: int = 403
    staff: int = OK  # consortium staff and admin


PUBLIC = Access(anonymous=OK, library_staff=OK, lead=OK, other=OK)
MEMBERS = Access(library_staff=OK, lead=OK, other=OK)
STAFF = Access()
# A record private to its library: the neighbour gets 404 (no existence leak).
LIBRARY = Access(library_staff=OK, lead=OK, other=404)
LEADS = Access(lead=OK, other=404)
STAFF_ON_PRIVATE = Access(other=404)


@dataclass(frozen=True)
class Caller:
    id: str
    role: Role | None  # None: anonymous
    own: bool = True

    def user(self, world: World) -> User | None:
        return None if self.role is None else world.user(self.role, own=self.own)

    def expected(self, access: Access) -> int:
        if self.role is None:
            return access.anonymous
        if Role(self.role).is_consortium:
            return access.staff
        if not self.own:
            return access.other
        return access.library_staff if self.role is Role.library_staff else access.lead


LIBRARY_ROLES = (Role.library_staff, Role.liaison, Role.director)
CALLERS = [
    Caller("anonymous", None),
    *(Caller(f"{role.value}@own", role) for role in LIBRARY_ROLES),
    *(Caller(f"{role.value}@other", role, own=False) for role in LIBRARY_ROLES),
    Caller("consortium_staff", Role.consortium_staff),
    Caller("consortium_admin", Role.consortium_admin),
]


def _none(_: World) -> Any:
    return None


@dataclass(frozen=True)
class Route:
    """A shared route as a client calls it.

    `path` is the app's own template (it is compared with the app's routes); `params` fills it
    from a World, `body` (JSON) or `files` (multipart) make a valid request, `shows` is text
    every successful representation contains, `status` is the JSON success status.
    """

    id: str
    method: str
    path: str
    access: Access
    status: int = 200
    params: Callable[[World], dict[str, Any]] = lambda _: {}
    body: Callable[[World], Any] = _none
    files: Callable[[World], Any] = _none
    shows: Callable[[World], str | None] = _none

    def url(self, world: World) -> str:
        return self.path.format(**self.params(world))

    def status_for(self, caller: Caller) -> int:
        expected = caller.expected(self.access)
        return self.status if expected == OK else expected

    @property
    def writes(self) -> bool:
        return self.method != "GET"


# --- path parameters and bodies, from a World ------------------------------------------------


def code(w: World) -> dict[str, Any]:
    return {"code": w.own.code}


def ticket(w: World) -> dict[str, Any]:
    return {"number": w.own.ticket.number}


def contact(w: World) -> dict[str, Any]:
    return {"liaison_id": w.own.contact.id}


def change(w: World) -> dict[str, Any]:
    return {"change_id": w.own.change.id}


def window(w: World) -> dict[str, Any]:
    return {"window_id": w.window.id}


def incident(w: World) -> dict[str, Any]:
    return {"incident_id": w.incident.id}


def new_window(_: World) -> dict[str, Any]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
    return {
        "title": "Alma monthly release",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(),
        "services": ["alma"],
        "impact": "outage",
    }


IMPORT_CSV = b"name,email,institution,roles\nNia New,nia@import.example.edu,OWN,billing\n"
TEXT_FILE = b"Screenshot notes: the availability line is empty for every e-book.\n"

ROUTES = [
    # --- institutions
    Route("institutions.list", "GET", "/institutions", MEMBERS, shows=lambda w: "Own College"),
    Route(
        "institutions.create",
        "POST",
        "/institutions",
        STAFF,
        status=201,
        body=lambda w: {"code": "NEWI", "name": "Newly Joined College"},
        shows=lambda w: "Newly Joined College",
    ),
    Route(
        "institutions.read",
        "GET",
        "/institutions/{code}",
        MEMBERS,
        params=code,
        shows=lambda w: "Own College",
    ),
    Route(
        "institutions.update",
        "PATCH",
        "/institutions/{code}",
        STAFF,
        params=code,
        body=lambda w: {"city": "Peoria"},
        shows=lambda w: "Peoria",
    ),
    # --- the directory
    Route("liaisons.list", "GET", "/liaisons", MEMBERS, shows=lambda w: "Fran Own"),
    Route(
        "liaisons.create",
        "POST",
        "/liaisons",
        STAFF_ON_PRIVATE,
        status=201,
        body=lambda w: {
            "name": "Pia Posted",
            "email": "pia@posted.example.edu",
            "institution": w.own.code,
            "roles": ["billing"],
        },
        shows=lambda w: "Pia Posted",
    ),
    Route(
        "liaisons.import",
        "POST",
        "/liaisons/import",
        STAFF,
        files=lambda w: {"file": ("people.csv", IMPORT_CSV, "text/csv")},
    ),
    Route(
        "liaisons.read",
        "GET",
        "/liaisons/{liaison_id}",
        MEMBERS,
        params=contact,
        shows=lambda w: "Fran Own",
    ),
    Route(
        "liaisons.update",
        "PATCH",
        "/liaisons/{liaison_id}",
        STAFF_ON_PRIVATE,
        params=contact,
        body=lambda w: {"title": "Access Services Lead"},
        shows=lambda w: "Access Services Lead",
    ),
    Route(
        "liaisons.end",
        "DELETE",
        "/liaisons/{liaison_id}",
        STAFF_ON_PRIVATE,
        params=contact,
        shows=lambda w: "Fran Own",
    ),
    Route(
        "liaisons.invite",
        "POST",
        "/liaisons/{liaison_id}/invitation",
        STAFF,
        status=201,
        params=contact,
        shows=lambda w: "/invitations/",
    ),
    Route(
        "institutions.liaisons",
        "GET",
        "/institutions/{code}/liaisons",
        MEMBERS,
        params=code,
        shows=lambda w: "Fran Own",
    ),
    Route(
        "institutions.confirm_directory",
        "POST",
        "/institutions/{code}/liaisons/confirmation",
        LEADS,
        status=201,
        params=code,
    ),
    Route(
        "directory_changes.list",
        "GET",
        "/directory-changes",
        MEMBERS,
    ),
    Route(
        "directory_changes.submit",
        "POST",
        "/directory-changes",
        LEADS,
        status=201,
        body=lambda w: {
            "kind": "update",
            "liaison_id": w.own.contact.id,
            "liaison": {"title": "Head of Circulation"},
        },
        shows=lambda w: "Head of Circulation",
    ),
    Route(
        "directory_changes.read",
        "GET",
        "/directory-changes/{change_id}",
        LIBRARY,
        params=change,
        shows=lambda w: "Quinn Proposed",
    ),
    Route(
        "directory_changes.approve",
        "POST",
        "/directory-changes/{change_id}/approve",
        STAFF_ON_PRIVATE,
        params=change,
        body=lambda w: {},
        shows=lambda w: "approved",
    ),
    Route(
        "directory_changes.reject",
        "POST",
        "/directory-changes/{change_id}/reject",
        STAFF_ON_PRIVATE,
        params=change,
        body=lambda w: {"reason": "A duplicate of an earlier request"},
        shows=lambda w: "A duplicate of an earlier request",
    ),
    Route("reports.directory_gaps", "GET", "/reports/directory-gaps", STAFF),
    Route("audit.list", "GET", "/audit", STAFF),
    # --- maintenance and status
    Route("status.read", "GET", "/status", PUBLIC),
    Route("services.list", "GET", "/services", PUBLIC, shows=lambda w: "Primo VE"),
    Route(
        "services.create",
        "POST",
        "/services",
        STAFF,
        status=201,
        body=lambda w: {"slug": "ezproxy", "name": "EZproxy"},
        shows=lambda w: "EZproxy",
    ),
    Route(
        "maintenance.list",
        "GET",
        "/maintenance",
        PUBLIC,
        shows=lambda w: "World maintenance window",
    ),
    Route(
        "maintenance.create",
        "POST",
        "/maintenance",
        STAFF,
        status=201,
        body=new_window,
        shows=lambda w: "Alma monthly release",
    ),
    Route(
        "maintenance.read",
        "GET",
        "/maintenance/{window_id}",
        PUBLIC,
        params=window,
        shows=lambda w: "World maintenance window",
    ),
    Route(
        "maintenance.update",
        "PATCH",
        "/maintenance/{window_id}",
        STAFF,
        params=window,
        body=lambda w: {"title": "Renamed window"},
        shows=lambda w: "Renamed window",
    ),
    Route(
        "maintenance.cancel",
        "DELETE",
        "/maintenance/{window_id}",
        STAFF,
        params=window,
        shows=lambda w: "ancelled",
    ),
    Route("incidents.list", "GET", "/incidents", PUBLIC, shows=lambda w: "World incident"),
    Route(
        "incidents.create",
        "POST",
        "/incidents",
        STAFF,
        status=201,
        body=lambda w: {"title": "Primo VE is slow", "services": ["primo_ve"], "body": "Hm."},
        shows=lambda w: "Primo VE is slow",
    ),
    Route(
        "incidents.read",
        "GET",
        "/incidents/{incident_id}",
        PUBLIC,
        params=incident,
        shows=lambda w: "World incident",
    ),
    Route(
        "incidents.add_update",
        "POST",
        "/incidents/{incident_id}/updates",
        STAFF,
        status=201,
        params=incident,
        body=lambda w: {"status": "identified", "body": "Found the faulty index"},
        shows=lambda w: "Found the faulty index",
    ),
    Route(
        "incidents.link_ticket",
        "POST",
        "/incidents/{incident_id}/tickets",
        LIBRARY,
        status=201,
        params=incident,
        body=lambda w: {"ticket": w.own.ticket.number},
        shows=lambda w: "World incident",
    ),
    # --- tickets
    Route("tickets.list", "GET", "/tickets", MEMBERS),
    Route(
        "tickets.create",
        "POST",
        "/tickets",
        LIBRARY,
        status=201,
        body=lambda w: {
            "subject": "Course reserves list is empty",
            "description": "The reserves list shows nothing for this term.",
            "category": "fulfillment",
            "institution": w.own.code,
        },
        shows=lambda w: "Course reserves list is empty",
    ),
    Route(
        "tickets.read",
        "GET",
        "/tickets/{number}",
        LIBRARY,
        params=ticket,
        shows=lambda w: w.own.ticket.subject,
    ),
    Route(
        "tickets.update",
        "PATCH",
        "/tickets/{number}",
        LIBRARY,
        params=ticket,
        body=lambda w: {"subject": "Primo VE availability missing (all e-books)"},
        shows=lambda w: "Primo VE availability missing (all e-books)",
    ),
    Route("tickets.comments", "GET", "/tickets/{number}/comments", LIBRARY, params=ticket),
    Route(
        "tickets.comment",
        "POST",
        "/tickets/{number}/comments",
        LIBRARY,
        status=201,
        params=ticket,
        body=lambda w: {"body": "Still happening after the cache was cleared."},
        shows=lambda w: "Still happening after the cache was cleared.",
    ),
    Route("tickets.events", "GET", "/tickets/{number}/events", LIBRARY, params=ticket),
    Route(
        "tickets.merge",
        "POST",
        "/tickets/{number}/merge",
        STAFF_ON_PRIVATE,
        params=ticket,
        body=lambda w: {"into": w.make.ticket(w.own.liaison, subject="The original").number},
        shows=lambda w: "The original",
    ),
    Route(
        "tickets.redact",
        "POST",
        "/tickets/{number}/redact",
        STAFF_ON_PRIVATE,
        params=ticket,
        body=lambda w: {"text": "since the release"},
    ),
    Route(
        "tickets.attach",
        "POST",
        "/tickets/{number}/attachments",
        LIBRARY,
        status=201,
        params=ticket,
        files=lambda w: {"file": ("notes.txt", TEXT_FILE, "text/plain")},
        shows=lambda w: w.own.ticket.subject,  # JSON answers with the ticket, not the file
    ),
]
BY_ID = {route.id: route for route in ROUTES}


def shared_routes() -> set[tuple[str, str]]:
    """(method, path) of every shared route the app serves."""
    from app.main import ROUTERS

    return {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if hasattr(getattr(route, "endpoint", None), "__shared__")
        for method in route.methods
    }


def call(
    client: TestClient, world: World, route: Route, headers: dict[str, str], *, user=None
) -> httpx.Response:
    """`route` with its path, body and files from `world`, as `user` (None: anonymous).

    Without an `Accept` in `headers` the request carries none (httpx would add `*/*`)."""
    request = client.build_request(
        route.method,
        route.url(world),
        json=route.body(world),
        files=route.files(world),
        headers={**world.headers(user), **headers},
    )
    if "accept" not in {name.lower() for name in headers}:
        del request.headers["accept"]
    return client.send(request, follow_redirects=False)


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip()


def assert_varies(response: httpx.Response) -> None:
    vary = {v.strip().lower() for v in response.headers.get("vary", "").split(",")}
    assert {"accept", "hx-request"} <= vary, response.headers.get("vary")


@contextmanager
def undone(connection: Connection, db: Session) -> Iterator[None]:
    """Rolls back whatever the block writes, so each case of a matrix starts from the same
    World (built once per test). The test's session holds no transaction across the
    SAVEPOINT, and reloads the World from the database afterwards."""
    db.commit()
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        db.rollback()
        savepoint.rollback()
