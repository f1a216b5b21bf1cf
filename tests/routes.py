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
from tests.factories import PASSWORD, World

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
    admin: int | None = None  # the consortium admin, where it differs from staff


PUBLIC = Access(anonymous=OK, library_staff=OK, lead=OK, other=OK)
MEMBERS = Access(library_staff=OK, lead=OK, other=OK)
STAFF = Access()
# A record private to its library: the neighbour gets 404 (no existence leak).
LIBRARY = Access(library_staff=OK, lead=OK, other=404)
LEADS = Access(lead=OK, other=404)
STAFF_ON_PRIVATE = Access(other=404)
ADMIN = Access(staff=403, admin=OK)


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
            if Role(self.role) is Role.consortium_admin and access.admin is not None:
                return access.admin
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


def attachment(w: World) -> dict[str, Any]:
    """A text file on the world's ticket (the same one each time it is asked for), stored under
    the configured attachment directory."""
    from io import BytesIO

    from app.services.tickets import attachments

    found = attachments.list_attachments(session=w.make.session, ticket=w.own.ticket)
    if not found:
        attachments.add_attachment(
            session=w.make.session,
            actor=w.own.liaison,
            ticket=w.own.ticket,
            filename="notes.txt",
            stream=BytesIO(TEXT_FILE),
        )
        found = attachments.list_attachments(session=w.make.session, ticket=w.own.ticket)
    return {**ticket(w), "attachment_id": found[0].id}


def contact(w: World) -> dict[str, Any]:
    return {"liaison_id": w.own.contact.id}


def change(w: World) -> dict[str, Any]:
    return {"change_id": w.own.change.id}


def invitation(w: World) -> dict[str, Any]:
    """A pending sign-in invitation for `own`'s contact (made on first use)."""
    from sqlmodel import select

    from app.models.directory import DirectoryInvitation
    from app.services import invitations, liaisons

    session = w.make.session
    found = session.exec(
        select(DirectoryInvitation).where(DirectoryInvitation.liaison_id == w.own.contact.id)
    ).first()
    if found is None:
        person = liaisons.get_liaison(session=session, liaison_id=w.own.contact.id)
        invitations.invite(session=session, actor=w.staff, liaison=person)
        found = session.exec(
            select(DirectoryInvitation).where(DirectoryInvitation.liaison_id == w.own.contact.id)
        ).first()
    return {"invitation_id": found.id}


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


def duty(w: World) -> dict[str, Any]:
    return {"duty_id": w.duty.id}


def task(w: World) -> dict[str, Any]:
    return {"task_id": w.make.task_of(w.duty, w.own.code).id}


IMPORT_CSV = b"name,email,institution,roles\nNia New,nia@import.example.edu,OWN,billing\n"
TEXT_FILE = b"Screenshot notes: the availability line is empty for every e-book.\n"


def account_of(w: World) -> dict[str, Any]:
    return {"user_id": w.own.library_staff.id}


def api_client(w: World) -> dict[str, Any]:
    """The World's API client (made on first use), bound to `own`, owned by the admin."""
    from sqlmodel import select

    from app.models.api_client import ApiClient, ApiClientCreate
    from app.services import api_clients

    found = w.make.session.exec(select(ApiClient).where(ApiClient.name == "World sync")).first()
    if found is None:
        data = ApiClientCreate(name="World sync", scopes=["tickets:read"], institution=w.own.code)
        found, _ = api_clients.create_client(session=w.make.session, actor=w.admin, data=data)
    return {"client_id": found.id}


def webhook(w: World) -> dict[str, Any]:
    """The World's webhook "World hook" (made on first use, by the admin) and a delivery of it."""
    from sqlmodel import select

    from app.models.webhook import Webhook, WebhookCreate, WebhookDelivery
    from app.services import webhooks

    session = w.make.session
    found = session.exec(select(Webhook).where(Webhook.name == "World hook")).first()
    if found is None:
        data = WebhookCreate(
            name="World hook", url="https://93.184.215.14/hooks", events=["ticket.created"]
        )
        found = webhooks.create_webhook(session=session, actor=w.admin, data=data)
        webhooks.send_test(session=session, actor=w.admin, webhook=found)
    delivery = session.exec(
        select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == found.id)
    ).first()
    return {"webhook_id": found.id, "delivery_id": delivery}


def canned_reply(w: World) -> dict[str, Any]:
    """The team's saved reply "World reply" (made on first use, by staff)."""
    from sqlmodel import select

    from app.models.canned_reply import CannedReply, CannedReplyCreate
    from app.services import canned_replies

    found = w.make.session.exec(
        select(CannedReply).where(CannedReply.name == "World reply")
    ).first()
    if found is None:
        data = CannedReplyCreate(name="World reply", body="Dear {requester name}, thank you.")
        found = canned_replies.create_reply(session=w.make.session, actor=w.staff, data=data)
    return {"reply_id": found.id}


# --- communications: records made on first use (get-or-create), owned by `own` -------------


def comms(w: World) -> dict[str, Any]:
    """A list whose rule holds `own`'s contact, its three users and the admin (as directory
    people at `own`), a
    sent action-required announcement, a scheduled one, and an upcoming event."""
    from sqlmodel import select

    from app.models.announcement import Announcement
    from app.models.event import Event
    from app.models.liaison import Liaison

    make = w.make
    mailing_list = make.mailing_list("world-list", roles=("fulfillment", "liaison", "director"))
    for user in (w.own.library_staff, w.own.liaison, w.own.director, w.admin):
        if make.session.exec(select(Liaison).where(Liaison.email == user.email)).first() is None:
            make.liaison(w.own.code, roles=("fulfillment",), email=user.email, name=user.name)
    found = {a.subject: a for a in make.session.exec(select(Announcement))}
    sent = found.get("World announcement") or make.announcement(
        (mailing_list,),
        subject="World announcement",
        acknowledge_by=datetime.now(UTC).date() + timedelta(days=10),
    )
    scheduled = found.get("World scheduled") or make.announcement(
        (mailing_list,), subject="World scheduled", sent=False
    )
    event = make.session.exec(select(Event).where(Event.title == "World meeting")).first()
    event = event or make.event((mailing_list,), title="World meeting")
    return {
        "slug": mailing_list.slug,
        "sent": sent.id,
        "scheduled": scheduled.id,
        "event": event.id,
    }


def a_list(w: World) -> dict[str, Any]:
    return {"slug": comms(w)["slug"]}


def sent(w: World) -> dict[str, Any]:
    return {"announcement_id": comms(w)["sent"]}


def scheduled(w: World) -> dict[str, Any]:
    return {"announcement_id": comms(w)["scheduled"]}


def a_post(w: World) -> dict[str, Any]:
    """A member's post waiting for moderation (a new one once the last was moderated)."""
    from sqlmodel import select

    from app.models.announcement import Announcement, Review
    from app.models.list import MailingList

    comms(w)
    found = w.make.session.exec(
        select(Announcement).where(
            Announcement.subject == "World post", Announcement.review == Review.pending
        )
    ).first()
    if found is not None:
        return {"announcement_id": found.id}
    group = w.make.session.exec(select(MailingList).where(MailingList.slug == "world-list")).one()
    post = w.make.announcement((group,), subject="World post", sent=False)
    post.review = Review.pending
    w.make.session.add(post)
    w.make.session.commit()
    return {"announcement_id": post.id}


def an_event(w: World) -> dict[str, Any]:
    return {"event_id": comms(w)["event"]}


def member(w: World) -> dict[str, Any]:
    return {"slug": comms(w)["slug"], "liaison_id": w.own.contact.id}


def new_announcement(w: World) -> dict[str, Any]:
    return {"subject": "Fall release notes", "body": "Read *these*.", "lists": [comms(w)["slug"]]}


def new_event(w: World) -> dict[str, Any]:
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    return {
        "title": "Liaison webinar",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "lists": [comms(w)["slug"]],
    }


# The signed-in person's own choice on a list: only people on it (own's users) have one.
PERSONAL = Access(library_staff=OK, lead=OK, other=404, staff=404, admin=OK)
# A scheduled announcement exists only for staff.
STAFF_ONLY_RECORD = Access(library_staff=404, lead=404, other=404)

ROUTES = [
    # --- accounts: one's own, and their administration
    Route("account.read", "GET", "/account", MEMBERS, shows=lambda w: "sessions"),
    Route(
        "account.update",
        "PATCH",
        "/account",
        MEMBERS,
        body=lambda w: {"phone": "217-555-0142", "notices": {"incident": False}},
        shows=lambda w: "217-555-0142",
    ),
    Route(
        "account.password",
        "POST",
        "/account/password",
        MEMBERS,
        body=lambda w: {"current_password": PASSWORD, "new_password": "Prairie-Stacks-2031"},
    ),
    Route("users.list", "GET", "/users", ADMIN, shows=lambda w: "Ada Admin"),
    Route(
        "users.create",
        "POST",
        "/users",
        ADMIN,
        status=201,
        body=lambda w: {
            "email": "nell.new@own.example.edu",
            "name": "Nell New",
            "role": "liaison",
            "institution": w.own.code,
        },
        shows=lambda w: "Nell New",
    ),
    Route(
        "users.read",
        "GET",
        "/users/{user_id}",
        ADMIN,
        params=account_of,
        shows=lambda w: w.own.library_staff.email,
    ),
    Route(
        "users.update",
        "PATCH",
        "/users/{user_id}",
        ADMIN,
        params=account_of,
        body=lambda w: {"phone": "217-555-0199", "role": "liaison"},
        shows=lambda w: "217-555-0199",
    ),
    # --- API clients (consortium admins)
    Route("api_clients.list", "GET", "/api-clients", ADMIN, params=api_client),
    Route(
        "api_clients.create",
        "POST",
        "/api-clients",
        ADMIN,
        status=201,
        body=lambda w: {"name": "Reports sync", "scopes": ["tickets:read", "maintenance:read"]},
        shows=lambda w: "Reports sync",
    ),
    Route(
        "api_clients.read",
        "GET",
        "/api-clients/{client_id}",
        ADMIN,
        params=api_client,
        shows=lambda w: "World sync",
    ),
    Route(
        "api_clients.update",
        "PATCH",
        "/api-clients/{client_id}",
        ADMIN,
        params=api_client,
        body=lambda w: {"name": "World sync, renamed"},
        shows=lambda w: "World sync, renamed",
    ),
    Route(
        "api_clients.rotate",
        "POST",
        "/api-clients/{client_id}/rotation",
        ADMIN,
        params=api_client,
        shows=lambda w: "World sync",
    ),
    Route(
        "api_clients.revoke",
        "DELETE",
        "/api-clients/{client_id}",
        ADMIN,
        params=api_client,
        shows=lambda w: "World sync",
    ),
    # --- webhooks (consortium admins)
    Route("webhooks.list", "GET", "/webhooks", ADMIN, params=webhook, shows=lambda w: "World hook"),
    Route(
        "webhooks.create",
        "POST",
        "/webhooks",
        ADMIN,
        status=201,
        body=lambda w: {
            "name": "Reports sync",
            "url": "https://93.184.215.14/portal",
            "events": ["ticket.created", "incident.*"],
        },
        shows=lambda w: "Reports sync",
    ),
    Route(
        "webhooks.read",
        "GET",
        "/webhooks/{webhook_id}",
        ADMIN,
        params=webhook,
        shows=lambda w: "World hook",
    ),
    Route(
        "webhooks.update",
        "PATCH",
        "/webhooks/{webhook_id}",
        ADMIN,
        params=webhook,
        body=lambda w: {"name": "World hook, renamed"},
        shows=lambda w: "World hook, renamed",
    ),
    Route(
        "webhooks.rotate",
        "POST",
        "/webhooks/{webhook_id}/rotation",
        ADMIN,
        params=webhook,
        shows=lambda w: "whsec_",
    ),
    Route("webhooks.deliveries", "GET", "/webhooks/{webhook_id}/deliveries", ADMIN, params=webhook),
    Route(
        "webhooks.delivery",
        "GET",
        "/webhooks/{webhook_id}/deliveries/{delivery_id}",
        ADMIN,
        params=webhook,
        shows=lambda w: "msg_",
    ),
    Route(
        "webhooks.redeliver",
        "POST",
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/redelivery",
        ADMIN,
        status=202,
        params=webhook,
        shows=lambda w: "msg_",
    ),
    Route(
        "webhooks.test",
        "POST",
        "/webhooks/{webhook_id}/test",
        ADMIN,
        status=202,
        params=webhook,
        shows=lambda w: "msg_",
    ),
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
        LEADS,  # library staff neither file nor read change requests
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
    Route(
        "invitations.list",
        "GET",
        "/invitations",
        STAFF,
        params=invitation,
        shows=lambda w: "Fran Own",
    ),
    Route(
        "institutions.invitations",
        "GET",
        "/institutions/{code}/invitations",
        STAFF_ON_PRIVATE,  # a library lead of another institution gets 404
        params=lambda w: {**invitation(w), **code(w)},
        shows=lambda w: "Fran Own",
    ),
    Route(
        "invitations.resend",
        "POST",
        "/invitations/{invitation_id}/resend",
        STAFF_ON_PRIVATE,
        status=201,
        params=invitation,
        shows=lambda w: "/invitations/",
    ),
    Route(
        "invitations.revoke",
        "DELETE",
        "/invitations/{invitation_id}",
        STAFF_ON_PRIVATE,
        params=invitation,
        shows=lambda w: "Fran Own",
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
        "incidents.edit",
        "PATCH",
        "/incidents/{incident_id}",
        STAFF,
        params=incident,
        body=lambda w: {"title": "World incident, renamed"},
        shows=lambda w: "World incident, renamed",
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
    Route(
        "tickets.detach",
        "DELETE",
        "/tickets/{number}/attachments/{attachment_id}",
        STAFF_ON_PRIVATE,
        params=attachment,
        shows=lambda w: w.own.ticket.subject,
    ),
    # --- duties
    Route("duties.list", "GET", "/duties", MEMBERS, shows=lambda w: "World duty"),
    Route(
        "duties.create",
        "POST",
        "/duties",
        STAFF,
        status=201,
        body=lambda w: {"title": "Fiscal period rollover", "due_on": "2031-07-01"},
        shows=lambda w: "Fiscal period rollover",
    ),
    Route(
        "duties.read",
        "GET",
        "/duties/{duty_id}",
        MEMBERS,
        params=duty,
        shows=lambda w: "World duty",
    ),
    Route(
        "duties.update",
        "PATCH",
        "/duties/{duty_id}",
        STAFF,
        params=duty,
        body=lambda w: {"title": "World duty, renamed"},
        shows=lambda w: "World duty, renamed",
    ),
    Route("duties.board", "GET", "/duties/{duty_id}/tasks", MEMBERS, params=duty),
    Route(
        "institutions.tasks",
        "GET",
        "/institutions/{code}/tasks",
        LIBRARY,
        params=code,
        shows=lambda w: "World duty",
    ),
    Route(
        "tasks.read", "GET", "/tasks/{task_id}", LIBRARY, params=task, shows=lambda w: "World duty"
    ),
    Route(
        "tasks.update",
        "PATCH",
        "/tasks/{task_id}",
        LEADS,
        params=task,
        body=lambda w: {"state": "done", "note": "Rolled over by the book"},
        shows=lambda w: "Rolled over by the book",
    ),
    Route(
        "tasks.complete",  # the multipart completion that may carry a file (duties)
        "POST",
        "/tasks/{task_id}/completion",
        LEADS,
        params=task,
        files=lambda w: {
            "file": ("statistics form.txt", TEXT_FILE, "text/plain"),
            "note": (None, "Signed form attached"),
        },
        shows=lambda w: "Signed form attached",
    ),
    # --- retention (issue 15): consortium administrators only
    Route("retention.read", "GET", "/retention", ADMIN, shows=lambda w: "patron_data"),
    Route(
        "retention.replace",
        "PUT",
        "/retention",
        ADMIN,
        body=lambda w: {"patron_data": 90, "default": 1095},
        shows=lambda w: "1095",
    ),
    Route("retention.report", "GET", "/retention/report", ADMIN),
    # --- canned replies (issue 15): the support team's saved replies, staff only
    Route(
        "canned_replies.list",
        "GET",
        "/canned-replies",
        STAFF,
        params=canned_reply,
        shows=lambda w: "World reply",
    ),
    Route(
        "canned_replies.create",
        "POST",
        "/canned-replies",
        STAFF,
        status=201,
        body=lambda w: {"name": "Vendor case opened", "body": "About {ticket number}: opened."},
        shows=lambda w: "Vendor case opened",
    ),
    Route(
        "canned_replies.read",
        "GET",
        "/canned-replies/{reply_id}",
        STAFF,
        params=canned_reply,
        shows=lambda w: "World reply",
    ),
    Route(
        "canned_replies.update",
        "PATCH",
        "/canned-replies/{reply_id}",
        STAFF,
        params=canned_reply,
        body=lambda w: {"name": "World reply, renamed"},
        shows=lambda w: "World reply, renamed",
    ),
    Route(
        "canned_replies.delete",
        "DELETE",
        "/canned-replies/{reply_id}",
        STAFF,
        params=canned_reply,
        shows=lambda w: "World reply",
    ),
    # --- communications
    Route("lists.list", "GET", "/lists", MEMBERS, params=a_list, shows=lambda w: "World List"),
    Route(
        "lists.create",
        "POST",
        "/lists",
        STAFF,
        status=201,
        body=lambda w: {"slug": "new-group", "name": "New interest group", "roles": ["systems"]},
        shows=lambda w: "New interest group",
    ),
    Route(
        "lists.read", "GET", "/lists/{slug}", MEMBERS, params=a_list, shows=lambda w: "World List"
    ),
    Route(
        "lists.update",
        "PATCH",
        "/lists/{slug}",
        STAFF,
        params=a_list,
        body=lambda w: {"name": "Renamed list"},
        shows=lambda w: "Renamed list",
    ),
    Route(
        "lists.members",
        "GET",
        "/lists/{slug}/members",
        STAFF,
        params=a_list,
        shows=lambda w: "Fran Own",
    ),
    Route(
        "lists.add_member",
        "POST",
        "/lists/{slug}/members",
        STAFF,
        status=201,
        params=a_list,
        body=lambda w: {"liaison": w.other.contact.id},
        shows=lambda w: "Fran Oth",
    ),
    Route(
        "lists.remove_member",
        "DELETE",
        "/lists/{slug}/members/{liaison_id}",
        STAFF,
        params=member,
        shows=lambda w: "Fran Own",
    ),
    Route(
        "lists.preference",
        "PUT",
        "/lists/{slug}/preference",
        PERSONAL,
        params=a_list,
        body=lambda w: {"delivery": "digest"},
        shows=lambda w: "igest",
    ),
    Route(
        "announcements.list",
        "GET",
        "/announcements",
        MEMBERS,
        params=sent,
        shows=lambda w: "World announcement",
    ),
    Route(
        "announcements.create",
        "POST",
        "/announcements",
        STAFF,
        status=201,
        body=new_announcement,
        shows=lambda w: "Fall release notes",
    ),
    Route(
        "announcements.read",
        "GET",
        "/announcements/{announcement_id}",
        MEMBERS,
        params=sent,
        shows=lambda w: "World announcement",
    ),
    Route(
        "announcements.update",
        "PATCH",
        "/announcements/{announcement_id}",
        STAFF_ONLY_RECORD,
        params=scheduled,
        body=lambda w: {"subject": "Rescheduled notice"},
        shows=lambda w: "Rescheduled notice",
    ),
    Route(
        "announcements.cancel",
        "DELETE",
        "/announcements/{announcement_id}",
        STAFF_ONLY_RECORD,
        params=scheduled,
        shows=lambda w: "World scheduled",
    ),
    Route(
        "announcements.moderate",
        "POST",
        "/announcements/{announcement_id}/moderation",
        STAFF_ONLY_RECORD,
        params=a_post,
        body=lambda w: {"decision": "reject", "reason": "Off topic"},
        shows=lambda w: "Off topic",
    ),
    Route(
        "announcements.board",
        "GET",
        "/announcements/{announcement_id}/acknowledgements",
        STAFF,
        params=sent,
        shows=lambda w: "Own College",
    ),
    Route(
        "announcements.acknowledge",
        "POST",
        "/announcements/{announcement_id}/acknowledgements",
        LEADS,
        status=201,
        params=sent,
        body=lambda w: {"institution": w.own.code},
        shows=lambda w: "Own College",
    ),
    Route(
        "announcements.redistribute",
        "POST",
        "/announcements/{announcement_id}/redistributions",
        LEADS,
        status=201,
        params=sent,
        body=lambda w: {"institution": w.own.code, "roles": ["fulfillment"], "note": "FYI"},
        shows=lambda w: "fulfillment",
    ),
    Route(
        "events.list", "GET", "/events", MEMBERS, params=an_event, shows=lambda w: "World meeting"
    ),
    Route(
        "events.create",
        "POST",
        "/events",
        STAFF,
        status=201,
        body=new_event,
        shows=lambda w: "Liaison webinar",
    ),
    Route(
        "events.read",
        "GET",
        "/events/{event_id}",
        MEMBERS,
        params=an_event,
        shows=lambda w: "World meeting",
    ),
    Route(
        "events.update",
        "PATCH",
        "/events/{event_id}",
        STAFF,
        params=an_event,
        body=lambda w: {"location": "I-Hotel, Champaign"},
        shows=lambda w: "I-Hotel, Champaign",
    ),
    Route(
        "events.cancel",
        "DELETE",
        "/events/{event_id}",
        STAFF,
        params=an_event,
        shows=lambda w: "ancel",
    ),
    Route(
        "events.rsvp",
        "POST",
        "/events/{event_id}/rsvp",
        MEMBERS,
        params=an_event,
        body=lambda w: {"answer": "yes"},
        shows=lambda w: "World meeting",
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
