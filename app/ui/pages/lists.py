"""List pages that are not resources: the new-list form, a person's delivery choices, and the
one-click unsubscribe link (RFC 8058) that works without signing in."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.core.errors import DomainError
from app.services import access, lists
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html
from app.web.views import lists as views

router = APIRouter(include_in_schema=False)


@router.get("/lists/new")
def new_list(request: Request, user: CurrentUser):
    access.require_staff(user, "create lists")
    return html(request, "lists/form.html", **views.form())


@router.get("/lists/preferences")
def preferences(request: Request, session: SessionDep, user: CurrentUser):
    """Each list the person is on, and how they get it."""
    return html(request, "lists/preferences.html", **views.preferences(session, user))


@router.get("/unsubscribe/{token}")
def confirm_unsubscribe(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    """The link in the e-mail, opened in a browser: asks first (a link preview must not
    unsubscribe anyone); the button posts to the same address."""
    mailing_list, person = lists.read_unsubscribe_token(session, token)
    return html(
        request, "lists/unsubscribe.html", mailing_list=mailing_list, person=person, done=False
    )


@router.post("/unsubscribe/{token}")
def unsubscribe(request: Request, token: str, session: SessionDep) -> HTMLResponse:
    """RFC 8058 one-click: the mail program's POST (`List-Unsubscribe=One-Click`) or the
    button above. No session or CSRF token: the signed link is the authority."""
    try:
        mailing_list, person = lists.one_click_unsubscribe(session=session, token=token)
    except DomainError as error:
        return html(
            request,
            "lists/unsubscribe.html",
            status_code=error.status,
            error=error.detail,
            mailing_list=None,
            person=None,
            done=False,
        )
    return html(
        request, "lists/unsubscribe.html", mailing_list=mailing_list, person=person, done=True
    )
