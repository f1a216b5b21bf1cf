"""The admin area: the outbox (counts, failed and dead messages, retry / discard) and sent mail.

Consortium admins only (the services check). Retry and discard are audited.
"""

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from app.core.pagination import PageParams, page
from app.models.outbox import OutboxState
from app.services import outbox
from app.web.deps import CurrentUser, Paging, SessionDep
from app.web.render import Representation, html, representation

router = APIRouter(include_in_schema=False)

PROBLEM_STATES = [OutboxState.dead, OutboxState.failed]


@router.get("/admin")
def admin_home(request: Request, session: SessionDep, user: CurrentUser, params: Paging):
    return _outbox(request, session, user, params)


@router.post("/admin/outbox/{message_id}/retry")
def retry_message(request: Request, session: SessionDep, user: CurrentUser, message_id: int):
    outbox.retry(session=session, actor=user, message_id=message_id)
    return _after_action(request, session, user, f"Message {message_id} will be sent again.")


@router.post("/admin/outbox/{message_id}/discard")
def discard_message(request: Request, session: SessionDep, user: CurrentUser, message_id: int):
    outbox.discard(session=session, actor=user, message_id=message_id)
    return _after_action(request, session, user, f"Message {message_id} was discarded.")


@router.get("/admin/mail")
def sent_mail(request: Request, session: SessionDep, user: CurrentUser, params: Paging):
    window = outbox.list_messages(
        session=session, actor=user, states=[OutboxState.sent], page=params
    )
    data = page(window, params, request, Response())
    fragment = representation(request) is Representation.fragment
    return html(request, "admin/mail.html", block="mail" if fragment else None, data=data)


@router.get("/admin/mail/{message_id}")
def mail_message(request: Request, session: SessionDep, user: CurrentUser, message_id: int):
    message = outbox.get_message(session=session, actor=user, message_id=message_id)
    return html(request, "admin/message.html", message=message)


def _outbox(request, session, user, params: PageParams, flash: str | None = None):
    window = outbox.list_messages(session=session, actor=user, states=PROBLEM_STATES, page=params)
    values = {
        "counts": outbox.counts(session=session, actor=user),
        "problems": page(window, params, request, Response()),
        "flash": flash,
    }
    if representation(request) is Representation.fragment:
        return html(request, "admin/index.html", block="outbox", **values)
    recent = outbox.list_messages(
        session=session, actor=user, states=[OutboxState.sent], page=PageParams(limit=10)
    )
    return html(request, "admin/index.html", recent=recent.items, **values)


def _after_action(request: Request, session, user, flash: str):
    """htmx gets the outbox section again (and a message); a plain form post, a redirect."""
    if representation(request) is not Representation.fragment:
        return RedirectResponse("/admin", status_code=303)
    response = _outbox(request, session, user, PageParams(), flash=flash)
    response.headers["HX-Trigger"] = "outbox-changed"
    return response
