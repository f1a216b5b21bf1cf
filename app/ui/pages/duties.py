"""Duty pages that are not resources: the define and edit forms, and the page where a person
manages their secret task calendar links."""

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import Field

from app.core.config import get_settings
from app.models.common import FormInput
from app.services import access
from app.services import duties as service
from app.web.deps import CurrentUser, DutyDep, SessionDep
from app.web.render import html
from app.web.views import duties as views

router = APIRouter(include_in_schema=False)


class FeedAction(FormInput):
    scope: str = Field(pattern=r"^(personal|[A-Z0-9]{2,8})$")
    action: Literal["regenerate", "revoke"]


@router.get("/duties/new")
def new_duty(request: Request, user: CurrentUser):
    access.require_staff(user, "define duties")
    return html(request, "duties/form.html", **views.form(None))


@router.get("/duties/calendar")
def calendar_links(request: Request, session: SessionDep, user: CurrentUser):
    return html(request, "duties/calendar.html", **views.feeds(session, user))


@router.post("/duties/calendar")
def change_calendar_link(
    request: Request, session: SessionDep, user: CurrentUser, data: FeedAction
):
    """Makes a new secret link (the old one stops working) or turns the link off."""
    institution = None if data.scope == "personal" else data.scope
    new_url = None
    if data.action == "regenerate":
        token = service.regenerate_feed(session=session, actor=user, institution=institution)
        new_url = f"{get_settings().portal_url.rstrip('/')}/feeds/tasks/{token}.ics"
    else:
        service.revoke_feed(session=session, actor=user, institution=institution)
    block = "feeds" if request.headers.get("hx-request") == "true" else None
    values = views.feeds(session, user) | {"new_url": new_url}
    return html(request, "duties/calendar.html", block=block, **values)


@router.get("/duties/{duty_id}/edit")
def edit_duty(request: Request, user: CurrentUser, duty: DutyDep):
    access.require_staff(user, "edit duties")
    return html(request, "duties/form.html", **views.form(duty))
