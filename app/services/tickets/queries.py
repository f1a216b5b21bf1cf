"""Reading tickets: who sees which, the list with its filters and keyset cursor, and the JSON
shapes of a ticket, its comments and its events.

Internal notes (and their events and search hits) are filtered out here, so no page, fragment,
count or e-mail can show them to a library user.
"""

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, func, literal, or_, true, tuple_
from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import FieldError, Invalid, NotFound
from app.models.ticket import (
    CommentPublic,
    EventPublic,
    Ticket,
    TicketCategory,
    TicketComment,
    TicketEvent,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketWatcher,
)
from app.models.user import Role, User
from app.services.access import is_library_lead, is_staff
from app.services.tickets import search
from app.services.tickets.records import columns
from app.services.tickets.sla import sla


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
# Consortium staff see every ticket; a library's director or liaison all of their library's;
# library staff the ones they requested or watch, unless marked as containing patron data.


def sees_patron_data(actor: User) -> bool:
    """Whether `actor` sees the patron-data tickets of their library (library staff do not,
    not even their own)."""
    return is_staff(actor) or is_library_lead(actor)


def visible(actor: User) -> ColumnElement[bool]:
    """The tickets `actor` may see, as a condition on `ticket`."""
    if is_staff(actor):
        return true()
    mine = Ticket.institution == actor.institution
    if is_library_lead(actor):
        return mine
    watching = select(TicketWatcher.ticket_id).where(TicketWatcher.user_id == actor.id)
    return (
        mine
        & ~col(Ticket.contains_patron_data)
        & or_(Ticket.requester == actor.id, col(Ticket.id).in_(watching))
    )


def can_see(user: User, ticket: Ticket, watchers: Collection[int]) -> bool:
    """The same rule as `visible`, for one loaded ticket (e-mail recipients)."""
    if is_staff(user):
        return True
    if not user.active or user.institution != ticket.institution:
        return False
    if is_library_lead(user):
        return True
    return not ticket.contains_patron_data and (ticket.requester == user.id or user.id in watchers)


def get_ticket(*, session: Session, actor: User, number: str) -> Ticket:
    ticket = session.exec(select(Ticket).where(Ticket.number == number, visible(actor))).first()
    if ticket is None:
        raise NotFound(f"No ticket has the number {number}.")
    return ticket


def by_number(*, session: Session, number: str) -> Ticket:
    """The row behind a ticket a caller just read or wrote (no visibility check: a library user
    filing a patron-data ticket still gets its page once)."""
    return session.exec(select(Ticket).where(Ticket.number == number)).one()


def watchers_of(session: Session, ticket: Ticket) -> set[int]:
    return set(
        session.exec(select(TicketWatcher.user_id).where(TicketWatcher.ticket_id == ticket.id))
    )


# --- the JSON shapes --------------------------------------------------------------------------


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
            columns(t)
            | {
                "watchers": watchers[t.id],
                "merged_into": numbers.get(t.merged_into),
                "sla": sla(t, now),
            }
        )
        for t in tickets
    ]


def public(session: Session, ticket: Ticket) -> TicketPublic:
    return to_public(session, [ticket])[0]


def comment_public(comment: TicketComment, ticket: Ticket) -> CommentPublic:
    return CommentPublic.model_validate(columns(comment) | {"ticket": ticket.number})


# --- lists ------------------------------------------------------------------------------------


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
    position = decode_cursor(cursor, filters.sort) if cursor else None
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
        match = search.matching(
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


def decode_cursor(cursor: str, sort: TicketSort) -> tuple[datetime, int, int]:
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
    return [EventPublic.model_validate(columns(e) | {"ticket": ticket.number}) for e in rows]


def people(*, session: Session, ids: set[int | None]) -> dict[int, User]:
    """Users by id in one statement (names for a page, recipients for an e-mail)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(wanted)))}


def assignable(*, session: Session) -> list[User]:
    """Active consortium staff: whom a ticket may be assigned to."""
    consortium = [r for r in Role if r.is_consortium]
    return list(
        session.exec(
            select(User).where(col(User.role).in_(consortium), User.active).order_by(User.name)
        )
    )
