"""Problem reports from filing to resolution: scoping, numbering, workflow, SLA, merge, redaction.

Who sees a ticket: consortium staff all; a liaison or director their institution's; library staff
the ones they requested or watch. `contains_patron_data` narrows a ticket to the institution's
liaison and director plus consortium staff. Internal notes (and their events and search hits)
are filtered out in the queries below, so no page, fragment, count or e-mail can show them to a
library user.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, func, literal, or_, true, tuple_, update
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
from app.models.institution import Institution
from app.models.outbox import OutboxMessage
from app.models.ticket import (
    CommentCreate,
    CommentPublic,
    EventPublic,
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketComment,
    TicketCounter,
    TicketCreate,
    TicketEvent,
    TicketEventKind,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketUpdate,
    TicketWatcher,
)
from app.models.user import Role, User
from app.notify.outbox import enqueue
from app.services import audit, ticket_search, ticket_sla
from app.services.access import is_staff
from app.services.ticket_privacy import redact_text

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
TEXT_FIELDS = {"subject", "description"}  # never copied into the audit trail (patron data)
LIBRARY_LEADS = (Role.liaison, Role.director)


class TicketSort(StrEnum):
    created_desc = "-created_at"
    created = "created_at"
    updated_desc = "-updated_at"
    updated = "updated_at"


class TicketView(StrEnum):
    """The staff queues; `open` is anything not resolved or closed."""

    all = "all"
    open = "open"
    unassigned = "unassigned"
    mine = "mine"
    breaching = "breaching"


@dataclass
class TicketFilters:
    q: str | None = None
    statuses: list[TicketStatus] | None = None
    institution: str | None = None
    priority: TicketPriority | None = None
    category: TicketCategory | None = None
    assignee: int | None = None
    view: TicketView = TicketView.all
    sort: TicketSort = TicketSort.created_desc


@dataclass
class TicketWindow:
    items: list[TicketPublic]
    total: int
    next_cursor: str | None


# --- who sees what ----------------------------------------------------------------------------


def visible(actor: User) -> ColumnElement[bool]:
    """The tickets `actor` may see, as a condition on `ticket`."""
    if is_staff(actor):
        return true()
    mine = Ticket.institution == actor.institution
    if Role(actor.role) in LIBRARY_LEADS:
        return mine
    watching = select(TicketWatcher.ticket_id).where(TicketWatcher.user_id == actor.id)
    return (
        mine
        & ~col(Ticket.contains_patron_data)
        & or_(Ticket.requester == actor.id, col(Ticket.id).in_(watching))
    )


def can_see(user: User, ticket: Ticket, watchers: list[int]) -> bool:
    """The same rule as `visible`, for one loaded ticket (e-mail recipients)."""
    if is_staff(user):
        return True
    if not user.active or user.institution != ticket.institution:
        return False
    if Role(user.role) in LIBRARY_LEADS:
        return True
    return not ticket.contains_patron_data and (ticket.requester == user.id or user.id in watchers)


def get_ticket(*, session: Session, actor: User, number: str) -> Ticket:
    ticket = session.exec(select(Ticket).where(Ticket.number == number, visible(actor))).first()
    if ticket is None:
        raise NotFound(f"No ticket has the number {number}.")
    return ticket


def etag(ticket: Ticket) -> str:
    return f'"{ticket.id}.{ticket.version}"'


# --- reading ----------------------------------------------------------------------------------


def to_public(session: Session, tickets: list[Ticket]) -> list[TicketPublic]:
    """Two statements for the whole page, whatever its length: watchers and merge targets."""
    ids = [t.id for t in tickets]
    watchers: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        for ticket_id, user_id in session.exec(
            select(TicketWatcher.ticket_id, TicketWatcher.user_id)
            .where(col(TicketWatcher.ticket_id).in_(ids))
            .order_by(TicketWatcher.ticket_id, TicketWatcher.user_id)
        ):
            watchers[ticket_id].append(user_id)
    targets = {t.merged_into for t in tickets if t.merged_into}
    numbers = (
        dict(
            session.exec(select(Ticket.id, Ticket.number).where(col(Ticket.id).in_(targets))).all()
        )
        if targets
        else {}
    )
    now = utcnow()
    return [
        TicketPublic.model_validate(
            _columns(t)
            | {
                "watchers": watchers[t.id],
                "merged_into": numbers.get(t.merged_into),
                "sla": ticket_sla.sla(t, now),
            }
        )
        for t in tickets
    ]


def _columns(row) -> dict:
    """A row's column values as stored (enum columns hold plain strings; validation types them)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def public(session: Session, ticket: Ticket) -> TicketPublic:
    return to_public(session, [ticket])[0]


def list_tickets(
    *,
    session: Session,
    actor: User,
    filters: TicketFilters,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> TicketWindow:
    """Keyset pagination: a cursor carries the last row's sort key (and the first page's count,
    so deep pages do not count a million rows again); `offset` serves shallow jumps."""
    stmt = select(Ticket).where(visible(actor), *_conditions(session, actor, filters))
    column = col(getattr(Ticket, filters.sort.value.lstrip("-")))
    descending = filters.sort.value.startswith("-")
    key = tuple_(column, Ticket.id)
    position = _decode_cursor(cursor, filters.sort) if cursor else None
    if position is None:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    else:
        after, after_id, total = position
        bound = tuple_(literal(after, column.type), literal(after_id))
        stmt = stmt.where(key < bound if descending else key > bound)
        offset = 0
    order = (column.desc(), col(Ticket.id).desc()) if descending else (column, col(Ticket.id))
    rows = list(session.exec(stmt.order_by(*order).limit(limit + 1).offset(offset)))
    more = len(rows) > limit
    rows = rows[:limit]
    following = None
    if more:
        last = rows[-1]
        value = getattr(last, filters.sort.value.lstrip("-"))
        following = encode_cursor(filters.sort, value, last.id, total)
    return TicketWindow(items=to_public(session, rows), total=total, next_cursor=following)


def _conditions(session: Session, actor: User, f: TicketFilters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if f.q:
        match = ticket_search.matching(
            f.q, dialect=session.get_bind().dialect.name, include_internal=is_staff(actor)
        )
        if match is not None:
            found.append(match)
    if f.statuses:
        found.append(col(Ticket.status).in_(f.statuses))
    if f.institution:
        found.append(Ticket.institution == f.institution)
    if f.priority:
        found.append(Ticket.priority == f.priority)
    if f.category:
        found.append(Ticket.category == f.category)
    if f.assignee is not None:
        found.append(Ticket.assignee == f.assignee)
    open_statuses = [s for s in TicketStatus if not s.done]
    if f.view is TicketView.open:
        found.append(col(Ticket.status).in_(open_statuses))
    elif f.view is TicketView.unassigned:
        found += [col(Ticket.assignee).is_(None), col(Ticket.status).in_(open_statuses)]
    elif f.view is TicketView.mine:
        found += [Ticket.assignee == actor.id, col(Ticket.status).in_(open_statuses)]
    elif f.view is TicketView.breaching:
        now = utcnow()
        found += [
            col(Ticket.status).in_(open_statuses),
            or_(
                col(Ticket.resolution_due_at) < now,
                col(Ticket.first_response_at).is_(None) & (col(Ticket.response_due_at) < now),
            ),
        ]
    return found


def encode_cursor(sort: TicketSort, value: datetime, last_id: int, total: int) -> str:
    raw = json.dumps([sort.value, value.isoformat(), last_id, total]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: TicketSort) -> tuple[datetime, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, last_id, total = json.loads(raw)
        if kind != sort.value:
            raise ValueError("the cursor belongs to another sort order")
        return datetime.fromisoformat(value), int(last_id), int(total)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise Invalid(
            "The cursor is not valid for this list; start again from the first page.",
            [FieldError("cursor", "is not valid for this list")],
        ) from exc


def list_comments(*, session: Session, actor: User, ticket: Ticket) -> list[CommentPublic]:
    stmt = select(TicketComment).where(TicketComment.ticket_id == ticket.id)
    if not is_staff(actor):
        stmt = stmt.where(~col(TicketComment.internal))
    rows = session.exec(stmt.order_by(TicketComment.created_at, TicketComment.id))
    return [comment_public(c, ticket) for c in rows]


def list_events(*, session: Session, actor: User, ticket: Ticket) -> list[EventPublic]:
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if not is_staff(actor):
        stmt = stmt.where(~col(TicketEvent.internal))
    rows = session.exec(stmt.order_by(TicketEvent.at, TicketEvent.id))
    return [EventPublic.model_validate(_columns(e) | {"ticket": ticket.number}) for e in rows]


def people(*, session: Session, ids: set[int | None]) -> dict[int, User]:
    """Names for a page in one statement."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(wanted)))}


def assignable(*, session: Session) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(col(User.role).in_([Role.consortium_admin, Role.consortium_staff]), User.active)
            .order_by(User.name)
        )
    )


def comment_public(comment: TicketComment, ticket: Ticket) -> CommentPublic:
    return CommentPublic.model_validate(_columns(comment) | {"ticket": ticket.number})


# --- filing -----------------------------------------------------------------------------------


def create_ticket(*, session: Session, actor: User, data: TicketCreate) -> Ticket:
    institution = _filing_institution(session, actor, data.institution)
    watchers = _check_watchers(session, institution, data.watchers, actor)
    # End the read-only transaction: on SQLite a transaction that read before it writes fails
    # when another writer got in between; here the counter row is the first thing it touches.
    session.commit()
    now = utcnow()
    ticket = Ticket(
        number=_next_number(session, now),
        subject=data.subject,
        description=data.description,
        institution=institution,
        requester=actor.id,
        category=data.category,
        priority=data.priority,
        product=data.product,
        environment=data.environment,
        contains_patron_data=data.contains_patron_data,
        created_at=now,
        updated_at=now,
    )
    ticket_sla.start_clock(ticket)
    session.add(ticket)
    session.flush()
    session.add_all(TicketWatcher(ticket_id=ticket.id, user_id=u) for u in watchers)
    add_event(session, ticket, actor, TicketEventKind.created, {}, at=now)
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="ticket",
        entity_id=ticket.number,
        after=audit.snapshot(ticket, exclude=TEXT_FIELDS),
    )
    if ticket.priority in (TicketPriority.high, TicketPriority.system_down):
        staff = [u.email for u in assignable(session=session) if u.id != actor.id]
        _mail(session, ticket, staff, "tickets/urgent", f"urgent:{ticket.id}")
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


def _check_watchers(session: Session, institution: str, ids: list[int], actor: User) -> list[int]:
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


# --- the workflow -----------------------------------------------------------------------------


def update_ticket(
    *,
    session: Session,
    actor: User,
    ticket: Ticket,
    data: TicketUpdate,
    if_match: str | None = None,
) -> Ticket:
    values = data.model_dump(exclude_unset=True)
    staff = is_staff(actor)
    refused = sorted(set(values) & STAFF_ONLY_FIELDS) if not staff else []
    if refused:
        raise PermissionDenied(f"Only consortium staff may change {', '.join(refused)}.")
    if values.get("contains_patron_data") is False and ticket.contains_patron_data and not staff:
        raise PermissionDenied("Only consortium staff may clear the patron-data flag.")
    _lock(session, ticket)
    if if_match is not None and if_match.strip() not in (etag(ticket), "*"):
        raise PreconditionFailed(
            "The ticket changed since you loaded it; reload it and apply your change again."
        )
    _open_for_changes(session, ticket, values.keys() - {"status"})
    now = utcnow()
    before = audit.snapshot(ticket)
    events: list[tuple[TicketEventKind, dict]] = []
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
        ticket_sla.reprioritise(ticket, now)
    if status is not None and status != ticket.status:
        _transition(session, actor, ticket, TicketStatus(status), now, events)
    old, new = audit.changes(before, audit.snapshot(ticket))
    changed = [k for k in new if k in values]
    if changed:
        events.append((TicketEventKind.change, {"fields": sorted(changed)}))
    if not events:
        return ticket
    touch(ticket, now)
    for kind, event_data in events:
        add_event(session, ticket, actor, kind, event_data, at=now)
    audit.record(
        session,
        actor=actor,
        action="update",
        entity_type="ticket",
        entity_id=ticket.number,
        before=_without_text(old),
        after=_without_text(new) | ({"watchers": watchers} if watchers is not None else {}),
    )
    session.add(ticket)
    session.commit()
    return ticket


def next_statuses(actor: User, ticket: Ticket) -> list[str]:
    """The statuses `actor` may move the ticket to, for the page's status control."""
    current = TicketStatus(ticket.status)
    allowed = TRANSITIONS[current]
    if not is_staff(actor):
        allowed = {s for s in allowed if (current, s) in LIBRARY_TRANSITIONS}
    return [s.value for s in TicketStatus if s in allowed]


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
    events: list,
    *,
    notify: bool = True,
) -> None:
    current = TicketStatus(ticket.status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise Invalid(
            f"A ticket cannot go from {current} to {target} (allowed: {allowed}).",
            [FieldError("status", f"cannot change from {current} to {target}")],
        )
    if not is_staff(actor) and (current, target) not in LIBRARY_TRANSITIONS:
        raise PermissionDenied(f"Only consortium staff may move a ticket to {target}.")
    ticket.status = target
    if target.paused:
        ticket_sla.pause(ticket, now)
    else:
        ticket_sla.resume(ticket, now)
    if target.done:
        ticket.resolved_at = ticket.resolved_at or now
    else:
        ticket.resolved_at = None
    events.append((TicketEventKind.status, {"from": current, "to": target}))
    if notify:
        key = f"status:{ticket.id}:{ticket.version}"
        _mail_followers(session, actor, ticket, "tickets/status", key)


def _assign(session: Session, actor: User, ticket: Ticket, assignee: int | None, events) -> None:
    if assignee is not None:
        user = session.get(User, assignee)
        if user is None or not user.active or not is_staff(user):
            raise Invalid(
                "Tickets are assigned to active consortium staff.",
                [FieldError("assignee", "is not an active consortium staff member")],
            )
        if user.id != actor.id:
            _mail(
                session,
                ticket,
                [user.email],
                "tickets/assigned",
                f"assigned:{ticket.id}:{ticket.version}",
            )
    events.append((TicketEventKind.assignment, {"from": ticket.assignee, "to": assignee}))
    ticket.assignee = assignee


def _set_watchers(session: Session, actor: User, ticket: Ticket, ids: list[int], events) -> None:
    current = set(
        session.exec(select(TicketWatcher.user_id).where(TicketWatcher.ticket_id == ticket.id))
    )
    wanted = set(_check_watchers(session, ticket.institution, ids, actor))
    if (
        not is_staff(actor)
        and Role(actor.role) not in LIBRARY_LEADS
        and (current ^ wanted) - {actor.id}
    ):
        raise PermissionDenied("Library staff may only add or remove themselves as watchers.")
    for user_id in wanted - current:
        session.add(TicketWatcher(ticket_id=ticket.id, user_id=user_id))
    for user_id in current - wanted:
        watcher = session.get(TicketWatcher, (ticket.id, user_id))
        session.delete(watcher)
    if current != wanted:
        events.append((TicketEventKind.change, {"fields": ["watchers"]}))


# --- comments ---------------------------------------------------------------------------------


def add_comment(
    *, session: Session, actor: User, ticket: Ticket, data: CommentCreate
) -> TicketComment:
    """A public reply or (staff) an internal note; replies move the workflow along."""
    staff = is_staff(actor)
    if data.internal and not staff:
        raise PermissionDenied("Only consortium staff may write internal notes.")
    _lock(session, ticket)
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
    events: list[tuple[TicketEventKind, dict]] = []
    if not data.internal:
        if staff and ticket.first_response_at is None:
            ticket.first_response_at = now
        waiting = TicketStatus.new if staff else TicketStatus.pending_library
        if ticket.status == waiting:  # the reply is what the ticket waited for
            _transition(session, actor, ticket, TicketStatus.open, now, events, notify=False)
        _mail_followers(session, actor, ticket, "tickets/reply", f"reply:{comment.id}")
    add_event(
        session,
        ticket,
        actor,
        TicketEventKind.comment,
        {"comment": comment.id, "internal": data.internal},
        at=now,
        internal=data.internal,
    )
    for kind, event_data in events:
        add_event(session, ticket, actor, kind, event_data, at=now)
    touch(ticket, now)
    session.add(ticket)
    audit.record(
        session,
        actor=actor,
        action="comment",
        entity_type="ticket",
        entity_id=ticket.number,
        after={"comment": comment.id, "internal": data.internal},
    )
    session.commit()
    return comment


# --- merge and redaction (staff) --------------------------------------------------------------


def merge_ticket(*, session: Session, actor: User, ticket: Ticket, into: str) -> Ticket:
    """Moves the duplicate's comments, watchers and attachments to `into` and closes it."""
    _require_staff(actor, "merge tickets")
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
    _lock(session, ticket)
    _lock(session, target)
    now = utcnow()
    for model in (TicketComment, TicketAttachment):
        session.exec(update(model).where(model.ticket_id == ticket.id).values(ticket_id=target.id))
    moving = set(
        session.exec(select(TicketWatcher.user_id).where(TicketWatcher.ticket_id == ticket.id))
    )
    kept = set(
        session.exec(select(TicketWatcher.user_id).where(TicketWatcher.ticket_id == target.id))
    )
    moving.add(ticket.requester)
    for user_id in moving - kept - {target.requester}:
        session.add(TicketWatcher(ticket_id=target.id, user_id=user_id))
    target.contains_patron_data = target.contains_patron_data or ticket.contains_patron_data
    before = TicketStatus(ticket.status)
    ticket.status = TicketStatus.closed
    ticket.resolved_at = ticket.resolved_at or now
    ticket.merged_into = target.id
    ticket_sla.resume(ticket, now)
    add_event(session, ticket, actor, TicketEventKind.merge, {"into": target.number}, at=now)
    add_event(
        session, ticket, actor, TicketEventKind.status, {"from": before, "to": S.closed}, at=now
    )
    add_event(session, target, actor, TicketEventKind.merge, {"from": ticket.number}, at=now)
    for t in (ticket, target):
        touch(t, now)
        session.add(t)
    audit.record(
        session,
        actor=actor,
        action="merge",
        entity_type="ticket",
        entity_id=ticket.number,
        after={"merged_into": target.number},
    )
    session.commit()
    return target


def redact(*, session: Session, actor: User, ticket: Ticket, passage: str) -> int:
    """Replaces the passage in the ticket, every comment (notes too), attachment names and its
    e-mails; the search index follows by trigger. The audit entry says where and how often,
    never what."""
    _require_staff(actor, "redact tickets")
    _lock(session, ticket)
    found: dict[str, int] = {}
    for name in ("subject", "description"):
        value, n = redact_text(getattr(ticket, name), passage)
        if n:
            setattr(ticket, name, value)
            found[name] = n
    comments = session.exec(
        select(TicketComment).where(
            TicketComment.ticket_id == ticket.id,
            col(TicketComment.body).contains(passage, autoescape=True),
        )
    )
    for comment in comments:
        comment.body, n = redact_text(comment.body, passage)
        found[f"comment {comment.id}"] = n
        session.add(comment)
    for attachment in session.exec(
        select(TicketAttachment).where(
            TicketAttachment.ticket_id == ticket.id,
            col(TicketAttachment.filename).contains(passage, autoescape=True),
        )
    ):
        attachment.filename, n = redact_text(attachment.filename, passage)
        found[f"attachment {attachment.id}"] = n
        session.add(attachment)
    messages = session.exec(
        select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith(f"ticket:{ticket.id}:")
        )
    )
    for message in messages:
        n = _redact_message(message, passage)
        if n:
            found[f"e-mail {message.id}"] = n
            session.add(message)
    total = sum(found.values())
    if not total:
        raise Invalid(
            "That passage does not occur in this ticket.", [FieldError("text", "was not found")]
        )
    now = utcnow()
    add_event(session, ticket, actor, TicketEventKind.redaction, {"occurrences": total}, at=now)
    touch(ticket, now)
    session.add(ticket)
    audit.record(
        session,
        actor=actor,
        action="redact",
        entity_type="ticket",
        entity_id=ticket.number,
        after={"occurrences": total, "where": sorted(found)},
    )
    session.commit()
    return total


def _redact_message(message: OutboxMessage, passage: str) -> int:
    total = 0
    context = dict(message.context)
    for key, value in context.items():
        if isinstance(value, str):
            context[key], n = redact_text(value, passage)
            total += n
    message.context = context
    for name in ("subject", "body_text", "body_html"):
        value = getattr(message, name)
        if value:
            new, n = redact_text(value, passage)
            setattr(message, name, new)
            total += n
    return total


# --- helpers ----------------------------------------------------------------------------------


def _require_staff(actor: User, action: str) -> None:
    if not is_staff(actor):
        raise PermissionDenied(f"Only consortium staff may {action}.")


def _lock(session: Session, ticket: Ticket) -> None:
    """Re-reads the row under a lock (PostgreSQL) so concurrent writers queue, not overwrite."""
    session.refresh(ticket, with_for_update=True)


def touch(ticket: Ticket, now: datetime) -> None:
    """Every change moves `updated_at` and the version the ETag is made of."""
    ticket.updated_at = now
    ticket.version += 1


def add_event(
    session: Session,
    ticket: Ticket,
    actor: User | None,
    kind: TicketEventKind,
    data: dict,
    *,
    at: datetime,
    internal: bool = False,
) -> None:
    plain = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in data.items()}
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor=actor.id if actor else None,
            kind=kind,
            data=plain,
            internal=internal,
            at=at,
        )
    )


def _without_text(values: dict) -> dict:
    return {k: ("(changed)" if k in TEXT_FIELDS else v) for k, v in values.items()}


def _mail_followers(session: Session, actor: User, ticket: Ticket, template: str, key: str) -> None:
    """The requester and watchers who may still see the ticket, except whoever acted."""
    watchers = list(
        session.exec(select(TicketWatcher.user_id).where(TicketWatcher.ticket_id == ticket.id))
    )
    found = people(session=session, ids={ticket.requester, *watchers})
    to = [u.email for u in found.values() if u.id != actor.id and can_see(u, ticket, watchers)]
    _mail(session, ticket, sorted(to), template, key)


def _mail(session: Session, ticket: Ticket, to: list[str], template: str, key: str) -> None:
    """One message per recipient; the context has the subject and a link, never ticket text
    beyond the subject (patron data stays in the portal) and never an internal note."""
    for address in to:
        enqueue(
            session,
            to=address,
            template=template,
            context={
                "number": ticket.number,
                "subject": ticket.subject,
                "status": str(ticket.status),
                "priority": str(ticket.priority),
                "institution": ticket.institution,
                "path": f"/tickets/{ticket.number}",
            },
            dedupe_key=f"ticket:{ticket.id}:{key}:{address}",
        )
