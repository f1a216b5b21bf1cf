"""Recurring duties (`/duties`), their tasks per library (`/duties/{id}/tasks`: the completion
board; `/institutions/{code}/tasks`; `/tasks/{id}`) and the secret task calendar feeds.

Members read duties; consortium staff define them. A library's director or liaison completes
its tasks; another library's task is 404.
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile, status
from fastapi.responses import FileResponse

from app.core.pagination import Page, page
from app.models.duty import (
    DutyCreate,
    DutyPublic,
    DutyUpdate,
    TaskAttachmentPublic,
    TaskPage,
    TaskPublic,
    TaskUpdate,
)
from app.services import duties as service
from app.services.duties import TaskFilter, TaskSort
from app.services.duties import attachments as files
from app.web.deps import CurrentUser, DutyDep, IdPath, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import duties as views

router = APIRouter(route_class=SharedRoute, tags=["duties"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 422)
UPLOAD = problem_responses(400, 401, 403, 404, 413, 422)
ICALENDAR = "text/calendar"
saved = shared("duties/detail.html", block="detail", context=views.detail, event="duty-saved")
task_saved = shared("duties/task.html", block="task", context=views.task, event="task-saved")
Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,8}$", description="An institution code.")]


@router.get("/duties", response_model=Page[DutyPublic], responses=READ)
@shared("duties/list.html", block="results", context=views.listing)
def list_duties(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    active: bool | None = None,
):
    """Every duty template, soonest first due first."""
    found = service.list_duties(session=session, page=paging, active=active)
    return page(found, paging, request, response)


@router.post(
    "/duties", status_code=status.HTTP_201_CREATED, response_model=DutyPublic, responses=WRITE
)
@saved
def create_duty(data: DutyCreate, session: SessionDep, user: CurrentUser, response: Response):
    """Defines a duty; the libraries get their tasks as each occurrence opens (`lead_days`
    before it is due), at once when one is open already."""
    duty = service.create_duty(session=session, actor=user, data=data)
    response.headers["Location"] = f"/duties/{duty.id}"
    return service.public(duty)


@router.get("/duties/{duty_id}", response_model=DutyPublic, responses=READ)
@shared("duties/detail.html", block="detail", context=views.detail)
def get_duty(duty: DutyDep, user: CurrentUser):
    return service.public(duty)


@router.patch("/duties/{duty_id}", response_model=DutyPublic, responses=WRITE)
@saved
def update_duty(data: DutyUpdate, duty: DutyDep, session: SessionDep, user: CurrentUser):
    return service.public(service.update_duty(session=session, actor=user, duty=duty, data=data))


@router.get("/duties/{duty_id}/tasks", response_model=TaskPage, responses=READ)
@shared("duties/board.html", block="board", context=views.board, exports=views.BOARD)
def duty_tasks(
    duty: DutyDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    due_on: Annotated[date | None, Query(description="The occurrence (default: latest)")] = None,
    state: TaskFilter | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Institution name or code.")] = None,
    sort: TaskSort = TaskSort.name,
    desc: bool = False,
):
    """The completion board of one occurrence: every library's task (a library sees its own),
    the counts of the whole occurrence, and a page of the rows the filters match."""
    found = service.board(
        session=session,
        actor=user,
        duty=duty,
        page=paging,
        due_on=due_on,
        state=state,
        q=q,
        sort=sort,
        descending=desc,
    )
    listed = page(found.window, paging, request, response)
    return TaskPage(
        data=listed.data,
        count=listed.count,
        next=listed.next,
        counts=found.counts,
        due_on=found.due_on,
    )


@router.get("/institutions/{code}/tasks", response_model=Page[TaskPublic], responses=READ)
@shared("duties/tasks.html", block="results", context=views.institution_tasks)
def institution_tasks(
    code: Code,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    state: TaskFilter | None = None,
):
    """A library's tasks that have opened, soonest due first."""
    found = service.institution_tasks(
        session=session, actor=user, code=code.upper(), page=paging, state=state
    )
    return page(found, paging, request, response)


@router.get("/tasks/{task_id}", response_model=TaskPublic, responses=READ)
@shared("duties/task.html", block="task", context=views.task)
def get_task(task_id: IdPath, session: SessionDep, user: CurrentUser):
    return service.get_task(session=session, actor=user, task_id=task_id)


@router.patch("/tasks/{task_id}", response_model=TaskPublic, responses=WRITE)
@task_saved
def update_task(task_id: IdPath, data: TaskUpdate, session: SessionDep, user: CurrentUser):
    """Marks the task done (optional `note`) or not applicable (`reason`); staff may reopen it.
    Asking again for the state it has changes nothing."""
    return service.update_task(session=session, actor=user, task_id=task_id, data=data)


@router.post("/tasks/{task_id}/completion", response_model=TaskPublic, responses=UPLOAD)
@task_saved
def complete_task(
    task_id: IdPath,
    session: SessionDep,
    user: CurrentUser,
    note: Annotated[str | None, Form(description="Optional, at most 2000 characters.")] = None,
    file: Annotated[
        UploadFile | None, File(description="Optional: PDF, PNG, JPEG, GIF or text.")
    ] = None,
):
    """Multipart completion that may carry a file (e.g. the signed form): an open task is
    marked done with the optional `note`; completing again changes nothing but adds a file given
    (its link is in `GET /tasks/{id}/attachments`). JSON clients may `PATCH /tasks/{id}`."""
    given = file is not None and bool(file.filename)  # an empty file input sends no name
    return files.complete_with_file(
        session=session,
        actor=user,
        task_id=task_id,
        note=note,
        filename=file.filename if given else None,
        stream=file.file if given else None,
    )


@router.get(
    "/tasks/{task_id}/attachments",
    response_model=Page[TaskAttachmentPublic],
    responses=READ,
)
def task_attachments(task_id: IdPath, session: SessionDep, user: CurrentUser):
    found = files.list_attachments(session=session, actor=user, task_id=task_id)
    return Page(data=found, count=len(found), next=None)


@router.get(
    "/tasks/{task_id}/attachments/{attachment_id}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **problem_responses(401, 403, 404),
    },
)
def download_task_attachment(
    task_id: IdPath, attachment_id: IdPath, session: SessionDep, user: CurrentUser
):
    """Always a download, never rendered in the portal's origin."""
    found = files.get_attachment(
        session=session, actor=user, task_id=task_id, attachment_id=attachment_id
    )
    return FileResponse(
        files.file_path(found),
        media_type=found.content_type,
        filename=found.filename,
        content_disposition_type="attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/feeds/tasks/{token}.ics",
    response_class=Response,
    responses={
        200: {"content": {ICALENDAR: {"schema": {"type": "string"}}}},
        **problem_responses(404, 422),
    },
)
def task_calendar(
    token: Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")],
    session: SessionDep,
):
    """A personal or institution calendar of tasks (RFC 5545 VTODOs with stable UIDs) behind
    a secret link its owner can revoke and regenerate (manage it at `/duties/calendar`). An
    unknown or revoked link is 404."""
    body = service.feed_calendar(session=session, token=token)
    return Response(
        body,
        media_type=ICALENDAR,
        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"},
    )
