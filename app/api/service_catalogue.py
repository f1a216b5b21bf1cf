"""The service catalogue: `/services`, each with a status derived from what is happening now."""

from fastapi import APIRouter, Request, Response, status

from app.core.pagination import Page, page_of_list
from app.models.service import ServiceCreate, ServicePublic
from app.services import service_catalogue as service
from app.services.status import service_statuses
from app.web.caching import rendered
from app.web.deps import CurrentUser, OptionalUser, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared

router = APIRouter(route_class=SharedRoute, prefix="/services", tags=["status"])


@router.get(
    "",
    response_model=Page[ServicePublic],
    responses=problem_responses(422),
)
@shared("status/services.html", block="services")
def list_services(
    session: SessionDep,
    user: OptionalUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """Every service: `outage` / `degraded` from open incidents, `maintenance` from an active
    window, otherwise `operational`. Public."""
    return rendered(
        request,
        response,
        session,
        user,
        template="status/services.html",
        block="services",
        build=lambda: page_of_list(service_statuses(session=session), paging, request, response),
        validators=False,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ServicePublic,
    responses=problem_responses(400, 401, 403, 413, 422),
)
@shared("status/services.html", block="created", event="service-saved")
def create_service(data: ServiceCreate, session: SessionDep, user: CurrentUser, response: Response):
    created = service.create_service(session=session, actor=user, data=data)
    response.headers["Location"] = f"/services#{created.slug}"
    return ServicePublic.model_validate(created, from_attributes=True)
