"""Maintenance pages that are not resources: the schedule and edit forms and the month view."""

from fastapi import APIRouter, Query, Request

from app.services import access
from app.web.deps import CurrentUser, OptionalUser, SessionDep, WindowDep
from app.web.render import html
from app.web.views import maintenance as views

router = APIRouter(include_in_schema=False)


@router.get("/maintenance/new")
def new_window(request: Request, session: SessionDep, user: CurrentUser):
    access.require_staff(user, "schedule maintenance")
    return html(request, "maintenance/form.html", **views.form(session, None))


@router.get("/maintenance/calendar")
def month_view(
    request: Request,
    session: SessionDep,
    user: OptionalUser,
    month: str | None = Query(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
):
    """A month of windows in the consortium's zone, cancelled ones struck through."""
    year, number = views.month_of(month)
    return html(request, "maintenance/calendar.html", **views.month(session, year, number))


@router.get("/maintenance/{window_id}/edit")
def edit_window(request: Request, session: SessionDep, user: CurrentUser, window: WindowDep):
    access.require_staff(user, "edit maintenance")
    return html(request, "maintenance/form.html", **views.form(session, window))
