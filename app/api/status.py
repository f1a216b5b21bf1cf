"""`/status` and the Atom feed: public, cheap to poll (ETag / Last-Modified → 304)."""

from fastapi import APIRouter, Request, Response

from app.models.status import StatusPublic
from app.services import feeds
from app.services import status as service
from app.web.caching import CONDITIONAL, cached, conditional
from app.web.deps import OptionalUser, SessionDep
from app.web.render import SharedRoute, add_vary, shared

router = APIRouter(route_class=SharedRoute, tags=["status"])
ATOM = "application/atom+xml"


@router.get(
    "/status",
    response_model=StatusPublic,
    responses=CONDITIONAL,
)
@shared("status/page.html", block="live")
def get_status(session: SessionDep, user: OptionalUser, request: Request, response: Response):
    """Every service's status, active and upcoming maintenance, open incidents and the last 90
    days. Public. Send `If-None-Match` (or `If-Modified-Since`) when polling: 304 when nothing
    changed."""
    return conditional(request, response, session, user) or service.status_page(session=session)


@router.get(
    "/feeds/status.atom",
    response_class=Response,
    responses={200: {"content": {ATOM: {"schema": {"type": "string"}}}}, **CONDITIONAL},
)
def status_feed(session: SessionDep, user: OptionalUser, request: Request, response: Response):
    """An Atom feed (RFC 4287) of maintenance windows (their newest version, cancellations too)
    and incident updates, newest first. Public."""
    unchanged = conditional(request, response, session, None, "atom")
    if unchanged is not None:
        return unchanged
    base_url = str(request.base_url).rstrip("/")
    body = cached(response, base_url, lambda: feeds.atom_feed(session=session, base_url=base_url))
    answer = Response(body, media_type=ATOM, headers=dict(response.headers))
    add_vary(answer)
    return answer
