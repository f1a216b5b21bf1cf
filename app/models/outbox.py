"""The transactional outbox: one row per e-mail, written in the transaction that causes it.

`job_run` is the claim table of scheduled jobs: its unique (job, period) key lets only one
worker run a job for a given period.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow


class OutboxState(StrEnum):
    pending = "pending"  # waiting for its first attempt
    sending = "sending"  # claimed by a worker until `next_attempt_at` (the lease)
    sent = "sent"  # delivered (or kept as "sent mail" when no SMTP server is configured)
    failed = "failed"  # the last attempt failed; retried at `next_attempt_at`
    dead = "dead"  # given up: an admin may retry or discard it


class OutboxMessageBase(SQLModel):
    recipients: list[str] = Field(sa_type=JSON)
    template: str = Field(max_length=200)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    reply_to: str | None = Field(default=None, max_length=254)
    unsubscribe_url: str | None = Field(default=None, max_length=2000)
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    message_id: str = Field(max_length=200)
    state: OutboxState = Field(default=OutboxState.pending, sa_type=EnumString(OutboxState, 16))
    attempts: int = 0
    # When the row is next due: the retry time, or for `sending` the end of the worker's lease.
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_type=Text)
    # Rendered by the worker; what an admin sees in "sent mail".
    subject: str | None = Field(default=None, max_length=500)
    body_text: str | None = Field(default=None, sa_type=Text)
    body_html: str | None = Field(default=None, sa_type=Text)
    transport: str | None = Field(default=None, max_length=16)  # "smtp" or "kept"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxMessage(OutboxMessageBase, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_due", "state", "next_attempt_at"),
        Index("ix_outbox_message_sent", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    attachments: list[dict[str, str]] | None = Field(default=None, sa_type=JSON)
    list_id: str | None = Field(default=None, max_length=200)  # RFC 2919 List-Id, if a list's


class JobRun(SQLModel, table=True):
    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_run_job_period"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=100)
    period: datetime = Field(sa_type=UTCDateTime)  # the start of the period this run covers
    worker: str = Field(max_length=100)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
