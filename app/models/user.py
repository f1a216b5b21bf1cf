from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, EmailStr
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow


class Role(StrEnum):
    consortium_admin = "consortium_admin"
    consortium_staff = "consortium_staff"
    director = "director"
    liaison = "liaison"
    library_staff = "library_staff"

    @property
    def is_consortium(self) -> bool:
        return self in STAFF_ROLES

    @property
    def is_library_lead(self) -> bool:
        """A library's director or liaison: speaks for the library (the director may always
        act as liaison)."""
        return self in (Role.director, Role.liaison)


# Consortium staff: every institution's records (a tuple, for SQL `IN` as well).
STAFF_ROLES = (Role.consortium_admin, Role.consortium_staff)


class UserBase(SQLModel):
    email: EmailStr = Field(max_length=254, sa_type=String(254), unique=True)
    name: str = Field(min_length=1, max_length=200)
    role: Role = Field(sa_type=EnumString(Role, 32))
    institution: str | None = Field(
        default=None, max_length=8, foreign_key="institution.code", index=True
    )


class User(UserBase, table=True):
    __tablename__ = "user_account"
    __audit_type__ = "user"

    id: int | None = Field(default=None, primary_key=True)
    active: bool = True
    password_hash: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # What templates and pages ask; the rules behind them live in `app.services.access`.
    @property
    def is_staff(self) -> bool:
        return Role(self.role).is_consortium

    @property
    def is_admin(self) -> bool:
        return Role(self.role) is Role.consortium_admin

    @property
    def is_library_lead(self) -> bool:
        return Role(self.role).is_library_lead


class UserPublic(UserBase):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    id: int
