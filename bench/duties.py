"""Duties (issue 14): fanning one occurrence out to 90 libraries, and the completion board of
a duty with 20 occurrences × 90 libraries as JSON, page, htmx fragment and CSV, on SQLite and
PostgreSQL.

    .venv/bin/python -m bench.duties [--duration 2] [--only sqlite|postgres]
"""

import argparse
import time
from datetime import date, timedelta

from sqlalchemy import delete, event, select
from sqlmodel import Session

from app.core.db import build_engine
from app.models.duty import Duty, Occurrence, Task, TaskState
from app.models.institution import Institution, InstitutionStatus
from app.services import duties
from bench.common import DATABASES, check, drive, observe, report, start_server, token

STAFF = "staff@consortium.example.org"
JSON = "application/json"
HTML = "text/html"
MEMBERS = 90
OCCURRENCES = 20
BOARD_TITLE = "Bench: monthly statistics check"


def seed(database_url: str) -> None:
    """Tops the members up to 90 and writes a monthly duty with 20 past occurrences, each with
    a task per library (most done)."""
    engine = build_engine(database_url)
    with Session(engine) as session:
        codes = list(
            session.scalars(
                select(Institution.code).where(Institution.status == InstitutionStatus.active)
            )
        )
        for n in range(MEMBERS - len(codes)):
            code = f"BN{n:02d}"
            session.add(
                Institution(
                    code=code,
                    name=f"Bench College {n}",
                    city="Normal",
                    alma_code=f"01CARLI_{code}",
                    status=InstitutionStatus.active,
                )
            )
            codes.append(code)
        first = duties.today().replace(day=1) - timedelta(days=31 * OCCURRENCES)
        duty = Duty(
            title=BOARD_TITLE,
            due_on=first,
            lead_days=7,
            grace_days=7,
            rrule=f"FREQ=MONTHLY;COUNT={OCCURRENCES}",
        )
        session.add(duty)
        session.flush()
        for i, due in enumerate(duties.schedule(duty.rrule, first)):
            occurrence = Occurrence(
                duty_id=duty.id,
                due_on=due,
                opens_on=due - timedelta(7),
                closes_on=due + timedelta(7),
            )
            session.add(occurrence)
            session.flush()
            for j, code in enumerate(codes):
                state = TaskState.done if (i + j) % 10 else TaskState.open
                session.add(
                    Task(
                        occurrence_id=occurrence.id,
                        duty_id=duty.id,
                        institution=code,
                        due_on=due,
                        opens_on=occurrence.opens_on,
                        state=state,
                    )
                )
        session.commit()
    engine.dispose()


def fan_out_figures(database_url: str, rounds: int = 5) -> dict:
    """One new occurrence fanned out to every member, `rounds` times (rows removed between)."""
    engine = build_engine(database_url)
    seen: list[str] = []
    engine_listener = lambda *a: seen.append(a[2])  # noqa: E731
    times = []
    with Session(engine) as session:
        members = len(
            list(
                session.scalars(
                    select(Institution.code).where(Institution.status == InstitutionStatus.active)
                )
            )
        )
        duty = Duty(title="Bench fan-out", due_on=duties.today() + timedelta(days=3), lead_days=7)
        session.add(duty)
        session.commit()
        made = 0
        for _ in range(rounds):
            event.listen(engine, "before_cursor_execute", engine_listener)
            seen.clear()
            started = time.perf_counter()
            made = duties.fan_out(session, duty_ids=[duty.id])
            session.commit()
            times.append(time.perf_counter() - started)
            event.remove(engine, "before_cursor_execute", engine_listener)
            session.execute(delete(Task).where(Task.duty_id == duty.id))
            session.execute(delete(Occurrence).where(Occurrence.duty_id == duty.id))
            session.commit()
        session.delete(session.get(Duty, duty.id))
        session.commit()
    engine.dispose()
    times.sort()
    return {
        "request": f"fan-out to {members} libraries",
        "tasks": made,
        "median ms": round(times[len(times) // 2] * 1000, 1),
        "sql": len([s for s in seen if s.strip().upper() != "BEGIN"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per request kind")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--only", choices=sorted(DATABASES), help="one database only")
    args = parser.parse_args()
    for database in [args.only] if args.only else list(DATABASES):
        url = DATABASES[database]
        rows = []
        with start_server(url, seed=seed) as base_url:
            report([fan_out_figures(url)], f"{database}: fan-out (in process)")
            bearer = {"Authorization": f"Bearer {token(base_url, STAFF)}"}
            engine = build_engine(url)
            with Session(engine) as session:
                duty_id = session.scalar(select(Duty.id).where(Duty.title == BOARD_TITLE))
                due: date = session.scalar(
                    select(Occurrence.due_on)
                    .where(Occurrence.duty_id == duty_id)
                    .order_by(Occurrence.due_on.desc())
                )
            engine.dispose()
            path = f"/duties/{duty_id}/tasks?due_on={due.isoformat()}&limit=100"
            for label, headers, kind, present in (
                ("board JSON", {"Accept": JSON}, JSON, '"counts":'),
                ("board page", {"Accept": HTML}, HTML, "<progress"),
                ("board fragment", {"HX-Request": "true"}, HTML, "<progress"),
                ("board CSV", {"Accept": "text/csv"}, "text/csv", "Code,Library"),
                ("duties list JSON", {"Accept": JSON}, JSON, BOARD_TITLE),
            ):
                target = "/duties" if label.startswith("duties") else path
                headers = {**headers, **bearer}
                check(base_url + target, headers, kind, present)
                figures = drive(
                    base_url + target, headers, concurrency=args.concurrency, duration=args.duration
                )
                seen = observe("GET", target, headers, url)
                rows.append(
                    {
                        "request": label,
                        **figures,
                        "sql/req": len(seen.statements),
                        "hops/req": seen.thread_hops,
                    }
                )
        report(rows, f"{database}: the board of {MEMBERS} libraries × {OCCURRENCES} occurrences")


if __name__ == "__main__":
    main()
