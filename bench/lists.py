"""Every list and detail route against the raw-SQL floor, side by side in one run (issue 11).

For each route the portal answers on a seeded database, `bench.floor` replays the SQL the
portal ran for that very request (same statements, same parameters, captured in-process) with
the standard `sqlite3` module or psycopg, in its own process with one uvicorn worker. Both are
driven the same way; the table prints the floor's and the portal's req/s, their ratio, the
portal's p50/p99, CPU ms per request of each (steadier than req/s on a shared machine), SQL
statements and thread-pool hops per request, and the machine's load average. Targets: JSON
lists and details ≥ 0.5 of the floor, pages and htmx fragments ≥ 0.4.

    .venv/bin/python -m bench.lists [--duration 10] [--only sqlite|postgres] [--match tickets]
"""

import argparse
import os
from datetime import timedelta
from typing import NamedTuple

from sqlmodel import Session, select

from app.core.db import build_engine, utcnow
from app.models.directory_change import ChangeKind, ChangeStatus, DirectoryChange
from app.models.incident import Incident, IncidentService, IncidentStatus, IncidentUpdate
from app.models.liaison import Liaison
from app.models.maintenance import Maintenance, MaintenanceInstitution, MaintenanceService
from app.models.service import Impact
from app.models.ticket import Ticket
from app.models.user import User
from bench.common import TMP, check, drive, observe, report, start_server, token
from bench.floor import serve_floor

DATABASES = {
    "sqlite": f"sqlite:///{TMP / 'portal-bench-lists.db'}",
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/bench_lists",
}
LIBRARY = "liaison@uiu.example.edu"
STAFF = "staff@consortium.example.org"
JSON = "application/json"
HTML = "text/html"
ROWS = 60  # per seeded list: more than one page of 50


class Route(NamedTuple):
    label: str
    path: str
    account: str | None  # who signs in (None: anonymous)
    kind: str  # json | page | fragment
    present: str  # a text the response must contain: proof of the representation timed


HEADERS = {"json": {"Accept": JSON}, "page": {"Accept": HTML}, "fragment": {"HX-Request": "true"}}
MEDIA = {"json": JSON, "page": HTML, "fragment": HTML}
TARGET = {"json": 0.5, "page": 0.4, "fragment": 0.4}


def routes(ids: dict[str, str]) -> list[Route]:
    """Each resource's list (JSON, page, fragment) and one record as JSON."""
    listing = [
        ("institutions", "/institutions?limit=50", LIBRARY, "/institutions/UIU", '"code":"UIU"'),
        ("liaisons", "/liaisons?limit=50", LIBRARY, f"/liaisons/{ids['liaison']}", '"roles"'),
        ("maintenance", "/maintenance?limit=50", None, f"/maintenance/{ids['window']}", '"id"'),
        ("incidents", "/incidents?limit=50", None, f"/incidents/{ids['incident']}", '"updates"'),
        ("tickets", "/tickets?limit=50", LIBRARY, f"/tickets/{ids['ticket']}", '"number"'),
        (
            "directory-changes",
            "/directory-changes?limit=50",
            STAFF,
            f"/directory-changes/{ids['change']}",
            '"kind"',
        ),
        ("audit", "/audit?limit=50", STAFF, None, None),
    ]
    found = []
    for name, path, account, detail, detail_text in listing:
        found.append(Route(f"{name} JSON", path, account, "json", '"data":['))
        found.append(Route(f"{name} page", path, account, "page", "<html"))
        found.append(Route(f"{name} fragment", path, account, "fragment", "<"))
        if detail:
            found.append(Route(f"{name} detail JSON", detail, account, "json", detail_text))
    return found


def seed(database_url: str) -> None:
    """Tops the demo up to `ROWS` maintenance windows, incidents and directory changes (the
    demo has tickets, institutions and people enough)."""
    engine = build_engine(database_url)
    now = utcnow()
    with Session(engine) as session:
        staff = session.exec(select(User).where(User.email == STAFF)).one()
        library = session.exec(select(User).where(User.email == LIBRARY)).one()
        people = session.exec(select(Liaison).where(Liaison.institution == "UIU")).all()
        for n in range(ROWS):
            start = now + timedelta(days=n - ROWS // 2)
            session.add(
                Maintenance(
                    title=f"Benchmark window {n}", description="Benchmark.", impact=Impact.degraded,
                    starts_at=start, ends_at=start + timedelta(hours=2), created_by=staff.id,
                    service_links=[MaintenanceService(service="alma")],
                    institution_links=[MaintenanceInstitution(institution="UIU")] if n % 3 else [],
                )
            )  # fmt: skip
            session.add(
                Incident(
                    title=f"Benchmark incident {n}", impact=Impact.degraded,
                    status=IncidentStatus.resolved if n % 4 else IncidentStatus.monitoring,
                    started_at=start, created_by=staff.id,
                    service_links=[IncidentService(service="alma")],
                    updates=[
                        IncidentUpdate(status=IncidentStatus.investigating, body="Looking.",
                                       author=staff.id, created_at=start),
                        IncidentUpdate(status=IncidentStatus.monitoring, body="Fixed, watching.",
                                       author=staff.id, created_at=start + timedelta(hours=1)),
                    ],
                )
            )  # fmt: skip
            person = people[n % len(people)]
            session.add(
                DirectoryChange(
                    kind=ChangeKind.update, liaison_id=person.id, institution="UIU",
                    liaison={"title": f"Title {n}"}, note="Benchmark.", requester=library.id,
                    status=ChangeStatus.pending,
                )
            )  # fmt: skip
        session.commit()
    engine.dispose()


def record_ids(database_url: str) -> dict[str, str]:
    engine = build_engine(database_url)
    with Session(engine) as session:
        first = {
            "liaison": session.exec(
                select(Liaison.id).where(Liaison.institution == "UIU").order_by(Liaison.id)
            ).first(),
            "window": session.exec(select(Maintenance.id).order_by(Maintenance.id)).first(),
            "incident": session.exec(select(Incident.id).order_by(Incident.id.desc())).first(),
            "ticket": session.exec(
                select(Ticket.number).where(Ticket.institution == "UIU").order_by(Ticket.id)
            ).first(),
            "change": session.exec(select(DirectoryChange.id).order_by(DirectoryChange.id)).first(),
        }
    engine.dispose()
    return {key: str(value) for key, value in first.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per route and app")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--only", choices=sorted(DATABASES), help="one database only")
    parser.add_argument("--match", help="only routes whose label contains this")
    args = parser.parse_args()
    for database in [args.only] if args.only else list(DATABASES):
        url = DATABASES[database]
        rows = []
        with start_server(url, seed=seed) as base_url:
            tokens = {a: token(base_url, a) for a in (LIBRARY, STAFF)}
            chosen = [r for r in routes(record_ids(url)) if not args.match or args.match in r.label]
            plan, requests = {}, []
            for i, route in enumerate(chosen):
                headers = dict(HEADERS[route.kind])
                if route.account:
                    headers["Authorization"] = f"Bearer {tokens[route.account]}"
                check(base_url + route.path, headers, MEDIA[route.kind], route.present)
                seen = observe("GET", route.path, headers, url)
                plan[f"/{i}"] = seen
                requests.append((route, headers, seen))
            with serve_floor(url, plan) as floor_url:
                for i, (route, headers, seen) in enumerate(requests):
                    floor = drive(
                        f"{floor_url}/{i}", {}, concurrency=args.concurrency, duration=args.duration
                    )
                    ours = drive(
                        base_url + route.path,
                        headers,
                        concurrency=args.concurrency,
                        duration=args.duration,
                    )
                    ratio = ours["rps"] / floor["rps"] if floor["rps"] else 0.0
                    rows.append(
                        {
                            "route": route.label,
                            "floor rps": floor["rps"],
                            "ours rps": ours["rps"],
                            "ratio": round(ratio, 2),
                            "target": TARGET[route.kind],
                            "p50_ms": ours["p50_ms"],
                            "p99_ms": ours["p99_ms"],
                            "floor cpu_ms": floor["cpu_ms"],
                            "ours cpu_ms": ours["cpu_ms"],
                            "sql/req": len(seen.statements),
                            "hops/req": seen.thread_hops,
                            "errors": floor["errors"] + ours["errors"],
                            "load": round(os.getloadavg()[0], 2),
                        }
                    )
        report(
            rows, f"{database}: {args.concurrency} clients, {args.duration:g} s per app and route"
        )


if __name__ == "__main__":
    main()
