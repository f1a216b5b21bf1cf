"""Maintenance pages that are not resources: the schedule and edit forms, the form's warnings
check and the month view."""

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from app.models.maintenance import LocalTime
from app.models.service import Choices
from app.services import access
from app.services import maintenance as service
from app.web.deps import CurrentUser, OptionalUser, SessionDep, WindowDep
from app.web.render import html
from app.web.views import maintenance as views

router = APIRouter(include_in_schema=False)


class Draft(BaseModel):
    """The schedule or edit form as it stands, read leniently: the check warns, it never
    refuses (saving does that, field by field)."""

    model_config = ConfigDict(extra="ignore")

    starts_at: Any = None
    ends_at: Any = None
    services: Choices = []
    window_id: int | None = None


@router.get("/maintenance/new")
def new_window(request: Request, session: SessionDep, user: CurrentUser):
    access.require_staff(user, "schedule maintenance")
    return html(request, "maintenance/form.html", **views.form(session, None))


@router.post("/maintenance/check")
def check_window(request: Request, session: SessionDep, user: CurrentUser, draft: Draft):
    """The overlap and short-notice warnings saving would give, shown while the form is filled."""
    access.require_staff(user, "schedule maintenance")
    warnings: list[str] = []
    try:
        times = Times(starts_at=draft.starts_at, ends_at=draft.ends_at)
    except ValidationError:
        times = None
    if times and times.ends_at > times.starts_at:
        warnings = service.preview_warnings(
            session=session,
            starts_at=times.starts_at,
            ends_at=times.ends_at,
            services=draft.services,
            window_id=draft.window_id,
        )
    return html(request, "maintenance/_warnings.html", warnings=warnings)


class Times(BaseModel):
    starts_at: LocalTime
    ends_at: LocalTime


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
