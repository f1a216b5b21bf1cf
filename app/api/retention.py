"""Retention (issue 15): `/retention` (the policy per ticket category, read and replaced as a
whole) and `/retention/report` (the dry run: what a purge would remove now). Consortium
administrators only. A ticket's legal hold is its `legal_hold` field (`PATCH /tickets/{number}`).
"""

from fastapi import APIRouter

from app.models.retention import RetentionPublic, RetentionReport, RetentionUpdate
from app.services import retention as service
from app.web.deps import CurrentUser, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import retention as views

router = APIRouter(route_class=SharedRoute, prefix="/retention", tags=["retention"])
READ = problem_responses(401, 403)
WRITE = problem_responses(400, 401, 403, 422)


@router.get("", response_model=RetentionPublic, responses=READ)
@shared("retention/index.html", block="policies", context=views.index)
def read_retention(session: SessionDep, user: CurrentUser):
    """Each scope's period in days after a ticket closes (null: kept forever) and the minimum."""
    return service.read_policies(session=session, actor=user)


@router.put("", response_model=RetentionPublic, responses=WRITE)
@shared("retention/index.html", block="policies", context=views.index, event="retention-saved")
def replace_retention(data: RetentionUpdate, session: SessionDep, user: CurrentUser):
    """Replaces every policy at once. A period under the configured minimum is refused (422,
    every such field named) and nothing is written."""
    return service.replace_policies(session=session, actor=user, data=data)


@router.get("/report", response_model=RetentionReport, responses=READ)
@shared("retention/report.html", block="report", context=views.report)
def retention_report(session: SessionDep, user: CurrentUser):
    """The dry run: how many closed tickets (and their replies and files) a purge would remove
    now, per category, and how many a legal hold keeps. Nothing is written."""
    return service.report(session=session, actor=user)
