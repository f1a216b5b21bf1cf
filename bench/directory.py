"""The member directory at size: 90 institutions × 30 people (issue 3).

`GET /liaisons?role=fulfillment` (JSON at two page sizes, CSV) and the member directory page
and fragment, on SQLite and on PostgreSQL, with 32 concurrent clients; p50/p99 and the SQL
statements per request, which must be the same at every page size.

    .venv/bin/python -m bench.directory [--duration 10] [--only sqlite|postgres]
"""

import argparse
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.db import build_engine
from app.models.institution import Institution, InstitutionStatus
from app.models.liaison import SEATS, Appointment, ContactRole, Liaison
from bench.common import DATABASES, count_statements, drive, report, start_server, token
from bench.institutions import check

ACCOUNT = "liaison@uiu.example.edu"
INSTITUTIONS = 90
PEOPLE = 30
JSON = "application/json"
HTML = "text/html"
FULFILLMENT = "/liaisons?role=fulfillment"
# (label, path, headers, content type, a text the response must have, one it must not)
SCENARIOS = (
    ("fulfillment JSON, 50", FULFILLMENT, {"Accept": JSON}, JSON, '"role":"fulfillment"', "<"),
    ("fulfillment JSON, 200", f"{FULFILLMENT}&limit=200", {"Accept": JSON}, JSON, '"data":[{', "<"),
    ("fulfillment CSV", f"{FULFILLMENT}&format=csv", {}, "text/csv", "fulfillment", "<"),
    ("directory page", "/liaisons", {"Accept": HTML}, HTML, "<tbody", "</nothing>"),
    ("directory fragment", "/liaisons", {"HX-Request": "true"}, HTML, "<tbody", "<html"),
    ("institution contacts", "/institutions/UIU/liaisons", {"Accept": JSON}, JSON, '"UIU"', "<"),
)
# Functional roles only: the demo already fills the seats, and the index allows one holder.
FUNCTIONS = [r for r in ContactRole if r not in SEATS]


def seed(database_url: str) -> None:
    """Tops the demo up to 90 active institutions with 30 people each."""
    engine = build_engine(database_url)
    with Session(engine) as session:
        codes = list(
            session.exec(
                select(Institution.code).where(Institution.status == InstitutionStatus.active)
            ).all()
        )
        for n in range(INSTITUTIONS - len(codes)):
            code = f"BEN{n}"
            session.add(
                Institution(
                    code=code, name=f"Benchmark College {n}", status="active",
                    alma_code=f"01CARLI_{code}",
                )
            )  # fmt: skip
            codes.append(code)
        session.flush()
        counts = dict(
            session.exec(
                select(Liaison.institution, func.count()).group_by(Liaison.institution)
            ).all()
        )
        for code in codes:
            for i in range(counts.get(code, 0), PEOPLE):
                person = Liaison(
                    name=f"Bench Person {code}-{i:02d}",
                    email=f"bench.{i}@{code.lower()}.example.edu",
                    institution=code,
                    title="Benchmark contact",
                )
                session.add(person)
                session.flush()
                session.add(
                    Appointment(
                        liaison_id=person.id,
                        institution=code,
                        role=FUNCTIONS[i % len(FUNCTIONS)],
                        started_on=date(2024, 1, 1),
                    )
                )
        session.commit()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per request kind")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--only", choices=sorted(DATABASES), help="one database only")
    args = parser.parse_args()
    for database in [args.only] if args.only else list(DATABASES):
        url = DATABASES[database]
        rows = []
        with start_server(url, seed=seed) as base_url:
            bearer = {"Authorization": f"Bearer {token(base_url, ACCOUNT)}"}
            for label, path, extra, content_type, present, absent in SCENARIOS:
                headers = {**extra, **bearer}
                check(base_url + path, headers, content_type, present, absent)
                figures = drive(
                    base_url + path, headers, concurrency=args.concurrency, duration=args.duration
                )
                sql = count_statements("GET", path, headers, url)
                rows.append({"request": label, **figures, "sql/req": sql})
            small = count_statements("GET", f"{FULFILLMENT}&limit=5", bearer, url)
            large = count_statements("GET", f"{FULFILLMENT}&limit=200", bearer, url)
        report(rows, f"{database}: {INSTITUTIONS} × {PEOPLE} people, {args.concurrency} clients")
        print(f"SQL statements for 5 rows: {small}; for 200 rows: {large}")
        if small != large:
            raise SystemExit("the statement count grows with the page size")


if __name__ == "__main__":
    main()
