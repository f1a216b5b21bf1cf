"""Canned replies: `/canned-replies`, the support team's saved replies (consortium staff and
administrators; library roles get 403). Every change is audited. Filling one in for a ticket
is a reply-box control (`app.ui.pages.canned_replies`), not part of the resource.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.core.pagination import Page, page
from app.models.canned_reply import (
    CannedReply,
    CannedReplyCreate,
    CannedReplyPublic,
    CannedReplyUpdate,
)
from app.services import canned_replies as service
from app.web.deps import CurrentUser, IdPath, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import canned_replies as views

router = APIRouter(route_class=SharedRoute, prefix="/canned-replies", tags=["canned-replies"])
READ = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 422)
DETAIL = "canned_replies/detail.html"
saved = shared(DETAIL, block="detail", event="canned-reply-saved", context=views.detail)


def load_reply(reply_id: IdPath, session: SessionDep, user: CurrentUser) -> CannedReply:
    return service.get_reply(session=session, actor=user, reply_id=reply_id)


CannedReplyDep = Annotated[CannedReply, Depends(load_reply)]


@router.get("", response_model=Page[CannedReplyPublic], responses=READ)
@shared("canned_replies/list.html", block="results", context=views.listing)
def list_canned_replies(
    session: SessionDep, user: CurrentUser, request: Request, response: Response, paging: Paging
):
    """The team's saved replies, by name."""
    window = service.list_replies(session=session, actor=user, page=paging)
    return page(window, paging, request, response)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=CannedReplyPublic, responses=WRITE
)
@saved
def create_canned_reply(
    data: CannedReplyCreate, session: SessionDep, user: CurrentUser, response: Response
):
    """A placeholder we cannot fill, e.g. `{customer}`, is refused (422, each one named)."""
    reply = service.create_reply(session=session, actor=user, data=data)
    response.headers["Location"] = f"/canned-replies/{reply.id}"
    return service.public(reply)


@router.get("/{reply_id}", response_model=CannedReplyPublic, responses=READ)
@shared(DETAIL, block="detail", context=views.detail)
def get_canned_reply(reply: CannedReplyDep):
    return service.public(reply)


@router.patch("/{reply_id}", response_model=CannedReplyPublic, responses=WRITE)
@saved
def update_canned_reply(
    data: CannedReplyUpdate, reply: CannedReplyDep, session: SessionDep, user: CurrentUser
):
    return service.public(service.update_reply(session=session, actor=user, reply=reply, data=data))


@router.delete("/{reply_id}", response_model=CannedReplyPublic, responses=WRITE)
@shared(DETAIL, block="detail", event="canned-reply-deleted", context=views.deleted)
def delete_canned_reply(reply: CannedReplyDep, session: SessionDep, user: CurrentUser):
    """Deletes it for the whole team; the answer is the reply as it was."""
    return service.delete_reply(session=session, actor=user, reply=reply)
