"""Announcement pages that are not resources: compose (with a live preview), edit, and the
one-click acknowledgement link from the e-mail (works without signing in)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.core.errors import DomainError
from app.models.announcement import AnnouncementPreview
from app.services import access, markdown
from app.services import announcements as service
from app.web.deps import AnnouncementDep, CurrentUser, IdPath, SessionDep
from app.web.render import html
from app.web.views import announcements as views

router = APIRouter(include_in_schema=False)


@router.get("/announcements/new")
def compose(request: Request, session: SessionDep, user: CurrentUser):
    """Staff write to any list; a member posts to their interest-group lists (moderated)."""
    return html(request, "announcements/form.html", announcement=None, **views.form(session, user))


@router.post("/announcements/preview")
def preview(request: Request, data: AnnouncementPreview, user: CurrentUser):
    """The Markdown as members will see it (the same safe renderer as the page and e-mail)."""
    return html(
        request,
        "announcements/form.html",
        block="preview",
        body_html=markdown.render(data.body or ""),
    )


@router.get("/announcements/{announcement_id}/edit")
def edit(request: Request, session: SessionDep, user: CurrentUser, announcement: AnnouncementDep):
    access.require_staff(user, "edit announcements")
    return html(
        request, "announcements/form.html", announcement=announcement, **views.form(session)
    )


@router.get("/announcements/{announcement_id}/acknowledge/{token}")
def confirm_acknowledgement(
    request: Request, announcement_id: IdPath, token: str, session: SessionDep
) -> HTMLResponse:
    """The e-mail's link, opened: asks first (a link preview must change nothing); the button
    posts to the same address."""
    announcement, person, library = service.read_acknowledge_token(session, announcement_id, token)
    return html(
        request,
        "announcements/acknowledge_link.html",
        announcement=announcement,
        person=person,
        library=library,
        done=None,
    )


@router.post("/announcements/{announcement_id}/acknowledge/{token}")
def acknowledge_by_link(
    request: Request, announcement_id: IdPath, token: str, session: SessionDep
) -> HTMLResponse:
    """No session or CSRF token: the signed, per-person link is the authority."""
    try:
        done = service.acknowledge_by_link(
            session=session, announcement_id=announcement_id, token=token
        )
    except DomainError as error:
        return html(
            request,
            "announcements/acknowledge_link.html",
            status_code=error.status,
            error=error.detail,
            done=None,
        )
    return html(request, "announcements/acknowledge_link.html", done=done)
