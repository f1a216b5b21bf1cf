"""Reports for consortium staff: `/reports/directory-gaps`."""

from fastapi import APIRouter, Request, Response

from app.core.config import get_settings
from app.core.pagination import Page, page_of_list
from app.models.directory import DirectoryGap
from app.services import directory_confirmations
from app.web.deps import Paging, SessionDep, StaffUser
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared

router = APIRouter(route_class=SharedRoute, prefix="/reports", tags=["reports"])


class GapReport(Page[DirectoryGap]):
    stale_after_days: int


@router.get(
    "/directory-gaps",
    response_model=GapReport,
    responses=problem_responses(401, 403, 422),
)
@shared("reports/directory_gaps.html", block="results")
def directory_gaps(
    session: SessionDep,
    user: StaffUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """Active institutions with a vacant liaison or director seat, or an unconfirmed directory."""
    found = directory_confirmations.gaps(session=session, actor=user)
    return GapReport(
        **page_of_list(found, paging, request, response).model_dump(),
        stale_after_days=get_settings().directory_confirm_days,
    )
