"""Announcements: sending to about 1,000 people (all ~90 libraries' contacts) and the archive.

1. Enqueue: one announcement to a list of ~1,000 directory people, through the service (the
   membership query, one outbox row per person, the commit), timed in this process; target
   under one second. SQL statements are counted too (they must not grow per person).
2. The archive (`/announcements?list=…`, JSON, page and htmx fragment) against the institution
   list on the same server: req/s, p50, CPU ms and SQL statements per request.

    .venv/bin/python -m bench.announcements [--duration 2] [--only sqlite|postgres]
"""

import argparse
import time

from sqlalchemy import event
from sqlmodel import Session, select

from app.core.db import build_engine
from app.models.announcement import AnnouncementCreate
from app.models.institution import Institution
from app.models.liaison import Appointment, ContactRole, Liaison
from app.models.list import MailingList
from app.models.outbox import OutboxMessage
from app.models.user import Role, User
from app.services import announcements
from app.services.institutions import today
from bench.common import TMP, check, count_statements, drive, report, start_server, token

DATABASES = {
    "sqlite": f"sqlite:///{TMP / 'portal-bench-announcements.db'}",
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/bench_announcements",
}
LIBRARY = "liaison@uiu.example.edu"
PEOPLE = 1000
ROLES = [r.value for r in ContactRole]


def seed(url: str) -> None:
    """People enough for ~1,000 on the `bench-everyone` list (every directory role)."""
    engine = build_engine(url)
    with Session(engine) as session:
        codes = session.exec(select(Institution.code)).all()
        have = len(session.exec(select(Liaison.id)).all())
        for n in range(max(0, PEOPLE - have)):
            person = Liaison(
                name=f"Bench Person {n}",
                email=f"bench{n}@bench.example.edu",
                institution=codes[n % len(codes)],
            )
            session.add(person)
            session.flush()
            session.add(
                Appointment(
                    liaison_id=person.id,
                    institution=person.institution,
                    role=ContactRole.cataloging,
                    started_on=today(),
                )
            )
        session.add(MailingList(slug="bench-everyone", name="Everyone", roles=ROLES))
        session.commit()
    engine.dispose()


def enqueue_once(url: str) -> dict:
    engine = build_engine(url)
    seen = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with Session(engine, expire_on_commit=False) as session:
        staff = session.exec(select(User).where(User.role == Role.consortium_staff)).first()
        before = len(session.exec(select(OutboxMessage.id)).all())
        seen.clear()
        started = time.perf_counter()
        sent = announcements.create_announcement(
            session=session,
            actor=staff,
            data=AnnouncementCreate(
                subject="Bench notice",
                body="**Everyone** reads this.",
                lists=["bench-everyone", "carli-announce"],
            ),
        )
        elapsed = time.perf_counter() - started
        queued = len(session.exec(select(OutboxMessage.id)).all()) - before
    engine.dispose()
    return {
        "recipients": sent.recipients,
        "queued": queued,
        "seconds": round(elapsed, 3),
        "statements": len(seen),
        "target s": 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", choices=sorted(DATABASES))
    args = parser.parse_args()
    for database in [args.only] if args.only else list(DATABASES):
        url = DATABASES[database]
        with start_server(url, seed=seed) as base_url:
            report([enqueue_once(url)], f"{database}: send to ~{PEOPLE} people")
            bearer = {"Authorization": f"Bearer {token(base_url, LIBRARY)}"}
            rows = []
            for label, path, kind, present in [
                ("institutions (baseline)", "/institutions?limit=50", "json", '"code"'),
                ("archive", "/announcements?list=carli-announce", "json", '"subject"'),
                ("archive", "/announcements?list=carli-announce", "page", "Announcements"),
                ("archive", "/announcements?list=carli-announce", "fragment", "announcement"),
                ("archive search", "/announcements?q=release", "json", '"subject"'),
            ]:
                headers = {
                    "json": {"Accept": "application/json"},
                    "page": {"Accept": "text/html"},
                    "fragment": {"HX-Request": "true"},
                }[kind] | bearer
                media = "application/json" if kind == "json" else "text/html"
                check(base_url + path, headers, media, present)
                result = drive(
                    base_url + path,
                    headers,
                    concurrency=args.concurrency,
                    duration=args.duration,
                )
                rows.append(
                    {
                        "route": f"{label} [{kind}]",
                        "rps": result["rps"],
                        "p50 ms": result.get("p50_ms", result.get("p50")),
                        "cpu ms": result.get("cpu_ms"),
                        "sql": count_statements("GET", path, headers, url),
                        "errors": result.get("errors"),
                    }
                )
            report(rows, f"{database}: the archive beside another list")


if __name__ == "__main__":
    main()
