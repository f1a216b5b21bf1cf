"""Announcements: the archive (`/announcements`, searchable), one permanent URL each, compose
and schedule (staff), acknowledgements per library and redistribution to a library's staff."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.core.pagination import Page, page, page_of_list
from app.models.announcement import (
    AcknowledgementCreate,
    AcknowledgementPublic,
    AnnouncementCreate,
    AnnouncementPublic,
    AnnouncementStatus,
    AnnouncementUpdate,
    ModerationCreate,
    RedistributionCreate,
    RedistributionPublic,
)
from app.models.list import SLUG
from app.services import announcements as service
from app.web.deps import AnnouncementDep, CurrentUser, Paging, SessionDep, StaffUser
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import announcements as views

router = APIRouter(route_class=SharedRoute, tags=["announcements"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 422)
saved = shared(
    "announcements/detail.html", block="detail", event="announcement-saved", context=views.detail
)


@router.get("/announcements", response_model=Page[AnnouncementPublic], responses=READ)
@shared("announcements/list.html", block="results", context=views.listing)
def list_announcements(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    list_: Annotated[
        str | None, Query(alias="list", pattern=SLUG, description="A list slug.")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Words in the subject or text.")
    ] = None,
    status: AnnouncementStatus | None = None,
):
    """The archive, newest first. Members see what was sent; staff also what is scheduled."""
    window = service.list_announcements(
        session=session, actor=user, list_slug=list_, q=q, status=status, page=paging
    )
    return page(window, paging, request, response)


@router.post(
    "/announcements",
    status_code=status.HTTP_201_CREATED,
    response_model=AnnouncementPublic,
    responses=WRITE,
)
@saved
def create_announcement(
    data: AnnouncementCreate, session: SessionDep, user: CurrentUser, response: Response
):
    """Sends now (no `send_at`) or schedules. One message per person however many of the
    lists they are on. Refused (422): no one on the lists, a time in the past, an
    acknowledgement date before the send date. Staff; a member may post to interest-group
    lists they are on (the post is `pending` until staff moderate it), never to an
    announcement list (403)."""
    created = service.create_announcement(session=session, actor=user, data=data)
    response.headers["Location"] = f"/announcements/{created.id}"
    return service.publish(session, created)


@router.get("/announcements/{announcement_id}", response_model=AnnouncementPublic, responses=READ)
@shared("announcements/detail.html", block="detail", context=views.detail)
def get_announcement(announcement: AnnouncementDep, session: SessionDep, user: CurrentUser):
    return service.publish(session, announcement)


@router.patch(
    "/announcements/{announcement_id}", response_model=AnnouncementPublic, responses=WRITE
)
@saved
def update_announcement(
    data: AnnouncementUpdate, announcement: AnnouncementDep, session: SessionDep, user: CurrentUser
):
    """Changes a scheduled announcement (a sent one: 409). Staff."""
    service.update_announcement(session=session, actor=user, announcement=announcement, data=data)
    return service.publish(session, announcement)


@router.delete(
    "/announcements/{announcement_id}", response_model=AnnouncementPublic, responses=WRITE
)
@saved
def cancel_announcement(announcement: AnnouncementDep, session: SessionDep, user: CurrentUser):
    """Cancels a scheduled announcement (a sent one stays in the archive: 409). Staff."""
    service.cancel_announcement(session=session, actor=user, announcement=announcement)
    return service.publish(session, announcement)


@router.post(
    "/announcements/{announcement_id}/moderation",
    response_model=AnnouncementPublic,
    responses=WRITE,
)
@saved
def moderate(
    data: ModerationCreate, announcement: AnnouncementDep, session: SessionDep, user: CurrentUser
):
    """Approves a member's post to an interest-group list (it is sent now) or turns it down
    with a `reason` the poster is e-mailed. Only a pending post (else 409). Staff."""
    service.moderate(session=session, actor=user, announcement=announcement, data=data)
    return service.publish(session, announcement)


@router.get(
    "/announcements/{announcement_id}/acknowledgements",
    response_model=Page[AcknowledgementPublic],
    responses=READ,
)
@shared("announcements/board.html", block="board", context=views.board)
def acknowledgement_board(
    announcement: AnnouncementDep,
    session: SessionDep,
    user: StaffUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """Every library the announcement reached, those yet to acknowledge first. Staff."""
    rows = service.board(session=session, announcement=announcement)
    return page_of_list(rows, paging, request, response)


@router.post(
    "/announcements/{announcement_id}/acknowledgements",
    status_code=status.HTTP_201_CREATED,
    response_model=AcknowledgementPublic,
    responses=WRITE,
)
@shared(
    "announcements/acknowledged.html", block="acknowledgement", event="acknowledged", push=False
)
def acknowledge(
    data: AcknowledgementCreate,
    announcement: AnnouncementDep,
    session: SessionDep,
    user: CurrentUser,
):
    """The library (default: yours) acknowledges. Its director or liaison, or staff; another
    library's acknowledgement does not exist for you (404)."""
    return service.acknowledge(
        session=session, actor=user, announcement=announcement, institution=data.institution
    )


@router.post(
    "/announcements/{announcement_id}/redistributions",
    status_code=status.HTTP_201_CREATED,
    response_model=RedistributionPublic,
    responses=WRITE,
)
@shared(
    "announcements/redistributed.html", block="redistributed", event="redistributed", push=False
)
def redistribute(
    data: RedistributionCreate,
    announcement: AnnouncementDep,
    session: SessionDep,
    user: CurrentUser,
):
    """Passes the announcement on to your own library's staff holding `roles`, with a note;
    recorded on the announcement. A library's director or liaison."""
    return service.redistribute(session=session, actor=user, announcement=announcement, data=data)
