"""What the home page counts: each widget's figures in a fixed number of statements.

Ticket counts reuse the ticket list's own visibility rule and filters (`visible` and the
conditions a `TicketFilters` makes), so a count on the home page always equals the `count` of
the list its link opens. The directory, maintenance, incident, outbox and duty figures come from
those slices' services; only the charts' aggregates are written here.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session, col

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.ticket import Ticket
from app.models.user import User
from app.services.access import require_staff
from app.services.tickets import TicketFilters, visible
from app.services.tickets import queries as ticket_queries


def ticket_counts(
    *, session: Session, actor: User, queues: Mapping[str, TicketFilters]
) -> dict[str, int]:
    """How many tickets `actor` sees in each queue, in one statement (a scalar subquery per
    queue, each an index range)."""
    if not queues:
        return {}
    seen = visible(actor)
    counts = [
        select(func.count())
        .select_from(Ticket)
        .where(seen, *ticket_queries.filter_conditions(session, actor, filters))
        .scalar_subquery()
        .label(key)
        for key, filters in queues.items()
    ]
    row = session.execute(select(*counts)).one()
    return {key: int(row._mapping[key] or 0) for key in queues}


@dataclass(frozen=True)
class UrgentTicket:
    number: str
    subject: str
    institution: str
    priority: str
    status: str
    due_at: datetime | None  # the next SLA deadline (None while paused)


def urgent_tickets(
    *,
    session: Session,
    actor: User,
    queues: list[TicketFilters],
    first: TicketFilters,
    limit: int = 8,
) -> list[UrgentTicket]:
    """Tickets in any of `queues` that `actor` sees, those matching `first` (e.g. a system
    down) ahead of the rest, then by the next deadline: one statement."""
    conditions = [and_(*ticket_queries.filter_conditions(session, actor, f)) for f in queues]
    ahead = and_(*ticket_queries.filter_conditions(session, actor, first))
    due = col(Ticket.sla_due_at)
    rows = session.execute(
        select(
            Ticket.number,
            Ticket.subject,
            Ticket.institution,
            Ticket.priority,
            Ticket.status,
            Ticket.sla_due_at,
        )
        .where(visible(actor), or_(*conditions))
        .order_by(case((ahead, 0), else_=1), due.is_(None), due, col(Ticket.id))
        .limit(limit)
    ).all()
    return [UrgentTicket(*row) for row in rows]


# --- the directory ---------------------------------------------------------------------------

CONFIRM_SOON_DAYS = 30  # a directory confirmation is "due" this long before it goes stale


def confirmation_due(
    confirmed_at: datetime | None, now: datetime | None = None
) -> tuple[datetime | None, str]:
    """When a library's entries must next be confirmed, and whether that is `overdue` (never
    confirmed, or stale by the gaps report's rule), `due` (within 30 days) or `done`."""
    if confirmed_at is None:
        return None, "overdue"
    now = now or utcnow()
    due = confirmed_at + timedelta(days=get_settings().directory_confirm_days)
    if due < now:
        return due, "overdue"
    return due, "due" if due <= now + timedelta(days=CONFIRM_SOON_DAYS) else "done"


# --- charts (consortium staff) ----------------------------------------------------------------


@dataclass(frozen=True)
class WeekActivity:
    week: date  # the Monday, in the consortium's time zone
    opened: int
    resolved: int


@dataclass(frozen=True)
class MonthSla:
    month: date  # the first of the month, in the consortium's time zone
    resolved: int
    met: int

    @property
    def percent(self) -> int | None:
        """Share of resolved tickets that met both targets; None when none was resolved."""
        return round(self.met * 100 / self.resolved) if self.resolved else None


def _midnight(day: date) -> datetime:
    """The start of `day` in the consortium's zone, as UTC."""
    return datetime.combine(day, time(), get_settings().tz).astimezone(UTC)


def week_starts(weeks: int, now: datetime | None = None) -> list[date]:
    """The Mondays of the last `weeks` weeks, this one last."""
    today = (now or utcnow()).astimezone(get_settings().tz).date()
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def month_starts(months: int, now: datetime | None = None) -> list[date]:
    """The first days of the last `months` months, this one last."""
    today = (now or utcnow()).astimezone(get_settings().tz).date()
    firsts = []
    year, month = today.year, today.month
    for _ in range(months):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def weekly_activity(
    *, session: Session, actor: User, weeks: int = 12, now: datetime | None = None
) -> list[WeekActivity]:
    """Tickets opened and resolved in each of the last `weeks` weeks, in one statement."""
    require_staff(actor, "see the ticket charts")
    starts = week_starts(weeks, now)
    bounds = [(_midnight(d), _midnight(d + timedelta(weeks=1))) for d in starts]
    created, resolved = col(Ticket.created_at), col(Ticket.resolved_at)
    columns = []
    for begin, end in bounds:
        columns.append(func.count().filter(created >= begin, created < end))
        columns.append(func.count().filter(resolved >= begin, resolved < end))
    first = bounds[0][0]
    row = session.execute(
        select(*columns).select_from(Ticket).where(or_(created >= first, resolved >= first))
    ).one()
    return [
        WeekActivity(week=d, opened=int(row[2 * i]), resolved=int(row[2 * i + 1]))
        for i, d in enumerate(starts)
    ]


def sla_met():
    """The condition "both targets met" on a resolved ticket: the same rule as the SLA that
    `app.services.tickets.sla.sla` reports (a paused clock's missing due time is not a miss)."""
    answered = func.coalesce(col(Ticket.first_response_at), col(Ticket.resolved_at))
    response_missed = col(Ticket.response_due_at).is_not(None) & (
        answered > col(Ticket.response_due_at)
    )
    resolution_missed = col(Ticket.resolution_due_at).is_not(None) & (
        col(Ticket.resolved_at) > col(Ticket.resolution_due_at)
    )
    return ~or_(response_missed, resolution_missed)


def monthly_sla(
    *, session: Session, actor: User, months: int = 6, now: datetime | None = None
) -> list[MonthSla]:
    """Of the tickets resolved in each of the last `months` months, how many met their SLA,
    in one statement."""
    require_staff(actor, "see the ticket charts")
    starts = month_starts(months, now)
    bounds = [(_midnight(d), _midnight(_next_month(d))) for d in starts]
    resolved = col(Ticket.resolved_at)
    met = sla_met()
    columns = []
    for begin, end in bounds:
        within = and_(resolved >= begin, resolved < end)
        columns.append(func.count().filter(within))
        columns.append(func.count().filter(within, met))
    row = session.execute(
        select(*columns).select_from(Ticket).where(resolved >= bounds[0][0])
    ).one()
    return [
        MonthSla(month=d, resolved=int(row[2 * i]), met=int(row[2 * i + 1]))
        for i, d in enumerate(starts)
    ]
