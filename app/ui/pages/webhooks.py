"""Webhook pages that are not resources: the form that adds a webhook."""

from fastapi import APIRouter, Request

from app.services import access
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html
from app.web.views import webhooks as views

router = APIRouter(include_in_schema=False)


@router.get("/webhooks/new")
def new_webhook(request: Request, session: SessionDep, user: CurrentUser):
    access.require_admin(user, "add webhooks")
    return html(request, "webhooks/new.html", **views.form(session))
