"""Doing a task: done (with a note), not applicable (with a reason), reopened by staff; and
the existing actions (the directory confirmation) that complete a duty's tasks."""

from sqlmodel import Session, select

from app.core.db import utcnow
from app.core.errors import FieldError, Invalid, NotFound
from app.models.duty import Duty, DutyAction, Task, TaskPublic, TaskState, TaskUpdate
from app.models.user import User
from app.services import audit, webhooks
from app.services.access import require_library_lead, require_staff
from app.services.duties.board import build_task, get_task, task_select
from app.services.duties.schedule import today


def update_task(*, session: Session, actor: User, task_id: int, data: TaskUpdate) -> TaskPublic:
    """done / not applicable by the library's director or liaison (or staff), reopen by staff.
    Asking for the state a task already has changes nothing (no second record)."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"No task {task_id}.")
    require_library_lead(actor, task.institution, "complete the library's duties")
    set_task_state(session=session, actor=actor, task=task, data=data)
    session.commit()
    return get_task(session=session, actor=actor, task_id=task_id)


def set_task_state(*, session: Session, actor: User, task: Task, data: TaskUpdate) -> None:
    """The state change itself, in the caller's transaction (the caller has checked that the
    actor leads the task's library, and commits). Completing the directory confirmation
    confirms the directory, which commits on its own."""
    target = TaskState(data.state)
    if target is TaskState.open:
        require_staff(actor, "reopen a task")
    if target is TaskState.not_applicable and not data.reason:
        raise Invalid(
            "Say why the task does not apply to the library.",
            [FieldError("reason", "say why it does not apply")],
        )
    if TaskState(task.state) is target:
        return
    duty = session.get(Duty, task.duty_id)
    if target is TaskState.done and duty.action == DutyAction.directory_confirmation:
        # Doing this duty *is* confirming the directory: one rule, which completes the task.
        from app.services import directory_confirmations

        directory_confirmations.confirm(session=session, actor=actor, code=task.institution)
        session.refresh(task)
        if TaskState(task.state) is not TaskState.done:  # it had not opened yet
            _set_state(session, task, actor, target, data)
        elif data.note:
            task.note = data.note
        return
    _set_state(session, task, actor, target, data)


def _set_state(
    session: Session, task: Task, actor: User, target: TaskState, data: TaskUpdate | None
) -> None:
    with audit.change(session, task, actor=actor, action=target.value):
        task.state = target
        if target is TaskState.open:
            task.completed_at = task.completed_by = task.note = task.reason = None
        else:
            task.completed_at = utcnow()
            task.completed_by = actor.id
            task.note = data.note if data and target is TaskState.done else None
            task.reason = data.reason if data and target is TaskState.not_applicable else None
    if target is not TaskState.open:
        _publish(session, task)


def _publish(session: Session, task: Task) -> None:
    """`task.completed` (done or not applicable) for webhooks unbound or bound to the task's
    library, in this transaction: the task as `GET /tasks/{id}` answers it (one statement)."""

    def payload() -> dict:
        row = session.execute(task_select(today()).where(Task.id == task.id)).mappings().one()
        return build_task(row).model_dump(mode="json")

    webhooks.publish(session, "task.completed", payload, institution=task.institution)


def complete_for_action(
    *, session: Session, actor: User, institution: str, action: DutyAction
) -> int:
    """Marks done the library's open, opened tasks of duties that `action` fulfils (e.g. a
    directory confirmation); the caller commits. Returns how many."""
    day = today()
    tasks = session.exec(
        select(Task)
        .join(Duty, Duty.id == Task.duty_id)
        .where(
            Duty.action == action,
            Task.institution == institution,
            Task.state == TaskState.open,
            Task.opens_on <= day,
        )
    ).all()
    for task in tasks:
        _set_state(session, task, actor, TaskState.done, None)
    return len(tasks)
