"""Changing many tickets at once from the staff queue: assign them, or move their status.

Each ticket goes through `workflow.update_ticket` on its own (its own transaction, validation,
timeline event, audit entry and e-mail), with the ETag the list showed as `If-Match`: a ticket
someone changed since the list was loaded is skipped, never overwritten. The result says, per
ticket, what was done or why not.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from sqlmodel import Session, col, select

from app.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    Invalid,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from app.models.ticket import Ticket, TicketStatus, TicketUpdate
from app.models.user import User
from app.services.access import is_staff, require_staff
from app.services.tickets.queries import people, visible
from app.services.tickets.workflow import allowed_moves, update_ticket

MAX_TICKETS = 200  # one page of the list at most


class Skip(StrEnum):
    """Why a ticket was left as it was (the page words each one)."""

    changed = "changed"  # someone changed it since the list was loaded
    missing = "missing"  # no such ticket (or not one this user may see)
    transition = "transition"  # the workflow has no such move from its status
    refused = "refused"  # closed, merged, or otherwise not open for this change
    unchanged = "unchanged"  # it already was so


@dataclass
class Outcome:
    number: str
    done: bool
    reason: Skip | None = None
    status: str | None = None  # the ticket's status, for a transition it cannot make
    detail: str = ""


@dataclass
class BulkResult:
    outcomes: list[Outcome] = field(default_factory=list)
    assignee: str | None = None  # the new assignee's name
    status: TicketStatus | None = None
    unassign: bool = False

    @property
    def done(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.done]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.done]


def bulk_update(
    *,
    session: Session,
    actor: User,
    tickets: dict[str, str],
    assignee: int | None = None,
    unassign: bool = False,
    status: TicketStatus | None = None,
    reason: str | None = None,
) -> BulkResult:
    """Applies one change to each ticket of `tickets` (number → the ETag the list showed), with
    `reason` for a status change. Staff only; a wrong assignee refuses the whole request before
    any ticket changes."""
    require_staff(actor, "change several tickets at once")
    if not tickets:
        raise Invalid("Choose at least one ticket.")
    if len(tickets) > MAX_TICKETS:
        raise Invalid(f"Change at most {MAX_TICKETS} tickets at once.")
    if assignee is None and not unassign and status is None:
        raise Invalid("Choose whom to assign the tickets to, or which status to give them.")
    result = BulkResult(status=status, unassign=unassign)
    if assignee is not None:
        found = people(session=session, ids={assignee}).get(assignee)
        if found is None or not found.active or not is_staff(found):
            raise Invalid(
                "Tickets are assigned to active consortium staff.",
                [FieldError("assignee", "is not an active consortium staff member")],
            )
        result.assignee = found.name
    values: dict = {}
    if assignee is not None or unassign:
        values["assignee"] = assignee
    if status is not None:
        values["status"] = status
        if reason:  # kept on each ticket; closing a report nobody worked on needs one
            values["reason"] = reason
    change = TicketUpdate(**values)
    rows = {
        t.number: t
        for t in session.exec(
            select(Ticket).where(col(Ticket.number).in_(list(tickets)), visible(actor))
        )
    }
    session.commit()  # end the read: each ticket is then a transaction of its own
    for number, tag in tickets.items():
        result.outcomes.append(_one(session, actor, rows.get(number), number, tag, change))
    return result


def _one(
    session: Session, actor: User, ticket: Ticket | None, number: str, tag: str, change
) -> Outcome:
    if ticket is None:
        return Outcome(number, False, Skip.missing)
    wanted = change.model_dump(exclude_unset=True, exclude={"reason"})
    current = TicketStatus(ticket.status)
    if all(getattr(ticket, k) == v for k, v in wanted.items()):
        return Outcome(number, False, Skip.unchanged, current)
    target = wanted.get("status")
    if target is not None and target != current and target not in allowed_moves(actor, current):
        return Outcome(number, False, Skip.transition, current)
    try:
        update_ticket(session=session, actor=actor, ticket=ticket, data=change, if_match=tag)
    except PreconditionFailed:
        session.rollback()
        return Outcome(number, False, Skip.changed)
    except (Conflict, PermissionDenied, Invalid, NotFound) as exc:
        session.rollback()
        return Outcome(number, False, Skip.refused, current, _message(exc))
    return Outcome(number, True)


def _message(exc: DomainError) -> str:
    return str(getattr(exc, "detail", None) or exc)
