"""Retention: how long a closed ticket's text is kept, per category (issue 15).

A policy row per scope: a ticket category, `patron_data` (tickets flagged as holding patron
data, whatever their category) or `default` (every category without a row of its own). No row
for a scope means "keep forever". A ticket is purged once it has been closed for the shortest
period that applies to it, unless it is on legal hold (`ticket.legal_hold`).
"""

from datetime import datetime
from typing import Any

from pydantic import ValidationError, create_model, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow
from app.models.common import FormInput
from app.models.ticket import TicketCategory

PATRON_DATA = "patron_data"
DEFAULT = "default"
SCOPES: tuple[str, ...] = (PATRON_DATA, DEFAULT, *(c.value for c in TicketCategory))
MAX_DAYS = 36_500  # a hundred years: anything longer is "keep forever" (leave it empty)


class RetentionPolicy(SQLModel, table=True):
    __tablename__ = "retention_policy"

    scope: str = Field(primary_key=True, max_length=32)
    days: int
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="user_account.id")


MAX_DAYS = 36_500  # a century: longer is "forever", and no date arithmetic overflows


class _PlainDays:
    """A value that is not a whole number of days gets one plain sentence beside its field."""

    @model_validator(mode="wrap")
    @classmethod
    def _plain(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            details = [
                InitErrorDetails(
                    type=PydanticCustomError(
                        "plain",
                        "There is no such category; leave it out"
                        if e["type"] == "extra_forbidden"
                        else "Enter at most 36,500 days (100 years), or leave it empty"
                        if e["type"] == "less_than_equal"
                        else "Enter a whole number of days, or leave it empty to keep forever",
                    ),
                    loc=tuple(e["loc"][:1]),
                    input=e.get("input"),
                )
                for e in exc.errors()
            ]
            raise ValidationError.from_exception_data(cls.__name__, details) from None


_DAYS_FIELD: Any = (
    int | None,
    Field(
        default=None,
        le=MAX_DAYS,
        description="Days after closing; empty (null) keeps forever.",
    ),
)
RetentionUpdate = create_model(
    "RetentionUpdate",
    __base__=(_PlainDays, FormInput),
    __doc__=(
        "Every policy at once (PUT replaces them all): days after a ticket closed before its "
        "text is purged, per scope; a scope left out or null keeps its tickets forever. "
        "`patron_data` applies to tickets flagged as holding patron data, `default` to every "
        "category without its own."
    ),
    **{scope: _DAYS_FIELD for scope in SCOPES},
)


class PolicyPublic(SQLModel):
    scope: str = Field(description="A ticket category, `patron_data` or `default`.")
    days: int | None = Field(description="Days after closing; null keeps forever.")
    updated_at: datetime | None = None


class RetentionPublic(SQLModel):
    minimum_days: int = Field(description="No policy may be shorter (the configured minimum).")
    policies: list[PolicyPublic]


class CategoryCount(SQLModel):
    category: str
    days: int | None = Field(description="The category's own or the default period.")
    tickets: int
    patron_data: int = Field(description="How many of them are flagged as holding patron data.")
    comments: int
    attachments: int


class RetentionReport(SQLModel):
    """What a purge removes (a dry run) or removed: counts only, never text."""

    as_of: datetime
    dry_run: bool
    tickets: int
    comments: int
    attachments: int
    held: int = Field(description="Tickets past their period that a legal hold keeps.")
    categories: list[CategoryCount]
