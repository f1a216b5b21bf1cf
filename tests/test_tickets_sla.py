"""The SLA clock: business hours in America/Chicago, weekends, holidays, pauses, DST, 24×7."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.models.ticket import Ticket
from app.services.tickets import sla as ticket_sla
from app.services.tickets.sla import Calendar

CHICAGO = ZoneInfo("America/Chicago")
CAL = Calendar(
    tz=CHICAGO,
    start=time(8, 30),
    end=time(17, 0),
    weekdays=frozenset(range(5)),
    holidays=frozenset({date(2026, 11, 26), date(2026, 11, 27), date(2026, 12, 25)}),
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


# (priority, start, counted minutes, due) — all local times; DST began 2026-03-08 and ended
# 2026-11-01 (02:00 local both times).
CASES = [
    ("within a day", "normal", local(2026, 3, 2, 9, 0), 60, local(2026, 3, 2, 10, 0)),
    ("over the evening", "normal", local(2026, 3, 2, 16, 30), 60, local(2026, 3, 3, 9, 0)),
    ("before opening", "high", local(2026, 3, 3, 7, 0), 30, local(2026, 3, 3, 9, 0)),
    ("after closing", "high", local(2026, 3, 3, 19, 0), 30, local(2026, 3, 4, 9, 0)),
    ("one business day", "high", local(2026, 3, 4, 10, 0), 510, local(2026, 3, 5, 10, 0)),
    ("over a weekend", "normal", local(2026, 2, 27, 16, 0), 120, local(2026, 3, 2, 9, 30)),
    ("filed on a Saturday", "low", local(2026, 2, 28, 10, 0), 30, local(2026, 3, 2, 9, 0)),
    ("spring forward weekend", "normal", local(2026, 3, 6, 16, 0), 120, local(2026, 3, 9, 9, 30)),
    ("fall back weekend", "normal", local(2026, 10, 30, 16, 30), 60, local(2026, 11, 2, 9, 0)),
    ("Thanksgiving", "normal", local(2026, 11, 25, 16, 0), 120, local(2026, 11, 30, 9, 30)),
    ("Christmas", "high", local(2026, 12, 24, 16, 0), 510, local(2026, 12, 28, 16, 0)),
    ("24×7 on Saturday", "system_down", local(2026, 2, 28, 23, 30), 60, local(2026, 3, 1, 0, 30)),
    ("24×7 on a holiday", "system_down", local(2026, 11, 26, 12), 60, local(2026, 11, 26, 13)),
]  # fmt: skip


@pytest.mark.parametrize(("case", "priority", "start", "minutes", "due"), CASES)
def test_due_times(case, priority, start, minutes, due):
    assert ticket_sla.add_time(priority, start, minutes, CAL) == due, case


def test_system_down_counts_real_hours_across_spring_forward():
    start = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 01:30 CST
    due = ticket_sla.add_time("system_down", start, 60, CAL)
    assert due.astimezone(CHICAGO).time() == time(3, 30)  # 02:xx does not exist that night
    assert (due - start).total_seconds() == 3600


def test_system_down_counts_real_hours_across_fall_back():
    start = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 CDT, the first one
    due = ticket_sla.add_time("system_down", start, 60, CAL)
    assert due.astimezone(CHICAGO).time() == time(1, 30)  # the second 01:30, now CST
    assert due.astimezone(CHICAGO).utcoffset() != start.astimezone(CHICAGO).utcoffset()


def test_business_days_keep_local_hours_across_dst():
    friday_close = local(2026, 3, 6, 17, 0)
    monday_open = ticket_sla.add_time("normal", friday_close, 1, CAL)
    assert monday_open == local(2026, 3, 9, 8, 31)
    assert monday_open.astimezone(CHICAGO).utcoffset().total_seconds() == -5 * 3600  # CDT


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        (local(2026, 3, 2, 9, 0), local(2026, 3, 2, 10, 0), 60),
        (local(2026, 2, 27, 16, 0), local(2026, 3, 2, 9, 30), 120),
        (local(2026, 11, 25, 8, 30), local(2026, 11, 30, 17, 0), 1020),
        (local(2026, 3, 2, 10, 0), local(2026, 3, 2, 9, 0), 0),
    ],
)
def test_minutes_between(start, end, minutes):
    assert CAL.minutes_between(start, end) == minutes


def _ticket(priority: str, created: datetime) -> Ticket:
    ticket = Ticket(priority=priority, status="new", created_at=created.astimezone(UTC))
    ticket_sla.start_clock(ticket, CAL)
    return ticket


def test_the_clock_pauses_while_waiting_for_the_library(monkeypatch):
    monkeypatch.setattr(
        ticket_sla,
        "get_settings",
        lambda: type("S", (), {"ticket_response_minutes": {"normal": 1020},
                               "ticket_resolution_minutes": {"normal": 2040}})(),
    )  # fmt: skip
    ticket = _ticket("normal", local(2026, 3, 2, 9, 0))  # Monday
    assert ticket.response_due_at == local(2026, 3, 4, 9, 0)
    ticket_sla.pause(ticket, local(2026, 3, 2, 10, 0), CAL)  # 60 counted, 960 left
    shown = ticket_sla.sla(ticket, now=local(2026, 3, 10, 12, 0))
    assert shown.paused and shown.response_due_at is None and not shown.response_breached
    ticket_sla.resume(ticket, local(2026, 3, 5, 10, 0), CAL)  # Thursday
    # 420 minutes on Thursday, 510 on Friday, the last 30 on Monday morning.
    assert ticket.response_due_at == local(2026, 3, 9, 9, 0)
    assert not ticket_sla.sla(ticket, now=local(2026, 3, 9, 8, 59)).response_breached
    assert ticket_sla.sla(ticket, now=local(2026, 3, 9, 9, 1)).response_breached


def test_a_missed_target_stays_missed_through_a_pause():
    ticket = _ticket("system_down", local(2026, 3, 2, 9, 0))
    late = local(2026, 3, 2, 12, 0)
    ticket_sla.pause(ticket, late, CAL)
    ticket_sla.resume(ticket, local(2026, 3, 3, 9, 0), CAL)
    assert ticket_sla.sla(ticket, now=local(2026, 3, 3, 9, 0)).response_breached


def test_a_response_in_time_is_not_breached_later():
    ticket = _ticket("high", local(2026, 3, 2, 9, 0))
    ticket.first_response_at = local(2026, 3, 2, 9, 15).astimezone(UTC)
    shown = ticket_sla.sla(ticket, now=local(2026, 3, 20, 9, 0))
    assert not shown.response_breached and shown.resolution_breached
