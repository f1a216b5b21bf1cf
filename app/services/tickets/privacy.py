"""Patron data: what looks like it (so the writer is warned before sending) and redaction.

Illinois' Library Records Confidentiality Act makes patron records confidential; reports about
circulation problems often paste them anyway. The checks are heuristics that warn, never block;
redaction (staff) removes a passage everywhere the ticket's text is stored.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid
from app.models.outbox import OutboxMessage
from app.models.ticket import Ticket, TicketAttachment, TicketComment, TicketEventKind
from app.models.user import User
from app.services.access import require_staff
from app.services.tickets.records import add_event, audited, lock, touch

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str


@lru_cache
def _patterns(patterns: tuple[str, ...]) -> list[re.Pattern]:
    return [re.compile(p) for p in patterns]


def find_patron_data(*, session: Session, texts: list[str | None]) -> list[Finding]:
    """E-mail addresses that are not a portal user's, and barcode- or ID-like runs."""
    text = "\n".join(t for t in texts if t)
    findings: list[Finding] = []
    emails = {m.group(0) for m in EMAIL.finditer(text)}
    if emails:
        known = set(
            session.exec(
                select(func.lower(User.email)).where(
                    func.lower(User.email).in_([e.lower() for e in emails])
                )
            ).all()
        )
        findings += [Finding("e-mail address", e) for e in sorted(emails) if e.lower() not in known]
    for pattern in _patterns(tuple(get_settings().ticket_patron_patterns)):
        for match in pattern.finditer(text):
            findings.append(Finding("barcode or ID number", match.group(0)))
    unique = {(f.kind, f.text): f for f in findings}
    return list(unique.values())


def redact_text(value: str, passage: str) -> tuple[str, int]:
    """The value with every occurrence of the passage replaced, and how many there were."""
    count = value.count(passage)
    return (value.replace(passage, "[redacted]"), count) if count else (value, 0)


def redact(*, session: Session, actor: User, ticket: Ticket, passage: str) -> int:
    """Replaces the passage in the ticket, every comment (notes too), attachment names and its
    e-mails; the search index follows by trigger. The audit entry says where and how often,
    never what."""
    require_staff(actor, "redact tickets")
    lock(session, ticket)
    found: dict[str, int] = {}
    for name in ("subject", "description"):
        value, n = redact_text(getattr(ticket, name), passage)
        if n:
            setattr(ticket, name, value)
            found[name] = n
    comments = session.exec(
        select(TicketComment).where(
            TicketComment.ticket_id == ticket.id,
            col(TicketComment.body).contains(passage, autoescape=True),
        )
    )
    for comment in comments:
        comment.body, n = redact_text(comment.body, passage)
        found[f"comment {comment.id}"] = n
        session.add(comment)
    for attachment in session.exec(
        select(TicketAttachment).where(
            TicketAttachment.ticket_id == ticket.id,
            col(TicketAttachment.filename).contains(passage, autoescape=True),
        )
    ):
        attachment.filename, n = redact_text(attachment.filename, passage)
        found[f"attachment {attachment.id}"] = n
        session.add(attachment)
    messages = session.exec(
        select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith(f"ticket:{ticket.id}:")
        )
    )
    for message in messages:
        n = _redact_message(message, passage)
        if n:
            found[f"e-mail {message.id}"] = n
            session.add(message)
    total = sum(found.values())
    if not total:
        raise Invalid(
            "That passage does not occur in this ticket.", [FieldError("text", "was not found")]
        )
    now = utcnow()
    add_event(session, ticket, actor, TicketEventKind.redaction, {"occurrences": total}, at=now)
    touch(ticket, now)
    session.add(ticket)
    audited(session, ticket, actor, "redact", {"occurrences": total, "where": sorted(found)})
    session.commit()
    return total


def _redact_message(message: OutboxMessage, passage: str) -> int:
    total = 0
    context = dict(message.context)
    for key, value in context.items():
        if isinstance(value, str):
            context[key], n = redact_text(value, passage)
            total += n
    message.context = context
    for name in ("subject", "body_text", "body_html"):
        value = getattr(message, name)
        if value:
            new, n = redact_text(value, passage)
            setattr(message, name, new)
            total += n
    return total
