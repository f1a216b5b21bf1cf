"""Demo tickets: a few hundred clearly synthetic reports across libraries, categories, statuses
and ages, so queues, SLA flags and search have something real to show. No patron data."""

import random
from datetime import timedelta

from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.institution import Institution, InstitutionStatus
from app.models.ticket import (
    Ticket,
    TicketComment,
    TicketCounter,
    TicketEvent,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
)
from app.models.user import Role, User
from app.services.tickets import sla

COUNT = 300
SUBJECTS = [
    ("access_login", "alma", "Staff cannot sign in to Alma with SAML"),
    ("access_login", "primo_ve", "Primo VE sign-in loops back to the login page"),
    ("discovery_primo", "primo_ve", "E-books show 'no full text available' in Primo VE"),
    ("discovery_primo", "primo_ve", "New titles missing from Primo VE search results"),
    ("fulfillment", "alma", "Loans ignore the new fulfillment unit rules"),
    ("fulfillment", "alma", "Due dates fall on a closed day after the calendar change"),
    ("resource_sharing", "ishare_catalog", "I-Share requests stuck in 'Request created'"),
    ("resource_sharing", "alma", "Lending requests not routed to our library"),
    ("acquisitions", "alma", "Invoice lines fail to import from the vendor EDI file"),
    ("acquisitions", "alma", "Fiscal period rollover left funds without allocation"),
    ("cataloging", "alma", "Network zone records overwrite local 590 fields"),
    ("cataloging", "alma", "Import profile creates duplicate bibliographic records"),
    ("analytics_reports", "analytics", "Scheduled Analytics report arrives empty"),
    ("analytics_reports", "analytics", "Circulation dashboard times out"),
    ("delivery", "carli_files", "Delivery routing list file is out of date"),
    ("configuration", "alma", "Need a new location for the makerspace collection"),
    ("directory", "other", "Update our library's interlibrary loan contact"),
    ("project", "alma", "Plan the migration of our course reserves"),
    ("other", "network", "Slow response from the consortium's network in the evening"),
]
PRIORITIES = [TicketPriority.low] * 3 + [TicketPriority.normal] * 10 + [TicketPriority.high] * 3
PRIORITIES += [TicketPriority.system_down]
REPLIES = [
    "Thanks for the report. Could you send the exact steps and a screenshot?",
    "We reproduced it in the sandbox and opened a case with Ex Libris.",
    "The configuration is fixed on our side; please try again.",
    "We tried again this morning and it works now.",
    "It still happens for some items; the steps are in the description.",
]
NOTES = [
    "Same symptom as last month's normalization rule change; check the NZ job log.",
    "Ex Libris support says a fix is planned for the next release.",
]


def load(session: Session, admin: User) -> dict[str, int]:
    """Adds the demo tickets once; a second run finds them and adds nothing."""
    if session.exec(select(Ticket.id).limit(1)).first() is not None:
        return {}
    rng = random.Random(4)  # noqa: S311  (the same demo every time; not for secrets)
    libraries = list(
        session.exec(
            select(Institution.code)
            .where(Institution.status == InstitutionStatus.active)
            .order_by(Institution.code)
        )
    )
    if not libraries:
        return {}
    staff = list(
        session.exec(select(User).where(col(User.role).in_([r for r in Role if r.is_consortium])))
    )
    wanted = sorted({"UIU", "ISU", *libraries[:10]} & set(libraries))
    requesters = _requesters(session, wanted, staff)
    cal = sla.Calendar.from_settings()
    now = utcnow()
    added = {"tickets": 0, "ticket comments": 0}
    for i in range(COUNT):
        created = now - timedelta(minutes=rng.randint(5, 150 * 24 * 60))
        requester, library = rng.choice(requesters)
        category, product, subject = rng.choice(SUBJECTS)
        ticket = Ticket(
            number=f"demo-{i}",  # numbered in filing order below
            subject=f"{subject} (demo {i + 1})",
            description=(
                f"What happened: {subject.lower()}.\nExpected: it works as before.\n"
                "Who is affected: the circulation desk (synthetic demo report).\n"
                "Tried: clearing the browser cache and another browser."
            ),
            institution=library,
            requester=requester.id,
            category=category,
            priority=rng.choice(PRIORITIES),
            product=product,
            environment="sandbox" if rng.random() < 0.1 else "production",
            created_at=created,
            updated_at=created,
            public_updated_at=created,
        )
        sla.start_clock(ticket, cal)
        status = _status_for_age(rng, now - created)
        session.add(ticket)
        session.flush()
        added["tickets"] += 1
        events = [TicketEvent(ticket_id=ticket.id, actor=requester.id, kind="created", at=created)]
        at = created
        if status != TicketStatus.new and staff:
            helper = rng.choice(staff)
            ticket.assignee = helper.id
            at += timedelta(minutes=rng.randint(20, 3000))
            for body, internal, author in _conversation(rng, helper, requester):
                session.add(
                    TicketComment(
                        ticket_id=ticket.id, author=author.id, body=body, internal=internal,
                        created_at=at,
                    )
                )  # fmt: skip
                events.append(
                    TicketEvent(ticket_id=ticket.id, actor=author.id, kind="comment",
                                internal=internal, data={"internal": internal}, at=at)
                )  # fmt: skip
                if not internal and author is helper and ticket.first_response_at is None:
                    ticket.first_response_at = at
                added["ticket comments"] += 1
                at += timedelta(minutes=rng.randint(30, 2000))
            events.append(
                TicketEvent(ticket_id=ticket.id, actor=helper.id, kind=TicketEventKind.status,
                            data={"from": "new", "to": status.value}, at=at)
            )  # fmt: skip
            ticket.status = status
            if status.paused:
                sla.pause(ticket, min(at, now), cal)
            if status.done:
                ticket.resolved_at = min(at, now)
            ticket.updated_at = ticket.public_updated_at = min(at, now)  # a status change is public
        ticket.sla_due_at = sla.next_due(ticket)
        session.add_all(events)
        session.add(ticket)
    session.flush()
    _renumber(session)
    session.commit()
    return added


def _requesters(session: Session, codes: list[str], staff: list[User]) -> list[tuple[User, str]]:
    """(requester, library) pairs: the demo library accounts for their own library, and
    consortium staff filing on behalf of libraries without a demo account (a phoned-in report)."""
    accounts = list(session.exec(select(User).where(col(User.institution).in_(codes))))
    pairs = [(u, u.institution) for u in accounts]
    covered = {u.institution for u in accounts}
    pairs += [(member, code) for code in codes if code not in covered for member in staff[:1]]
    return pairs


def _status_for_age(rng: random.Random, age: timedelta) -> TicketStatus:
    if age < timedelta(days=2):
        return rng.choice([TicketStatus.new, TicketStatus.new, TicketStatus.open])
    if age < timedelta(days=30):
        return rng.choice(
            [TicketStatus.open, TicketStatus.pending_library, TicketStatus.pending_vendor,
             TicketStatus.resolved, TicketStatus.new]
        )  # fmt: skip
    return rng.choice([TicketStatus.resolved, TicketStatus.closed, TicketStatus.closed])


def _conversation(rng: random.Random, helper: User, requester: User):
    yield REPLIES[0], False, helper
    if rng.random() < 0.4:
        yield rng.choice(NOTES), True, helper
    if rng.random() < 0.6:
        yield rng.choice(REPLIES[3:]), False, requester
    if rng.random() < 0.5:
        yield rng.choice(REPLIES[1:3]), False, helper


def _renumber(session: Session) -> None:
    """Numbers in creation order per year, gap-free, and the counters to continue from."""
    rows = list(session.exec(select(Ticket).order_by(Ticket.created_at, Ticket.id)))
    tz = get_settings().tz
    last: dict[int, int] = {}
    for ticket in rows:
        year = ticket.created_at.astimezone(tz).year
        last[year] = last.get(year, 0) + 1
        ticket.number = f"{year}-{last[year]:05d}"
        session.add(ticket)
    for year, n in last.items():
        session.add(TicketCounter(year=year, last=n))
