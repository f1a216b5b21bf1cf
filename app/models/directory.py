"""Directory freshness confirmations and sign-in invitations for directory people."""

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow


class DirectoryConfirmation(SQLModel, table=True):
    """An institution's liaison or director saying "our entries are correct" (kept as history)."""

    __tablename__ = "directory_confirmation"
    __table_args__ = (
        Index("ix_directory_confirmation_institution_at", "institution", "confirmed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    institution: str = Field(max_length=8, foreign_key="institution.code")
    confirmed_by: int = Field(foreign_key="user_account.id")
    confirmed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DirectoryConfirmationPublic(SQLModel):
    institution: str
    confirmed_by: int
    confirmed_at: datetime


class DirectoryInvitation(SQLModel, table=True):
    """A single-use, expiring sign-up link; only the token's hash is stored."""

    __tablename__ = "directory_invitation"

    id: int | None = Field(default=None, primary_key=True)
    liaison_id: int = Field(foreign_key="liaison.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DirectoryInvitationPublic(SQLModel):
    liaison_id: int
    url: str
    expires_at: datetime
    # The person already has an account: they were e-mailed a password reset link instead
    # (never shown here), and `url` is the sign-in page.
    password_reset: bool = False


class PendingInvitation(SQLModel):
    """An invitation not yet accepted: still open, or expired and waiting to be sent again."""

    id: int
    liaison_id: int
    name: str
    email: str
    institution: str
    created_at: datetime
    created_by: int
    created_by_name: str | None
    expires_at: datetime
    expired: bool
    revoked: bool = False


class DirectoryGap(SQLModel):
    institution: str
    name: str
    vacant: list[str]
    confirmed_at: datetime | None
    stale: bool
    # A vacant seat someone is appointed to from a later date: the seat → that date.
    filled_from: dict[str, date] = {}
