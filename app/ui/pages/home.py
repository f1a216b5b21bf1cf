"""The home page at `/` and its widgets at `/home/<name>`: each widget loads on its own (htmx
fragment) and also opens as a plain page."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.web.deps import CurrentUser, OptionalUser, SessionDep
from app.web.render import Representation, html, representation
from app.web.views import home as views

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return html(request, "home.html", **views.dashboard(session, user))


@router.get("/home/{name}")
def home_widget(request: Request, session: SessionDep, user: CurrentUser, name: str) -> Response:
    widget, values = views.widget(session, user, name)
    if representation(request) is Representation.fragment:
        return html(request, widget.file, **values)
    return html(request, "home/widget.html", **values)
