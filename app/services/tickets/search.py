"""Full-text search over subjects, descriptions and comments.

SQLite: the FTS5 table `ticket_fts`; PostgreSQL: `ticket_fts.document` (tsvector, GIN index).
Both hold one document per ticket and per comment, kept in sync by triggers (migration 0004).
A library user's search never matches an internal note: on SQLite notes are a column the query
leaves out, on PostgreSQL rows marked internal.
"""

import re

from sqlalchemy import ColumnElement, column, table, text
from sqlalchemy.sql import Select, select

from app.models.ticket import Ticket

WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 8

_fts = table("ticket_fts", column("ticket_id"), column("internal"))


def terms(q: str) -> list[str]:
    """Words only: operators and quotes typed into the box never reach the search syntax."""
    return WORD.findall(q.lower())[:MAX_TERMS]


def matching(q: str, *, dialect: str, include_internal: bool) -> ColumnElement[bool] | None:
    """A condition on `ticket.id`, or None when the query has no words."""
    words = terms(q)
    if not words:
        return None
    if dialect == "postgresql":
        # Every word, stemmed like the indexed text; the last one as a prefix (live search).
        query = " & ".join([*words[:-1], f"{words[-1]}:*"])
        condition = text("ticket_fts.document @@ to_tsquery('english', :fts_q)").bindparams(
            fts_q=query
        )
        stmt: Select = select(_fts.c.ticket_id).where(condition)
        if not include_internal:
            stmt = stmt.where(_fts.c.internal == False)  # noqa: E712
    else:
        # The rowid holds the ticket; notes are a column of their own (migration 0004).
        phrase = " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*'])
        query = phrase if include_internal else f"{{subject body}} : ({phrase})"
        stmt = (
            select(text("rowid >> 32"))
            .select_from(text("ticket_fts"))
            .where(text("ticket_fts MATCH :fts_q").bindparams(fts_q=query))
        )
    return Ticket.id.in_(stmt)
