"""Account administration pages that are not resources: the form that adds an account."""

from fastapi import APIRouter, Request

from app.services import access
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html
from app.web.views import users as views

router = APIRouter(include_in_schema=False)


@router.get("/users/new")
def new_user(request: Request, session: SessionDep, user: CurrentUser):
    access.require_admin(user, "add accounts")
    return html(request, "users/new.html", **views.form(session))
