"""The UI shell's own small routes: the favicon browsers ask for, and the navigation's badges."""

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from app.services import directory_changes
from app.web.deps import SessionDep, StaffUser
from app.web.render import html

router = APIRouter(include_in_schema=False)
FAVICON = Path(__file__).parent.parent / "static" / "favicon.svg"


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """Browsers ask for `/favicon.ico` whatever the page links; they all read the SVG."""
    return FileResponse(
        FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/nav/counts/directory-changes")
def pending_changes(request: Request, session: SessionDep, user: StaffUser) -> Response:
    """Change requests waiting for staff: one COUNT query, loaded after the page."""
    count = directory_changes.pending_count(session=session)
    response = html(request, "shell/nav_count.html", count=count, words="waiting for review")
    response.headers["Cache-Control"] = "no-store"
    return response
