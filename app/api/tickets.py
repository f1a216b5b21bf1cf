"""Tickets: `/tickets`, `/tickets/{number}` and its comments, events and attachments.

Each route returns the resource; what a page shows beside it comes from
`app.web.views.tickets`.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Header, Path, Query, Request, Response, UploadFile
from fastapi import status as http
from fastapi.responses import FileResponse
from sqlmodel import Session

from app.core.pagination import Page, next_link, page_of_list
from app.models.ticket import (
    MAX_ID,
    AttachmentPublic,
    CommentCreate,
    CommentPublic,
    CommentWritten,
    EventPublic,
    MergeRequest,
    RedactRequest,
    Ticket,
    TicketCategory,
    TicketComment,
    TicketCreate,
    TicketPage,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketUpdate,
    TicketWritten,
)
from app.models.user import User
from app.services import tickets as service
from app.services.tickets import TicketFilters, TicketSort, TicketView
from app.services.tickets import attachments as files
from app.web.deps import TICKET_NUMBER, CurrentUser, Paging, SessionDep, TicketDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import tickets as views

router = APIRouter(route_class=SharedRoute, prefix="/tickets", tags=["tickets"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 412, 413, 422)
DETAIL = "tickets/detail.html"
FILED = "tickets/filed.html"
REPLY = "tickets/reply.html"


@dataclass
class ListQuery:
    """The list's query parameters; paging is resolved first, as when the route declared it."""

    filters: TicketFilters
    cursor: str | None
    limit: int
    offset: int


async def list_query(
    request: Request,
    user: CurrentUser,
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
) -> ListQuery:
    filters = TicketFilters(
        q=q,
        statuses=status,
        institution=institution.upper() if institution else None,
        priority=priority,
        category=category,
        assignee=assignee,
        view=views.page_default_view(request, user) or view,  # JSON keeps `all`
        sort=sort,
    )
    return ListQuery(filters, cursor, paging.limit, paging.offset)


def answer(response: Response, session: Session, ticket: Ticket, user: User) -> TicketPublic:
    """The ticket as `user` sees it, with the `ETag` a PATCH gives back as `If-Match`."""
    response.headers["ETag"] = service.etag(ticket, user)
    return service.public(session, ticket, user)


def written(
    response: Response, session: Session, ticket: Ticket, user: User, texts: list[str | None]
) -> TicketWritten:
    """The ticket after a write, saying what in the written text looked like patron data."""
    found = answer(response, session, ticket, user)
    matches = service.patron_matches(session=session, texts=texts)
    return TicketWritten.model_construct(**found.__dict__, patron_data_matches=matches)


def written_comment(session: Session, comment: TicketComment) -> CommentWritten:
    """The reply as written, on the ticket it joined (a merged ticket's replies join the
    surviving one), with what in it looked like patron data."""
    ticket = session.get(Ticket, comment.ticket_id)
    found = service.comment_public(comment, ticket)
    matches = service.patron_matches(session=session, texts=[comment.body])
    return CommentWritten.model_construct(**found.__dict__, patron_data_matches=matches)


# --- routes -----------------------------------------------------------------------------------


@router.get("", response_model=TicketPage, responses=READ)
@shared("tickets/list.html", block="results", context=views.ticket_list)
def list_tickets(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    query: Annotated[ListQuery, Depends(list_query)],
):
    """Library users see their own library's tickets; staff queues via `view`. `count` is exact
    up to 10,000; above that it says 10,000 and `count_capped` is true."""
    window = service.list_tickets(
        session=session,
        actor=user,
        filters=query.filters,
        limit=query.limit,
        offset=query.offset,
        cursor=query.cursor,
    )
    following = None
    if window.next_cursor:
        following = next_link(
            request, response, without=("offset",), cursor=window.next_cursor, limit=query.limit
        )
    return TicketPage(
        data=window.items, count=window.total, count_capped=window.capped, next=following
    )


@router.post("", status_code=http.HTTP_201_CREATED, response_model=TicketWritten, responses=WRITE)
@shared(FILED, block="filed", context=views.ticket_filed, event="ticket-filed")
def create_ticket(data: TicketCreate, session: SessionDep, user: CurrentUser, response: Response):
    """Answers with the ticket and `patron_data_matches`: what in it looked like patron data.
    Browsers get the "report filed" confirmation."""
    ticket = service.create_ticket(session=session, actor=user, data=data)
    response.headers["Location"] = f"/tickets/{ticket.number}"
    return written(response, session, ticket, user, [data.subject, data.description])


@router.get("/{number}", response_model=TicketPublic, responses=READ)
@shared(DETAIL, block="detail", context=views.ticket_detail)
def get_ticket_route(
    number: Annotated[str, Path(pattern=TICKET_NUMBER, examples=["2026-00042"])],
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    """Sends an `ETag`; give it back as `If-Match` when you PATCH."""
    found, etag = service.read_ticket(session=session, actor=user, number=number)
    response.headers["ETag"] = etag
    return found


@router.patch("/{number}", response_model=TicketWritten, responses=WRITE)
@shared(DETAIL, block="detail", context=views.ticket_detail, event="ticket-saved")
def update_ticket(
    data: TicketUpdate,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    if_match: Annotated[str | None, Header(description="The `ETag` from GET.")] = None,
):
    """A stale `If-Match` gets 412 and changes nothing. Closing a `new` ticket needs a
    `reason`."""
    ticket = service.update_ticket(
        session=session, actor=user, ticket=ticket, data=data, if_match=if_match
    )
    response.headers["Location"] = f"/tickets/{ticket.number}"
    texts = [data.subject, data.description, data.reason]
    return written(response, session, ticket, user, texts)


@router.get("/{number}/comments", response_model=Page[CommentPublic], responses=READ)
@shared("tickets/comments.html", block="comments", context=views.comment_list)
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
    return page_of_list(comments, paging, request, response)


@router.post(
    "/{number}/comments",
    status_code=http.HTTP_201_CREATED,
    response_model=CommentWritten,
    responses=WRITE,
)
@shared(
    REPLY,
    block="comment",
    context=views.comment_written,
    event="ticket-commented",
    push=False,  # the reply joins the ticket page; its address stays
)
def add_comment(
    data: CommentCreate,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    """A reply (or, for staff, an internal note with `internal: true`). A reply to a merged
    ticket joins the ticket it was merged into (`ticket` and `via` say so)."""
    comment = service.add_comment(session=session, actor=user, ticket=ticket, data=data)
    reply = written_comment(session, comment)
    response.headers["Location"] = f"/tickets/{reply.ticket}/comments"
    return reply


@router.get("/{number}/events", response_model=Page[EventPublic], responses=READ)
@shared("tickets/events.html", block="events", context=views.event_list)
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
    return page_of_list(events, paging, request, response)


@router.post("/{number}/merge", response_model=TicketPublic, responses=WRITE)
@shared(DETAIL, block="detail", context=views.ticket_detail, event="ticket-merged")
def merge_ticket(
    data: MergeRequest,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    """Staff: merges this duplicate into `into`; answers with the surviving ticket."""
    target = service.merge_ticket(session=session, actor=user, ticket=ticket, into=data.into)
    response.headers["Location"] = f"/tickets/{target.number}"
    return answer(response, session, target, user)


@router.post("/{number}/redact", response_model=TicketPublic, responses=WRITE)
@shared(DETAIL, block="detail", context=views.ticket_detail, event="ticket-redacted")
def redact_ticket(
    data: RedactRequest,
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    """Staff: replaces a passage everywhere the ticket's text is stored."""
    service.redact(session=session, actor=user, ticket=ticket, passage=data.text)
    return answer(response, session, ticket, user)


@router.get("/{number}/attachments", response_model=Page[AttachmentPublic], responses=READ)
def list_attachments(ticket: TicketDep, session: SessionDep, user: CurrentUser):
    found = files.list_attachments(session=session, ticket=ticket)
    return Page(data=found, count=len(found), next=None)


@router.post(
    "/{number}/attachments",
    status_code=http.HTTP_201_CREATED,
    response_model=TicketPublic,
    responses=WRITE,
)
@shared(DETAIL, block="detail", context=views.ticket_detail, event="ticket-attached")
def add_attachment(
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG, GIF or plain text.")],
):
    """Multipart upload; the type is read from the content. Answers with the ticket."""
    attachment = files.add_attachment(
        session=session, actor=user, ticket=ticket, filename=file.filename or "", stream=file.file
    )
    response.headers["Location"] = f"/tickets/{ticket.number}/attachments/{attachment.id}"
    return answer(response, session, ticket, user)


@router.delete(
    "/{number}/attachments/{attachment_id}", response_model=TicketPublic, responses=WRITE
)
@shared(DETAIL, block="detail", context=views.ticket_detail, event="ticket-attachment-deleted")
def delete_attachment(
    ticket: TicketDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    attachment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
):
    """Staff: removes a file (audited); answers with the ticket."""
    attachment = files.get_attachment(session=session, ticket=ticket, attachment_id=attachment_id)
    files.delete_attachment(session=session, actor=user, ticket=ticket, attachment=attachment)
    return answer(response, session, ticket, user)


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
        filename=files.safe_filename(attachment.filename),  # rows from before names were cleaned
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
        },
    )
