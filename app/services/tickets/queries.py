"""Reading tickets: who sees which, the list with its filters and keyset cursor, and the JSON
shapes of a ticket, its comments and its events.

Internal notes (and their events and search hits) are filtered out here, so no page, fragment,
count or e-mail can show them to a library user.
"""

import base64
import binascii
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from itertools import product
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    case,
    cast,
    func,
    literal,
    or_,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.core.errors import FieldError, Invalid, NotFound
from app.core.pagination import construct
from app.models.common import MAX_ID
from app.models.ticket import (
    COUNT_CAP,
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
from app.services.tickets.records import columns, etag
from app.services.tickets.sla import Calendar, sla

DUE_SOON_MINUTES = 4 * 60  # `due_soon`: the next four business hours of the support desk
# The priority queue's order: what stops a library's work first.
PRIORITY_ORDER = (
    TicketPriority.system_down,
    TicketPriority.high,
    TicketPriority.normal,
    TicketPriority.low,
)


class TicketSort(StrEnum):
    created_desc = "-created_at"
    created = "created_at"
    updated_desc = "-updated_at"
    updated = "updated_at"
    sla_due = "sla_due_at"  # the staff queue: the next deadline first, waiting and done last
    priority = "priority"  # system down first, then high, normal, low; oldest first within each


class TicketView(StrEnum):
    """The staff queues; `open` is anything not resolved or closed; `breaching` has missed a
    target while its clock runs (a ticket waiting for the library or the vendor is paused, not
    breaching); `due_soon` is due within the next 4 business hours and not breaching yet."""

    all = "all"
    open = "open"
    unassigned = "unassigned"
    mine = "mine"
    breaching = "breaching"
    due_soon = "due_soon"


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
    """One page: `total` is exact up to `COUNT_CAP`; `capped` says there are more."""

    items: list[TicketPublic]
    total: int
    capped: bool
    next_cursor: str | None


@dataclass(frozen=True)
class Position:
    """Where a cursor continues: after the row with this sort value (None: a row without an
    SLA deadline, in the queue's tail) and id; the first page's count travels along."""

    value: datetime | None
    last_id: int
    total: int
    capped: bool
    priority: TicketPriority | None = None  # the priority queue's part the last row was in


# --- who sees what ----------------------------------------------------------------------------
# Consortium staff see every ticket; a library's director or liaison all of their library's;
# library staff the ones they requested, and those they watch unless marked as containing
# patron data.


def sees_patron_data(actor: User) -> bool:
    """Whether `actor` sees the patron-data tickets of their library (library staff see only
    those they filed themselves)."""
    return is_staff(actor) or is_library_lead(actor)


def visible(actor: User) -> ColumnElement[bool]:
    """The tickets `actor` may see, as a condition on `ticket`."""
    if is_staff(actor):
        return true()
    mine = Ticket.institution == actor.institution
    if is_library_lead(actor):
        return mine
    watching = select(TicketWatcher.ticket_id).where(TicketWatcher.user_id == actor.id)
    # Whoever filed a report keeps seeing it, patron data or not: they wrote it.
    return mine & or_(
        Ticket.requester == actor.id,
        ~col(Ticket.contains_patron_data) & col(Ticket.id).in_(watching),
    )


def can_see(user: User, ticket: Ticket, watchers: Collection[int]) -> bool:
    """The same rule as `visible`, for one loaded ticket (e-mail recipients)."""
    if is_staff(user):
        return True
    if not user.active or user.institution != ticket.institution:
        return False
    if is_library_lead(user):
        return True
    if ticket.requester == user.id:
        return True
    return not ticket.contains_patron_data and user.id in watchers


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
# Rows are read as plain tuples with their watchers and merge target in the same statement, and
# the response models are built without validating again what the database already holds.


def _row_statement(session: Session):
    return _row_select(session.get_bind().dialect.name)


@lru_cache
def _row_select(dialect: str):
    """Every ticket column, the watchers' ids (one string) and the merge target's number; built
    once per dialect (each request only adds its conditions)."""
    ids = cast(TicketWatcher.user_id, String)
    joined = func.string_agg(ids, ",") if dialect == "postgresql" else func.group_concat(ids, ",")
    watchers = (select(joined).where(TicketWatcher.ticket_id == Ticket.id).scalar_subquery()).label(
        "watcher_ids"
    )
    target = aliased(Ticket)
    merged = (select(target.number).where(target.id == Ticket.merged_into).scalar_subquery()).label(
        "merged_number"
    )
    return select(*Ticket.__table__.columns, watchers, merged)


_build = construct(TicketPublic)


def _public(
    row: Row | Ticket, staff: bool, now: datetime, watchers: list[int], merged: str | None
) -> TicketPublic:
    return _build(
        {
            "number": row.number,
            "subject": row.subject,
            "description": row.description,
            "institution": row.institution,
            "requester": row.requester,
            "assignee": row.assignee,
            "category": row.category,
            "priority": row.priority,
            "status": row.status,
            "product": row.product,
            "environment": row.environment,
            "vendor_case": row.vendor_case,
            "watchers": watchers,
            "contains_patron_data": row.contains_patron_data,
            "merged_into": merged,
            "created_at": row.created_at,
            "updated_at": row.updated_at if staff else row.public_updated_at,
            "first_response_at": row.first_response_at,
            "resolved_at": row.resolved_at,
            "sla": sla(row, now),
            "legal_hold": row.legal_hold and staff,  # retention (helper g): a staff matter
            "purged_at": row.purged_at,
        }
    )


def to_public(rows: Sequence[Row], actor: User) -> list[TicketPublic]:
    """The JSON shape of rows read by `_row_statement`, as `actor` may see them."""
    staff, now = is_staff(actor), utcnow()
    return [_public(row, staff, now, _ids(row.watcher_ids), row.merged_number) for row in rows]


def _ids(joined: str | None) -> list[int]:
    return sorted(map(int, joined.split(","))) if joined else []


def library_view(
    ticket: Ticket, watchers: Collection[int], merged_into: str | None = None
) -> TicketPublic:
    """The ticket as its own library sees it (no staff-only value), built from the row in hand
    without a statement: what a webhook receives (`app.services.webhooks`)."""
    return _public(ticket, False, utcnow(), sorted(watchers), merged_into)


def public(session: Session, ticket: Ticket, actor: User) -> TicketPublic:
    """One ticket as `actor` sees it, read afresh in one statement (after a write too)."""
    row = session.execute(_row_statement(session).where(Ticket.id == ticket.id)).one()
    return to_public([row], actor)[0]


def read_ticket(*, session: Session, actor: User, number: str) -> tuple[TicketPublic, str]:
    """A ticket `actor` may see, and its ETag for them, in one statement (404 otherwise)."""
    stmt = _row_statement(session).where(Ticket.number == number, visible(actor))
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"No ticket has the number {number}.")
    return to_public([row], actor)[0], etag(row, actor)


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
    so deep pages do not count again); `offset` serves shallow jumps. The count stops at
    `COUNT_CAP`: no list, search included, counts an unbounded match set. One statement, the
    count included (two for the SLA queue's last page, and for a search on SQLite, which counts
    first to choose how to read the page: `WALK_FROM`), whatever the page size."""

    def where(walk: bool) -> list[ColumnElement[bool]]:
        return [visible(actor), *filter_conditions(session, actor, filters, walk=walk)]

    sqlite_search = bool(filters.q) and session.get_bind().dialect.name == "sqlite"
    # A filter or a library user's visibility beside the words leaves few tickets (one library's,
    # the open ones): walking them beats reading every match (bench/README.md).
    walk = sqlite_search and _narrowed(session, actor, filters)
    conditions = where(walk)
    counted = _capped_count(conditions, _searched(filters) if sqlite_search and not walk else None)
    position = decode_cursor(cursor, filters.sort) if cursor else None
    head = _row_statement(session)
    found = None
    if sqlite_search:
        # A search counts first: how many tickets match decides how the page is read.
        found = position.total if position else session.scalar(select(counted)) or 0
        if found >= WALK_FROM and not walk:
            conditions = where(walk=True)
    elif position is None:  # the first page carries the count in its own statement
        head = head.add_columns(counted.label("matching"))
    if position is not None:
        offset = 0
    if filters.sort is TicketSort.sla_due:
        statuses = _allowed_statuses(filters)
        rows = _by_deadline(session, head, conditions, position, limit, offset, statuses)
        key = col(Ticket.sla_due_at)
    elif filters.sort is TicketSort.priority:
        statuses = _allowed_statuses(filters)
        rows = _by_priority(session, head, conditions, position, limit, offset, statuses)
        key = col(Ticket.created_at)
    else:
        key = _sort_column(filters.sort, actor)
        descending = filters.sort.value.startswith("-")
        where = list(conditions)
        if position is not None:
            bound = tuple_(literal(position.value, key.type), literal(position.last_id))
            ordered = tuple_(key, Ticket.id)
            where.append(ordered < bound if descending else ordered > bound)
        order = (key.desc(), col(Ticket.id).desc()) if descending else (key, col(Ticket.id))
        rows = _page(session, head, where, order, limit + 1, offset)
    if position is not None:
        total, capped = position.total, position.capped
    else:
        if found is None:
            found = rows[0].matching if rows else 0
            if not rows and offset:  # a page past the end has no row to carry the count
                found = session.scalar(select(counted)) or 0
        total, capped = min(found, COUNT_CAP), found > COUNT_CAP
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        value = getattr(last, key.key)
        rank = last.priority if filters.sort is TicketSort.priority else None
        following = encode_cursor(filters.sort, value, last.id, total, capped, rank)
    return TicketWindow(
        items=to_public(rows, actor), total=total, capped=capped, next_cursor=following
    )


# SQLite: from this many matching tickets on, a search with words alone walks the tickets in
# the sort's index order for its page and checks each against the matches, rather than reading
# every match and sorting them (bench/README.md, "Search at a million": 0.42 s to 0.14 s for a
# common word). Below it, reading the few matches beats walking past the tickets between them.
WALK_FROM = 2_000


def _sort_column(sort: TicketSort, actor: User):
    """Library users' `updated_at` is the one only public changes move."""
    name = sort.value.lstrip("-")
    if name == "updated_at" and not is_staff(actor):
        name = "public_updated_at"
    return col(getattr(Ticket, name))


def _capped_count(conditions: list, searched=None):
    """How many tickets match, counting at most COUNT_CAP + 1 of them (one more says "more");
    a search's own statement when it has one (`_searched`)."""
    if searched is None:
        searched = select(Ticket.id).where(*conditions).limit(COUNT_CAP + 1)
    return select(func.count()).select_from(searched.subquery()).scalar_subquery()


def _searched(f: TicketFilters):
    """SQLite, a search with words alone: its matches in the index's order, at most
    COUNT_CAP + 1 (`search.capped`), so that counting stops there; None (the planner's `IN`)
    when a ticket number is among the words. With a filter or a library user's visibility
    (`_narrowed`) the count walks the tickets they leave instead. On PostgreSQL the GIN index
    yields matches in no ticket order (bench/README.md)."""
    return None if search.ticket_number(f.q, utcnow()) else search.capped(f.q, cap=COUNT_CAP + 1)


def _narrowed(session: Session, actor: User, f: TicketFilters) -> bool:
    """Whether a search has a condition beside its words: a filter, or a library user's
    visibility."""
    return not is_staff(actor) or bool(filter_conditions(session, actor, replace(f, q=None)))


def _page(session: Session, head, where: list, order: tuple, limit: int, offset: int) -> list:
    """The page's ids first (an index range that reads nothing but the sort key), then the
    columns, watchers and merge targets of those rows alone, never of every row a sort saw."""
    ids = select(Ticket.id).where(*where).order_by(*order).limit(limit).offset(offset).subquery()
    return list(session.execute(head.join(ids, ids.c.id == Ticket.id).order_by(*order)).all())


def _by_deadline(
    session,
    head,
    conditions,
    position: Position | None,
    limit: int,
    offset: int,
    statuses: list[TicketStatus] | None,
):
    """The SLA queue: tickets whose clock runs by their next deadline (the index's order on
    both databases), then the others (waiting or done) by id. Each part is an index range;
    when the filters allow only some statuses (the open queue), one range per status."""
    due = col(Ticket.sla_due_at)
    rows: list = []
    if position is None or position.value is not None:
        running = [*conditions, due.is_not(None)]
        if position is not None:
            bound = tuple_(literal(position.value, due.type), literal(position.last_id))
            running.append(tuple_(due, Ticket.id) > bound)
        order = (due, col(Ticket.id))
        if statuses:
            rows = _page_by_status(session, head, running, statuses, limit + 1, offset)
        else:
            rows = _page(session, head, running, order, limit + 1, offset)
    if len(rows) > limit:
        return rows
    skip = 0
    if position is None and offset and not rows:  # the offset passed every running clock
        running_ids = select(Ticket.id).where(*conditions, due.is_not(None)).subquery()
        found = session.scalar(select(func.count()).select_from(running_ids)) or 0
        skip = max(offset - found, 0)
    rest = [*conditions, due.is_(None)]
    if position is not None and position.value is None:
        rest.append(Ticket.id > position.last_id)
    return rows + _page(session, head, rest, (col(Ticket.id),), limit + 1 - len(rows), skip)


def _page_by_status(session, head, where: list, statuses, limit: int, offset: int) -> list:
    """`_page` in deadline order for a list of some statuses: one ordered range of
    `ix_ticket_status_sla_due` per status, merged. PostgreSQL reads an IN list in the order of
    the list, not of the column after it, and took a sort of every running ticket (a bitmap of
    two indexes) for cheaper than a walk of the deadline index filtering on status."""
    due = col(Ticket.sla_due_at)
    parts = [
        select(Ticket.id, due)
        .where(*where, Ticket.status == status)
        .order_by(due, col(Ticket.id))
        .limit(limit + offset)
        .subquery()
        for status in statuses
    ]
    found = union_all(*(select(p.c.id, p.c.sla_due_at) for p in parts)).subquery()
    ids = (
        select(found.c.id)
        .order_by(found.c.sla_due_at, found.c.id)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    stmt = head.join(ids, ids.c.id == Ticket.id).order_by(due, col(Ticket.id))
    return list(session.execute(stmt).all())


def _by_priority(
    session,
    head,
    conditions,
    position: Position | None,
    limit: int,
    offset: int,
    statuses: list[TicketStatus] | None,
):
    """The priority queue in one statement: each priority's first rows, oldest first (an index
    range of `ix_ticket_priority_created` each), merged and cut to the page. When the filters
    allow only some statuses (the open queue), one part per priority and status, a range of
    `ix_ticket_status_priority_created` each: open tickets are the newest few, and a walk from
    the oldest ticket filtering on status would pass every closed one first (5 s at a million).
    A cursor skips the priorities before its own and continues its own after the last row."""
    wanted = limit + 1 + offset
    start = PRIORITY_ORDER.index(position.priority) if position and position.priority else 0
    parts = []
    for priority, status in product(PRIORITY_ORDER[start:], statuses or [None]):
        where = [*conditions, Ticket.priority == priority]
        if status is not None:
            where.append(Ticket.status == status)
        if position is not None and priority is position.priority:
            bound = tuple_(
                literal(position.value, Ticket.created_at.type), literal(position.last_id)
            )
            where.append(tuple_(Ticket.created_at, Ticket.id) > bound)
        part = (
            select(Ticket.id, Ticket.priority, Ticket.created_at)
            .where(*where)
            .order_by(col(Ticket.created_at), col(Ticket.id))
            .limit(wanted)
            .subquery()
        )
        parts.append(select(part.c.id, part.c.priority, part.c.created_at))
    # The page's ids from the index entries alone; then the columns of those rows only.
    found = union_all(*parts).subquery()
    ids = (
        select(found.c.id)
        .order_by(_rank(found.c.priority), found.c.created_at, found.c.id)
        .limit(limit + 1)
        .offset(offset)
        .subquery()
    )
    order = (_rank(Ticket.priority), col(Ticket.created_at), col(Ticket.id))
    return list(session.execute(head.join(ids, ids.c.id == Ticket.id).order_by(*order)).all())


def _rank(priority):
    """A priority's place in the queue: system down first."""
    return case({p.value: n for n, p in enumerate(PRIORITY_ORDER)}, value=priority)


def _allowed_statuses(f: TicketFilters) -> list[TicketStatus] | None:
    """The statuses `filter_conditions` lets through, in order; None when it allows all."""
    allowed = set(f.statuses) if f.statuses else set(TicketStatus)
    if f.view in (TicketView.open, TicketView.unassigned, TicketView.mine):
        allowed &= {s for s in TicketStatus if not s.done}
    elif f.view is TicketView.breaching:
        allowed &= {s for s in TicketStatus if not s.done and not s.paused}
    return None if allowed == set(TicketStatus) else [s for s in TicketStatus if s in allowed]


def due_soon_cutoff(now: datetime) -> datetime:
    """The end of the next four business hours (the calendar the SLA counts in)."""
    return Calendar.from_settings().add(now, DUE_SOON_MINUTES)


def filter_conditions(
    session: Session, actor: User, f: TicketFilters, *, walk: bool = False
) -> list[ColumnElement[bool]]:
    """The WHERE clauses a `TicketFilters` asks for (visibility aside): the list and the home
    page's counts use the same ones, so a count always matches the list its link opens. `walk`:
    see `search.matching`."""
    found: list[ColumnElement[bool]] = []
    if f.q:
        match = search.matching(
            f.q,
            dialect=session.get_bind().dialect.name,
            include_internal=is_staff(actor),
            walk=walk,
        )
        number = search.ticket_number(f.q, utcnow())
        if number is not None:  # a ticket's number finds it, beside the words that match
            exact = Ticket.number == number
            match = exact if match is None else or_(exact, match)
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
        # A clock paused while the ticket waits for the library or the vendor is not breaching.
        running = [s for s in open_statuses if not s.paused]
        now = utcnow()
        found += [
            col(Ticket.status).in_(running),
            or_(
                col(Ticket.resolution_due_at) < now,
                col(Ticket.first_response_at).is_(None) & (col(Ticket.response_due_at) < now),
            ),
        ]
    elif f.view is TicketView.due_soon:
        # `sla_due_at` is the next deadline of a running clock (None when paused or done), so
        # one index range: after now (not breaching yet), within the next business hours.
        now = utcnow()
        due = col(Ticket.sla_due_at)
        found += [due > now, due <= due_soon_cutoff(now)]
    return found


def encode_cursor(
    sort: TicketSort,
    value: datetime | None,
    last_id: int,
    total: int,
    capped: bool = False,
    priority: str | None = None,
) -> str:
    """The priority queue's cursor also names the priority its last row had."""
    moment = value.isoformat() if value is not None else None
    fields = [sort.value, moment, last_id, total, capped]
    if sort is TicketSort.priority:
        fields.append(str(priority))
    raw = json.dumps(fields).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: TicketSort) -> Position:
    """A cursor is read strictly: anything but what `encode_cursor` wrote for this sort order
    is a 422, never an error deeper down (a naive time, an id out of range, a wrong type)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
        ranked = sort is TicketSort.priority
        if not isinstance(fields, list) or len(fields) != (6 if ranked else 5):
            raise ValueError("not a cursor")
        kind, value, last_id, total, capped = fields[:5]
        if kind != sort.value:
            raise ValueError("the cursor belongs to another sort order")
        return Position(
            value=_moment(value, nullable=sort is TicketSort.sla_due),
            last_id=_whole(last_id, 1, MAX_ID),
            total=_whole(total, 0, COUNT_CAP),
            capped=_flag(capped),
            priority=TicketPriority(fields[5]) if ranked else None,
        )
    except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
        raise Invalid(
            "The cursor is not valid for this list; start again from the first page.",
            [FieldError("cursor", "is not valid for this list")],
        ) from exc


def _moment(value: Any, *, nullable: bool) -> datetime | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise TypeError("not a time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a time without its offset")
    return moment.astimezone(UTC)


def _whole(value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError("out of range")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a flag")
    return value


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


def list_etags(*, session: Session, actor: User, numbers: list[str]) -> dict[str, str]:
    """Each listed ticket's ETag for `actor`, in one statement: the bulk bar sends them back as
    `If-Match`, so a ticket changed since the list was shown is skipped, not overwritten."""
    stmt = select(Ticket.number, Ticket.id, Ticket.version, Ticket.public_version).where(
        col(Ticket.number).in_(numbers), visible(actor)
    )
    return {row.number: etag(row, actor) for row in session.execute(stmt)}


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
