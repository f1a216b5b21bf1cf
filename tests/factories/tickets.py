"""Builders for the tickets slice (mixed into `Factory`)."""

import itertools

from sqlmodel import Session

from app.models.ticket import CommentCreate, Ticket, TicketComment, TicketCreate
from app.models.user import Role, User
from app.services import tickets

_counter = itertools.count(1)


class TicketsBuilders:
    session: Session

    def ticket(self, requester: User | None = None, **values) -> Ticket:
        """Filed through the service (numbering, SLA, search index) by `requester`."""
        requester = requester or self.user(Role.library_staff)
        values.setdefault("subject", f"Test problem {next(_counter)}")
        values.setdefault("description", "Something does not work as it should.")
        values.setdefault("category", "fulfillment")
        if Role(requester.role).is_consortium:
            values.setdefault("institution", self.institution().code)
        data = TicketCreate(**values)
        return tickets.create_ticket(session=self.session, actor=requester, data=data)

    def comment(
        self, ticket: Ticket, author: User, body: str = "A reply.", internal: bool = False
    ) -> TicketComment:
        data = CommentCreate(body=body, internal=internal)
        return tickets.add_comment(session=self.session, actor=author, ticket=ticket, data=data)
