"""Who hears about a ticket, by e-mail through the outbox (never sent inline in a request).

A message carries the subject and a link, never ticket text beyond the subject (patron data
stays in the portal) and never an internal note.
"""

from sqlmodel import Session

from app.core.config import get_settings
from app.models.labels import label
from app.models.ticket import Ticket, TicketPriority, TicketStatus
from app.models.user import User
from app.notify.outbox import enqueue
from app.services.api_clients import EMAIL_DOMAIN
from app.services.tickets.queries import assignable, can_see, people, watchers_of

URGENT = (TicketPriority.high, TicketPriority.system_down)


def urgent(session: Session, actor: User, ticket: Ticket) -> None:
    """A high or system-down filing alerts every active consortium staff member but its filer."""
    if ticket.priority not in URGENT:
        return
    staff = [u.email for u in assignable(session=session) if u.id != actor.id]
    mail(session, ticket, staff, "tickets/urgent", f"urgent:{ticket.id}")


def assigned(session: Session, actor: User, ticket: Ticket, assignee: User) -> None:
    """The new assignee hears of it, unless they took the ticket themselves."""
    if assignee.id != actor.id:
        key = f"assigned:{ticket.id}:{ticket.version}"
        mail(session, ticket, [assignee.email], "tickets/assigned", key)


def filed(session: Session, actor: User, ticket: Ticket) -> None:
    """The filer's confirmation, with the number to quote."""
    mail(session, ticket, [actor.email], "tickets/filed", "filed")


def assignee(session: Session, actor: User, ticket: Ticket, template: str, key: str) -> None:
    """The assigned staff member hears of what the library did (e.g. its reply)."""
    if ticket.assignee is not None and ticket.assignee != actor.id:
        found = people(session=session, ids={ticket.assignee}).get(ticket.assignee)
        if found is not None and found.active:
            mail(session, ticket, [found.email], template, key)


def redirected(session: Session, merged: Ticket, target: Ticket, key: str) -> None:
    """A reply sent to a merged ticket went to the ticket it was merged into: the merged
    ticket's requester is told where the conversation now is (if they may see it)."""
    watchers = watchers_of(session, target)
    found = people(session=session, ids={merged.requester}).get(merged.requester)
    if found is None or not can_see(found, target, watchers):
        return
    mail(session, target, [found.email], "tickets/redirected", key, merged=merged.number)


def followers(
    session: Session, actor: User | None, ticket: Ticket, template: str, key: str
) -> None:
    """The requester and watchers who may still see the ticket, except whoever acted (None:
    the portal itself acted, e.g. closing a resolved ticket)."""
    watchers = watchers_of(session, ticket)
    found = people(session=session, ids={ticket.requester, *watchers})
    acted = actor.id if actor else None
    to = [u.email for u in found.values() if u.id != acted and can_see(u, ticket, watchers)]
    mail(session, ticket, sorted(to), template, key)


CLIENT_ADDRESSES = "@" + EMAIL_DOMAIN


def mail(
    session: Session, ticket: Ticket, to: list[str], template: str, key: str, **extra: str
) -> None:
    """One message per recipient, deduplicated by ticket, occasion and address; statuses and
    priorities in words (`status_label`), beside their codes. An API client's principal (the
    requester of what a tool filed) has an address that is never delivered: it is left out."""
    for address in to:
        if address.endswith(CLIENT_ADDRESSES):
            continue
        enqueue(
            session,
            to=address,
            template=template,
            context={
                "number": ticket.number,
                "subject": ticket.subject,
                "status": str(ticket.status),
                "priority": str(ticket.priority),
                "institution": ticket.institution,
                "path": f"/tickets/{ticket.number}",
                "status_label": label(TicketStatus(ticket.status)).lower(),
                "priority_label": label(TicketPriority(ticket.priority)).lower(),
                **extra,
            },
            dedupe_key=f"ticket:{ticket.id}:{key}:{address}",
            reply_to=get_settings().mail_in_address or None,  # reply by e-mail (mail_in)
        )
