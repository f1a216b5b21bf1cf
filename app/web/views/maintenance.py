"""What maintenance pages need beside the windows: filter and form choices, the month grid."""

import calendar
from datetime import date, datetime
from typing import Any

from fastapi import Response
from sqlmodel import Session

from app.core.config import get_settings
from app.core.errors import FieldError, Invalid
from app.core.pagination import page
from app.models.common import EARLIEST, LATEST, TIME_RANGE
from app.models.maintenance import Maintenance, MaintenanceStatus, Repeat
from app.models.service import Impact
from app.services.maintenance import (
    When,
    list_windows,
    may_cancel,
    member_choices,
    windows_in_month,
)
from app.services.service_catalogue import list_services, service_names
from app.web.render import View

FILTERS = ("status", "since", "until", "when")
WEEKDAYS = [
    ("MO", "Monday"),
    ("TU", "Tuesday"),
    ("WE", "Wednesday"),
    ("TH", "Thursday"),
    ("FR", "Friday"),
    ("SA", "Saturday"),
    ("SU", "Sunday"),
]
REPEATS = [("", "Does not repeat"), *((r.value, r.value.capitalize()) for r in Repeat)]


def listing(view: View) -> dict[str, Any]:
    """The page opens on the windows not yet over (the JSON list keeps its contract: every
    window); `?when=past` shows those that are, newest first."""
    when = view.params.get("when")
    context: dict[str, Any] = {
        "statuses": list(MaintenanceStatus),
        "names": service_names(view.session),
        "when": when.value if when else None,
        "shown": view.data,
    }
    if not any(view.params.get(name) for name in FILTERS):
        paging = view.params["paging"]
        window = list_windows(
            session=view.session,
            service=view.params.get("service_"),
            institution=(view.params.get("institution") or "").upper() or None,
            sort=view.params["sort"],
            when=When.upcoming,
            page=paging,
        )
        context["shown"] = page(window, paging, view.request, Response())
        context["when"] = When.upcoming.value
    return context


def detail(view: View) -> dict[str, Any]:
    return {
        "names": service_names(view.session),
        "libraries": dict(member_choices(session=view.session)) if view.data.institutions else {},
        "may_cancel": view.data.status
        in (MaintenanceStatus.scheduled, MaintenanceStatus.in_progress),
    }


def form(session: Session, window: Maintenance | None) -> dict[str, Any]:
    """The schedule (no `window`) or edit form."""
    return {
        "window": window,
        "services": list_services(session=session),
        "impacts": list(Impact),
        "members": member_choices(session=session),
        "weekdays": WEEKDAYS,
        "repeats": REPEATS,
        "may_cancel": window is not None and may_cancel(window),
    }


def month_of(value: str | None) -> tuple[int, int]:
    """`YYYY-MM` (already matched by the route's pattern) as (year, month); this month when
    absent. A month outside the years the portal handles is a 422 naming `month`."""
    if value is None:
        today = datetime.now(get_settings().tz).date()
        return today.year, today.month
    year, number = (int(p) for p in value.split("-"))
    if not EARLIEST.year <= year < LATEST.year:
        raise Invalid(
            f"There is no calendar for {value}; choose a month {TIME_RANGE}.",
            [FieldError("month", f"must be {TIME_RANGE}")],
        )
    return year, number


def month(session: Session, year: int, number: int) -> dict[str, Any]:
    """Weeks of (day, windows) in the consortium's zone; a window over midnight shows on both
    days."""
    zone = get_settings().tz
    by_day: dict[date, list[Maintenance]] = {}
    for w in windows_in_month(session=session, year=year, month=number):
        first, last = w.starts_at.astimezone(zone).date(), w.ends_at.astimezone(zone).date()
        for day in (first, last) if first != last else (first,):
            by_day.setdefault(day, []).append(w)
    weeks = [
        [(day, by_day.get(day, [])) for day in week]
        for week in calendar.Calendar().monthdatescalendar(year, number)
    ]
    return {
        "weeks": weeks,
        "month": number,
        "month_name": f"{calendar.month_name[number]} {year}",
        "previous": f"{year - (number == 1):04d}-{(number - 2) % 12 + 1:02d}",
        "following": f"{year + (number == 12):04d}-{number % 12 + 1:02d}",
    }
