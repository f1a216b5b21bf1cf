"""What every write on a ticket shares: row values, the row lock, the version the ETag is made
of, timeline events and the ticket's audit entries."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, SQLModel

from app.models.ticket import Ticket, TicketEvent, TicketEventKind
from app.models.user import User
from app.services import audit

TEXT_FIELDS = {"subject", "description"}  # never copied into the audit trail (patron data)


def columns(row: SQLModel) -> dict[str, Any]:
    """A row's column values as stored (enum columns hold plain strings; validation types them)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def etag(ticket: Ticket) -> str:
    return f'"{ticket.id}.{ticket.version}"'


def lock(session: Session, ticket: Ticket) -> None:
    """Re-reads the row under a lock (PostgreSQL) so concurrent writers queue, not overwrite."""
    session.refresh(ticket, with_for_update=True)


def touch(ticket: Ticket, now: datetime) -> None:
    """Every change moves `updated_at` and the version the ETag is made of."""
    ticket.updated_at = now
    ticket.version += 1


def add_event(
    session: Session,
    ticket: Ticket,
    actor: User | None,
    kind: TicketEventKind,
    data: dict,
    *,
    at: datetime,
    internal: bool = False,
) -> None:
    plain = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in data.items()}
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            actor=actor.id if actor else None,
            kind=kind,
            data=plain,
            internal=internal,
            at=at,
        )
    )


def audited(
    session: Session,
    ticket: Ticket,
    actor: User,
    action: str,
    after: dict[str, Any],
    *,
    before: dict[str, Any] | None = None,
) -> None:
    """The ticket's audit entry, filed under its number: what happened (a comment, a merge, an
    attachment, a redaction, the changed fields), never the text."""
    kind, key = audit.identity(ticket)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type=kind,
        entity_id=key,
        before=before,
        after=after,
    )


def without_text(values: dict) -> dict:
    """The audit trail notes that a text field changed, never what it said."""
    return {k: ("(changed)" if k in TEXT_FIELDS else v) for k, v in values.items()}
