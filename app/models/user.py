from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, EmailStr
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput


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
    phone: str | None = Field(default=None, max_length=40)
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


class NoticePreference(SQLModel, table=True):
    """A person's choice for one kind of notice (`app.services.access.Notice`); no row means
    the default: send it."""

    __tablename__ = "notice_preference"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=32)
    email: bool = True


# --- my account -------------------------------------------------------------------------------


class AccountSession(SQLModel):
    """One of the person's sign-ins, as their account page lists it."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    address: str | None
    current: bool  # the sign-in this request was made with


class AccountPublic(UserPublic):
    """The signed-in person's own account: details, notice choices and sign-ins."""

    phone: str | None
    notices: dict[str, bool]  # kind of notice -> e-mail it
    sessions: list[AccountSession]


class AccountUpdate(FormInput):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    notices: dict[str, bool] | None = None


class PasswordChange(FormInput):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)  # passwords as typed

    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


# --- account administration (consortium admins) ----------------------------------------------


class UserAdminPublic(UserPublic):
    phone: str | None
    active: bool
    created_at: datetime


class UserCreate(FormInput, UserBase):
    """Without a password the person gets an e-mail to choose one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)  # passwords as typed

    phone: str | None = Field(default=None, max_length=40)
    password: str | None = Field(default=None, max_length=256)


class UserAdminUpdate(FormInput):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    institution: str | None = Field(default=None, max_length=8)
    phone: str | None = Field(default=None, max_length=40)
    active: bool | None = None
