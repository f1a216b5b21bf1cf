"""Recurring duties: a template (`Duty`), its occurrences, and one `Task` per library and
occurrence; plus the secret calendar-feed tokens (`TaskFeed`).

The unique (occurrence, institution) key on `task` is what makes the fan-out exactly once: every
worker inserts "if absent" against it, so two workers racing make one row.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput
from app.models.institution import InstitutionKind
from app.models.liaison import ContactRole

MAX_LEAD_DAYS = 366
MAX_GRACE_DAYS = 180


class AppliesTo(StrEnum):
    all = "all"  # every active member
    kind = "kind"  # active members of the given kinds
    list = "list"  # the institutions named


class DutyAction(StrEnum):
    """A duty whose doing is an existing action elsewhere in the portal (one rule, not two)."""

    directory_confirmation = "directory_confirmation"


class TaskState(StrEnum):
    open = "open"
    done = "done"
    not_applicable = "not_applicable"


class DutyBase(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field(default="", max_length=20000, sa_type=Text)
    responsible: ContactRole = Field(
        default=ContactRole.liaison,
        sa_type=EnumString(ContactRole, 32),
        description="The directory role whose holder does the task (the liaison by default).",
    )
    applies_to: AppliesTo = Field(default=AppliesTo.all, sa_type=EnumString(AppliesTo, 8))
    due_on: date = Field(description="The due date, or with `rrule` the first one.")
    rrule: str | None = Field(default=None, max_length=500)
    lead_days: int = Field(default=14, ge=0, le=MAX_LEAD_DAYS)
    grace_days: int = Field(default=7, ge=0, le=MAX_GRACE_DAYS)


class Duty(DutyBase, table=True):
    __tablename__ = "duty"

    id: int | None = Field(default=None, primary_key=True)
    kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    institutions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    action: DutyAction | None = Field(default=None, sa_type=EnumString(DutyAction, 32))
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None, foreign_key="user_account.id")


class Occurrence(SQLModel, table=True):
    """One due date of a duty, written when it opens (by the fan-out)."""

    __tablename__ = "duty_occurrence"
    __table_args__ = (
        UniqueConstraint("duty_id", "due_on", name="uq_duty_occurrence_duty_id_due_on"),
        Index("ix_duty_occurrence_due_on", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    duty_id: int = Field(
        sa_column=Column(Integer, ForeignKey("duty.id", ondelete="CASCADE"), nullable=False)
    )
    due_on: date
    opens_on: date
    closes_on: date  # the end of the grace period
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "institution", name="uq_task_occurrence_id_institution"),
        Index("ix_task_institution_due_on", "institution", "due_on"),
        Index("ix_task_duty_id_due_on", "duty_id", "due_on"),
        Index("ix_task_state_due_on", "state", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("duty_occurrence.id", ondelete="CASCADE"), nullable=False
        )
    )
    duty_id: int = Field(
        sa_column=Column(Integer, ForeignKey("duty.id", ondelete="CASCADE"), nullable=False)
    )
    institution: str = Field(max_length=8, foreign_key="institution.code")
    due_on: date
    opens_on: date
    state: TaskState = Field(default=TaskState.open, sa_type=EnumString(TaskState, 16))
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_by: int | None = Field(default=None, foreign_key="user_account.id")
    note: str | None = Field(default=None, max_length=2000, sa_type=Text)
    reason: str | None = Field(default=None, max_length=2000, sa_type=Text)
    # What the reminder job has already said about this task (so it never says it twice).
    opened_notice_on: date | None = None
    reminded_on: date | None = None
    overdue_notice_on: date | None = None
    escalated_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TaskAttachment(SQLModel, table=True):
    """A file that goes with a task's completion (e.g. the signed statistics form). The file
    lives on disk under the task attachment directory, named by `storage_key`."""

    __tablename__ = "task_attachment"
    __table_args__ = (Index("ix_task_attachment_task_id", "task_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(
        sa_column=Column(Integer, ForeignKey("task.id", ondelete="CASCADE"), nullable=False)
    )
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=64, unique=True)
    uploaded_by: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TaskFeed(SQLModel, table=True):
    """A secret calendar-feed link: a person's own tasks (`user_id`) or an institution's. Only
    the SHA-256 of the token is kept; revoking sets `revoked_at` (the link then answers 404)."""

    __tablename__ = "task_feed"
    __table_args__ = (Index("ix_task_feed_owner", "user_id", "institution"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user_account.id")
    institution: str | None = Field(default=None, max_length=8, foreign_key="institution.code")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- request and response models --------------------------------------------------------------


class DutyCreate(FormInput, DutyBase):
    instructions: str | None = Field(default=None, max_length=20000)
    kinds: list[InstitutionKind] = Field(
        default_factory=list, description="With `applies_to` = `kind`: the kinds it applies to."
    )
    institutions: list[str] = Field(
        default_factory=list, description="With `applies_to` = `list`: institution codes."
    )
    rrule: str | None = Field(
        default=None,
        max_length=500,
        description=(
            "An RFC 5545 recurrence rule from `due_on` (e.g. `FREQ=YEARLY;COUNT=5`); it must "
            "end (COUNT or UNTIL) within ten years. Without it, the duty is due once."
        ),
    )
    multiline: ClassVar[frozenset[str]] = FormInput.multiline | {"instructions"}


class DutyUpdate(FormInput):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    instructions: str | None = Field(default=None, max_length=20000)
    responsible: ContactRole | None = None
    lead_days: int | None = Field(default=None, ge=0, le=MAX_LEAD_DAYS)
    grace_days: int | None = Field(default=None, ge=0, le=MAX_GRACE_DAYS)
    active: bool | None = None
    multiline: ClassVar[frozenset[str]] = FormInput.multiline | {"instructions"}

    @field_validator("title", "responsible", "lead_days", "grace_days", "active")
    @classmethod
    def _required(cls, value: object) -> object:
        """Leaving a field out keeps it; a null (an emptied form field) would erase a value the
        duty must have."""
        if value is None:
            raise PydanticCustomError("required", "may not be empty")
        return value

    @field_validator("instructions")
    @classmethod
    def _no_instructions(cls, value: str | None) -> str:
        """Instructions are optional: a null (the emptied textarea) clears them, as on creation."""
        return value or ""


class DutyPublic(DutyBase):
    id: int
    kinds: list[str]
    institutions: list[str]
    action: DutyAction | None = None
    active: bool
    occurrences: list[date] = Field(
        default_factory=list, description="Every due date of the duty, in order."
    )
    created_at: datetime
    updated_at: datetime


class TaskPublic(SQLModel):
    id: int
    duty: int
    title: str
    institution: str
    institution_name: str
    due_on: date
    opens_on: date
    state: TaskState
    overdue: bool = Field(description="Open, and its due date has passed (consortium time).")
    completed_at: datetime | None = None
    completed_by: int | None = None
    note: str | None = None
    reason: str | None = None
    attachments: int = Field(
        default=0, description="How many files go with the completion (`/tasks/{id}/attachments`)."
    )


class TaskAttachmentPublic(SQLModel):
    id: int
    task: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: int
    created_at: datetime
    url: str = Field(description="Where the file downloads (always as an attachment).")


class TaskUpdate(FormInput):
    state: TaskState = Field(
        description=(
            "`done` (with an optional `note`) or `not_applicable` (with a `reason`) by the "
            "library's director or liaison; `open` (reopen) by consortium staff only."
        )
    )
    note: str | None = Field(default=None, max_length=2000)
    reason: str | None = Field(default=None, max_length=2000)


class BoardCounts(SQLModel):
    total: int
    done: int
    open: int
    overdue: int
    not_applicable: int
    percent: int = Field(description="Done or not applicable, of all, rounded down.")


class TaskPage(SQLModel):
    """A page of tasks, with the counts of every task the filters match (the board)."""

    data: list[TaskPublic]
    count: int
    next: str | None = None
    counts: BoardCounts
    due_on: date | None = Field(default=None, description="The occurrence shown, if one.")
