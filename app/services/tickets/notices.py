"""Who hears about a ticket, by e-mail through the outbox (never sent inline in a request).

A message carries the subject and a link, never ticket text beyond the subject (patron data
stays in the portal) and never an internal note.
"""

from sqlmodel import Session

from app.models.ticket import Ticket, TicketPriority
from app.models.user import User
from app.notify.outbox import enqueue
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


def followers(session: Session, actor: User, ticket: Ticket, template: str, key: str) -> None:
    """The requester and watchers who may still see the ticket, except whoever acted."""
    watchers = watchers_of(session, ticket)
    found = people(session=session, ids={ticket.requester, *watchers})
    to = [u.email for u in found.values() if u.id != actor.id and can_see(u, ticket, watchers)]
    mail(session, ticket, sorted(to), template, key)


def mail(session: Session, ticket: Ticket, to: list[str], template: str, key: str) -> None:
    """One message per recipient, deduplicated by ticket, occasion and address."""
    for address in to:
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
            },
            dedupe_key=f"ticket:{ticket.id}:{key}:{address}",
        )
