"""Patron data: what looks like it (so the writer is warned before sending) and redaction.

Illinois' Library Records Confidentiality Act makes patron records confidential; reports about
circulation problems often paste them anyway. The checks are heuristics that warn, never block;
redaction (staff) removes a passage everywhere the ticket's text is stored.
"""

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from re import _parser as sre_parse  # the standard library's own regex parser

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid
from app.models.outbox import OutboxMessage
from app.models.ticket import (
    MAX_TEXT,
    PatronMatch,
    Ticket,
    TicketAttachment,
    TicketComment,
    TicketEventKind,
)
from app.models.user import User
from app.services.access import require_staff
from app.services.tickets import attachments, search
from app.services.tickets.records import add_event, audited, lock, touch

log = logging.getLogger(__name__)

# Every pattern is linear: no repeat inside a repeat, every repeat bounded, and a match can start
# only where a run of address characters starts (the look-behind), so no run is rescanned from
# each of its positions. RFC 5321's limits: 64 characters before the @, 253 after.
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}"
)
MAX_CHECKED = 3 * MAX_TEXT  # a subject, a description and a reply: more is never checked
MAX_ADDRESSES = 50  # looked up among the portal's users in one statement


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str

    @property
    def code(self) -> str:
        return "email" if self.kind == "e-mail address" else "barcode"

    @property
    def description(self) -> str:
        """What the match looks like, in the words the form's warning uses."""
        if self.code == "email":
            return "looks like the e-mail address of someone who is not a portal user (a patron?)"
        return "looks like a library barcode or a patron's ID number"


def patron_matches(*, session: Session, texts: list[str | None]) -> list[PatronMatch]:
    """What the API tells a writer, as the form warns: each match in plain words."""
    return [
        PatronMatch(kind=f.code, description=f.description, text=f.text)
        for f in find_patron_data(session=session, texts=texts)
    ]


def backtracks(pattern: str) -> bool:
    """Whether a pattern can take more than linear time: a repeat inside a repeat."""
    repeats = (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT)

    def nested(items, inside: bool) -> bool:
        for op, arg in items:
            if op in repeats:
                if inside or nested(arg[2], True):
                    return True
            else:
                groups = [arg[-1]] if op is sre_parse.SUBPATTERN else []
                groups += arg[1] if op is sre_parse.BRANCH else []
                if any(nested(g, inside) for g in groups):
                    return True
        return False

    return nested(sre_parse.parse(pattern), False)


@lru_cache
def _patterns(patterns: tuple[str, ...]) -> list[re.Pattern]:
    """The configured ID patterns; one that could backtrack is left out (and logged), since a
    check that warns must never cost a request seconds."""
    usable = []
    for pattern in patterns:
        if backtracks(pattern):
            log.error("ticket patron pattern %r nests repeats; it is not used", pattern)
        else:
            usable.append(re.compile(pattern))
    return usable


def find_patron_data(*, session: Session, texts: list[str | None]) -> list[Finding]:
    """E-mail addresses that are not a portal user's, and barcode- or ID-like runs, in the
    first `MAX_CHECKED` characters."""
    text = "\n".join(t for t in texts if t)[:MAX_CHECKED]
    findings: list[Finding] = []
    emails = list(dict.fromkeys(m.group(0) for m in EMAIL.finditer(text)))[:MAX_ADDRESSES]
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
    """Replaces the passage in the ticket, every comment (notes too), attachment names and text
    attachments, and its e-mails; the search index is rebuilt without it. Library users' event
    counts only what they can see (an internal note's occurrences go to an internal event);
    the audit entry says where and how often, never what."""
    require_staff(actor, "redact tickets")
    lock(session, ticket)
    search.prepare_purge(session)
    public: dict[str, int] = {}
    internal: dict[str, int] = {}
    for name in ("subject", "description"):
        value, n = redact_text(getattr(ticket, name), passage)
        if n:
            setattr(ticket, name, value)
            public[name] = n
    comments = session.exec(
        select(TicketComment).where(
            TicketComment.ticket_id == ticket.id,
            col(TicketComment.body).contains(passage, autoescape=True),
        )
    )
    for comment in comments:
        comment.body, n = redact_text(comment.body, passage)
        (internal if comment.internal else public)[f"comment {comment.id}"] = n
        session.add(comment)
    replaced: list[Path] = []
    written: list[Path] = []
    for attachment in session.exec(
        select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)
    ):
        attachment.filename, n = redact_text(attachment.filename, passage)
        in_file, rewritten = attachments.redact_content(attachment, passage)
        if rewritten is not None:
            replaced.append(rewritten[0])
            written.append(rewritten[1])
        if n + in_file:
            public[f"attachment {attachment.id}"] = n + in_file
            session.add(attachment)
    mail: dict[str, int] = {}
    messages = session.exec(
        select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith(f"ticket:{ticket.id}:")
        )
    )
    for message in messages:
        n = _redact_message(message, passage)
        if n:
            mail[f"e-mail {message.id}"] = n
            session.add(message)
    found = public | internal | mail
    total = sum(found.values())
    if not total:
        raise Invalid(
            "That passage does not occur in this ticket.", [FieldError("text", "was not found")]
        )
    now = utcnow()
    for counts, hidden in ((public, False), (internal, True)):
        if counts:
            data = {"occurrences": sum(counts.values())} | ({"internal": True} if hidden else {})
            kind = TicketEventKind.redaction
            add_event(session, ticket, actor, kind, data, at=now, internal=hidden)
    touch(ticket, now, public=bool(public))
    session.add(ticket)
    audited(session, ticket, actor, "redact", {"occurrences": total, "where": sorted(found)})
    session.flush()
    search.purge(session)
    try:
        session.commit()
    except Exception:
        attachments.discard(written)  # the rows still point at the old files
        raise
    attachments.discard(replaced)  # the old files, once the rows point at the new ones
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
