"""Reply and file by e-mail (issue 15): 1,000 messages through the mail-in service, then the same
1,000 again, on SQLite and PostgreSQL; messages per second and duplicates (replies or tickets
made twice for one Message-ID), which must be 0.

    .venv/bin/python -m bench.mail_in [--messages 1000] [--threads 2] [--only sqlite|postgres]

The messages are real RFC 5322 bytes (built with `EmailMessage`) as an MTA pipes them to
`portal mail-in`: mostly replies to ticket e-mails (by `In-Reply-To`, some by the subject tag),
some new reports from directory contacts, some from strangers (refused) and some automatic
replies (ignored). Each pass feeds them from `--threads` threads at once, each with its own
session; a third pass feeds a fifth as many new messages, each twice at the same moment, so
two deliveries race for the unique key on the message.
"""

import argparse
import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import func
from sqlmodel import Session, select

from app.core import migrations
from app.core.db import build_engine
from app.models.inbound_mail import InboundMail
from app.models.institution import Institution
from app.models.liaison import Appointment, ContactRole, Liaison
from app.models.outbox import OutboxMessage
from app.models.ticket import Ticket, TicketComment, TicketCreate
from app.models.user import Role, User
from app.services import mail_in, tickets
from bench.common import TMP, report, reset_database

DATABASES = {
    "sqlite": f"sqlite:///{TMP / 'portal-bench-mail-in.db'}",
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/bench_mail_in",
}
LIBRARIES = 20
TICKETS_PER_LIBRARY = 5


def seed(session: Session) -> list[tuple[str, str, str]]:
    """Libraries with a liaison (a directory contact with an account) and tickets; returns
    (sender, Message-ID of a ticket e-mail, ticket number) for each ticket."""
    answers = []
    for n in range(LIBRARIES):
        code = f"M{n:03d}"
        session.add(Institution(code=code, name=f"Mail College {n}", alma_code=f"01CARLI_{code}"))
        email = f"liaison{n}@m{n}.example.edu"
        user = User(email=email, name=f"Liaison {n}", role=Role.liaison, institution=code)
        user.password_hash = "!"  # noqa: S105  (never signs in: no password matches)
        session.add(user)
        session.flush()
        person = Liaison(name=user.name, email=email, institution=code, account=user.id)
        session.add(person)
        session.flush()
        session.add(
            Appointment(
                liaison_id=person.id,
                institution=code,
                role=ContactRole.liaison,
                started_on=date(2024, 1, 1),
            )
        )
        session.commit()
        for t in range(TICKETS_PER_LIBRARY):
            data = TicketCreate(
                subject=f"Problem {t} at {code}",
                description="Something is wrong.",
                category="fulfillment",
            )
            ticket = tickets.create_ticket(session=session, actor=user, data=data)
            sent = session.exec(
                select(OutboxMessage.message_id).where(
                    OutboxMessage.dedupe_key.startswith(f"ticket:{ticket.id}:")
                )
            ).first()
            answers.append((email, sent, ticket.number))
    return answers


def messages(count: int, answers: list[tuple[str, str, str]], first: int = 0) -> list[bytes]:
    rng = random.Random(15 + first)
    out = []
    for i in range(first, first + count):
        mail = EmailMessage()
        mail["To"] = "help@portal.example.org"
        mail["Message-ID"] = make_msgid(idstring=str(i), domain="library.example.edu")
        sender, sent, number = rng.choice(answers)
        kind = rng.random()
        body = f"Reply {i}: it still fails after the restart.\n\nOn Monday the portal wrote:\n> x\n"
        mail["From"] = sender
        if kind < 0.70:
            mail["Subject"] = f"Re: [{number}] the problem"
            mail["In-Reply-To"] = sent
        elif kind < 0.80:
            mail["Subject"] = f"Re: [{number}] the problem"
        elif kind < 0.85:
            mail["Subject"] = f"New problem {i}: course reserves do not load"
        elif kind < 0.93:
            del mail["From"]
            mail["From"] = f"stranger{i}@elsewhere.example.com"
            mail["Subject"] = "Please help"
        else:
            mail["Subject"] = "Out of office"
            mail["Auto-Submitted"] = "auto-replied"
            mail["In-Reply-To"] = sent
        mail.set_content(body)
        out.append(mail.as_bytes())
    return out


def feed(engine, raws: list[bytes], threads: int) -> tuple[float, dict[str, int]]:
    def one(raw: bytes) -> str:
        with Session(engine, expire_on_commit=False) as session:
            outcome = mail_in.receive(session=session, raw=raw)
        return "already received" if outcome.duplicate else str(outcome.outcome)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, raws))
    elapsed = time.perf_counter() - start
    tally: dict[str, int] = {}
    for r in results:
        tally[r] = tally.get(r, 0) + 1
    return elapsed, tally


def run(name: str, url: str, count: int, threads: int) -> list[dict]:
    reset_database(url)
    migrations.upgrade(url)
    engine = build_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        answers = seed(session)
        tickets_before = session.scalar(select(func.count()).select_from(Ticket))
    raws = messages(count, answers)
    # New messages, each fed twice at the same moment (by two threads): the unique key decides.
    racing = [raw for raw in messages(count // 5, answers, first=count) for _ in range(2)]
    rows = []
    for label, batch in (("first", raws), ("again", raws), ("twice at once", racing)):
        elapsed, tally = feed(engine, batch, threads)
        with Session(engine) as session:
            comments = session.scalar(select(func.count()).select_from(TicketComment))
            filed = session.scalar(select(func.count()).select_from(Ticket)) - tickets_before
            recorded = session.scalar(select(func.count()).select_from(InboundMail))
            replied = session.scalar(
                select(func.count())
                .select_from(InboundMail)
                .where(InboundMail.outcome == "replied")
            )
            new = session.scalar(
                select(func.count()).select_from(InboundMail).where(InboundMail.outcome == "filed")
            )
        rows.append(
            {
                "database": name,
                "pass": label,
                "messages": len(batch),
                "threads": threads,
                "msg/s": round(len(batch) / elapsed, 1),
                "replied": tally.get("replied", 0),
                "filed": tally.get("filed", 0),
                "ignored": tally.get("ignored", 0),
                "refused": tally.get("rejected", 0),
                "already received": tally.get("already received", 0),
                "recorded": recorded,
                # More replies (or tickets) than messages recorded as such: a message used twice.
                "duplicates": (comments - replied) + (filed - new),
            }
        )
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=sorted(DATABASES))
    args = parser.parse_args()
    rows = []
    for name, url in DATABASES.items():
        if args.only in (None, name):
            rows += run(name, url, args.messages, args.threads)
    report(rows, title="Mail-in: the same messages fed twice")


if __name__ == "__main__":
    main()
