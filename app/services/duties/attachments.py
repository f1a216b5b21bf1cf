"""Files that go with a task's completion (e.g. the signed statistics form).

The same checks as ticket attachments (`app.services.uploads`): the type is read from the
content, the size is capped, the name is cleaned, the file is stored under a random key. Only
the task's library's director or liaison and consortium staff attach or download; another
library's task does not exist (404).
"""

import hashlib
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.errors import FieldError, Invalid, NotFound
from app.models.duty import (
    Task,
    TaskAttachment,
    TaskAttachmentPublic,
    TaskPublic,
    TaskState,
    TaskUpdate,
)
from app.models.user import User
from app.services import audit, uploads
from app.services.access import require_library_lead
from app.services.duties.board import get_task
from app.services.duties.completion import set_task_state

MAX_NOTE = 2000


def directory() -> Path:
    return Path(get_settings().task_attachment_dir)


def max_bytes() -> int:
    """The largest file a task takes: the same as a ticket's (the body limit allows for it)."""
    return get_settings().ticket_attachment_max_bytes


def _load(session: Session, actor: User, task_id: int, action: str) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"No task {task_id}.")
    require_library_lead(actor, task.institution, action)
    return task


def complete_with_file(
    *,
    session: Session,
    actor: User,
    task_id: int,
    note: str | None = None,
    filename: str | None = None,
    stream: BinaryIO | None = None,
) -> TaskPublic:
    """A completion that may carry a file: an open task is marked done (with the note); one
    already done or not applicable keeps its state and completion (completing twice changes
    nothing), and a file given is added beside it. A refused file writes nothing at all."""
    task = _load(session, actor, task_id, "complete the library's duties")
    if note and len(note) > MAX_NOTE:
        raise Invalid(
            "The note is too long.", [FieldError("note", f"must be at most {MAX_NOTE} characters")]
        )
    checked = uploads.read_checked(stream, max_bytes()) if stream is not None else None
    key = uploads.store(directory(), checked[0]) if checked else None
    try:
        if checked and key:
            content, media_type = checked
            attachment = TaskAttachment(
                task_id=task.id,
                filename=uploads.safe_filename(filename or "attachment"),
                content_type=media_type,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                storage_key=key,
                uploaded_by=actor.id,
            )
            session.add(attachment)
            session.flush()
            # The audit names the file by id, size and type, never its name (it may name a person).
            after = {"attachment": attachment.id, "size": attachment.size, "type": media_type}
            audit.about(session, task, actor=actor, action="attach", after=after)
        # The state last: the completion (and its `task.completed` webhook) counts the file.
        if TaskState(task.state) is TaskState.open:
            done = TaskUpdate(state=TaskState.done, note=note or None)
            set_task_state(session=session, actor=actor, task=task, data=done)
        session.commit()
    except Exception:
        session.rollback()
        if key:
            (directory() / key).unlink(missing_ok=True)  # no file without its row
        raise
    return get_task(session=session, actor=actor, task_id=task_id)


def list_attachments(*, session: Session, actor: User, task_id: int) -> list[TaskAttachmentPublic]:
    """The task's files, oldest first (readers of the task only; another library's is 404)."""
    get_task(session=session, actor=actor, task_id=task_id)
    rows = session.exec(
        select(TaskAttachment)
        .where(TaskAttachment.task_id == task_id)
        .order_by(col(TaskAttachment.id))
    )
    return [public(a) for a in rows]


def get_attachment(
    *, session: Session, actor: User, task_id: int, attachment_id: int
) -> TaskAttachment:
    """For a download: the library's director or liaison, or staff."""
    _load(session, actor, task_id, "download the library's duty files")
    attachment = session.get(TaskAttachment, attachment_id)
    if attachment is None or attachment.task_id != task_id:
        raise NotFound(f"Task {task_id} has no file {attachment_id}.")
    return attachment


def file_path(attachment: TaskAttachment) -> Path:
    return directory() / attachment.storage_key


def public(attachment: TaskAttachment) -> TaskAttachmentPublic:
    return TaskAttachmentPublic(
        id=attachment.id,
        task=attachment.task_id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        uploaded_by=attachment.uploaded_by,
        created_at=attachment.created_at,
        url=f"/tasks/{attachment.task_id}/attachments/{attachment.id}",
    )
