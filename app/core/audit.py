"""The audit trail: every write records who, when, what, and the values before and after."""

from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlmodel import Session, SQLModel, select

from app.core.context import request_id_var
from app.core.pagination import PageParams, Window, fetch
from app.models.audit import AuditEntry
from app.models.user import User


def snapshot(obj: SQLModel, exclude: set[str] = frozenset()) -> dict[str, Any]:
    """A JSON-safe copy of a row's columns."""
    return {k: _plain(v) for k, v in obj.model_dump().items() if k not in exclude}


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Adds the entry to the caller's transaction: it commits or rolls back with the change."""
    entry = AuditEntry(
        actor=actor.id if actor else None,
        actor_name=actor.name if actor else "system",
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        request_id=request_id_var.get(),
    )
    session.add(entry)
    return entry


def list_entries(
    *, session: Session, entity_type: str | None, entity_id: str | None, page: PageParams
) -> Window:
    """Newest first."""
    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    return fetch(session, stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), page)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
