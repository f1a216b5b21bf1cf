"""Announcements (the `/announcements` resource): a Markdown message to one or more lists,
sent now or at a set time, archived with a permanent URL; optionally asking each library to
acknowledge it by a date. Redistributions record a library passing it on to its own staff."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, Relationship, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput
from app.models.liaison import Roles
from app.models.maintenance import NAIVE_TIMES, LocalTime
from app.models.service import Choices


class AnnouncementStatus(StrEnum):
    scheduled = "scheduled"
    sent = "sent"
    cancelled = "cancelled"
    pending = "pending"  # a member's post to an interest-group list, waiting for staff
    rejected = "rejected"  # a member's post that staff turned down (with a reason)


class Review(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class AnnouncementList(SQLModel, table=True):
    __tablename__ = "announcement_list"

    announcement_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("announcement.id", ondelete="CASCADE"), primary_key=True
        )
    )
    list_id: int = Field(foreign_key="mailing_list.id", primary_key=True, index=True)


class AnnouncementBase(SQLModel):
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=50_000, sa_type=Text)
    action_required: bool = False
    acknowledge_by: date | None = None


class Announcement(AnnouncementBase, table=True):
    __table_args__ = (Index("ix_announcement_sent_at", "sent_at"),)

    id: int | None = Field(default=None, primary_key=True)
    send_at: datetime = Field(sa_type=UTCDateTime, index=True)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recipients: int = 0
    author: int | None = Field(default=None, foreign_key="user_account.id")
    # A member's post to an interest-group list: moderated by staff before anyone gets it.
    review: Review | None = Field(default=None, sa_type=EnumString(Review, 16))
    review_reason: str = Field(default="", max_length=2000, sa_type=Text)
    reviewed_by: int | None = Field(default=None, foreign_key="user_account.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    list_links: list[AnnouncementList] = Relationship(
        sa_relationship_kwargs={"lazy": "selectin", "cascade": "all, delete-orphan"}
    )

    @property
    def status(self) -> AnnouncementStatus:
        if self.cancelled_at is not None:
            return AnnouncementStatus.cancelled
        if self.review is Review.pending:
            return AnnouncementStatus.pending
        if self.review is Review.rejected:
            return AnnouncementStatus.rejected
        if self.sent_at is not None:
            return AnnouncementStatus.sent
        return AnnouncementStatus.scheduled


class Acknowledgement(SQLModel, table=True):
    __tablename__ = "acknowledgement"

    announcement_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("announcement.id", ondelete="CASCADE"), primary_key=True
        )
    )
    institution: str = Field(foreign_key="institution.code", primary_key=True, max_length=8)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    # Who, when it came through the one-click link in their e-mail (no session, maybe no account).
    liaison_id: int | None = Field(default=None, foreign_key="liaison.id")
    acknowledged_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Redistribution(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    institution: str = Field(foreign_key="institution.code", max_length=8)
    user_id: int | None = Field(default=None, foreign_key="user_account.id")
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    note: str = Field(default="", max_length=5000, sa_type=Text)
    recipients: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AnnouncementCreate(FormInput, AnnouncementBase):
    lists: Choices = Field(min_length=1, description="List slugs; see `/lists`.")
    send_at: LocalTime | None = Field(
        default=None, description="When to send; absent: now. " + NAIVE_TIMES
    )


class AnnouncementUpdate(FormInput):
    """Only a scheduled announcement may change."""

    subject: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=50_000)
    lists: Choices | None = Field(default=None, min_length=1)
    send_at: LocalTime | None = Field(default=None, description=NAIVE_TIMES)
    action_required: bool | None = None
    acknowledge_by: date | None = None


class AnnouncementPreview(FormInput):
    # None: nothing written yet (an empty field arrives as "no value"); the preview is empty.
    body: str | None = Field(default=None, max_length=50_000)


class AnnouncementPublic(AnnouncementBase):
    id: int
    lists: list[str]
    status: AnnouncementStatus
    review_reason: str = Field(
        default="", description="Why staff turned a member's post down (status `rejected`)."
    )
    send_at: datetime
    sent_at: datetime | None
    recipients: int
    author: int | None
    url: str
    created_at: datetime
    updated_at: datetime


class ModerationDecision(StrEnum):
    approve = "approve"
    reject = "reject"


class ModerationCreate(FormInput):
    """Staff's decision on a member's post to an interest-group list."""

    decision: ModerationDecision
    reason: str = Field(
        default="", max_length=2000, description="Required to reject; the poster is told it."
    )


class AcknowledgementPublic(SQLModel):
    institution: str
    name: str
    acknowledged: bool
    acknowledged_at: datetime | None = None
    by: int | None = None


class AcknowledgementCreate(FormInput):
    institution: str | None = Field(
        default=None, max_length=8, description="Default: your own library."
    )


class RedistributionCreate(FormInput):
    roles: Roles = Field(min_length=1)
    institution: str | None = Field(
        default=None, max_length=8, description="Default: your own library."
    )
    note: str = Field(default="", max_length=5000)


class RedistributionPublic(SQLModel):
    id: int
    announcement: int
    institution: str
    roles: list[str]
    note: str
    recipients: int
    by: int | None
    created_at: datetime
