"""The SLA clock: targets counted in business minutes (or around the clock for `system_down`).

Business hours are local wall-clock times in the consortium's zone, so a day keeps its 08:30–17:00
across both DST changes; around-the-clock time is absolute (a DST night has 23 or 25 hours).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Row

from app.core.config import get_settings
from app.core.pagination import construct
from app.models.ticket import Sla, Ticket, TicketPriority, TicketStatus


@dataclass(frozen=True)
class Calendar:
    tz: ZoneInfo
    start: time
    end: time
    weekdays: frozenset[int]
    holidays: frozenset[date]

    @classmethod
    def from_settings(cls) -> "Calendar":
        settings = get_settings()
        start, end = settings.ticket_business_hours.split("-")
        return cls(
            tz=settings.tz,
            start=time.fromisoformat(start.strip()),
            end=time.fromisoformat(end.strip()),
            weekdays=frozenset(settings.ticket_business_days),
            holidays=frozenset(date.fromisoformat(d) for d in settings.ticket_holidays),
        )

    def _open_on(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.start, self.tz).astimezone(UTC),
            datetime.combine(day, self.end, self.tz).astimezone(UTC),
        )

    def add(self, moment: datetime, minutes: int) -> datetime:
        """The moment `minutes` business minutes after `moment`."""
        left = timedelta(minutes=minutes)
        day = moment.astimezone(self.tz).date()
        for _ in range(3660):  # ten years of days: a misconfigured calendar cannot loop forever
            if self._open_on(day):
                opens, closes = self._window(day)
                begin = max(opens, moment)
                if begin < closes:
                    if begin + left <= closes:
                        return begin + left
                    left -= closes - begin
            day += timedelta(days=1)
        raise ValueError("the business calendar has no open hours")

    def minutes_between(self, start: datetime, end: datetime) -> int:
        """Business minutes from `start` to `end` (0 when end is not after start)."""
        total = timedelta()
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            if self._open_on(day):
                opens, closes = self._window(day)
                begin, finish = max(opens, start), min(closes, end)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)


def _around_the_clock(priority: TicketPriority | str) -> bool:
    return TicketPriority(priority) == TicketPriority.system_down


def add_time(priority: TicketPriority | str, moment: datetime, minutes: int, cal: Calendar):
    if _around_the_clock(priority):
        return moment + timedelta(minutes=minutes)
    return cal.add(moment, minutes)


def time_between(priority: TicketPriority | str, start: datetime, end: datetime, cal: Calendar):
    if _around_the_clock(priority):
        return max(int((end - start).total_seconds() // 60), 0)
    return cal.minutes_between(start, end)


def start_clock(ticket: Ticket, cal: Calendar | None = None) -> None:
    """Sets both due times from the ticket's creation and priority."""
    cal = cal or Calendar.from_settings()
    settings = get_settings()
    priority = TicketPriority(ticket.priority)
    ticket.response_due_at = add_time(
        priority, ticket.created_at, settings.ticket_response_minutes[priority], cal
    )
    ticket.resolution_due_at = add_time(
        priority, ticket.created_at, settings.ticket_resolution_minutes[priority], cal
    )
    ticket.sla_paused_at = None
    ticket.response_left = ticket.resolution_left = None


def pause(ticket: Ticket, now: datetime, cal: Calendar | None = None) -> None:
    """Keeps the counted minutes still left; a target already missed stays missed."""
    if ticket.sla_paused_at is not None:
        return
    cal = cal or Calendar.from_settings()
    ticket.sla_paused_at = now
    for due, left in (
        ("response_due_at", "response_left"),
        ("resolution_due_at", "resolution_left"),
    ):
        value = getattr(ticket, due)
        if value is not None and value > now:
            setattr(ticket, left, time_between(ticket.priority, now, value, cal))
            setattr(ticket, due, None)


def resume(ticket: Ticket, now: datetime, cal: Calendar | None = None) -> None:
    if ticket.sla_paused_at is None:
        return
    cal = cal or Calendar.from_settings()
    for due, left in (
        ("response_due_at", "response_left"),
        ("resolution_due_at", "resolution_left"),
    ):
        minutes = getattr(ticket, left)
        if minutes is not None:
            setattr(ticket, due, add_time(ticket.priority, now, minutes, cal))
            setattr(ticket, left, None)
    ticket.sla_paused_at = None


def reprioritise(ticket: Ticket, now: datetime, cal: Calendar | None = None) -> None:
    """A new priority means new targets, counted from the ticket's creation."""
    cal = cal or Calendar.from_settings()
    paused = ticket.sla_paused_at is not None
    start_clock(ticket, cal)
    if paused:
        pause(ticket, now, cal)


def next_due(ticket: Ticket) -> datetime | None:
    """The deadline the queue sorts by: the response target until someone answered, then the
    resolution target; None while the clock is paused or the ticket is done."""
    if ticket.sla_paused_at is not None or TicketStatus(ticket.status).done:
        return None
    due = [ticket.resolution_due_at]
    if ticket.first_response_at is None:
        due.append(ticket.response_due_at)
    return min((d for d in due if d is not None), default=None)


def sla(ticket: Ticket | Row, now: datetime | None = None) -> Sla:
    """The SLA as the API shows it: due times (None while paused) and breach flags, from a
    ticket or a row read for a list (built without validating stored values again)."""
    now = now or datetime.now(UTC)
    response_end = ticket.first_response_at or ticket.resolved_at or now
    resolution_end = ticket.resolved_at or now
    paused = ticket.sla_paused_at is not None and not TicketStatus(ticket.status).done
    return _build_sla(
        {
            "response_due_at": ticket.response_due_at,
            "resolution_due_at": ticket.resolution_due_at,
            "response_breached": ticket.response_due_at is not None
            and response_end > ticket.response_due_at,
            "resolution_breached": ticket.resolution_due_at is not None
            and resolution_end > ticket.resolution_due_at,
            "paused": paused,
            "around_the_clock": ticket.priority == TicketPriority.system_down,
        }
    )


_build_sla = construct(Sla)
