"""The audit trail: every write records who, when, what, and the values before and after."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import Select, bindparam
from sqlmodel import Session, SQLModel, select

from app.core.config import get_settings
from app.core.context import request_id_var
from app.core.db import utcnow
from app.core.pagination import (
    LIKE_ESCAPE,
    PageParams,
    Window,
    columns,
    construct,
    fetch_rows,
    like_escaped,
    shaped,
)
from app.models.audit import AuditEntry, AuditEntryPublic
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


def identity(entity: SQLModel) -> tuple[str, str]:
    """(entity_type, entity_id) of a row: its `__audit_type__` (default: its table) and its
    `__audit_key__` column (default `id`), e.g. a ticket's number or an institution's code."""
    kind = getattr(type(entity), "__audit_type__", entity.__tablename__)
    key = getattr(type(entity), "__audit_key__", "id")
    return str(kind), str(getattr(entity, key))


@dataclass
class Change:
    """What `change()` recorded: only the fields that differ."""

    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.after)


@contextmanager
def change(
    session: Session,
    entity: SQLModel,
    *,
    actor: User | None,
    action: str = "update",
    exclude: set[str] = frozenset(),
    touch: str | None = "updated_at",
) -> Iterator[Change]:
    """Snapshot, let the caller edit, diff, and record only if something changed.

    Where the row has a `touch` column (default `updated_at`) it is set when something
    changed. The yielded `Change` is filled in when the block ends.
    """
    found = Change()
    before = snapshot(entity, exclude | {touch} if touch else exclude)
    yield found
    after = snapshot(entity, exclude | {touch} if touch else exclude)
    found.before, found.after = changes(before, after)
    if not found:
        return
    if touch and hasattr(entity, touch):
        setattr(entity, touch, utcnow())
    session.add(entity)
    about(session, entity, actor=actor, action=action, before=found.before, after=found.after)


def created(
    session: Session,
    entity: SQLModel,
    *,
    actor: User | None,
    action: str = "create",
    exclude: set[str] = frozenset(),
) -> AuditEntry:
    """Records a new row (flushed, so it has its key) with every column but `exclude`."""
    session.add(entity)
    session.flush()
    return about(session, entity, actor=actor, action=action, after=snapshot(entity, exclude))


def removed(
    session: Session,
    entity: SQLModel,
    *,
    actor: User | None,
    action: str = "delete",
    exclude: set[str] = frozenset(),
) -> AuditEntry:
    """Records what a row was before it goes (the caller deletes or ends it)."""
    return about(session, entity, actor=actor, action=action, before=snapshot(entity, exclude))


def about(
    session: Session,
    entity: SQLModel,
    *,
    actor: User | None,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """`record()` for a row, filed under its `identity()`."""
    kind, key = identity(entity)
    return record(
        session,
        actor=actor,
        action=action,
        entity_type=kind,
        entity_id=key,
        before=before,
        after=after,
    )


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page filters by: who, what, which record, and when (`date_from` and
    `date_to` are days in the consortium's time zone, both included)."""

    entity_type: str | None = None
    entity_id: str | None = None
    actor: int | None = None
    who: str | None = None  # part of the name the entry was recorded under
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None


EXPORT_LIMIT = 50_000


def _filtered(found: AuditFilter) -> tuple[Select, dict[str, Any]]:
    """The statement for the filters that are set, built once per such combination
    (`pagination.shaped`), and the values of its parameters."""
    values = {
        "entity_type": found.entity_type or None,
        "entity_id": found.entity_id or None,
        "actor": found.actor,
        "who": like_escaped(found.who.strip()) if found.who else None,
        "action": found.action or None,
        "date_from": _day_start(found.date_from) if found.date_from else None,
        "date_to": _day_start(found.date_to + timedelta(days=1)) if found.date_to else None,
    }
    shape = tuple(value is not None for value in values.values())
    return shaped(("audit", *shape), lambda: _statement(*shape)), values


def _statement(
    entity_type: bool, entity_id: bool, actor: bool, who: bool, action: bool, since: bool,
    until: bool,
) -> Select:  # fmt: skip
    stmt = select(*columns(AuditEntry, AuditEntryPublic))
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == bindparam("entity_type"))
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == bindparam("entity_id"))
    if actor:
        stmt = stmt.where(AuditEntry.actor == bindparam("actor"))
    if who:
        stmt = stmt.where(AuditEntry.actor_name.icontains(bindparam("who"), escape=LIKE_ESCAPE))
    if action:
        stmt = stmt.where(AuditEntry.action == bindparam("action"))
    if since:
        stmt = stmt.where(AuditEntry.at >= bindparam("date_from"))
    if until:
        stmt = stmt.where(AuditEntry.at < bindparam("date_to"))
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def _day_start(day: date) -> datetime:
    """Midnight of `day` in the consortium's time zone, in UTC (how `at` is stored)."""
    return datetime.combine(day, time.min, tzinfo=get_settings().tz).astimezone(UTC)


def list_entries(
    *,
    session: Session,
    page: PageParams,
    entity_type: str | None = None,
    entity_id: str | None = None,
    filters: AuditFilter | None = None,
) -> Window:
    """Newest first, as `AuditEntryPublic`, in one statement (the total included)."""
    found = filters or AuditFilter(entity_type=entity_type, entity_id=entity_id)
    stmt, values = _filtered(found)
    return fetch_rows(session, stmt, page, _public, values)


def export_entries(*, session: Session, filters: AuditFilter) -> list[AuditEntryPublic]:
    """Every entry the filters match (up to `EXPORT_LIMIT`), newest first, for a file."""
    stmt, values = _filtered(filters)
    rows = session.execute(stmt.limit(EXPORT_LIMIT), values).mappings()
    return [_public(row) for row in rows]


def user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    """Names of the accounts `ids`, in one statement (an entry shows names, not numbers)."""
    wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    if not wanted:
        return {}
    return dict(session.exec(select(User.id, User.name).where(User.id.in_(wanted))).all())


_public = construct(AuditEntryPublic)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
