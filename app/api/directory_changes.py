"""Directory change requests: `/directory-changes`, approved or rejected by consortium staff."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.core.pagination import Page, page
from app.models.directory_change import (
    ChangeStatus,
    DirectoryChangeCreate,
    DirectoryChangePublic,
    DirectoryDecision,
    DirectoryRejection,
)
from app.services import directory_changes as service
from app.web.deps import ChangeDep, CurrentUser, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import directory_changes as views

router = APIRouter(route_class=SharedRoute, prefix="/directory-changes", tags=["directory changes"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 413, 422)


class ChangeQueue(Page[DirectoryChangePublic]):
    """A page of requests and how many there are in each status (the queue's counts)."""

    counts: dict[str, int]


@router.get("", response_model=ChangeQueue, responses=READ)
@shared("directory_changes/list.html", block="results", context=views.filters)
def list_changes(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    status: ChangeStatus | None = None,
    institution: Annotated[str | None, Query(max_length=8)] = None,
):
    """Staff: every request; a library: its own institution's. Newest first."""
    window = service.list_changes(
        session=session, actor=user, page=paging, status=status, institution=institution
    )
    return ChangeQueue.model_construct(
        **vars(page(window, paging, request, response)),
        counts=service.counts(session=session, actor=user),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DirectoryChangePublic,
    responses=WRITE,
)
@shared("directory_changes/detail.html", block="detail", event="directory-change-saved")
def submit_change(
    data: DirectoryChangeCreate, session: SessionDep, user: CurrentUser, response: Response
):
    """A library's director or liaison proposes adding, changing or ending an entry."""
    change = service.submit(session=session, actor=user, data=data)
    response.headers["Location"] = f"/directory-changes/{change.id}"
    return service.publish(session, [change])[0]


@router.get("/{change_id}", response_model=DirectoryChangePublic, responses=READ)
@shared("directory_changes/detail.html", block="detail")
def read_change(change: ChangeDep, session: SessionDep):
    return service.publish(session, [change])[0]


@router.post("/{change_id}/approve", response_model=DirectoryChangePublic, responses=WRITE)
@shared("directory_changes/detail.html", block="detail", event="directory-change-saved")
def approve_change(
    change: ChangeDep, session: SessionDep, user: CurrentUser, data: DirectoryDecision | None = None
):
    """Applies the change atomically, audited; the requester is told by e-mail."""
    change = service.approve(
        session=session, actor=user, change=change, reason=data.reason if data else None
    )
    return service.publish(session, [change])[0]


@router.post("/{change_id}/reject", response_model=DirectoryChangePublic, responses=WRITE)
@shared("directory_changes/detail.html", block="detail", event="directory-change-saved")
def reject_change(
    change: ChangeDep, data: DirectoryRejection, session: SessionDep, user: CurrentUser
):
    """Nothing changes in the directory; the requester is told the reason."""
    change = service.reject(session=session, actor=user, change=change, reason=data.reason)
    return service.publish(session, [change])[0]
