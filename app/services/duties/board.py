"""Reading tasks: one task, a library's list and home, and the completion board of an
occurrence with its counts (overdue is derived from the clock, never stored)."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, select

from app.core.errors import NotFound
from app.core.pagination import PageParams, Window, construct
from app.models.duty import (
    BoardCounts,
    Duty,
    Occurrence,
    Task,
    TaskAttachment,
    TaskPublic,
    TaskState,
)
from app.models.institution import Institution
from app.models.user import User
from app.services.duties.schedule import today


class TaskFilter(StrEnum):
    open = "open"
    overdue = "overdue"
    done = "done"
    not_applicable = "not_applicable"


class TaskSort(StrEnum):
    institution = "institution"
    name = "name"
    state = "state"
    due_on = "due_on"
    completed_at = "completed_at"


def is_overdue(day: date):
    return and_(Task.state == TaskState.open, Task.due_on < day)


def _attachment_count():
    """How many files a task has, as a column of the task's own row (no query per row)."""
    return (
        select(func.count(TaskAttachment.id))
        .where(TaskAttachment.task_id == Task.id)
        .correlate(Task)
        .scalar_subquery()
    )


def task_select(day: date):
    return (
        select(
            Task.id.label("id"),
            Task.duty_id.label("duty"),
            Duty.title.label("title"),
            Task.institution.label("institution"),
            Institution.name.label("institution_name"),
            Task.due_on.label("due_on"),
            Task.opens_on.label("opens_on"),
            Task.state.label("state"),
            case((is_overdue(day), True), else_=False).label("overdue"),
            Task.completed_at.label("completed_at"),
            Task.completed_by.label("completed_by"),
            Task.note.label("note"),
            Task.reason.label("reason"),
            _attachment_count().label("attachments"),
        )
        .join(Duty, Duty.id == Task.duty_id)
        .join(Institution, Institution.code == Task.institution)
    )


build_task = construct(TaskPublic)


def _filtered(stmt, day: date, state: TaskFilter | None):
    if state is TaskFilter.overdue:
        return stmt.where(is_overdue(day))
    if state is TaskFilter.open:
        return stmt.where(Task.state == TaskState.open)
    if state is not None:
        return stmt.where(Task.state == TaskState(state.value))
    return stmt


SORTS = {
    TaskSort.institution: (Task.institution,),
    TaskSort.name: (Institution.name,),
    TaskSort.state: (Task.state, Task.institution),
    TaskSort.due_on: (Task.due_on, Task.institution),
    TaskSort.completed_at: (Task.completed_at, Task.institution),
}


@dataclass
class Board:
    window: Window
    counts: BoardCounts
    due_on: date | None


def _counts(session: Session, where, day: date) -> BoardCounts:
    row = session.execute(
        select(
            func.count(),
            func.count().filter(Task.state == TaskState.done),
            func.count().filter(Task.state == TaskState.open),
            func.count().filter(is_overdue(day)),
            func.count().filter(Task.state == TaskState.not_applicable),
        ).where(*where)
    ).one()
    total, done, open_, overdue, na = row
    percent = (done + na) * 100 // total if total else 0
    return BoardCounts(
        total=total, done=done, open=open_, overdue=overdue, not_applicable=na, percent=percent
    )


def default_due_on(session: Session, duty: Duty, now: datetime | None = None) -> date | None:
    """The occurrence a board shows unless asked: the latest that has opened."""
    return session.exec(
        select(Occurrence.due_on)
        .where(Occurrence.duty_id == duty.id, Occurrence.opens_on <= today(now))
        .order_by(Occurrence.due_on.desc())
    ).first()


def board(
    *,
    session: Session,
    actor: User,
    duty: Duty,
    page: PageParams,
    due_on: date | None = None,
    state: TaskFilter | None = None,
    q: str | None = None,
    sort: TaskSort = TaskSort.name,
    descending: bool = False,
    now: datetime | None = None,
) -> Board:
    """One occurrence of a duty, every library's task with its state (a library sees its own
    row only), the counts of the whole occurrence, and one page of the rows the filters match."""
    day = today(now)
    due_on = due_on or default_due_on(session, duty, now)
    where = [Task.duty_id == duty.id, Task.due_on == due_on]
    if not actor.is_staff:
        where.append(Task.institution == actor.institution)
    counts = _counts(session, where, day)
    stmt = _filtered(task_select(day).where(*where), day, state)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(func.lower(Institution.name).like(like), func.lower(Task.institution).like(like))
        )
    order = SORTS[sort]
    stmt = stmt.order_by(*(c.desc() if descending else c for c in order))
    return Board(window=_rows(session, stmt, page), counts=counts, due_on=due_on)


def _rows(session: Session, stmt, page: PageParams) -> Window:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.execute(stmt.limit(page.limit).offset(page.offset)).mappings().all()
    return Window(items=[build_task(r) for r in rows], total=total or 0)


def institution_tasks(
    *,
    session: Session,
    actor: User,
    code: str,
    page: PageParams,
    state: TaskFilter | None = None,
    now: datetime | None = None,
) -> Window:
    """A library's tasks that have opened, soonest due first; another library's are 404."""
    if not actor.is_staff and actor.institution != code:
        raise NotFound(f"No institution {code} among yours.")
    day = today(now)
    stmt = _filtered(
        task_select(day).where(Task.institution == code, Task.opens_on <= day), day, state
    )
    return _rows(session, stmt.order_by(Task.due_on, Task.id), page)


def due_tasks(*, session: Session, code: str, now: datetime | None = None) -> list[TaskPublic]:
    """A library's open tasks that have opened (its home page): overdue first."""
    day = today(now)
    stmt = (
        task_select(day)
        .where(Task.institution == code, Task.state == TaskState.open, Task.opens_on <= day)
        .order_by(Task.due_on, Task.id)
    )
    return [build_task(r) for r in session.execute(stmt).mappings().all()]


def open_boards(*, session: Session, now: datetime | None = None) -> list[dict]:
    """The staff home: every open occurrence with its counts (one statement)."""
    day = today(now)
    rows = session.execute(
        select(
            Duty.id,
            Duty.title,
            Occurrence.due_on,
            func.count(Task.id),
            func.count(Task.id).filter(Task.state != TaskState.open),
            func.count(Task.id).filter(is_overdue(day)),
        )
        .join(Duty, Duty.id == Occurrence.duty_id)
        .outerjoin(Task, Task.occurrence_id == Occurrence.id)
        .where(Occurrence.opens_on <= day, Occurrence.closes_on >= day)
        .group_by(Duty.id, Duty.title, Occurrence.due_on)
        .order_by(Occurrence.due_on, Duty.title)
    ).all()
    return [
        {
            "duty": duty_id,
            "title": title,
            "due_on": due,
            "total": total,
            "finished": finished,
            "overdue": overdue,
            "percent": finished * 100 // total if total else 0,
        }
        for duty_id, title, due, total, finished, overdue in rows
    ]


def get_task(*, session: Session, actor: User, task_id: int) -> TaskPublic:
    """Load-or-404: another library's task does not exist."""
    day = today()
    row = session.execute(task_select(day).where(Task.id == task_id)).mappings().first()
    if row is None or (not actor.is_staff and row["institution"] != actor.institution):
        raise NotFound(f"No task {task_id}.")
    return build_task(row)


def institution_names(*, session: Session, codes: list[str]) -> dict[str, str]:
    """code → name for the codes given (one statement), so pages name libraries in words."""
    if not codes:
        return {}
    rows = session.execute(
        select(Institution.code, Institution.name).where(Institution.code.in_(codes))
    ).all()
    return dict(rows)
