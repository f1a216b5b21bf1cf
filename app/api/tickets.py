"""Tickets: `/tickets`, `/tickets/{number}` and its comments, events and attachments."""

from typing import Annotated

from fastapi import APIRouter, File, Header, Path, Query, Request, Response, UploadFile
from fastapi import status as http
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlmodel import Session

from app.core.config import get_settings
from app.core.errors import FieldError, Invalid
from app.core.pagination import Page, page_of_list
from app.models.ticket import (
    MAX_ID,
    AttachmentPublic,
    CommentCreate,
    CommentPublic,
    EventPublic,
    MergeRequest,
    RedactRequest,
    Ticket,
    TicketCategory,
    TicketCreate,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketUpdate,
)
from app.models.user import User
from app.services import ticket_attachments as files
from app.services import tickets as service
from app.services.access import is_staff
from app.services.tickets import TicketFilters, TicketSort, TicketView
from app.web.deps import TICKET_NUMBER, CurrentUser, Paging, SessionDep, TicketDep
from app.web.problems import problem_responses
from app.web.render import Representation, SharedRoute, representation, shared

router = APIRouter(route_class=SharedRoute, prefix="/tickets", tags=["tickets"])
NUMBER = TICKET_NUMBER
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 412, 413, 422)
DETAIL = {"priorities": list(TicketPriority)}


# --- what pages need beside the data (JSON drops it through the response model) --------------


class TicketPage(Page[TicketPublic]):
    names: dict[int, str] = {}


class TimelineEntry(BaseModel):
    comment: CommentPublic | None = None
    event: EventPublic | None = None


class TicketDetail(TicketPublic):
    timeline: list[TimelineEntry] = []
    attachments: list[AttachmentPublic] = []
    names: dict[int, str] = {}
    staff: list[tuple[int, str]] = []
    next_statuses: list[str] = []
    etag: str = ""


class CommentWritten(CommentPublic):
    names: dict[int, str] = {}
    detail: TicketDetail | None = None  # the sidebar, refreshed: status and ETag may change


class CommentPage(Page[CommentPublic]):
    names: dict[int, str] = {}


class EventPage(Page[EventPublic]):
    names: dict[int, str] = {}


def names_for(request: Request, session: Session, ids: set[int | None]) -> dict[int, str]:
    """Display names, for pages only: JSON carries ids."""
    if representation(request) is Representation.json:
        return {}
    return {i: u.name for i, u in service.people(session=session, ids=ids).items()}


def detail(
    request: Request, response: Response, session: Session, user: User, ticket: Ticket
) -> TicketPublic:
    """The ticket, with its timeline when a page or fragment will show it."""
    response.headers["ETag"] = service.etag(ticket)
    data = service.public(session, ticket)
    if representation(request) is Representation.json:
        return data
    comments = service.list_comments(session=session, actor=user, ticket=ticket)
    events = [
        e
        for e in service.list_events(session=session, actor=user, ticket=ticket)
        if e.kind != "comment"
    ]
    timeline = sorted(
        [TimelineEntry(comment=c) for c in comments] + [TimelineEntry(event=e) for e in events],
        key=lambda t: t.comment.created_at if t.comment else t.event.at,
    )
    ids = {ticket.requester, ticket.assignee, *data.watchers}
    ids |= {c.author for c in comments} | {e.actor for e in events}
    names = names_for(request, session, ids)
    staff = [(u.id, u.name) for u in service.assignable(session=session)] if is_staff(user) else []
    return TicketDetail(
        **data.model_dump(),
        timeline=timeline,
        attachments=files.list_attachments(session=session, ticket=ticket),
        names=names,
        staff=staff,
        next_statuses=service.next_statuses(user, ticket),
        etag=service.etag(ticket),
    )


# --- routes -----------------------------------------------------------------------------------


@router.get("", response_model=Page[TicketPublic], responses=READ)
@shared(
    "tickets/list.html",
    block="results",
    context=lambda _: {
        "statuses": list(TicketStatus),
        "priorities": list(TicketPriority),
        "categories": list(TicketCategory),
        "views": list(TicketView),
        "sorts": list(TicketSort),
    },
)
def list_tickets(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    cursor: Annotated[
        str | None, Query(max_length=500, description="From `next`: keyset paging, any depth.")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Words in subject, description, replies.")
    ] = None,
    status: Annotated[list[TicketStatus] | None, Query()] = None,
    institution: Annotated[str | None, Query(max_length=8)] = None,
    priority: TicketPriority | None = None,
    category: TicketCategory | None = None,
    assignee: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    view: TicketView = TicketView.all,
    sort: TicketSort = TicketSort.created_desc,
):
    """Library users see their own library's tickets; staff queues via `view`."""
    filters = TicketFilters(
        q=q,
        statuses=status,
        institution=institution.upper() if institution else None,
        priority=priority,
        category=category,
        assignee=assignee,
        view=view,
        sort=sort,
    )
    window = service.list_tickets(
        session=session,
        actor=user,
        filters=filters,
        limit=paging.limit,
        offset=paging.offset,
        cursor=cursor,
    )
    next_url = None
    if window.next_cursor:
        next_url = str(
            request.url.remove_query_params("offset").include_query_params(
                cursor=window.next_cursor, limit=paging.limit
            )
        )
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    ids = {t.requester for t in window.items} | {t.assignee for t in window.items}
    names = names_for(request, session, ids)
    return TicketPage(data=window.items, count=window.total, next=next_url, names=names)


@router.post(
    "",
    status_code=http.HTTP_201_CREATED,
    response_model=TicketPublic,
    responses=WRITE,
)
@shared("tickets/detail.html", block="detail", context=lambda _: DETAIL, event="ticket-filed")
def create_ticket(
    data: TicketCreate, session: SessionDep, user: CurrentUser, request: Request, response: Response
):
    ticket = service.create_ticket(session=session, actor=user, data=data)
    response.headers["Location"] = f"/tickets/{ticket.number}"
    return detail(request, response, session, user, ticket)


@router.get("/{number}", response_model=TicketPublic, responses=READ)
@shared("tickets/detail.html", block="detail", context=lambda _: DETAIL)
def get_ticket_route(
    ticket: TicketDep, session: SessionDep, user: CurrentUser, request: Request, response: Response
):
    """Sends an `ETag`; give it back as `If-Match` when you PATCH."""
    return detail(request, response, session, user, ticket)


@router.patch("/{number}", response_model=TicketPublic, responses=WRITE)
@shared("tickets/detail.html", block="detail", context=lambda _: DETAIL, event="ticket-saved")
def update_ticket(
    data: TicketUpdate,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header(description="The `ETag` from GET.")] = None,
):
    """A stale `If-Match` gets 412 and changes nothing."""
    ticket = service.update_ticket(
        session=session, actor=user, ticket=ticket, data=data, if_match=if_match
    )
    response.headers["Location"] = f"/tickets/{ticket.number}"
    return detail(request, response, session, user, ticket)


@router.get(
    "/{number}/comments",
    response_model=Page[CommentPublic],
    responses=problem_responses(401, 404, 422),
)
@shared("tickets/comments.html", block="comments")
def list_comments(
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """Oldest first; internal notes only for consortium staff."""
    comments = service.list_comments(session=session, actor=user, ticket=ticket)
    listed = page_of_list(comments, paging, request, response)
    names = names_for(request, session, {c.author for c in listed.data})
    return CommentPage(data=listed.data, count=listed.count, next=listed.next, names=names)


@router.post(
    "/{number}/comments",
    status_code=http.HTTP_201_CREATED,
    response_model=CommentPublic,
    responses=WRITE,
)
@shared(
    "tickets/comments.html", block="comment", event="ticket-commented", context=lambda _: DETAIL
)
def add_comment(
    data: CommentCreate,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
):
    """A reply (or, for staff, an internal note with `internal: true`)."""
    comment = service.add_comment(session=session, actor=user, ticket=ticket, data=data)
    written = service.comment_public(comment, ticket)
    if representation(request) is Representation.json:
        response.headers["Location"] = f"/tickets/{ticket.number}/comments"
        return written
    sidebar = detail(request, response, session, user, ticket)
    return CommentWritten(**written.model_dump(), names={user.id: user.name}, detail=sidebar)


@router.get(
    "/{number}/events",
    response_model=Page[EventPublic],
    responses=problem_responses(401, 404, 422),
)
@shared("tickets/events.html", block="events")
def list_events(
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """The history: created, status, assignment, priority, comments, merges."""
    events = service.list_events(session=session, actor=user, ticket=ticket)
    listed = page_of_list(events, paging, request, response)
    shown = listed.data
    ids = {e.actor for e in shown} | {e.data.get("to") for e in shown if e.kind == "assignment"}
    names = names_for(request, session, ids)
    return EventPage(data=shown, count=listed.count, next=listed.next, names=names)


@router.post(
    "/{number}/merge",
    response_model=TicketPublic,
    responses=WRITE,
)
@shared("tickets/detail.html", block="detail", context=lambda _: DETAIL, event="ticket-merged")
def merge_ticket(
    data: MergeRequest,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
):
    """Staff: merges this duplicate into `into`; answers with the surviving ticket."""
    target = service.merge_ticket(session=session, actor=user, ticket=ticket, into=data.into)
    response.headers["Location"] = f"/tickets/{target.number}"
    return detail(request, response, session, user, target)


@router.post(
    "/{number}/redact",
    response_model=TicketPublic,
    responses=WRITE,
)
@shared("tickets/detail.html", block="detail", context=lambda _: DETAIL, event="ticket-redacted")
def redact_ticket(
    data: RedactRequest,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
):
    """Staff: replaces a passage everywhere the ticket's text is stored."""
    service.redact(session=session, actor=user, ticket=ticket, passage=data.text)
    return detail(request, response, session, user, ticket)


@router.get(
    "/{number}/attachments",
    response_model=Page[AttachmentPublic],
    responses=problem_responses(401, 404, 422),
)
def list_attachments(ticket: TicketDep, session: SessionDep, user: CurrentUser):
    found = files.list_attachments(session=session, ticket=ticket)
    return Page(data=found, count=len(found), next=None)


@router.post(
    "/{number}/attachments",
    status_code=http.HTTP_201_CREATED,
    response_model=TicketPublic,
    responses=WRITE,
)
@shared("tickets/detail.html", block="detail", context=lambda _: DETAIL, event="ticket-attached")
def add_attachment(
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG, GIF or plain text.")],
):
    """Multipart upload; the type is read from the content. Answers with the ticket."""
    limit = get_settings().ticket_attachment_max_bytes
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise Invalid(
            f"The file is larger than {limit} bytes.",
            [FieldError("file", f"must be at most {limit} bytes")],
        )
    attachment = files.add_attachment(
        session=session, actor=user, ticket=ticket, filename=file.filename or "", content=content
    )
    response.headers["Location"] = f"/tickets/{ticket.number}/attachments/{attachment.id}"
    return detail(request, response, session, user, ticket)


@router.get(
    "/{number}/attachments/{attachment_id}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **problem_responses(401, 404)},
)
def download_attachment(
    ticket: TicketDep,
    session: SessionDep,
    attachment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
):
    """Always a download, never rendered in the portal's origin."""
    attachment = files.get_attachment(session=session, ticket=ticket, attachment_id=attachment_id)
    return FileResponse(
        files.file_path(attachment),
        media_type=attachment.content_type,
        filename=attachment.filename,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
        },
    )
