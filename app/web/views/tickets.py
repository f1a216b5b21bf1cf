"""What ticket pages and fragments show beside the data: names instead of ids, the timeline,
the attachments, and the controls this user may use. Only pages and fragments call these; JSON
never builds any of it."""

from dataclasses import dataclass
from typing import Any

from fastapi import Request

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
from app.models.user import User
from app.services import tickets as service
from app.services.access import is_staff
from app.services.tickets import attachments, search
from app.services.tickets.queries import list_etags
from app.web.render import Representation, View, representation


@dataclass
class TimelineEntry:
    """A reply or note, or a history event: one row of the ticket page's timeline."""

    comment: CommentPublic | None = None
    event: EventPublic | None = None

    @property
    def at(self):
        return self.comment.created_at if self.comment else self.event.at


# The queue's choices in plain words, in the order the page offers them.
VIEW_NAMES = {
    service.TicketView.open: "Open (not resolved or closed)",
    service.TicketView.unassigned: "Open and unassigned",
    service.TicketView.mine: "Assigned to me",
    service.TicketView.due_soon: "Due within 4 business hours",
    service.TicketView.breaching: "Past their SLA target",
    service.TicketView.all: "All tickets, closed ones too",
}
SORT_NAMES = {
    service.TicketSort.created_desc: "Newest first",
    service.TicketSort.created: "Oldest first",
    service.TicketSort.updated_desc: "Recently updated",
    service.TicketSort.updated: "Least recently updated",
    service.TicketSort.sla_due: "SLA due soonest",
    service.TicketSort.priority: "Priority (system down first)",
}


def page_default_view(request: Request, user: User) -> service.TicketView | None:
    """Staff's queue page opens on the open tickets when no queue or status was asked for;
    JSON keeps the documented default (`all`), so API clients get what they always got."""
    asked = request.query_params
    if not is_staff(user) or "view" in asked or "status" in asked:
        return None
    if representation(request) is Representation.json:
        return None
    return service.TicketView.open


def ticket_list(view: View) -> dict[str, Any]:
    """The filter choices, the assignees' names, the subjects with the searched words marked,
    and for staff the bulk bar: whom to assign to, and each row's ETag as the list showed it
    (one statement each, whatever the page size)."""
    rows: list[TicketPublic] = view.data.data
    query = view.params.get("query")
    filters = query.filters if query is not None else service.TicketFilters()
    context: dict[str, Any] = {
        "names": _names(view, {t.assignee for t in rows}),
        "statuses": list(TicketStatus),
        "priorities": list(TicketPriority),
        "categories": list(TicketCategory),
        "views": VIEW_NAMES,
        "sorts": SORT_NAMES,
        "current_view": filters.view.value,
        "current_sort": filters.sort.value,
        "marked": {t.number: search.highlight(t.subject, filters.q) for t in rows},
        "etags": {},
        "staff": [],
        "bulk_statuses": [],
    }
    if is_staff(view.user):
        numbers = [t.number for t in rows]
        context["etags"] = list_etags(session=view.session, actor=view.user, numbers=numbers)
        context["staff"] = [(u.id, u.name) for u in service.assignable(session=view.session)]
        # No ticket moves back to `new`; offering it would only ever be refused.
        context["bulk_statuses"] = [s for s in TicketStatus if s is not TicketStatus.new]
    return context


def ticket_detail(view: View) -> dict[str, Any]:
    """The ticket page: the sidebar's facts and controls, attachments, and the timeline of
    replies, notes and events in order."""
    return _detail(view, view.data)


def _detail(view: View, data: TicketPublic) -> dict[str, Any]:
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
        "matches": getattr(data, "patron_data_matches", []),
    }


def ticket_filed(view: View) -> dict[str, Any]:
    """The "report filed" confirmation: the number, what happens next, the way to the ticket."""
    return {"matches": view.data.patron_data_matches}


def comment_written(view: View) -> dict[str, Any]:
    """htmx: the new reply or note, and the sidebar swapped in beside it (a reply may move the
    status, and the ETag the status form sends changes with every write). A whole page (a form
    posted without htmx, a boosted form, a history restore): the ticket page with the reply."""
    ticket = _row(view, view.data.ticket)
    sidebar = service.public(view.session, ticket, view.user)
    if representation(view.request) is Representation.page:
        return {"ticket": sidebar, **_detail(view, sidebar)}
    return {
        "sidebar": sidebar,
        **_sidebar(view, ticket, sidebar, {view.data.author}),
        "changed": changed,
    }


def comment_list(view: View) -> dict[str, Any]:
    return {"names": _names(view, {c.author for c in view.data.data})}


def event_list(view: View) -> dict[str, Any]:
    shown = view.data.data
    assigned = {e.data.get("to") for e in shown if e.kind == TicketEventKind.assignment}
    return {"names": _names(view, {e.actor for e in shown} | assigned), "changed": changed}


# What a "change" event names, in words (`vendor_case` → "the vendor case number").
FIELD_WORDS = {
    "subject": "the subject",
    "description": "the description",
    "category": "the category",
    "priority": "the priority",
    "status": "the status",
    "product": "the product",
    "environment": "the environment",
    "assignee": "the assignee",
    "vendor_case": "the vendor case number",
    "contains_patron_data": "the patron-data flag",
    "watchers": "who may watch the ticket",
}


def changed(fields: list[str]) -> str:
    """`["subject", "vendor_case"]` → "the subject and the vendor case number"."""
    words = [FIELD_WORDS.get(f, f.replace("_", " ")) for f in fields]
    if len(words) < 2:
        return "".join(words) or "the ticket"
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _sidebar(view: View, ticket: Ticket, data: TicketPublic, people: set) -> dict[str, Any]:
    """The facts and controls beside a ticket; `people` are further ids the page names."""
    user = view.user
    staff = service.assignable(session=view.session) if user.is_staff else []
    # Staff and library leads choose anyone who may watch; library staff only themselves.
    candidates = (
        service.watch_candidates(session=view.session, actor=user, ticket=ticket)
        if user.is_staff or user.is_library_lead
        else [user]
    )
    return {
        "names": _names(view, {data.requester, data.assignee, *data.watchers} | people),
        "staff": [(u.id, u.name) for u in staff],
        "next_statuses": service.next_statuses(user, ticket),
        "etag": service.etag(ticket, user),
        "priorities": list(TicketPriority),
        "watch_candidates": [(u.id, u.name) for u in candidates],
        "changed": changed,
    }


def _row(view: View, number: str) -> Ticket:
    """The row the route loaded (or wrote) for the ticket shown, without asking again."""
    loaded = view.params.get("ticket")
    if isinstance(loaded, Ticket) and loaded.number == number:
        return loaded
    return service.by_number(session=view.session, number=number)


def _names(view: View, ids: set[int | None]) -> dict[int, str]:
    return {i: u.name for i, u in service.people(session=view.session, ids=ids).items()}
