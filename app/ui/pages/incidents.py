"""Incident pages that are not resources: the form that opens one."""

from fastapi import APIRouter, Request

from app.services import access
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html
from app.web.views import incidents as views

router = APIRouter(include_in_schema=False)


@router.get("/incidents/new")
def new_incident(request: Request, session: SessionDep, user: CurrentUser):
    access.require_staff(user, "open incidents")
    return html(request, "incidents/form.html", **views.form(session))
