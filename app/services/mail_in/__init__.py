"""Reply and file by e-mail (issue 15): what becomes of a message sent to the inbound address.

- A message that answers a ticket e-mail (its `In-Reply-To`/`References` name a `Message-ID`
  the portal sent about a ticket, or its subject carries the ticket's `[YYYY-NNNNN]` tag)
  becomes a public reply by its sender, if the sender is an active portal user who may see
  that ticket. It is added through `tickets.add_comment`, so permission, the workflow, audit,
  notifications and webhooks are the web reply's own.
- Otherwise a message from a current contact in the member directory who has a portal account
  becomes a new report for their library (`tickets.create_ticket`). A directory contact without
  an account is refused: every reply and report has a portal user as its author.
- Automatic replies, bounces, bulk mail and the portal's own messages are ignored (answering
  them starts a loop); everything else is refused, with the reason, in the inbound-mail list.

The patron-data check runs on the text. The web form warns the writer before sending; by
e-mail nobody can be asked, so the careful course is taken: the ticket is marked as holding
patron data (staff may clear the mark) and the record says so.

Files pass the upload checks (`uploads.read_checked`, then `tickets.attachments`); a refused
file is named, with the reason, in the reply and the record.

Idempotent on the message: the `inbound_mail` row is written in the reply's own transaction
under a unique key, so a message fed twice (or by two deliveries at once) is handled once.
"""

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import ValidationError
from sqlalchemy import exists, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.errors import DomainError, NotFound
from app.core.pagination import PageParams, Window, fetch
from app.models.inbound_mail import InboundMail, InboundOutcome
from app.models.liaison import Appointment, Liaison, current_on
from app.models.outbox import OutboxMessage
from app.models.ticket import (
    MIN_SUBJECT,
    CommentCreate,
    Ticket,
    TicketCategory,
    TicketCreate,
    TicketUpdate,
)
from app.models.user import User
from app.services import tickets
from app.services.access import require_staff
from app.services.mail_in.reading import File, Inbound, parse, unreadable
from app.services.tickets import attachments
from app.services.uploads import human_size, read_checked, safe_filename

__all__ = ["Outcome", "list_mail", "receive"]

log = logging.getLogger(__name__)
Out = InboundOutcome


@dataclass
class Outcome:
    outcome: InboundOutcome
    reason: str
    ticket_number: str | None = None
    duplicate: bool = False  # received before: nothing was done this time

    @property
    def line(self) -> str:
        """One line in plain words (what `portal mail-in` prints)."""
        if self.duplicate:
            return "Already received: this message was handled before; nothing was done."
        return {
            Out.replied: "Accepted",
            Out.filed: "Accepted",
            Out.ignored: "Ignored",
            Out.rejected: "Refused",
        }[self.outcome] + f": {self.reason}"


def receive(*, session: Session, raw: bytes) -> Outcome:
    """Handles one RFC 5322 message; commits. Raises only when the database cannot be used
    (the caller asks for the message again later)."""
    limit = get_settings().mail_in_max_bytes
    try:
        mail = parse(raw[:limit] if len(raw) > limit else raw)
    except Exception:  # untrusted bytes: a parser failure is the message's, not the portal's
        log.warning("inbound mail: unreadable message", exc_info=True)
        mail = unreadable(raw)
    if _seen(session, mail.key):
        return _duplicate(session, mail.key)
    if mail.unreadable:
        return _note(session, mail, len(raw), Out.rejected, "it could not be read as an e-mail")
    if len(raw) > limit:
        return _note(
            session, mail, len(raw), Out.rejected, f"it is larger than {human_size(limit)}"
        )
    if reason := _loop(session, mail):
        return _note(session, mail, len(raw), Out.ignored, reason)
    if not mail.sender:
        return _note(session, mail, len(raw), Out.rejected, "it has no sender address")
    user = session.exec(select(User).where(User.email == mail.sender, User.active)).first()
    try:
        ticket = _answered(session, mail)
    except NotFound as exc:
        return _note(session, mail, len(raw), Out.rejected, _sentence(exc.detail))
    if ticket is not None:
        if user is None:
            return _note(session, mail, len(raw), Out.rejected, _stranger(session, mail.sender))
        return _reply(session, mail, len(raw), user, ticket)
    return _file(session, mail, len(raw), user)


def _seen(session: Session, key: str) -> bool:
    return session.exec(select(exists().where(InboundMail.message_key == key))).one()


# --- loops and machines -----------------------------------------------------------------------


def _loop(session: Session, mail: Inbound) -> str | None:
    """Why answering this message would start a loop, or None."""
    if mail.automatic:
        return mail.automatic
    settings = get_settings()
    ours = {a.lower() for a in (settings.mail_from, settings.mail_in_address) if a}
    if mail.sender and any(mail.sender == a or a.endswith(f"<{mail.sender}>") for a in ours):
        return "it came from the portal's own address"
    if (
        mail.message_id
        and session.exec(select(exists().where(OutboxMessage.message_id == mail.message_id))).one()
    ):
        return "it is a message the portal sent itself"
    return None


# --- which ticket it answers ------------------------------------------------------------------


def _answered(session: Session, mail: Inbound) -> Ticket | None:
    """The ticket a portal e-mail it refers to was about (newest reference first), else the one
    its subject tag names; NotFound for a tag naming no ticket."""
    if mail.references:
        keys = session.exec(
            select(OutboxMessage.message_id, OutboxMessage.dedupe_key).where(
                col(OutboxMessage.message_id).in_(mail.references[:50]),
                col(OutboxMessage.dedupe_key).startswith("ticket:"),
            )
        ).all()
        by_id = dict(keys)
        for reference in mail.references:
            if (key := by_id.get(reference)) is not None:
                ticket = session.get(Ticket, int(key.split(":")[1]))
                if ticket is not None:
                    return ticket
    if (number := mail.ticket_tag) is not None:
        ticket = session.exec(select(Ticket).where(Ticket.number == number)).first()
        if ticket is None:
            raise NotFound(f"No ticket has the number {number}.")
        return ticket
    return None


def _stranger(session: Session, sender: str) -> str:
    if _contact(session, sender) is not None:
        return f"{sender} is in the member directory but has no portal account"
    return f"{sender} is not a portal user or a contact in the member directory"


def _contact(session: Session, sender: str) -> Liaison | None:
    """The sender's directory entry, if they hold a role at a library today."""
    held = select(Appointment.id).where(
        Appointment.liaison_id == Liaison.id, current_on(date.today())
    )
    return session.exec(select(Liaison).where(Liaison.email == sender, exists(held))).first()


# --- a reply ----------------------------------------------------------------------------------


def _reply(session: Session, mail: Inbound, size: int, user: User, ticket: Ticket) -> Outcome:
    try:
        tickets.get_ticket(session=session, actor=user, number=ticket.number)
    except NotFound:
        reason = f"{mail.sender} may not reply to ticket {ticket.number}"
        return _note(session, mail, size, Out.rejected, reason, author=user)
    files, refused = _checked(mail.files)
    body = _with_refusals(mail.text, refused)
    if not mail.text and not files:
        reason = "it had no text of its own once the quoted message and signature were removed"
        return _note(session, mail, size, Out.rejected, reason, author=user)
    try:
        data = CommentCreate(body=body or "(Files sent by e-mail.)")
    except ValidationError as exc:
        return _note(session, mail, size, Out.rejected, _invalid(exc), author=user)
    patron = _patron_data(session, [mail.text])
    record = _claim(session, mail, size, Out.replied, author=user, patron=patron)
    if record is None:
        return _duplicate(session, mail.key)
    try:
        comment = tickets.add_comment(session=session, actor=user, ticket=ticket, data=data)
    except DomainError as exc:
        session.rollback()
        return _note(session, mail, size, Out.rejected, _sentence(exc.detail), author=user)
    joined = session.get(Ticket, comment.ticket_id)
    done = [f"added as a reply to ticket {joined.number} by {user.name}"]
    return _finish(session, record, joined, user, files, refused, patron, done)


# --- a new report -----------------------------------------------------------------------------


def _file(session: Session, mail: Inbound, size: int, user: User | None) -> Outcome:
    contact = _contact(session, mail.sender)
    if contact is None:
        reason = _stranger(session, mail.sender)
        if user is not None:
            reason = (
                f"{mail.sender} is not a contact in the member directory, so it cannot file a "
                "new report by e-mail (the message answers no ticket)"
            )
        return _note(session, mail, size, Out.rejected, reason, author=user)
    if user is None or user.institution != contact.institution or user.is_staff:
        reason = f"{mail.sender} is in the member directory but has no portal account"
        return _note(session, mail, size, Out.rejected, reason)
    files, refused = _checked(mail.files)
    if not mail.text:
        reason = "it had no text of its own once the quoted message and signature were removed"
        return _note(session, mail, size, Out.rejected, reason, author=user)
    patron = _patron_data(session, [mail.subject, mail.text])
    subject = mail.subject if len(mail.subject) >= MIN_SUBJECT else f"By e-mail: {mail.subject}"
    try:
        data = TicketCreate(
            subject=subject[:200].strip(),
            description=_with_refusals(mail.text, refused),
            category=TicketCategory.other,
            contains_patron_data=patron,
        )
    except ValidationError as exc:
        return _note(session, mail, size, Out.rejected, _invalid(exc), author=user)
    record = _claim(session, mail, size, Out.filed, author=user, patron=patron)
    if record is None:
        return _duplicate(session, mail.key)
    try:
        ticket = tickets.create_ticket(session=session, actor=user, data=data)
    except DomainError as exc:
        session.rollback()
        return _note(session, mail, size, Out.rejected, _sentence(exc.detail), author=user)
    done = [f"filed as ticket {ticket.number} for {ticket.institution} by {user.name}"]
    return _finish(session, record, ticket, user, files, refused, False, done)


# --- what replies and reports share -----------------------------------------------------------


def _checked(files: list[File]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The files that pass the upload checks, and a sentence for each one that does not."""
    passed, refused = [], []
    for file in files:
        name = safe_filename(file.filename)
        try:
            content, _ = read_checked(io.BytesIO(file.content), attachments.max_bytes())
        except DomainError as exc:
            refused.append(f"{name} was not attached: {_sentence(exc.detail, end='')}")
            continue
        passed.append((name, content))
    return passed, refused


def _with_refusals(text: str, refused: list[str]) -> str:
    if not refused:
        return text
    return "\n\n".join([text, *(f"({r}.)" for r in refused)]).strip()


def _patron_data(session: Session, texts: list[str]) -> bool:
    return bool(tickets.find_patron_data(session=session, texts=list(texts)))


def _finish(
    session: Session,
    record: InboundMail,
    ticket: Ticket,
    user: User,
    files: list[tuple[str, bytes]],
    refused: list[str],
    flag: bool,
    done: list[str],
) -> Outcome:
    """After the reply or report is committed: its files, the patron-data mark, the record."""
    attached = 0
    for name, content in files:
        try:
            attachments.add_attachment(
                session=session,
                actor=user,
                ticket=ticket,
                filename=name,
                stream=io.BytesIO(content),
            )
            attached += 1
        except DomainError as exc:
            session.rollback()
            refused.append(f"{name} was not attached: {_sentence(exc.detail, end='')}")
    if attached:
        done.append(f"{attached} file{'s' if attached != 1 else ''} attached")
    done += refused
    if flag and not ticket.contains_patron_data:
        update = TicketUpdate(contains_patron_data=True)
        try:
            tickets.update_ticket(session=session, actor=user, ticket=ticket, data=update)
        except DomainError as exc:
            session.rollback()
            log.warning("inbound mail: patron-data mark not set", extra={"error": exc.detail})
    if record.patron_data:
        done.append("it looked like it held patron data, so the ticket is marked as holding it")
    record = session.get(InboundMail, record.id)
    record.ticket_number = ticket.number
    record.reason = _sentence("; ".join(done))
    session.add(record)
    session.commit()
    return Outcome(record.outcome, record.reason, ticket.number)


def _claim(
    session: Session,
    mail: Inbound,
    size: int,
    outcome: InboundOutcome,
    *,
    author: User,
    patron: bool,
) -> InboundMail | None:
    """The record, flushed in the transaction that adds the reply or report: a second delivery
    of the message waits on the unique key, then finds it taken (None)."""
    record = _row(mail, size, outcome, "Being handled.", author=author, patron=patron)
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        if _seen(session, mail.key):
            return None
        raise
    return record


def _note(
    session: Session,
    mail: Inbound,
    size: int,
    outcome: InboundOutcome,
    reason: str,
    *,
    author: User | None = None,
) -> Outcome:
    """Records a message nothing was done with (ignored or refused), in its own transaction."""
    reason = _sentence(reason)
    session.add(_row(mail, size, outcome, reason, author=author))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if _seen(session, mail.key):
            return _duplicate(session, mail.key)
        raise
    return Outcome(outcome, reason)


def _row(
    mail: Inbound,
    size: int,
    outcome: InboundOutcome,
    reason: str,
    *,
    author: User | None = None,
    patron: bool = False,
) -> InboundMail:
    return InboundMail(
        message_key=mail.key[:255],
        message_id=mail.message_id[:255] if mail.message_id else None,
        sender=mail.sender[:254] or "(no sender)",
        subject=mail.subject or "(no subject)",
        outcome=outcome,
        reason=reason,
        author=author.id if author else None,
        patron_data=patron,
        size=size,
    )


def _duplicate(session: Session, key: str) -> Outcome:
    row = session.exec(select(InboundMail).where(InboundMail.message_key == key)).one()
    return Outcome(row.outcome, row.reason, row.ticket_number, duplicate=True)


def _sentence(text: str, end: str = ".") -> str:
    """A capital (unless it starts with an e-mail address, kept as written) and a full stop."""
    text = text.strip().rstrip(".")
    if "@" not in text.split(" ", 1)[0]:
        text = text[:1].upper() + text[1:]
    return text + end


def _invalid(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]) for e in exc.errors()[:3]) or "it could not be read"


# --- the list staff look at -------------------------------------------------------------------


def refused_since(*, session: Session, actor: User, since: datetime) -> int:
    """How many messages were refused since `since` (the staff home's "needs attention")."""
    require_staff(actor, "see the mail received by the portal")
    stmt = select(func.count()).where(
        InboundMail.outcome == InboundOutcome.rejected, InboundMail.received_at >= since
    )
    return session.exec(stmt).one()


def list_mail(
    *, session: Session, actor: User, outcomes: list[InboundOutcome] | None, page: PageParams
) -> Window:
    """Received mail with these outcomes (None: all), newest first (consortium staff)."""
    require_staff(actor, "see the mail received by the portal")
    stmt = select(InboundMail)
    if outcomes is not None:
        stmt = stmt.where(col(InboundMail.outcome).in_(outcomes))
    stmt = stmt.order_by(col(InboundMail.received_at).desc(), col(InboundMail.id).desc())
    return fetch(session, stmt, page)
