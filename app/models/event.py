"""Events (the `/events` resource): meetings, webinars and trainings for audience lists, with
RSVPs per person and materials added after the event."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import field_validator, model_validator
from sqlalchemy import Column, ForeignKey, Integer, Text
from sqlmodel import Field, Relationship, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput
from app.models.maintenance import NAIVE_TIMES, LocalTime
from app.models.service import Choices


class EventKind(StrEnum):
    meeting = "meeting"
    webinar = "webinar"
    training = "training"


class EventStatus(StrEnum):
    upcoming = "upcoming"
    in_progress = "in_progress"
    past = "past"
    cancelled = "cancelled"


class RsvpAnswer(StrEnum):
    yes = "yes"
    no = "no"
    maybe = "maybe"


class EventList(SQLModel, table=True):
    __tablename__ = "event_list"

    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    )
    list_id: int = Field(foreign_key="mailing_list.id", primary_key=True, index=True)


class EventBase(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000, sa_type=Text)
    kind: EventKind = Field(default=EventKind.meeting, sa_type=EnumString(EventKind, 16))
    location: str = Field(default="", max_length=500)
    link: str = Field(default="", max_length=1000)
    materials: str = Field(
        default="", max_length=20_000, sa_type=Text, description="Markdown: slides, minutes."
    )


class Event(EventBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sequence: int = 0  # RFC 5545 SEQUENCE: one more on every change
    created_by: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    list_links: list[EventList] = Relationship(
        sa_relationship_kwargs={"lazy": "selectin", "cascade": "all, delete-orphan"}
    )

    @property
    def status(self) -> EventStatus:
        now = utcnow()
        if self.cancelled_at is not None:
            return EventStatus.cancelled
        if now < self.starts_at:
            return EventStatus.upcoming
        return EventStatus.in_progress if now < self.ends_at else EventStatus.past


class Rsvp(SQLModel, table=True):
    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(foreign_key="user_account.id", primary_key=True)
    answer: RsvpAnswer = Field(sa_type=EnumString(RsvpAnswer, 8))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _web_link(value: str | None) -> str | None:
    if value and not value.lower().startswith(("https://", "http://")):
        raise ValueError("must be a web address starting with https://")
    return value


class EventCreate(FormInput, EventBase):
    multiline: ClassVar[frozenset[str]] = FormInput.multiline | {"materials"}

    _link = field_validator("link")(classmethod(lambda cls, v: _web_link(v)))
    starts_at: LocalTime = Field(description=NAIVE_TIMES)
    ends_at: LocalTime = Field(description=NAIVE_TIMES)
    lists: Choices = Field(min_length=1, description="Audience list slugs.")

    @model_validator(mode="after")
    def _ends_after_start(self) -> "EventCreate":
        if self.ends_at <= self.starts_at:
            raise ValueError("The event must end after it starts.")
        return self


class EventUpdate(FormInput):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    kind: EventKind | None = None
    location: str | None = Field(default=None, max_length=500)
    link: str | None = Field(default=None, max_length=1000)
    materials: str | None = Field(default=None, max_length=20_000)
    starts_at: LocalTime | None = Field(default=None, description=NAIVE_TIMES)
    ends_at: LocalTime | None = Field(default=None, description=NAIVE_TIMES)
    lists: Choices | None = Field(default=None, min_length=1)

    multiline: ClassVar[frozenset[str]] = FormInput.multiline | {"materials"}

    _link = field_validator("link")(classmethod(lambda cls, v: _web_link(v)))


class RsvpCreate(FormInput):
    answer: RsvpAnswer


class CalendarEventPublic(EventBase):
    id: int
    starts_at: datetime
    ends_at: datetime
    status: EventStatus
    lists: list[str]
    sequence: int
    going: int = Field(default=0, description="RSVPs answering yes.")
    my_rsvp: RsvpAnswer | None = None
    url: str
    created_at: datetime
    updated_at: datetime
