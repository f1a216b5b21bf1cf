"""Saved-reply pages that are not the resource: the form that adds one, and the reply box's
control that inserts one, filled in for the ticket, into the reply being written."""

from fastapi import APIRouter, Request

from app.models.canned_reply import CannedReplyFill
from app.services import access
from app.services import canned_replies as service
from app.web.deps import CurrentUser, SessionDep, TicketDep
from app.web.render import html
from app.web.views import canned_replies as views

router = APIRouter(include_in_schema=False)


@router.get("/canned-replies/new")
def new_canned_reply(request: Request, user: CurrentUser):
    access.require_staff(user, "add saved replies")
    return html(request, "canned_replies/new.html", **views.form())


@router.get("/tickets/{number}/canned-reply")
def reply_picker(request: Request, ticket: TicketDep, session: SessionDep, user: CurrentUser):
    """The reply box's picker: the team's replies by name."""
    replies = service.choices(session=session, actor=user)
    return html(request, "canned_replies/_picker.html", ticket=ticket, replies=replies)


@router.post("/tickets/{number}/canned-reply")
def insert_reply(
    request: Request,
    data: CannedReplyFill,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
):
    """The reply box again, holding the draft and the chosen reply filled in for this ticket
    (loaded with the caller's own visibility). Nothing is sent: the person edits, then sends."""
    reply = service.get_reply(session=session, actor=user, reply_id=data.reply)
    filled = service.fill(session=session, actor=user, reply=reply, ticket=ticket)
    return html(request, "canned_replies/_filled.html", text=service.insert(data.body, filled))
