"""Retention (issue 15): purge the text of tickets closed long enough ago, per category.

A purge keeps what the consortium must keep (the ticket's number, dates, category, status and
who filed it) and removes what may name a patron: the subject and description (replaced by a
note saying the ticket was purged), every reply and note, every attachment (file and row), the
watchers, the vendor case number and the ticket's e-mails in the outbox. The search index
follows: SQLite FTS5 and PostgreSQL tsvector rows are kept by the triggers of migration 0004,
and FTS5's deleted entries are wiped (`tickets.search.prepare_purge`). The audit records how
much was purged, never the text.

Which tickets: closed ones, counted from when they were resolved (`resolved_at`, which holds
while a ticket is resolved or closed), past the shortest period that applies to them (their
category's or the default, and for tickets flagged as holding patron data the patron-data
period), not on legal hold and not purged already. The dry-run report and the purge read the
same statement, so the report says exactly what the purge does. The purge runs in bounded
batches, each its own transaction, and is idempotent.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, delete, func, or_, update
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid
from app.models.outbox import OutboxMessage
from app.models.retention import (
    DEFAULT,
    MAX_DAYS,
    PATRON_DATA,
    SCOPES,
    CategoryCount,
    PolicyPublic,
    RetentionPolicy,
    RetentionPublic,
    RetentionReport,
    RetentionUpdate,
)
from app.models.ticket import (
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketComment,
    TicketStatus,
    TicketWatcher,
)
from app.models.user import User
from app.notify.jobs import register_job
from app.services import audit
from app.services.access import require_admin, require_staff

log = logging.getLogger(__name__)

PURGED_SUBJECT = "Purged ticket"
PURGED_DESCRIPTION = (
    "This ticket's text, replies and files were purged on {day} under the consortium's "
    "retention policy. Its number, dates and category are kept."
)


def minimum_days() -> int:
    return get_settings().retention_minimum_days


# --- policies ---------------------------------------------------------------------------------


def policies(*, session: Session) -> dict[str, RetentionPolicy]:
    return {p.scope: p for p in session.exec(select(RetentionPolicy))}


def read_policies(*, session: Session, actor: User) -> RetentionPublic:
    require_admin(actor, "see the retention policy")
    return _public(policies(session=session))


def _public(found: dict[str, RetentionPolicy]) -> RetentionPublic:
    return RetentionPublic(
        minimum_days=minimum_days(),
        policies=[
            PolicyPublic(
                scope=scope,
                days=found[scope].days if scope in found else None,
                updated_at=found[scope].updated_at if scope in found else None,
            )
            for scope in SCOPES
        ],
    )


def scope_name(scope: str) -> str:
    """A scope in words, for error messages (pages use `app.models.labels`)."""
    if scope == PATRON_DATA:
        return "Tickets with patron data"
    if scope == DEFAULT:
        return "Every other category"
    return scope.replace("_", " ").capitalize()


def replace_policies(*, session: Session, actor: User, data: RetentionUpdate) -> RetentionPublic:
    """Every policy at once. A period shorter than the configured minimum (or longer than a
    century) is refused, every such field named at once, and nothing is written."""
    require_admin(actor, "change the retention policy")
    wanted = {scope: getattr(data, scope) for scope in SCOPES}
    least = minimum_days()
    errors = [
        FieldError(
            scope,
            f"must be at least {least} days (the consortium's minimum), or empty to keep forever"
            if days < least
            else f"must be at most {MAX_DAYS} days; leave it empty to keep forever",
        )
        for scope, days in wanted.items()
        if days is not None and not least <= days <= MAX_DAYS
    ]
    if errors:
        names = ", ".join(scope_name(e.field) for e in errors)
        raise Invalid(
            f"A retention period must be at least {least} days after a ticket closes "
            f"({names}). Nothing was changed.",
            errors,
        )
    found = policies(session=session)
    before = {s: p.days for s, p in found.items()}
    now = utcnow()
    for scope, days in wanted.items():
        row = found.get(scope)
        if days is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = RetentionPolicy(scope=scope, days=days)
        elif row.days == days:
            continue
        row.days, row.updated_at, row.updated_by = days, now, actor.id
        session.add(row)
    after = {s: d for s, d in wanted.items() if d is not None}
    old, new = audit.changes(before, after)
    gone = {s: before[s] for s in before if s not in after}
    if new or gone:
        audit.record(
            session,
            actor=actor,
            action="update",
            entity_type="retention_policy",
            entity_id="tickets",
            before=old | gone,
            after=new | {s: None for s in gone},
        )
    session.commit()
    return _public(policies(session=session))


# --- which tickets ----------------------------------------------------------------------------


def periods(found: dict[str, RetentionPolicy]) -> dict[str, int | None]:
    """Each category's period (its own, else the default; None keeps forever)."""
    default = found[DEFAULT].days if DEFAULT in found else None
    return {c.value: (found[c.value].days if c.value in found else default) for c in TicketCategory}


def _due(found: dict[str, RetentionPolicy], now: datetime):
    """The condition a ticket past its period meets (hold and purged state aside), or None
    when no policy purges anything. Categories with the same period share one condition."""
    by_days: dict[int, list[str]] = {}
    for category, days in periods(found).items():
        if days is not None:
            by_days.setdefault(days, []).append(category)
    closed_before = [
        and_(col(Ticket.category).in_(categories), col(Ticket.resolved_at) <= now - timedelta(d))
        for d, categories in sorted(by_days.items())
    ]
    if PATRON_DATA in found:
        cutoff = now - timedelta(found[PATRON_DATA].days)
        closed_before.append(
            and_(Ticket.contains_patron_data == True, col(Ticket.resolved_at) <= cutoff)  # noqa: E712
        )
    if not closed_before:
        return None
    return and_(
        Ticket.status == TicketStatus.closed,
        col(Ticket.resolved_at).is_not(None),
        col(Ticket.purged_at).is_(None),
        or_(*closed_before),
    )


@dataclass
class _Tally:
    tickets: int = 0
    patron_data: int = 0
    comments: int = 0
    attachments: int = 0


@dataclass
class _Counts:
    by_category: dict[str, _Tally] = field(default_factory=dict)

    def tally(self, category: str) -> _Tally:
        return self.by_category.setdefault(category, _Tally())


def _report(
    found: dict[str, RetentionPolicy], counts: _Counts, held: int, now: datetime, dry_run: bool
) -> RetentionReport:
    days = periods(found)
    rows = [
        CategoryCount(
            category=category,
            days=days.get(category),
            tickets=t.tickets,
            patron_data=t.patron_data,
            comments=t.comments,
            attachments=t.attachments,
        )
        for category, t in sorted(counts.by_category.items())
        if t.tickets
    ]
    return RetentionReport(
        as_of=now,
        dry_run=dry_run,
        tickets=sum(r.tickets for r in rows),
        comments=sum(r.comments for r in rows),
        attachments=sum(r.attachments for r in rows),
        held=held,
        categories=rows,
    )


def _held(session: Session, due) -> int:
    return session.scalar(
        select(func.count()).select_from(Ticket).where(due, Ticket.legal_hold == True)  # noqa: E712
    )


def report(*, session: Session, actor: User | None, now: datetime | None = None) -> RetentionReport:
    """The dry run: what a purge now would remove, per category; nothing is written. Three
    statements however many tickets (tickets, their replies, their files per category)."""
    if actor is not None:
        require_admin(actor, "see the retention report")
    now = now or utcnow()
    found = policies(session=session)
    due = _due(found, now)
    counts = _Counts()
    if due is None:
        return _report(found, counts, 0, now, dry_run=True)
    purgeable = and_(due, Ticket.legal_hold == False)  # noqa: E712
    for category, tickets, patron in session.execute(
        select(
            Ticket.category,
            func.count(Ticket.id),
            func.count(Ticket.id).filter(Ticket.contains_patron_data == True),  # noqa: E712
        )
        .where(purgeable)
        .group_by(Ticket.category)
    ):
        tally = counts.tally(str(category))
        tally.tickets, tally.patron_data = tickets, patron
    for model, attribute in ((TicketComment, "comments"), (TicketAttachment, "attachments")):
        for category, n in session.execute(
            select(Ticket.category, func.count(model.id))
            .join(Ticket, Ticket.id == model.ticket_id)
            .where(purgeable)
            .group_by(Ticket.category)
        ):
            setattr(counts.tally(str(category)), attribute, n)
    return _report(found, counts, _held(session, due), now, dry_run=True)


# --- the purge --------------------------------------------------------------------------------


def purge(
    *,
    session: Session,
    actor: User | None = None,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> RetentionReport:
    """Purges what `report` lists, `batch_size` tickets per transaction, at most `max_batches`
    batches (the next run goes on). `actor` None: the scheduled job."""
    from app.services.tickets import search  # the ticket slice imports this module lazily

    if actor is not None:
        require_admin(actor, "purge tickets")
    settings = get_settings()
    batch_size = batch_size or settings.retention_batch_size
    max_batches = max_batches or settings.retention_max_batches
    now = now or utcnow()
    found = policies(session=session)
    due = _due(found, now)
    counts = _Counts()
    if due is None:
        return _report(found, counts, 0, now, dry_run=False)
    purgeable = and_(due, Ticket.legal_hold == False)  # noqa: E712
    for _ in range(max_batches):
        tickets = session.exec(
            select(Ticket).where(purgeable).order_by(col(Ticket.id)).limit(batch_size)
        ).all()
        if not tickets:
            break
        search.prepare_purge(session)
        files = _purge_batch(session, actor, tickets, counts, now)
        session.commit()
        search.purge(session)
        session.commit()
        for path in files:  # after the commit: a failed batch keeps its files
            path.unlink(missing_ok=True)
    done = _report(found, counts, _held(session, due), now, dry_run=False)
    if done.tickets:
        log.info("retention purge", extra={"tickets": done.tickets})
    return done


def _purge_batch(
    session: Session, actor: User | None, tickets: list[Ticket], counts: _Counts, now: datetime
) -> list[Path]:
    from app.services.tickets import attachments as ticket_files

    ids = [t.id for t in tickets]
    per_comments = _count_by_ticket(session, TicketComment, ids)
    stored = session.exec(
        select(TicketAttachment).where(col(TicketAttachment.ticket_id).in_(ids))
    ).all()
    per_files: dict[int, int] = {}
    for a in stored:
        per_files[a.ticket_id] = per_files.get(a.ticket_id, 0) + 1
    files = [ticket_files.file_path(a) for a in stored]
    # The ticket's e-mails (kept as "sent mail") repeat its text: they go too.
    mails = session.execute(
        select(OutboxMessage.id, OutboxMessage.dedupe_key).where(
            or_(*(col(OutboxMessage.dedupe_key).startswith(f"ticket:{i}:") for i in ids))
        )
    ).all()
    per_mail: dict[int, int] = {}
    for _, key in mails:
        owner = int(key.split(":", 2)[1])
        per_mail[owner] = per_mail.get(owner, 0) + 1
    # Bulk statements: the row-level search-index triggers still fire for each row.
    session.execute(delete(TicketComment).where(col(TicketComment.ticket_id).in_(ids)))
    session.execute(delete(TicketAttachment).where(col(TicketAttachment.ticket_id).in_(ids)))
    session.execute(delete(TicketWatcher).where(col(TicketWatcher.ticket_id).in_(ids)))
    if mails:
        session.execute(
            delete(OutboxMessage).where(col(OutboxMessage.id).in_([m[0] for m in mails]))
        )
    session.execute(
        update(Ticket)
        .where(col(Ticket.id).in_(ids))
        .values(
            subject=PURGED_SUBJECT,
            description=PURGED_DESCRIPTION.format(day=now.date().isoformat()),
            vendor_case=None,
            purged_at=now,
            version=Ticket.version + 1,
            public_version=Ticket.public_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    for ticket in tickets:
        tally = counts.tally(str(ticket.category))
        tally.tickets += 1
        tally.patron_data += 1 if ticket.contains_patron_data else 0
        tally.comments += per_comments.get(ticket.id, 0)
        tally.attachments += per_files.get(ticket.id, 0)
        kind, key = audit.identity(ticket)
        audit.record(  # how much, under which rule; never the text
            session,
            actor=actor,
            action="purge",
            entity_type=kind,
            entity_id=key,
            after={
                "comments": per_comments.get(ticket.id, 0),
                "attachments": per_files.get(ticket.id, 0),
                "emails": per_mail.get(ticket.id, 0),
                "category": str(ticket.category),
                "patron_data": ticket.contains_patron_data,
            },
        )
    for ticket in tickets:
        session.expire(ticket)
    return files


def _count_by_ticket(session: Session, model, ids: list[int]) -> dict[int, int]:
    return dict(
        session.execute(
            select(model.ticket_id, func.count(model.id))
            .where(col(model.ticket_id).in_(ids))
            .group_by(model.ticket_id)
        ).all()
    )


# --- legal hold -------------------------------------------------------------------------------


def set_legal_hold(*, session: Session, actor: User, ticket: Ticket, hold: bool) -> None:
    """Consortium staff put a ticket on legal hold (the purge then leaves it) or lift it; only
    staff see it. Asking for the state it has changes nothing."""
    require_staff(actor, "put a ticket on legal hold or lift it")
    if ticket.legal_hold == hold:
        return
    from app.services.tickets.records import lock, touch

    lock(session, ticket)
    before = {"legal_hold": ticket.legal_hold}
    ticket.legal_hold = hold
    touch(ticket, utcnow(), public=False)  # library users are not told of a hold
    session.add(ticket)
    kind, key = audit.identity(ticket)
    audit.record(
        session,
        actor=actor,
        action="legal_hold" if hold else "lift_legal_hold",
        entity_type=kind,
        entity_id=key,
        before=before,
        after={"legal_hold": hold},
    )
    session.commit()


# --- the scheduled job ------------------------------------------------------------------------


def _purge_job(session: Session, period: datetime) -> None:
    purge(session=session)


register_job("retention-purge", every=timedelta(hours=1), fn=_purge_job)
