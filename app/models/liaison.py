"""The people who speak for member institutions, and their dated appointments.

A person (`Liaison`, the `/liaisons` resource) belongs to one institution and holds one
`Appointment` per role; an appointment with no `ended_on` is current. The seat rule (at most one
current liaison and one current director per institution) is a partial unique index, so the
database refuses a second holder even when two requests race.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, EmailStr, computed_field, field_validator
from sqlalchemy import ColumnElement, Index, String, and_, or_, text
from sqlmodel import Field, Relationship, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput


class ContactRole(StrEnum):
    director = "director"
    liaison = "liaison"
    backup_liaison = "backup_liaison"
    fulfillment = "fulfillment"
    resource_sharing = "resource_sharing"
    acquisitions = "acquisitions"
    cataloging = "cataloging"
    systems = "systems"
    analytics = "analytics"
    e_resources = "e_resources"
    billing = "billing"
    delivery = "delivery"


# `?format=` on the directory's reads: a file for plain links (json is the default). No
# docstring: it would become the schema's description in the frozen OpenAPI document.
class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"
    vcard = "vcard"


# The seats an institution must fill, and that only one person at a time may hold.
SEATS = (ContactRole.liaison, ContactRole.director)
_CURRENT_SEAT = text("ended_on IS NULL AND role IN ('liaison', 'director')")


def holds_on(started_on: date, ended_on: date | None, day: date) -> bool:
    """The one "current appointment" rule: it has started by `day` and has not ended
    (`ended_on` is the first day it no longer holds: a hand-over day belongs to the successor).
    A future appointment is not current yet; `current_on` is the same rule in SQL."""
    return started_on <= day and (ended_on is None or ended_on > day)


def upcoming_on(started_on: date, ended_on: date | None, day: date) -> bool:
    """Starts after `day` (and was not cancelled before it began)."""
    return started_on > day and (ended_on is None or ended_on > started_on)


def current_on(day: date) -> ColumnElement[bool]:
    """`holds_on` in SQL, for every query that asks who holds a role today."""
    return and_(
        Appointment.started_on <= day,
        or_(Appointment.ended_on.is_(None), Appointment.ended_on > day),
    )


def not_over_on(day: date) -> ColumnElement[bool]:
    """Current or upcoming: the appointment still holds, or will, after `day` (one cancelled
    before it began ends the day it starts, and never holds)."""
    return or_(
        Appointment.ended_on.is_(None),
        and_(Appointment.ended_on > day, Appointment.ended_on > Appointment.started_on),
    )


class LiaisonBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr = Field(max_length=254, sa_type=String(254))
    phone: str | None = Field(default=None, max_length=40)
    title: str | None = Field(default=None, max_length=200)


class Liaison(LiaisonBase, table=True):
    __table_args__ = (Index("ix_liaison_institution_name", "institution", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    institution: str = Field(max_length=8, foreign_key="institution.code")
    account: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    appointments: list["Appointment"] = Relationship(
        sa_relationship_kwargs={"order_by": "Appointment.started_on", "lazy": "raise"}
    )

    @computed_field
    @property
    def roles(self) -> list[str]:
        """The current roles, sorted: part of the row's audit snapshot (load `appointments`)."""
        return sorted(ContactRole(a.role).value for a in self.appointments if a.ended_on is None)


class Appointment(SQLModel, table=True):
    __table_args__ = (
        Index(
            "uq_appointment_seat",
            "institution",
            "role",
            unique=True,
            sqlite_where=_CURRENT_SEAT,
            postgresql_where=_CURRENT_SEAT,
        ),
        Index("ix_appointment_role_current", "role", "ended_on", "liaison_id"),
        Index("ix_appointment_liaison_id", "liaison_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    liaison_id: int = Field(foreign_key="liaison.id")
    institution: str = Field(max_length=8, foreign_key="institution.code")
    role: ContactRole = Field(sa_type=EnumString(ContactRole, 32))
    started_on: date
    ended_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _unique_roles(roles: list[ContactRole]) -> list[ContactRole]:
    if len(set(roles)) != len(roles):
        raise ValueError("names a role twice")
    return roles


def _split_roles(value: object) -> object:
    """A form or a CSV cell sends roles as one string: `liaison; fulfillment`."""
    if isinstance(value, str):
        return [part.strip() for part in value.replace(",", ";").split(";") if part.strip()]
    return value


Roles = Annotated[list[ContactRole], BeforeValidator(_split_roles), AfterValidator(_unique_roles)]


class LiaisonCreate(FormInput, LiaisonBase):
    institution: str = Field(min_length=2, max_length=8)
    roles: Roles = Field(min_length=1)
    started_on: date | None = None


class LiaisonUpdate(FormInput):
    """`roles` is the full set of current roles: new ones start, missing ones end."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    title: str | None = Field(default=None, max_length=200)
    roles: Roles | None = Field(default=None, min_length=1)
    started_on: date | None = None

    @field_validator("name", "email")
    @classmethod
    def _required(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be empty")
        return value


class AppointmentPublic(SQLModel):
    id: int
    role: ContactRole
    institution: str
    started_on: date
    ended_on: date | None
    current: bool
    upcoming: bool = False  # starts after today: not current yet


class LiaisonPublic(LiaisonBase):
    """A person with their current roles; `appointments` is the whole history, oldest first."""

    id: int
    email: str
    institution: str
    institution_name: str | None = None
    roles: list[ContactRole]
    active: bool
    started_on: date | None
    ended_on: date | None
    account: int | None = None
    appointments: list[AppointmentPublic] = []
