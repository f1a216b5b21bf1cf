"""`/status` and the Atom feed: public, cheap to poll (ETag / Last-Modified → 304), and rendered
once per version of what they show (`app.web.caching`)."""

from fastapi import APIRouter, Request, Response

from app.models.status import StatusPublic
from app.services import feeds
from app.services import status as service
from app.web.caching import CONDITIONAL, feed, rendered
from app.web.deps import OptionalUser, SessionDep
from app.web.render import SharedRoute, shared

router = APIRouter(route_class=SharedRoute, tags=["status"])
ATOM = "application/atom+xml"
PAGE, LIVE = "status/page.html", "live"


@router.get(
    "/status",
    response_model=StatusPublic,
    responses=CONDITIONAL,
)
@shared(PAGE, block=LIVE)
def get_status(session: SessionDep, user: OptionalUser, request: Request, response: Response):
    """Every service's status, active and upcoming maintenance, open incidents and the last 90
    days. Public. Send `If-None-Match` (or `If-Modified-Since`) when polling: 304 when nothing
    changed."""
    return rendered(
        request,
        response,
        session,
        user,
        template=PAGE,
        block=LIVE,
        build=lambda: service.status_page(session=session),
    )


@router.get(
    "/feeds/status.atom",
    response_class=Response,
    responses={200: {"content": {ATOM: {"schema": {"type": "string"}}}}, **CONDITIONAL},
)
def status_feed(session: SessionDep, user: OptionalUser, request: Request, response: Response):
    """An Atom feed (RFC 4287) of maintenance windows (their newest version, cancellations too)
    and incident updates, newest first. Public."""

    def build(base_url: str) -> bytes:
        found = service.feed_items(session=session)
        return feeds.atom_feed(found.windows, found.incidents, names=found.names, base_url=base_url)

    return feed(request, response, session, variant="atom", media_type=ATOM, build=build)
