"""API client pages that are not resources: the form that adds a client."""

from fastapi import APIRouter, Request

from app.services import access
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html
from app.web.views import api_clients as views

router = APIRouter(include_in_schema=False)


@router.get("/api-clients/new")
def new_api_client(request: Request, session: SessionDep, user: CurrentUser):
    access.require_admin(user, "add API clients")
    return html(request, "api_clients/new.html", **views.form(session))
