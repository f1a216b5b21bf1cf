"""Changing tickets: filing and numbering, edits, the status workflow, assignment, watchers,
comments and merging. Each function is one transaction and commits it."""

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from app.models.institution import Institution
from app.models.ticket import (
    CommentCreate,
    Ticket,
    TicketAttachment,
    TicketBase,
    TicketComment,
    TicketCounter,
    TicketCreate,
    TicketEventKind,
    TicketStatus,
    TicketUpdate,
    TicketWatcher,
)
from app.models.user import User
from app.services import audit
from app.services.access import is_library_lead, is_staff, require_staff
from app.services.tickets import notices, sla
from app.services.tickets.queries import get_ticket, people, watchers_of
from app.services.tickets.records import (
    TEXT_FIELDS,
    add_event,
    audited,
    etag,
    lock,
    touch,
    without_text,
)

S = TicketStatus
TRANSITIONS: dict[TicketStatus, set[TicketStatus]] = {
    S.new: {S.open, S.pending_library, S.pending_vendor, S.resolved, S.closed},
    S.open: {S.pending_library, S.pending_vendor, S.resolved, S.closed},
    S.pending_library: {S.open, S.pending_vendor, S.resolved, S.closed},
    S.pending_vendor: {S.open, S.pending_library, S.resolved, S.closed},
    S.resolved: {S.open, S.closed},
    S.closed: set(),
}
# A library may reopen a ticket, answer a question, or withdraw it; the rest is staff's.
LIBRARY_TRANSITIONS = {
    (S.resolved, S.open),
    (S.pending_library, S.open),
    *((s, S.closed) for s in (S.new, S.open, S.pending_library, S.pending_vendor, S.resolved)),
}
STAFF_ONLY_FIELDS = {"assignee", "vendor_case", "priority"}

Events = list[tuple[TicketEventKind, dict]]


# --- the status rules -------------------------------------------------------------------------


def allowed_moves(actor: User, current: TicketStatus) -> set[TicketStatus]:
    """The statuses `actor` may move a ticket in `current` to."""
    allowed = TRANSITIONS[current]
    if is_staff(actor):
        return allowed
    return {s for s in allowed if (current, s) in LIBRARY_TRANSITIONS}


def check_transition(actor: User, current: TicketStatus, target: TicketStatus) -> None:
    """422 for a move the workflow does not have; 403 for one only staff may make."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise Invalid(
            f"A ticket cannot go from {current} to {target} (allowed: {allowed}).",
            [FieldError("status", f"cannot change from {current} to {target}")],
        )
    if target not in allowed_moves(actor, current):
        raise PermissionDenied(f"Only consortium staff may move a ticket to {target}.")


def move(ticket: Ticket, target: TicketStatus, now: datetime) -> None:
    """What a status does to the ticket itself: the SLA clock stops while the ticket waits for
    the library or the vendor, and `resolved_at` holds while it is resolved or closed."""
    ticket.status = target
    if target.paused:
        sla.pause(ticket, now)
    else:
        sla.resume(ticket, now)
    ticket.resolved_at = (ticket.resolved_at or now) if target.done else None


def next_statuses(actor: User, ticket: Ticket) -> list[str]:
    """The statuses `actor` may move the ticket to, in workflow order (the status control)."""
    allowed = allowed_moves(actor, TicketStatus(ticket.status))
    return [s.value for s in TicketStatus if s in allowed]


# --- filing -----------------------------------------------------------------------------------


def create_ticket(*, session: Session, actor: User, data: TicketCreate) -> Ticket:
    institution = _filing_institution(session, actor, data.institution)
    watchers = _check_watchers(session, institution, data.watchers)
    # End the read-only transaction: on SQLite a transaction that read before it writes fails
    # when another writer got in between; here the counter row is the first thing it touches.
    session.commit()
    now = utcnow()
    ticket = Ticket(
        **data.model_dump(include=set(TicketBase.model_fields)),
        number=_next_number(session, now),
        institution=institution,
        requester=actor.id,
        created_at=now,
        updated_at=now,
        public_updated_at=now,
    )
    sla.start_clock(ticket)
    ticket.sla_due_at = sla.next_due(ticket)
    audit.created(session, ticket, actor=actor, exclude=TEXT_FIELDS)
    session.add_all(TicketWatcher(ticket_id=ticket.id, user_id=u) for u in watchers)
    add_event(session, ticket, actor, TicketEventKind.created, {}, at=now)
    notices.urgent(session, actor, ticket)
    session.commit()
    return ticket


def _filing_institution(session: Session, actor: User, given: str | None) -> str:
    if not is_staff(actor):
        if given and given != actor.institution:
            raise NotFound(f"No institution has the code {given}.")
        return actor.institution
    if not given:
        raise Invalid(
            "Consortium staff file a ticket for a library: name its institution.",
            [FieldError("institution", "is required for consortium staff")],
        )
    if session.get(Institution, given) is None:
        raise Invalid(
            f"No institution has the code {given}.",
            [FieldError("institution", "is not a known institution code")],
        )
    return given


def _check_watchers(session: Session, institution: str, ids: list[int]) -> list[int]:
    """Watchers are people of the ticket's library or consortium staff, never outsiders."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = people(session=session, ids=set(wanted))
    bad = [
        i
        for i in wanted
        if i not in found
        or not found[i].active
        or not (is_staff(found[i]) or found[i].institution == institution)
    ]
    if bad:
        raise Invalid(
            "Watchers must be active people of the ticket's library or consortium staff.",
            [FieldError("watchers", f"not allowed: {', '.join(map(str, bad))}")],
        )
    return wanted


def _next_number(session: Session, now: datetime) -> str:
    """`YYYY-NNNNN`: the year's counter row, bumped atomically and held until commit, so
    concurrent filings queue on it and a rolled-back filing gives its number back."""
    year = now.astimezone(get_settings().tz).year
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(TicketCounter)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": col(TicketCounter.last) + 1})
        .returning(col(TicketCounter.last))
    )
    last = session.connection().execute(stmt).scalar_one()
    return f"{year}-{last:05d}"


# --- edits and the workflow -------------------------------------------------------------------


def update_ticket(
    *,
    session: Session,
    actor: User,
    ticket: Ticket,
    data: TicketUpdate,
    if_match: str | None = None,
) -> Ticket:
    """A stale `if_match` is refused; the audit entry notes changed text, never the text."""
    values = data.model_dump(exclude_unset=True)
    staff = is_staff(actor)
    refused = sorted(set(values) & STAFF_ONLY_FIELDS) if not staff else []
    if refused:
        raise PermissionDenied(f"Only consortium staff may change {', '.join(refused)}.")
    if values.get("contains_patron_data") is False and ticket.contains_patron_data and not staff:
        raise PermissionDenied("Only consortium staff may clear the patron-data flag.")
    lock(session, ticket)
    if if_match is not None and if_match.strip() not in (etag(ticket, actor), "*"):
        raise PreconditionFailed(
            "The ticket changed since you loaded it; reload it and apply your change again."
        )
    _open_for_changes(session, ticket, values.keys() - {"status"})
    now = utcnow()
    before = audit.snapshot(ticket)
    events: Events = []
    watchers = values.pop("watchers", None)
    if watchers is not None:
        _set_watchers(session, actor, ticket, watchers, events)
    status = values.pop("status", None)
    if "assignee" in values and (assignee := values.pop("assignee")) != ticket.assignee:
        _assign(session, actor, ticket, assignee, events)
    priority = values.pop("priority", None)
    for key, value in values.items():
        setattr(ticket, key, value)
    if priority is not None and priority != ticket.priority:
        events.append((TicketEventKind.priority, {"from": ticket.priority, "to": priority}))
        ticket.priority = priority
        sla.reprioritise(ticket, now)
    if status is not None and status != ticket.status:
        _transition(session, actor, ticket, TicketStatus(status), now, events)
    old, new = audit.changes(before, audit.snapshot(ticket))
    changed = [k for k in new if k in values]
    if changed:
        events.append((TicketEventKind.change, {"fields": sorted(changed)}))
    if not events:
        return ticket
    _record(session, actor, ticket, events, now)
    after = without_text(new) | ({"watchers": watchers} if watchers is not None else {})
    audited(session, ticket, actor, "update", after, before=without_text(old))
    session.commit()
    return ticket


def _open_for_changes(session: Session, ticket: Ticket, fields) -> None:
    if ticket.merged_into is not None:
        target = session.get(Ticket, ticket.merged_into)
        raise Conflict(f"This ticket was merged into {target.number}; change that one.")
    if ticket.status == TicketStatus.closed and fields:
        raise Conflict("A closed ticket cannot be changed; file a new one.")


def _transition(
    session: Session,
    actor: User,
    ticket: Ticket,
    target: TicketStatus,
    now: datetime,
    events: Events,
    *,
    notify: bool = True,
) -> None:
    current = TicketStatus(ticket.status)
    check_transition(actor, current, target)
    move(ticket, target, now)
    events.append((TicketEventKind.status, {"from": current, "to": target}))
    if notify:
        key = f"status:{ticket.id}:{ticket.version}"
        notices.followers(session, actor, ticket, "tickets/status", key)


def _assign(
    session: Session, actor: User, ticket: Ticket, assignee: int | None, events: Events
) -> None:
    if assignee is not None:
        user = session.get(User, assignee)
        if user is None or not user.active or not is_staff(user):
            raise Invalid(
                "Tickets are assigned to active consortium staff.",
                [FieldError("assignee", "is not an active consortium staff member")],
            )
        notices.assigned(session, actor, ticket, user)
    events.append((TicketEventKind.assignment, {"from": ticket.assignee, "to": assignee}))
    ticket.assignee = assignee


def _set_watchers(
    session: Session, actor: User, ticket: Ticket, ids: list[int], events: Events
) -> None:
    """Staff and library leads set the list; library staff may only add or remove themselves."""
    current = watchers_of(session, ticket)
    wanted = set(_check_watchers(session, ticket.institution, ids))
    if not (is_staff(actor) or is_library_lead(actor)) and (current ^ wanted) - {actor.id}:
        raise PermissionDenied("Library staff may only add or remove themselves as watchers.")
    for user_id in wanted - current:
        session.add(TicketWatcher(ticket_id=ticket.id, user_id=user_id))
    for user_id in current - wanted:
        session.delete(session.get(TicketWatcher, (ticket.id, user_id)))
    if current != wanted:
        events.append((TicketEventKind.change, {"fields": ["watchers"]}))


def _record(
    session: Session,
    actor: User,
    ticket: Ticket,
    events: Events,
    now: datetime,
    *,
    public: bool = True,
) -> None:
    """The ticket's new version (library users' too, for a `public` change) and the timeline
    entries of one change."""
    touch(ticket, now, public=public)
    for kind, event_data in events:
        add_event(session, ticket, actor, kind, event_data, at=now)
    session.add(ticket)


# --- comments ---------------------------------------------------------------------------------


def add_comment(
    *, session: Session, actor: User, ticket: Ticket, data: CommentCreate
) -> TicketComment:
    """A public reply or (staff) an internal note; replies move the workflow along."""
    staff = is_staff(actor)
    if data.internal and not staff:
        raise PermissionDenied("Only consortium staff may write internal notes.")
    lock(session, ticket)
    if ticket.merged_into is not None:
        target = session.get(Ticket, ticket.merged_into)
        raise Conflict(
            f"This ticket was merged into {target.number}; reply there.",
            [FieldError("body", f"reply on ticket {target.number}")],
        )
    if ticket.status == TicketStatus.closed:
        raise Conflict("A closed ticket takes no more comments; file a new one.")
    now = utcnow()
    comment = TicketComment(
        ticket_id=ticket.id, author=actor.id, body=data.body, internal=data.internal, created_at=now
    )
    session.add(comment)
    session.flush()
    events: Events = []
    if not data.internal:
        if staff and ticket.first_response_at is None:
            ticket.first_response_at = now
        waiting = TicketStatus.new if staff else TicketStatus.pending_library
        if ticket.status == waiting:  # the reply is what the ticket waited for
            _transition(session, actor, ticket, TicketStatus.open, now, events, notify=False)
        notices.followers(session, actor, ticket, "tickets/reply", f"reply:{comment.id}")
    add_event(
        session,
        ticket,
        actor,
        TicketEventKind.comment,
        {"comment": comment.id, "internal": data.internal},
        at=now,
        internal=data.internal,
    )
    _record(session, actor, ticket, events, now, public=not data.internal)
    audited(session, ticket, actor, "comment", {"comment": comment.id, "internal": data.internal})
    session.commit()
    return comment


# --- merge (staff) ----------------------------------------------------------------------------


def merge_ticket(*, session: Session, actor: User, ticket: Ticket, into: str) -> Ticket:
    """Moves the duplicate's comments, watchers and attachments to `into` and closes it."""
    require_staff(actor, "merge tickets")
    target = get_ticket(session=session, actor=actor, number=into)
    if target.id == ticket.id:
        raise Invalid(
            "A ticket cannot be merged into itself.", [FieldError("into", "is this ticket")]
        )
    if ticket.merged_into is not None or target.merged_into is not None:
        raise Conflict("One of the tickets was already merged.")
    if target.status == TicketStatus.closed:
        raise Conflict(f"{target.number} is closed; merge into an open ticket.")
    if target.institution != ticket.institution:
        raise Invalid(
            "Tickets of different libraries cannot be merged: each library sees only its own.",
            [FieldError("into", "belongs to another institution")],
        )
    lock(session, ticket)
    lock(session, target)
    now = utcnow()
    for model in (TicketComment, TicketAttachment):
        session.exec(update(model).where(model.ticket_id == ticket.id).values(ticket_id=target.id))
    moving = watchers_of(session, ticket) | {ticket.requester}
    for user_id in moving - watchers_of(session, target) - {target.requester}:
        session.add(TicketWatcher(ticket_id=target.id, user_id=user_id))
    target.contains_patron_data = target.contains_patron_data or ticket.contains_patron_data
    before = TicketStatus(ticket.status)
    move(ticket, TicketStatus.closed, now)
    ticket.merged_into = target.id
    closed = {"from": before, "to": S.closed}
    merged = [(TicketEventKind.merge, {"into": target.number}), (TicketEventKind.status, closed)]
    _record(session, actor, ticket, merged, now)
    _record(session, actor, target, [(TicketEventKind.merge, {"from": ticket.number})], now)
    audited(session, ticket, actor, "merge", {"merged_into": target.number})
    session.commit()
    return target
