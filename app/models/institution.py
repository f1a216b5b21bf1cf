import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, HttpUrl, field_validator
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput

CODE_PATTERN = re.compile(r"^[A-Z0-9]{2,8}$")


class InstitutionKind(StrEnum):
    public_university = "public_university"
    private_college = "private_college"
    community_college = "community_college"
    library_or_museum = "library_or_museum"
    other = "other"


class InstitutionStatus(StrEnum):
    prospective = "prospective"
    joining = "joining"
    active = "active"
    leaving = "leaving"
    former = "former"


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _code(value: str) -> str:
    if not CODE_PATTERN.match(value):
        raise ValueError("must be 2–8 upper-case letters or digits, e.g. UIU")
    return value


def _website(value: str) -> str:
    return str(HttpUrl(value))


InstitutionCode = Annotated[str, BeforeValidator(_upper), AfterValidator(_code)]
Website = Annotated[str, AfterValidator(_website)]


class InstitutionBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    kind: InstitutionKind = Field(
        default=InstitutionKind.other, sa_type=EnumString(InstitutionKind, 32)
    )
    website: str | None = Field(default=None, max_length=300)
    joined_on: date | None = None
    left_on: date | None = None


class Institution(InstitutionBase, table=True):
    __audit_key__ = "code"  # its audit entries are filed under the code, not a number
    __table_args__ = (Index("ix_institution_status_name", "status", "name"),)

    code: str = Field(primary_key=True, max_length=8)
    status: InstitutionStatus = Field(
        default=InstitutionStatus.prospective, sa_type=EnumString(InstitutionStatus, 16)
    )
    alma_code: str = Field(max_length=40, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class InstitutionCreate(FormInput, InstitutionBase):
    code: InstitutionCode = Field(max_length=8)
    status: InstitutionStatus = InstitutionStatus.prospective
    alma_code: str | None = Field(default=None, min_length=2, max_length=40)
    website: Website | None = Field(default=None, max_length=300)


class InstitutionUpdate(FormInput):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    kind: InstitutionKind | None = None
    status: InstitutionStatus | None = None
    alma_code: str | None = Field(default=None, min_length=2, max_length=40)
    website: Website | None = Field(default=None, max_length=300)
    joined_on: date | None = None
    left_on: date | None = None

    @field_validator("name", "kind", "status", "alma_code")
    @classmethod
    def _required(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be empty")
        return value


class InstitutionPublic(InstitutionBase):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    code: str
    status: InstitutionStatus
    alma_code: str
    created_at: datetime
    updated_at: datetime
