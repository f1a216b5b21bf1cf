"""Maintenance windows: one-off or from a recurring series, for some institutions or all."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, field_validator
from sqlalchemy import Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, Relationship, SQLModel

from app.core.config import get_settings
from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput, check_time_range
from app.models.service import Choices, Impact

NAIVE_TIMES = (
    "Times without an offset are read as wall-clock time in the consortium's time zone "
    "(America/Chicago unless configured otherwise); a local time that does not exist "
    "(the hour skipped when daylight saving starts) is refused."
)


class MaintenanceStatus(StrEnum):
    scheduled = "scheduled"
    in_progress = "in_progress"
    completed = "completed"
    cancelled = "cancelled"


def _local_time(value: datetime) -> datetime:
    """An aware time as given; a naive one as wall-clock time in the consortium zone. Either
    within the years the portal handles (year 9999 would overflow on the way to UTC)."""
    check_time_range(value)
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    zone = get_settings().tz
    aware = value.replace(tzinfo=zone)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        raise ValueError(f"{value:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks jump)")
    return aware.astimezone(UTC)


LocalTime = Annotated[datetime, AfterValidator(_local_time)]


class MaintenanceService(SQLModel, table=True):
    __tablename__ = "maintenance_service"

    maintenance_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("maintenance.id", ondelete="CASCADE"), primary_key=True
        )
    )
    service: str = Field(foreign_key="service.slug", primary_key=True, max_length=40, index=True)


class MaintenanceInstitution(SQLModel, table=True):
    __tablename__ = "maintenance_institution"

    maintenance_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("maintenance.id", ondelete="CASCADE"), primary_key=True
        )
    )
    institution: str = Field(
        foreign_key="institution.code", primary_key=True, max_length=8, index=True
    )


class MaintenanceSeries(SQLModel, table=True):
    """The RRULE a set of windows came from; each window is then edited on its own."""

    __tablename__ = "maintenance_series"

    id: int | None = Field(default=None, primary_key=True)
    rrule: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None, foreign_key="user_account.id")


class MaintenanceBase(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000, sa_type=Text)
    impact: Impact = Field(default=Impact.outage, sa_type=EnumString(Impact, 16))


class Maintenance(MaintenanceBase, table=True):
    __table_args__ = (Index("ix_maintenance_starts_at_ends_at", "starts_at", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime, index=True)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    series_id: int | None = Field(default=None, foreign_key="maintenance_series.id", index=True)
    # RFC 5545 SEQUENCE: one more on every change, so calendars take the newest version.
    sequence: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    created_by: int | None = Field(default=None, foreign_key="user_account.id")

    service_links: list[MaintenanceService] = Relationship(
        sa_relationship_kwargs={"lazy": "selectin", "cascade": "all, delete-orphan"}
    )
    institution_links: list[MaintenanceInstitution] = Relationship(
        sa_relationship_kwargs={"lazy": "selectin", "cascade": "all, delete-orphan"}
    )

    @property
    def services(self) -> list[str]:
        return sorted(link.service for link in self.service_links)

    @property
    def institutions(self) -> list[str]:
        """Empty: every member institution."""
        return sorted(link.institution for link in self.institution_links)

    @property
    def series(self) -> int | None:
        return self.series_id

    @property
    def status(self) -> MaintenanceStatus:
        return self.status_at(utcnow())

    def status_at(self, now: datetime) -> MaintenanceStatus:
        if self.cancelled_at is not None:
            return MaintenanceStatus.cancelled
        if now < self.starts_at:
            return MaintenanceStatus.scheduled
        if now < self.ends_at:
            return MaintenanceStatus.in_progress
        return MaintenanceStatus.completed


class MaintenanceCreate(FormInput, MaintenanceBase):
    description: str | None = Field(default=None, max_length=5000)
    starts_at: LocalTime = Field(description=NAIVE_TIMES)
    ends_at: LocalTime = Field(description=NAIVE_TIMES)
    services: Choices = Field(min_length=1, description="Service slugs, see `/services`.")
    institutions: Choices = Field(
        default_factory=list, description="Institution codes; empty means every member."
    )
    rrule: str | None = Field(
        default=None,
        max_length=500,
        description=(
            "An RFC 5545 recurrence rule (e.g. `FREQ=MONTHLY;BYDAY=1SU;COUNT=12`): one window "
            "per occurrence, each as long as the first and at the same local wall-clock time, "
            "editable one by one. It must end (COUNT or UNTIL) within the allowed number."
        ),
    )


class MaintenanceUpdate(FormInput):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    impact: Impact | None = None
    starts_at: LocalTime | None = Field(default=None, description=NAIVE_TIMES)
    ends_at: LocalTime | None = Field(default=None, description=NAIVE_TIMES)
    services: Choices | None = Field(default=None, min_length=1)
    institutions: Choices | None = None

    @field_validator("title", "impact", "starts_at", "ends_at", "services")
    @classmethod
    def _required(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be empty")
        return value


class MaintenancePublic(MaintenanceBase):
    id: int
    services: list[str]
    starts_at: datetime
    ends_at: datetime
    status: MaintenanceStatus
    institutions: list[str] = Field(description="Empty: every member institution.")
    series: int | None = None
    sequence: int
    created_at: datetime
    updated_at: datetime


class MaintenanceWritten(MaintenancePublic):
    """What a write answers: the window, plus warnings staff should read (never a refusal)."""

    warnings: list[str] = []
    windows: list[int] = Field(
        default_factory=list, description="Every window the request created (a series: all)."
    )
