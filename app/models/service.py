"""The service catalogue (Alma, Primo VE, …) and the words every status view shares: how hard a
window or incident hits a service, and the status a service is derived to have."""

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow
from app.models.common import FormInput

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class Impact(StrEnum):
    none = "none"
    degraded = "degraded"
    outage = "outage"


class ServiceStatus(StrEnum):
    operational = "operational"
    maintenance = "maintenance"
    degraded = "degraded"
    outage = "outage"


def _slug(value: str) -> str:
    if not SLUG_PATTERN.match(value):
        raise ValueError("must be 2–40 lower-case letters, digits or _, starting with a letter")
    return value


def _list(value: object) -> object:
    """A form sends one choice as a string, several typed ones as "UIU, ISU", none as ""."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,]+", value) if v]
    # A form's hidden empty choice (so that ticking none still sends the field) is not a choice.
    return [v for v in value if v != ""] if isinstance(value, list) else value


Slug = Annotated[str, BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v)]
# Service slugs or institution codes, from JSON or a form.
Choices = Annotated[list[str], BeforeValidator(_list)]


class ServiceBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)


class Service(ServiceBase, table=True):
    __audit_key__ = "slug"

    slug: str = Field(primary_key=True, max_length=40)
    position: int = 100
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ServiceCreate(FormInput, ServiceBase):
    slug: Annotated[Slug, AfterValidator(_slug)] = Field(max_length=40)
    position: int = Field(default=100, ge=0, le=10_000)


class ServicePublic(ServiceBase):
    slug: str
    status: ServiceStatus = ServiceStatus.operational
