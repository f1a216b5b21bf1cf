"""What every write on a ticket shares: row values, the row lock, the versions the ETags are
made of, timeline events and the ticket's audit entries.

A ticket keeps two clocks. Staff see every change (`version`, `updated_at`); library users only
changes to what they may see (`public_version`, `public_updated_at`), so an internal note moves
neither their ETag, nor their `updated_at`, nor the ticket's place in their list."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, SQLModel

from app.models.ticket import Ticket, TicketEvent, TicketEventKind
from app.models.user import User
from app.services import audit
from app.services.access import is_staff
from app.services.tickets.sla import next_due

TEXT_FIELDS = {"subject", "description"}  # never copied into the audit trail (patron data)


def columns(row: SQLModel) -> dict[str, Any]:
    """A row's column values as stored (enum columns hold plain strings; validation types them)."""
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def etag(ticket: Ticket, actor: User) -> str:
    """Staff's ETag counts every change; a library user's only the changes they can see."""
    if is_staff(actor):
        return f'"{ticket.id}.{ticket.version}"'
    return f'"{ticket.id}.p{ticket.public_version}"'


def lock(session: Session, ticket: Ticket) -> None:
    """Re-reads the row under a lock (PostgreSQL) so concurrent writers queue, not overwrite."""
    session.refresh(ticket, with_for_update=True)


def touch(ticket: Ticket, now: datetime, *, public: bool = True) -> None:
    """Every change moves staff's clock; a change library users can see moves theirs too. The
    queue's SLA order follows whatever the change did to the clock."""
    ticket.updated_at = now
    ticket.version += 1
    if public:
        ticket.public_updated_at = now
        ticket.public_version += 1
    ticket.sla_due_at = next_due(ticket)


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
    actor: User | None,
    action: str,
    after: dict[str, Any],
    *,
    before: dict[str, Any] | None = None,
) -> None:
    """The ticket's audit entry, filed under its number: what happened (a comment, a merge, an
    attachment, a redaction, the changed fields), never the text. `actor` None: the portal
    itself (a scheduled job)."""
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
