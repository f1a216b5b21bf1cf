"""Directory change requests: a library proposes, consortium staff decide."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import model_validator
from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import MAX_ID, FormInput


class ChangeKind(StrEnum):
    add = "add"
    update = "update"
    end = "end"


class ChangeStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class DirectoryChangeBase(SQLModel):
    kind: ChangeKind = Field(sa_type=EnumString(ChangeKind, 16))
    liaison_id: int | None = Field(default=None, foreign_key="liaison.id")
    # The /liaisons fields to set; validated against LiaisonCreate / LiaisonUpdate.
    liaison: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    note: str | None = Field(default=None, max_length=2000)


class DirectoryChange(DirectoryChangeBase, table=True):
    __tablename__ = "directory_change"
    __table_args__ = (
        Index("ix_directory_change_status_created_at", "status", "created_at"),
        Index("ix_directory_change_institution_created_at", "institution", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    institution: str = Field(max_length=8, foreign_key="institution.code")
    status: ChangeStatus = Field(default=ChangeStatus.pending, sa_type=EnumString(ChangeStatus, 16))
    requester: int = Field(foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str | None = Field(default=None, max_length=2000)


class DirectoryChangeCreate(FormInput, DirectoryChangeBase):
    liaison_id: int | None = Field(default=None, ge=1, le=MAX_ID)

    @model_validator(mode="before")
    @classmethod
    def _nest_form_fields(cls, data: Any) -> Any:
        """A form (json-enc) sends the proposed values flat, as `liaison.name`, `liaison.roles`."""
        if not isinstance(data, dict) or not any(str(k).startswith("liaison.") for k in data):
            return data
        nested = dict(data.get("liaison") or {})
        rest = {}
        for key, value in data.items():
            if str(key).startswith("liaison."):
                nested[key.removeprefix("liaison.")] = None if value == "" else value
            elif key != "liaison":
                rest[key] = value
        return {**rest, "liaison": nested}

    @model_validator(mode="after")
    def _target(self) -> "DirectoryChangeCreate":
        if self.kind is not ChangeKind.add and self.liaison_id is None:
            raise ValueError(f"liaison_id is required to {self.kind.value} an entry")
        return self


class DirectoryDecision(FormInput):
    reason: str | None = Field(default=None, max_length=2000)


class DirectoryRejection(FormInput):
    reason: str = Field(min_length=1, max_length=2000)


class DirectoryChangePublic(DirectoryChangeBase):
    id: int
    institution: str
    status: ChangeStatus
    requester: int
    requester_name: str | None = None
    liaison_name: str | None = None
    created_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    reason: str | None
