"""Status pages that are not resources: the maintenance and incident forms, the month view and
the banner every signed-in page polls."""

import calendar
from datetime import date, datetime

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from app.core.config import get_settings
from app.models.maintenance import Impact, IncidentStatus
from app.services import access, maintenance, status
from app.web.deps import CurrentUser, OptionalUser, SessionDep, WindowDep
from app.web.render import add_vary, html

router = APIRouter(include_in_schema=False)


@router.get("/status/banner")
def banner(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    """Active windows and open incidents, for the banner; an empty body when there are none."""
    notices = status.current_notices(
        session=session, institution=user.institution if user else None, days=0
    )
    if not (notices.active or notices.incidents):
        response = HTMLResponse("")
        add_vary(response)
        return response
    return html(request, "status/banner.html", notices=notices)


@router.get("/maintenance/new")
def new_window(request: Request, session: SessionDep, user: CurrentUser):
    access.require_staff(user, "schedule maintenance")
    return _form(request, session, None)


@router.get("/maintenance/calendar")
def month_view(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    month: str | None = Query(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
):
    """A month of windows in the consortium's zone, cancelled ones struck through."""
    today = datetime.now(get_settings().tz).date()
    year, number = (int(p) for p in month.split("-")) if month else (today.year, today.month)
    windows = maintenance.windows_in_month(session=session, year=year, month=number)
    zone = get_settings().tz
    by_day: dict[date, list] = {}
    for w in windows:
        first, last = w.starts_at.astimezone(zone).date(), w.ends_at.astimezone(zone).date()
        for day in (first, last) if first != last else (first,):
            by_day.setdefault(day, []).append(w)
    weeks = [
        [(day, by_day.get(day, [])) for day in week]
        for week in calendar.Calendar().monthdatescalendar(year, number)
    ]
    previous = f"{year - (number == 1)}-{(number - 2) % 12 + 1:02d}"
    following = f"{year + (number == 12)}-{number % 12 + 1:02d}"
    return html(
        request,
        "maintenance/calendar.html",
        weeks=weeks,
        month=number,
        month_name=f"{calendar.month_name[number]} {year}",
        previous=previous,
        following=following,
    )


@router.get("/maintenance/{window_id}/edit")
def edit_window(request: Request, session: SessionDep, user: CurrentUser, window: WindowDep):
    access.require_staff(user, "edit maintenance")
    return _form(request, session, window)


@router.get("/incidents/new")
def new_incident(request: Request, session: SessionDep, user: CurrentUser):
    access.require_staff(user, "open incidents")
    return html(
        request,
        "incidents/form.html",
        services=maintenance.list_services(session=session),
        impacts=list(Impact),
        statuses=list(IncidentStatus),
    )


def _form(request: Request, session: SessionDep, window) -> Response:
    return html(
        request,
        "maintenance/form.html",
        window=window,
        services=maintenance.list_services(session=session),
        impacts=list(Impact),
    )
