"""Institutions: `/institutions` and `/institutions/{code}` for every client."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.core.pagination import Page, page
from app.models.common import OptionalFilter
from app.models.institution import (
    InstitutionCreate,
    InstitutionKind,
    InstitutionPublic,
    InstitutionStatus,
    InstitutionUpdate,
)
from app.services import institutions as service
from app.services.institutions import InstitutionSort
from app.web.deps import CurrentUser, InstitutionDep, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import institutions as views

router = APIRouter(route_class=SharedRoute, prefix="/institutions", tags=["institutions"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 413, 422)


@router.get("", response_model=Page[InstitutionPublic], responses=READ)
@shared("institutions/list.html", block="results", context=views.filters)
def list_institutions(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100, description="Name, code or city.")] = None,
    status: Annotated[InstitutionStatus | None, OptionalFilter] = None,
    kind: Annotated[InstitutionKind | None, OptionalFilter] = None,
    sort: InstitutionSort = InstitutionSort.name,
):
    window = service.list_institutions(
        session=session, actor=user, q=q, status=status, kind=kind, sort=sort, page=paging
    )
    return page(window, paging, request, response)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InstitutionPublic,
    responses=WRITE,
)
@shared("institutions/detail.html", block="detail", event="institution-saved")
def create_institution(
    data: InstitutionCreate, session: SessionDep, user: CurrentUser, response: Response
):
    institution = service.create_institution(session=session, actor=user, data=data)
    response.headers["Location"] = f"/institutions/{institution.code}"
    return institution


@router.get("/{code}", response_model=InstitutionPublic, responses=READ)
@shared("institutions/detail.html", block="detail")
def get_institution(institution: InstitutionDep):
    return institution


@router.patch("/{code}", response_model=InstitutionPublic, responses=WRITE)
@shared("institutions/detail.html", block="detail", event="institution-saved")
def update_institution(
    data: InstitutionUpdate,
    institution: InstitutionDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    institution = service.update_institution(
        session=session, actor=user, institution=institution, data=data
    )
    response.headers["Location"] = f"/institutions/{institution.code}"
    return institution


@router.delete(
    "/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409),
)
def delete_institution(institution: InstitutionDep, session: SessionDep, user: CurrentUser):
    """Removes an entry made by mistake; an institution with any history answers 409."""
    service.delete_institution(session=session, actor=user, institution=institution)
