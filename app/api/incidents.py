"""Incidents: `/incidents`, `/incidents/{id}`, their updates and the tickets linked to them.

Reads are public (the status page shows them); writes need consortium staff, except that a
library may link its own ticket to an incident ("me too").
"""

from fastapi import APIRouter, Request, Response, status
from sqlmodel import Session

from app.core.pagination import Page, page
from app.models.incident import (
    Incident,
    IncidentCreate,
    IncidentEdit,
    IncidentPublic,
    IncidentStatus,
    IncidentTicketCreate,
    IncidentUpdateCreate,
)
from app.services import incidents as service
from app.web.deps import CurrentUser, IncidentDep, OptionalUser, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import incidents as views

router = APIRouter(route_class=SharedRoute, prefix="/incidents", tags=["status"])
READ = problem_responses(404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 413, 422)
# Every write answers with the incident: JSON, or its page (htmx: the detail block).
saved = shared(
    "incidents/detail.html", block="detail", event="incident-saved", context=views.detail
)


@router.get("", response_model=Page[IncidentPublic], responses=READ)
@shared("incidents/list.html", block="results", context=views.listing)
def list_incidents(
    session: SessionDep,
    user: OptionalUser,
    request: Request,
    response: Response,
    paging: Paging,
    status: IncidentStatus | None = None,
):
    """Newest first. Public."""
    window = service.list_incidents(session=session, status=status, page=paging)
    return page(window, paging, request, response)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentPublic,
    responses=WRITE,
)
@saved
def create_incident(
    data: IncidentCreate, session: SessionDep, user: CurrentUser, response: Response
):
    incident = service.create_incident(session=session, actor=user, data=data)
    return _written(session, incident, response)


@router.get("/{incident_id}", response_model=IncidentPublic, responses=READ)
@shared("incidents/detail.html", block="detail", context=views.detail)
def get_incident(incident: IncidentDep, session: SessionDep, user: OptionalUser):
    return _public(session, incident)


@router.patch("/{incident_id}", response_model=IncidentPublic, responses=WRITE)
@saved
def edit_incident(
    data: IncidentEdit,
    incident: IncidentDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    """Corrects the title or the services (staff); the timeline stays as written. Audited."""
    incident = service.edit_incident(session=session, actor=user, incident=incident, data=data)
    return _written(session, incident, response)


@router.post(
    "/{incident_id}/updates",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentPublic,
    responses=WRITE,
)
@saved
def add_update(
    data: IncidentUpdateCreate,
    incident: IncidentDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    """A timeline entry: investigating → identified → monitoring → resolved. A resolved
    incident takes no more (409). Resolving with `resolve_tickets` also resolves every linked
    ticket with `ticket_reply`, through the ticket workflow."""
    incident = service.add_update(session=session, actor=user, incident=incident, data=data)
    return _written(session, incident, response)


@router.post(
    "/{incident_id}/tickets",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentPublic,
    responses=WRITE,
)
@saved
def link_ticket(
    data: IncidentTicketCreate,
    incident: IncidentDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    """ "Me too": links a ticket of the caller's library (staff: any ticket) to the incident;
    the incident then counts that library among those who reported it."""
    incident = service.link_ticket(session=session, actor=user, incident=incident, data=data)
    return _written(session, incident, response)


def _public(session: Session, incident: Incident) -> IncidentPublic:
    return service.publish(session, [incident])[0]


def _written(session: Session, incident: Incident, response: Response) -> IncidentPublic:
    response.headers["Location"] = f"/incidents/{incident.id}"
    return _public(session, incident)
