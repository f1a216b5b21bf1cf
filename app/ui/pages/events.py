"""Event pages that are not resources: the schedule and edit forms."""

from fastapi import APIRouter, Request

from app.services import access
from app.web.deps import CurrentUser, EventDep, SessionDep
from app.web.render import html
from app.web.views import events as views

router = APIRouter(include_in_schema=False)


@router.get("/events/new")
def new_event(request: Request, session: SessionDep, user: CurrentUser):
    access.require_staff(user, "schedule events")
    return html(request, "events/form.html", **views.form(session, None))


@router.get("/events/{event_id}/edit")
def edit_event(request: Request, session: SessionDep, user: CurrentUser, event: EventDep):
    access.require_staff(user, "edit events")
    return html(request, "events/form.html", **views.form(session, event))
