"""The audit trail, readable by consortium staff: who did what to which record, and when."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.core.pagination import Page, page
from app.models.audit import AuditEntryPublic, AuditFormat
from app.services import audit
from app.web.deps import Paging, SessionDep, StaffUser
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import audit as views

router = APIRouter(route_class=SharedRoute, prefix="/audit", tags=["audit"])


@router.get(
    "",
    response_model=Page[AuditEntryPublic],
    responses=problem_responses(401, 403, 422),
)
@shared("audit/list.html", block="entries", context=views.page, exports=views.EXPORTS)
def list_audit_entries(
    session: SessionDep,
    user: StaffUser,
    request: Request,
    response: Response,
    paging: Paging,
    entity_type: Annotated[str | None, Query(max_length=40)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[int | None, Query(description="The account that acted.")] = None,
    who: Annotated[str | None, Query(max_length=200, description="Part of a name.")] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    date_from: Annotated[date | None, Query(alias="from", description="First day.")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Last day.")] = None,
    fmt: Annotated[AuditFormat | None, Query(alias="format", description="csv: a file.")] = None,
):
    """Newest first; filter by who, what, which record and when (days in the consortium's
    time zone, both included)."""
    filters = audit.AuditFilter(entity_type, entity_id, actor, who, action, date_from, date_to)
    window = audit.list_entries(session=session, page=paging, filters=filters)
    return page(window, paging, request, response)
