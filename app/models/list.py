"""Mailing lists (the `/lists` resource): announcement and interest-group lists whose members
follow the directory, plus manual subscriptions and each person's delivery choice.

A list's audience rule (`roles`, narrowed to `institution_kinds`) makes everyone currently
appointed to one of those roles a member, from the day the appointment starts to the day it
ends. A `Subscription` row records what a person changed on top of that: added by hand
(`manual`), or a delivery choice (each message, a daily digest, nothing).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import JSON, Column, ForeignKey, Integer, Text
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput
from app.models.institution import InstitutionKind
from app.models.liaison import ContactRole

SLUG = r"^[a-z0-9][a-z0-9-]{1,58}[a-z0-9]$"


class ListKind(StrEnum):
    announcement = "announcement"  # one-way, consortium → members
    interest_group = "interest_group"  # members may post, moderated


class Delivery(StrEnum):
    each = "each"
    digest = "digest"
    none = "none"


class MemberSource(StrEnum):
    directory = "directory"
    manual = "manual"


class MailingListBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000, sa_type=Text)
    kind: ListKind = Field(default=ListKind.announcement, sa_type=EnumString(ListKind, 20))
    required: bool = Field(
        default=False,
        description="Members may not leave it (choose each message or a digest, not nothing).",
    )


class MailingList(MailingListBase, table=True):
    __tablename__ = "mailing_list"
    __audit_type__ = "list"
    __audit_key__ = "slug"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=60, unique=True)
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    institution_kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Subscription(SQLModel, table=True):
    """What a person changed on one list: added by hand, or how (and whether) they get it."""

    __tablename__ = "list_subscription"

    list_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("mailing_list.id", ondelete="CASCADE"), primary_key=True
        )
    )
    liaison_id: int = Field(foreign_key="liaison.id", primary_key=True, index=True)
    manual: bool = False
    delivery: Delivery = Field(default=Delivery.each, sa_type=EnumString(Delivery, 16))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MailingListCreate(FormInput, MailingListBase):
    slug: Annotated[str, StringConstraints(pattern=SLUG)] = Field(
        max_length=60, description="Address-like: `ishare-liaisons`."
    )
    roles: list[ContactRole] = Field(
        default_factory=list,
        description="Everyone currently appointed to one of these roles is a member.",
    )
    institution_kinds: list[InstitutionKind] = Field(
        default_factory=list, description="Only at institutions of these kinds (empty: all)."
    )


class MailingListUpdate(FormInput):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    kind: ListKind | None = None
    required: bool | None = None
    roles: list[ContactRole] | None = None
    institution_kinds: list[InstitutionKind] | None = None


class MailingListPublic(MailingListBase):
    id: int
    slug: str
    roles: list[ContactRole]
    institution_kinds: list[InstitutionKind]
    members: int | None = Field(default=None, description="How many people are on it today.")
    created_at: datetime
    updated_at: datetime


class MemberPublic(SQLModel):
    liaison: int
    name: str
    email: str
    institution: str
    source: MemberSource
    delivery: Delivery


class MemberAdd(FormInput):
    liaison: int = Field(ge=1, le=2**31 - 1, description="The person's directory id.")


class PreferenceUpdate(FormInput):
    delivery: Delivery


class PreferencePublic(SQLModel):
    list: str
    name: str
    required: bool
    member: bool
    delivery: Delivery
