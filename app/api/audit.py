"""The audit trail, readable by consortium staff."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.api.deps import SessionDep, StaffUser
from app.api.problems import problem_responses
from app.core import audit
from app.core.pagination import Page, PageParams, page
from app.models.audit import AuditEntryPublic
from app.ui.render import HTML_CONTENT, shared

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get(
    "",
    response_model=Page[AuditEntryPublic],
    responses={200: {"content": HTML_CONTENT}, **problem_responses(401, 403, 422)},
)
@shared("audit/list.html", block="entries")
def list_audit_entries(
    session: SessionDep,
    user: StaffUser,
    request: Request,
    response: Response,
    paging: Annotated[PageParams, Depends()],
    entity_type: Annotated[str | None, Query(max_length=40)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
):
    """Newest first; filter by entity to read one record's history."""
    window = audit.list_entries(
        session=session, entity_type=entity_type, entity_id=entity_id, page=paging
    )
    return page(window, paging, request, response)
