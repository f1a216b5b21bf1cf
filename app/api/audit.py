"""The audit trail, readable by consortium staff."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.core.pagination import Page, page
from app.models.audit import AuditEntryPublic
from app.services import audit
from app.web.deps import Paging, SessionDep, StaffUser
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared

router = APIRouter(route_class=SharedRoute, prefix="/audit", tags=["audit"])


@router.get(
    "",
    response_model=Page[AuditEntryPublic],
    responses=problem_responses(401, 403, 422),
)
@shared("audit/list.html", block="entries")
def list_audit_entries(
    session: SessionDep,
    user: StaffUser,
    request: Request,
    response: Response,
    paging: Paging,
    entity_type: Annotated[str | None, Query(max_length=40)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
):
    """Newest first; filter by entity to read one record's history."""
    window = audit.list_entries(
        session=session, entity_type=entity_type, entity_id=entity_id, page=paging
    )
    return page(window, paging, request, response)
