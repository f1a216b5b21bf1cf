"""What ticket pages and fragments show beside the data: names instead of ids, the timeline,
the attachments, and the controls this user may use. Only pages and fragments call these; JSON
never builds any of it."""

from dataclasses import dataclass
from typing import Any

from app.models.ticket import (
    CommentPublic,
    EventPublic,
    Ticket,
    TicketCategory,
    TicketEventKind,
    TicketPriority,
    TicketPublic,
    TicketStatus,
)
from app.services import tickets as service
from app.services.tickets import attachments
from app.web.render import View


@dataclass
class TimelineEntry:
    """A reply or note, or a history event: one row of the ticket page's timeline."""

    comment: CommentPublic | None = None
    event: EventPublic | None = None

    @property
    def at(self):
        return self.comment.created_at if self.comment else self.event.at


def ticket_list(view: View) -> dict[str, Any]:
    """The filter choices and the assignees' names."""
    return {
        "names": _names(view, {t.assignee for t in view.data.data}),
        "statuses": list(TicketStatus),
        "priorities": list(TicketPriority),
        "categories": list(TicketCategory),
        "views": list(service.TicketView),
        "sorts": list(service.TicketSort),
    }


def ticket_detail(view: View) -> dict[str, Any]:
    """The ticket page: the sidebar's facts and controls, attachments, and the timeline of
    replies, notes and events in order."""
    data: TicketPublic = view.data
    ticket = _row(view, data.number)
    comments = service.list_comments(session=view.session, actor=view.user, ticket=ticket)
    events = [
        e
        for e in service.list_events(session=view.session, actor=view.user, ticket=ticket)
        if e.kind != TicketEventKind.comment  # the comment itself stands in the timeline
    ]
    timeline = sorted(
        [TimelineEntry(comment=c) for c in comments] + [TimelineEntry(event=e) for e in events],
        key=lambda entry: entry.at,
    )
    people = {c.author for c in comments} | {e.actor for e in events}
    return {
        **_sidebar(view, ticket, data, people),
        "timeline": timeline,
        "attachments": attachments.list_attachments(session=view.session, ticket=ticket),
        "attachment_limit": f"{attachments.max_bytes() // 2**20} MB",
    }


def comment_written(view: View) -> dict[str, Any]:
    """The new reply or note, and the sidebar swapped in beside it: a reply may move the status,
    and the ETag the status form sends changes with every write."""
    ticket = _row(view, view.data.ticket)
    sidebar = service.public(view.session, ticket, view.user)
    return {"sidebar": sidebar, **_sidebar(view, ticket, sidebar, {view.data.author})}


def comment_list(view: View) -> dict[str, Any]:
    return {"names": _names(view, {c.author for c in view.data.data})}


def event_list(view: View) -> dict[str, Any]:
    shown = view.data.data
    assigned = {e.data.get("to") for e in shown if e.kind == TicketEventKind.assignment}
    return {"names": _names(view, {e.actor for e in shown} | assigned)}


def _sidebar(view: View, ticket: Ticket, data: TicketPublic, people: set) -> dict[str, Any]:
    """The facts and controls beside a ticket; `people` are further ids the page names."""
    user = view.user
    staff = service.assignable(session=view.session) if user.is_staff else []
    return {
        "names": _names(view, {data.requester, data.assignee, *data.watchers} | people),
        "staff": [(u.id, u.name) for u in staff],
        "next_statuses": service.next_statuses(user, ticket),
        "etag": service.etag(ticket, user),
        "priorities": list(TicketPriority),
    }


def _row(view: View, number: str) -> Ticket:
    """The row the route loaded (or wrote) for the ticket shown, without asking again."""
    loaded = view.params.get("ticket")
    if isinstance(loaded, Ticket) and loaded.number == number:
        return loaded
    return service.by_number(session=view.session, number=number)


def _names(view: View, ids: set[int | None]) -> dict[int, str]:
    return {i: u.name for i, u in service.people(session=view.session, ids=ids).items()}
