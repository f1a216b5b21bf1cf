"""Full-text search over subjects, descriptions and comments.

SQLite: the FTS5 table `ticket_fts`; PostgreSQL: `ticket_fts.document` (tsvector, GIN index).
Both hold one document per ticket and per comment, kept in sync by triggers (migration 0004).
A library user's search never matches an internal note: on SQLite notes are a column the query
leaves out, on PostgreSQL rows marked internal.
"""

import re
import sqlite3
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import ColumnElement, column, table, text
from sqlalchemy.sql import Select, select
from sqlmodel import Session

from app.core.config import get_settings
from app.models.ticket import Ticket

WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 8
# `2026-00042`, `#2026-42`, or within the current year `00042`, `42`.
NUMBER = re.compile(r"^\s*#?\s*(?:(\d{4})-)?(\d{1,5})\s*$")

_fts = table("ticket_fts", column("ticket_id"), column("internal"))


def terms(q: str) -> list[str]:
    """Words only: operators and quotes typed into the box never reach the search syntax."""
    return WORD.findall(q.lower())[:MAX_TERMS]


def ticket_number(q: str, now: datetime) -> str | None:
    """The ticket number a query names, if it is one: a bare number means this year's (in the
    consortium's time zone, as numbers are given)."""
    found = NUMBER.match(q)
    if found is None or int(found[2]) == 0:
        return None
    year = found[1] or str(now.astimezone(get_settings().tz).year)
    return f"{year}-{int(found[2]):05d}"


def highlight(text: str, q: str | None) -> Markup:
    """`text` escaped, with the words that match `q` (a word starting with a term, as the search
    matches the last one) in `<mark>`. The text is split first and each piece escaped, so a mark
    never lands inside an entity or a tag."""
    words = terms(q or "")
    if not words:
        return escape(text)
    pattern = re.compile(
        r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\w*",
        re.IGNORECASE,
    )
    pieces: list[str] = []
    last = 0
    for hit in pattern.finditer(text):
        pieces.append(escape(text[last : hit.start()]))
        pieces.append(Markup("<mark>%s</mark>") % hit.group())
        last = hit.end()
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)


def matching(
    q: str, *, dialect: str, include_internal: bool, walk: bool = False
) -> ColumnElement[bool] | None:
    """A condition on `ticket.id`, or None when the query has no words.

    SQLite reads the tickets of the matches one by one and sorts them, unless `walk`: then the
    matches are only a list each ticket is checked against (`id + 0` is no column an index can
    serve), while the tickets are read in the index order of the sort, until the page is full.
    Past a few thousand matches that is the faster of the two (`queries.WALK_FROM`)."""
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
        stmt = _rowids(words, include_internal)
        if walk:
            return (Ticket.id + 0).in_(stmt)
    return Ticket.id.in_(stmt)


def _rowids(words: list[str], include_internal: bool) -> Select:
    """The tickets of the matching FTS5 rows: the rowid holds the ticket, and notes are a column
    of their own (migration 0004) that a library user's query leaves out."""
    phrase = " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*'])
    query = phrase if include_internal else f"{{subject body}} : ({phrase})"
    return (
        select(text("rowid >> 32"))
        .select_from(text("ticket_fts"))
        .where(text("ticket_fts MATCH :fts_q").bindparams(fts_q=query))
    )


def capped(q: str, *, cap: int) -> Select | None:
    """SQLite: at most `cap` tickets a staff search (notes included) matches, read in the index's
    rowid order so that the scan stops at `cap` (a count "exact up to 10,000"); None when the
    query has no words. A ticket can match more than once (its text, its comments), and `IN`
    gathers every match to drop the repeats: for a common word, most of a million-row index.
    The rowids hold the ticket and come in order, so repeats are dropped as they come."""
    words = terms(q)
    return _rowids(words, include_internal=True).distinct().limit(cap) if words else None


# --- forgetting redacted text -----------------------------------------------------------------
# Updating a row replaces its index entry, but FTS5 keeps a deleted entry's terms in the index's
# stored segments until they are merged. From SQLite 3.42 its `secure-delete` option removes
# them at once; before that, `optimize` merges every segment (its cost grows with the index,
# and redaction is rare). `secure_delete` zeroes the freed pages of the content table too.
# PostgreSQL's triggers rewrite the tsvector row in the same transaction.
SECURE_DELETE = sqlite3.sqlite_version_info >= (3, 42)


def prepare_purge(session: Session) -> None:
    """Before a redaction writes: deleted index entries and pages are then wiped, not kept."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.execute(text("PRAGMA secure_delete = ON"))
    if SECURE_DELETE:
        option = "INSERT INTO ticket_fts(ticket_fts, rank) VALUES ('secure-delete', 1)"
        session.execute(text(option))


def purge(session: Session) -> None:
    """After a redaction's rows were written: no stored segment keeps the removed text."""
    if session.get_bind().dialect.name == "sqlite" and not SECURE_DELETE:
        session.execute(text("INSERT INTO ticket_fts(ticket_fts) VALUES ('optimize')"))
