"""Changing tickets: filing and numbering, edits, the status workflow, assignment, watchers,
comments and merging. Each function is one transaction and commits it."""

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

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
from app.models.incident import Incident, IncidentStatus, IncidentTicket
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
from app.models.user import Role, User
from app.notify.jobs import register_job
from app.services import audit, webhooks
from app.services.access import is_library_lead, is_staff, require_staff
from app.services.tickets import notices, sla
from app.services.tickets.queries import (
    comment_public,
    get_ticket,
    library_view,
    people,
    watchers_of,
)
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
    incident = _open_incident(session, data.incident)
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
    if incident is not None:
        _link_incident(session, actor, ticket, incident, now)
    notices.urgent(session, actor, ticket)
    notices.filed(session, actor, ticket)
    _publish(session, ticket, "ticket.created", watchers)
    session.commit()
    return ticket


def _open_incident(session: Session, incident_id: int | None) -> Incident | None:
    """The incident a "we are affected too" filing joins: it must still be open."""
    if incident_id is None:
        return None
    incident = session.get(Incident, incident_id)
    if incident is None or incident.status == IncidentStatus.resolved:
        raise Invalid(
            "That incident is over or unknown; describe your problem in a report of its own.",
            [FieldError("incident", "is not a current incident")],
        )
    return incident


def _link_incident(
    session: Session, actor: User, ticket: Ticket, incident: Incident, now: datetime
) -> None:
    """The incidents slice's own link (`incident_ticket`), as when a library links a ticket."""
    session.flush()  # the ticket's id
    session.add(
        IncidentTicket(
            incident_id=incident.id,
            ticket_id=ticket.id,
            institution=ticket.institution,
            linked_by=actor.id,
            linked_at=now,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="link",
        entity_type="incident",
        entity_id=str(incident.id),
        after={"ticket": ticket.number},
    )


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
    # Retention (issue 15, helper g): a legal hold is set on its own, on any ticket (a closed
    # one too), by consortium staff only (app.services.retention).
    if (hold := values.pop("legal_hold", None)) is not None:
        from app.services import retention

        retention.set_legal_hold(session=session, actor=actor, ticket=ticket, hold=hold)
        if not values:
            return ticket
    staff = is_staff(actor)
    refused = sorted(set(values) & STAFF_ONLY_FIELDS) if not staff else []
    if refused:
        raise PermissionDenied(f"Only consortium staff may change {', '.join(refused)}.")
    if values.get("contains_patron_data") is False and ticket.contains_patron_data and not staff:
        raise PermissionDenied("Only consortium staff may clear the patron-data flag.")
    reason = values.pop("reason", None)
    lock(session, ticket)
    if if_match is not None and if_match.strip() not in (etag(ticket, actor), "*"):
        raise PreconditionFailed(
            "The ticket changed since you loaded it; reload it and apply your change again."
        )
    _open_for_changes(session, ticket, values.keys() - {"status"})
    _check_reason(ticket, values.get("status"), reason)
    now = utcnow()
    before = audit.snapshot(ticket)
    events: Events = []
    if reason:
        events += _reason_comment(session, actor, ticket, reason, now)
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
    _publish(session, ticket, "ticket.updated", watchers)
    session.commit()
    return ticket


def _check_reason(ticket: Ticket, target: str | None, reason: str | None) -> None:
    """Closing a report nobody has looked at yet needs a reason, kept for whoever looks later."""
    if target == TicketStatus.closed and ticket.status == TicketStatus.new and not reason:
        raise Invalid(
            "Say why you are closing this report before anyone has worked on it.",
            [FieldError("reason", "Say in a sentence why you are closing it")],
        )


def _reason_comment(
    session: Session, actor: User, ticket: Ticket, reason: str, now: datetime
) -> Events:
    """The reason given with a status change, kept as a reply in the timeline."""
    comment = TicketComment(ticket_id=ticket.id, author=actor.id, body=reason, created_at=now)
    session.add(comment)
    session.flush()
    _publish_reply(session, ticket, comment)
    return [(TicketEventKind.comment, {"comment": comment.id, "internal": False})]


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


def watch_candidates(*, session: Session, actor: User, ticket: Ticket) -> list[User]:
    """Whom `actor` may offer as watchers: the active people of the ticket's library, and (for
    consortium staff) their colleagues; one statement."""
    mine = User.institution == ticket.institution
    if is_staff(actor):
        consortium = [r for r in Role if r.is_consortium]
        mine = or_(mine, col(User.role).in_(consortium))
    return list(session.exec(select(User).where(mine, User.active).order_by(User.name)))


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
    """A public reply or (staff) an internal note; replies move the workflow along. A reply to
    a merged ticket joins the ticket it was merged into, saying where it was sent."""
    staff = is_staff(actor)
    if data.internal and not staff:
        raise PermissionDenied("Only consortium staff may write internal notes.")
    lock(session, ticket)
    via = None
    if ticket.merged_into is not None:
        via, ticket = ticket, session.get(Ticket, ticket.merged_into)
        lock(session, ticket)
    if ticket.status == TicketStatus.closed:
        raise Conflict("A closed ticket takes no more comments; file a new one.")
    now = utcnow()
    comment = TicketComment(
        ticket_id=ticket.id,
        author=actor.id,
        body=data.body,
        internal=data.internal,
        via=via.number if via else None,
        created_at=now,
    )
    session.add(comment)
    session.flush()
    events: Events = []
    if not data.internal:
        if staff and ticket.first_response_at is None:
            ticket.first_response_at = now
        # The reply is what the ticket waited for, or (a library answering a resolved ticket)
        # says the problem is not solved after all.
        waiting = {TicketStatus.new} if staff else {S.pending_library, S.resolved}
        if ticket.status in waiting:
            _transition(session, actor, ticket, TicketStatus.open, now, events, notify=False)
        notices.followers(session, actor, ticket, "tickets/reply", f"reply:{comment.id}")
        if not staff:
            notices.assignee(session, actor, ticket, "tickets/reply", f"reply:{comment.id}")
        if via is not None:
            notices.redirected(session, via, ticket, f"via:{comment.id}")
        _publish_reply(session, ticket, comment)
    event = {"comment": comment.id, "internal": data.internal}
    if via is not None:
        event["via"] = via.number
    kind = TicketEventKind.comment
    add_event(session, ticket, actor, kind, event, at=now, internal=data.internal)
    _record(session, actor, ticket, events, now, public=not data.internal)
    audited(session, ticket, actor, "comment", event)
    session.commit()
    return comment


# --- webhooks --------------------------------------------------------------------------------


def _publish(
    session: Session,
    ticket: Ticket,
    event: str,
    watchers: Collection[int] | None = None,
    *,
    merged_into: str | None = None,
) -> None:
    """Queues `event` in this transaction with the ticket as its library sees it, for webhooks
    unbound or bound to its library; `watchers` when the caller has them (else one statement)."""

    def payload() -> dict:
        known = watchers_of(session, ticket) if watchers is None else watchers
        return library_view(ticket, set(known), merged_into).model_dump(mode="json")

    webhooks.publish(session, event, payload, institution=ticket.institution)


def _publish_reply(session: Session, ticket: Ticket, comment: TicketComment) -> None:
    """`ticket.commented` for a public reply (never an internal note): the reply as
    `GET /tickets/{number}/comments` lists it; its `ticket` is the ticket's number."""
    webhooks.publish(
        session,
        "ticket.commented",
        lambda: comment_public(comment, ticket).model_dump(mode="json"),
        institution=ticket.institution,
    )


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
    _publish(session, ticket, "ticket.updated", merged_into=target.number)
    _publish(session, target, "ticket.updated")
    session.commit()
    return target


# --- closing resolved tickets (scheduled) -----------------------------------------------------


def close_resolved(*, session: Session, now: datetime | None = None) -> list[str]:
    """Tickets resolved at least `ticket_auto_close_days` ago close themselves; the portal is
    the actor (no person) in the timeline and the audit trail. Runs again harmlessly: only
    tickets still resolved are touched."""
    now = now or utcnow()
    days = get_settings().ticket_auto_close_days
    cutoff = now - timedelta(days=days)
    due = session.exec(
        select(Ticket)
        .where(Ticket.status == TicketStatus.resolved, col(Ticket.resolved_at) <= cutoff)
        .order_by(col(Ticket.id))
        .with_for_update(skip_locked=True)  # PostgreSQL: a ticket someone is changing waits
    ).all()
    for ticket in due:
        move(ticket, TicketStatus.closed, now)
        closed = {"from": S.resolved, "to": S.closed, "automatic": True, "days": days}
        touch(ticket, now)
        add_event(session, ticket, None, TicketEventKind.status, closed, at=now)
        session.add(ticket)
        key = f"status:{ticket.id}:{ticket.version}"
        notices.followers(session, None, ticket, "tickets/status", key)
        after = {"status": "closed", "automatic": True}
        audited(session, ticket, None, "update", after, before={"status": "resolved"})
        _publish(session, ticket, "ticket.updated")
    return [t.number for t in due]


def _close_resolved_job(session: Session, period: datetime) -> None:
    close_resolved(session=session)


register_job("tickets-auto-close", every=timedelta(hours=1), fn=_close_resolved_job)
