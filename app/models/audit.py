from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow


class AuditEntryBase(SQLModel):
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: int | None = Field(default=None, foreign_key="user_account.id")
    actor_name: str = Field(max_length=200)
    action: str = Field(max_length=40)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    request_id: str | None = Field(default=None, max_length=64)


class AuditEntry(AuditEntryBase, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_entity", "entity_type", "entity_id", "at"),
        Index(
            "ix_audit_entry_at", "at", "id"
        ),  # the audit list, newest first: it never stops growing
        Index("ix_audit_entry_actor_at", "actor", "at"),  # the audit page's "who" filter
        Index("ix_audit_entry_action_at", "action", "at"),  # … and its "what" filter
    )

    id: int | None = Field(default=None, primary_key=True)


class AuditEntryPublic(AuditEntryBase):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    id: int


# `?format=` on the audit list: `csv` is a file of every matching entry (json is the default).
class AuditFormat(StrEnum):
    json = "json"
    csv = "csv"
