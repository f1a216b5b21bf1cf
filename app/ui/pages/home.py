"""The dashboard at `/`: the signed-in person's institution and the members at a glance."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.web.deps import OptionalUser, SessionDep
from app.web.render import html
from app.web.views import home as views

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return html(request, "home.html", **views.dashboard(session, user))
