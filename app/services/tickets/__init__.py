"""Problem reports from filing to resolution, by concern:

- `queries`: who sees which ticket, the list with filters and keyset cursor, the JSON shapes
- `workflow`: filing and numbering, edits, status transitions, assignment, watchers, comments,
  merging
- `privacy`: the patron-data check before sending, and redaction
- `notices`: who is e-mailed (through the outbox) about what
- `attachments`, `search` (full text), `sla` (the business-hours clock)
- `records`: what every write shares (row lock, version, timeline events, audit entries)

Imports run one way: sla ← records ← queries ← notices ← workflow (search beside records);
attachments need records, privacy records, attachments and search. The names routes and
other slices use are re-exported here.
"""

from app.services.tickets.privacy import find_patron_data, patron_matches, redact
from app.services.tickets.queries import (
    TicketFilters,
    TicketSort,
    TicketView,
    TicketWindow,
    assignable,
    by_number,
    can_see,
    comment_public,
    encode_cursor,
    get_ticket,
    list_comments,
    list_events,
    list_tickets,
    people,
    public,
    read_ticket,
    sees_patron_data,
    to_public,
    visible,
)
from app.services.tickets.records import etag
from app.services.tickets.workflow import (
    add_comment,
    close_resolved,
    create_ticket,
    merge_ticket,
    next_statuses,
    update_ticket,
    watch_candidates,
)

__all__ = [
    "TicketFilters",
    "TicketSort",
    "TicketView",
    "TicketWindow",
    "add_comment",
    "assignable",
    "by_number",
    "can_see",
    "close_resolved",
    "comment_public",
    "create_ticket",
    "encode_cursor",
    "etag",
    "find_patron_data",
    "get_ticket",
    "list_comments",
    "list_events",
    "list_tickets",
    "merge_ticket",
    "next_statuses",
    "patron_matches",
    "people",
    "public",
    "read_ticket",
    "redact",
    "sees_patron_data",
    "to_public",
    "update_ticket",
    "visible",
    "watch_candidates",
]
