"""The banner every signed-in page polls: active windows and open incidents."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from app.services import status
from app.web.deps import OptionalUser, SessionDep
from app.web.render import add_vary, html

router = APIRouter(include_in_schema=False)


@router.get("/status/banner")
def banner(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    """Active windows and open incidents, for the banner; an empty body when there are none."""
    notices = status.current_notices(
        session=session, institution=user.institution if user else None, days=0
    )
    if not (notices.active or notices.incidents):
        response = HTMLResponse("")
        add_vary(response)
        return response
    return html(request, "status/banner.html", notices=notices)
