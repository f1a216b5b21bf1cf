"""Incident pages that are not resources: the forms that open and correct one."""

from fastapi import APIRouter, Request

from app.services import access
from app.web.deps import CurrentUser, IncidentDep, SessionDep
from app.web.render import html
from app.web.views import incidents as views

router = APIRouter(include_in_schema=False)


@router.get("/incidents/new")
def new_incident(request: Request, session: SessionDep, user: CurrentUser):
    access.require_staff(user, "open incidents")
    return html(request, "incidents/form.html", **views.form(session))


@router.get("/incidents/{incident_id}/edit")
def edit_incident(request: Request, session: SessionDep, user: CurrentUser, incident: IncidentDep):
    access.require_staff(user, "edit incidents")
    return html(request, "incidents/form.html", **views.form(session, incident))
