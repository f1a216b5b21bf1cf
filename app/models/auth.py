"""Sign-in sessions, sign-in throttling and password resets."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow


class UserSession(SQLModel, table=True):
    """One sign-in (a browser, or a token an API client asked for).

    Every token issued for it carries its id as the `sid` claim: renewing a browser's cookie
    keeps the id, so revoking the session (sign-out, a password change, deactivation) ends
    every token of that sign-in at once.
    """

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_id_revoked_at", "user_id", "revoked_at"),)

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    user_agent: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=64)


class LoginThrottle(SQLModel, table=True):
    """Failed-sign-in bookkeeping for one key (an account, an address or a known device).

    Times are Unix seconds, so the one `UPDATE` that reserves an attempt does its arithmetic
    the same way on SQLite and PostgreSQL.
    """

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=300)
    failures: int = 0  # attempts since the last success (or since it went quiet)
    delay: float = 0  # seconds the next attempt must wait after `next_at` was set
    next_at: float = Field(default=0, index=True)  # no attempt is checked before this


class PasswordReset(SQLModel, table=True):
    """A single-use, expiring link to choose a new password; only the token's hash is kept."""

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TokenResponse(BaseModel):
    # Every field is always sent, so the document marks them all required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int
