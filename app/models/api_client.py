"""API clients: consortium tools that sign in with the OAuth 2 client-credentials grant.

Each client acts through a principal of its own, a `user_account` row that can never sign in
(inactive, no password): the rest of the portal treats it like a person of that role, so every
rule (what a library sees, who may triage) holds for clients without a second code path. A
client bound to an institution acts as that library's liaison; an unbound one as consortium
staff (never as an administrator).
"""

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict
from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow
from app.models.common import MAX_ID, FormInput
from app.models.service import Choices


class ApiClient(SQLModel, table=True):
    __tablename__ = "api_client"
    __audit_type__ = "api_client"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    owner: int = Field(foreign_key="user_account.id", index=True)  # the person answerable for it
    institution: str | None = Field(default=None, max_length=8, foreign_key="institution.code")
    scopes: list[str] = Field(default_factory=list, sa_type=JSON)
    # The principal the client acts as (unique: one client, one principal).
    principal: int = Field(foreign_key="user_account.id", unique=True)
    secret_hash: str = Field(max_length=64)
    previous_secret_hash: str | None = Field(default=None, max_length=64)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiClientPublic(SQLModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    id: int
    client_id: str  # what the client sends as `client_id` at `POST /auth/token`
    name: str
    owner: int
    institution: str | None
    scopes: list[str]
    state: Literal["active", "revoked"]
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_expires_at: datetime | None  # the old secret works until then
    revoked_at: datetime | None
    last_used_at: datetime | None  # to the minute


class ApiClientWithSecret(ApiClientPublic):
    """Answered once, on creation and rotation: the secret is never shown again."""

    client_secret: str


class ApiClientCreate(FormInput):
    name: str = Field(min_length=1, max_length=100)
    scopes: Choices = Field(min_length=1, description="Scopes, e.g. `tickets:read`.")
    institution: str | None = Field(
        default=None, max_length=8, description="Bound: it sees only what this library sees."
    )
    owner: int | None = Field(default=None, ge=1, le=MAX_ID, description="A user id; default: you.")


class ApiClientUpdate(FormInput):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    scopes: Choices | None = Field(default=None, min_length=1)
