"""Maintenance windows: one-off or from a recurring series, for some institutions or all."""

from datetime import UTC, date, datetime
from enum import StrEnum
from functools import partial
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from sqlalchemy import Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, Relationship, SQLModel

from app.core.config import get_settings
from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput, check_time_range
from app.models.service import Choices, Impact, _list

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
        raise ValueError(
            f"{value:%Y-%m-%d %H:%M} does not exist in {zone.key}: the clocks jump forward an "
            "hour then; choose another time"
        )
    return aware.astimezone(UTC)


LocalTime = Annotated[datetime, AfterValidator(_local_time)]
_LOCAL_TIME: TypeAdapter = TypeAdapter(LocalTime)

# Our own checks already speak plainly (control characters, years, clocks that jump): kept.
OWN_WORDS = {"unsafe_character", "time_range", "value_error", "plain"}


def plain(message: str) -> PydanticCustomError:
    return PydanticCustomError("plain", "{message}", {"message": message})


class PlainForm(FormInput):
    """A form whose every error reads in plain words beside its field, all of them at once.

    Pydantic's own messages ("Field required", "Input should be a valid string") are for
    programmers; `words` holds what a person filling in the form reads instead, per field.
    `cross_checks` adds the checks that compare fields (an end after its start), run even when
    other fields failed, so a person sees everything to fix in one go."""

    words: ClassVar[dict[str, str]] = {}

    @model_validator(mode="wrap")
    @classmethod
    def _in_plain_words(cls, data: Any, handler: Any) -> Any:
        try:
            result = handler(data)
        except ValidationError as exc:
            errors = []
            for error in map(partial(_plain_error, cls), exc.errors()):
                if error["loc"] not in [e["loc"] for e in errors]:  # one per list field
                    errors.append(error)
            failed = {e["loc"][0] for e in errors if e["loc"]}
            raw = data if isinstance(data, dict) else {}
            errors += [
                {"type": plain(m), "loc": (f,), "input": raw.get(f)}
                for f, m in cls.cross_checks(raw, parsed=False)
                if f not in failed
            ]
            raise ValidationError.from_exception_data(cls.__name__, errors) from None
        problems = cls.cross_checks(result.__dict__, parsed=True)
        if problems:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    {"type": plain(m), "loc": (f,), "input": getattr(result, f, None)}
                    for f, m in problems
                ],
            )
        return result

    @classmethod
    def cross_checks(cls, values: dict, *, parsed: bool) -> list[tuple[str, str]]:
        return []


def _plain_error(cls: type[PlainForm], error: Any) -> InitErrorDetails:
    name = str(error["loc"][0]) if error["loc"] else ""
    kind = error["type"]
    if kind in OWN_WORDS:
        message = error["msg"].removeprefix("Value error, ")
    elif kind == "extra_forbidden":
        message = "is not a field of this form"
    elif kind in ("string_too_long", "too_long") and name not in ("services", "institutions"):
        limit = (error.get("ctx") or {}).get("max_length")
        message = f"Keep it to {limit} characters or fewer" if limit else "is too long"
    else:
        message = cls.words.get(name, "Check this value")
    # A list's item is reported on the list: the form has one place for its message.
    loc = (
        error["loc"][:1]
        if len(error["loc"]) > 1 and isinstance(error["loc"][1], int)
        else error["loc"]
    )
    return {"type": plain(message), "loc": loc, "input": error.get("input")}


def time_order(values: dict, *, parsed: bool) -> list[tuple[str, str]]:
    """An end after its start, once both are known."""
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if not parsed:
        try:
            starts, ends = _LOCAL_TIME.validate_python(starts), _LOCAL_TIME.validate_python(ends)
        except ValidationError:
            return []
    if isinstance(starts, datetime) and isinstance(ends, datetime) and ends <= starts:
        return [("ends_at", END_AFTER_START)]
    return []


END_AFTER_START = "Enter the end time; it must be after the start"
TIME_WORDS = "as a date and a time, e.g. 2027-06-05 23:00"
WINDOW_WORDS = {
    "title": "Enter a title, e.g. “Alma monthly release”",
    "description": "Check the details",
    "starts_at": f"Enter the start {TIME_WORDS}",
    "ends_at": f"Enter the end {TIME_WORDS}; it must be after the start",
    "services": "Choose at least one service",
    "institutions": "Choose the libraries from the list, or none for every member",
    "impact": "Choose the impact: none, degraded or outage",
    "rrule": "Write one rule such as FREQ=WEEKLY;COUNT=4, or use the repeat choices",
    "repeat": "Choose how often it repeats: daily, weekly or monthly",
    "repeat_weekdays": "Choose the days of the week it repeats on",
    "repeat_monthday": "Choose a day of the month from 1 to 31",
    "repeat_count": "Enter how many times it happens in all, e.g. 10",
    "repeat_until": "Enter the date of the last time, e.g. 2027-12-31",
}


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


class Repeat(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


class MaintenanceCreate(PlainForm, MaintenanceBase):
    words: ClassVar[dict[str, str]] = WINDOW_WORDS

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
            "editable one by one. It must end (COUNT or UNTIL) within the allowed number. "
            "For the repeat choices below instead, leave it out."
        ),
    )
    repeat: Repeat | None = Field(
        default=None,
        description="The repeat choices (forms): the portal writes the RRULE from them.",
    )
    repeat_weekdays: Annotated[list[Weekday], BeforeValidator(_list)] = Field(
        default_factory=list,
        description="Weekly: the days (MO … SU); none means the start's weekday.",
    )
    repeat_monthday: int | None = Field(
        default=None, ge=1, le=31, description="Monthly: the day; none means the start's day."
    )
    repeat_count: int | None = Field(
        default=None, ge=2, le=10_000, description="How many windows in all (or `repeat_until`)."
    )
    repeat_until: date | None = Field(
        default=None, description="The date of the last window (or `repeat_count`)."
    )

    @classmethod
    def cross_checks(cls, values: dict, *, parsed: bool) -> list[tuple[str, str]]:
        problems = time_order(values, parsed=parsed)
        if values.get("repeat") and values.get("rrule"):
            problems.append(("rrule", "Use the repeat choices or a rule, not both"))
        if values.get("repeat"):
            count, until = values.get("repeat_count"), values.get("repeat_until")
            if count in (None, "") and until in (None, ""):
                problems.append(
                    ("repeat_count", "Say how many times it happens, or the date of the last time")
                )
            elif count not in (None, "") and until not in (None, ""):
                problems.append(
                    ("repeat_until", "Give either how many times or the last date, not both")
                )
        return problems


class MaintenanceUpdate(PlainForm):
    words: ClassVar[dict[str, str]] = WINDOW_WORDS

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    impact: Impact | None = None
    starts_at: LocalTime | None = Field(default=None, description=NAIVE_TIMES)
    ends_at: LocalTime | None = Field(default=None, description=NAIVE_TIMES)
    services: Choices | None = Field(default=None, min_length=1)
    institutions: Choices | None = None

    @field_validator("title", "impact", "starts_at", "ends_at", "services")
    @classmethod
    def _required(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            raise ValueError(WINDOW_WORDS[info.field_name])
        return value

    @classmethod
    def cross_checks(cls, values: dict, *, parsed: bool) -> list[tuple[str, str]]:
        return time_order(values, parsed=parsed)


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
