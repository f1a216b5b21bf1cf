"""`GET /status` (JSON, page, htmx fragment), `/maintenance.ics`, the Atom feed and `/services`,
plain and conditional (`If-None-Match` → 304), over 5 years of maintenance windows and incidents,
on SQLite and on PostgreSQL, with 32 concurrent clients (issues 5 and 11).

    .venv/bin/python -m bench.status [--duration 10] [--only sqlite|postgres] [--renders 20]

Each body is rendered once per version of what it shows and reused (`app.web.caching`), so
under load most requests reuse a body: `cpu_ms` is the server's CPU per request, `sql/reuse`
the statements of such a request (the version, one). `sql/build` is the first request after a
change, which reads everything the view shows and renders it. `render_ms` is the CPU that
building costs, in this process (`time.process_time`): `--renders` requests each after the
rendered bodies were dropped, less as many requests that reuse them (best of 5 rounds each).
"""

import argparse
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import create_engine, event
from sqlmodel import Session

from app.models.incident import Incident, IncidentService, IncidentStatus, IncidentUpdate
from app.models.maintenance import Maintenance, MaintenanceService
from app.models.service import Impact
from app.web import caching
from bench.common import TMP, drive, in_process, report, start_server

YEARS = 5
# Its own databases, so it can run while another benchmark runs.
DATABASES = {
    "sqlite": f"sqlite:///{TMP / 'portal-bench-status.db'}",
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/bench_status",
}
# (label, path, headers)
SCENARIOS = (
    ("/healthz (ceiling)", "/healthz", {}),
    ("status JSON", "/status", {"Accept": "application/json"}),
    ("status page", "/status", {"Accept": "text/html"}),
    ("status fragment", "/status", {"HX-Request": "true"}),
    ("maintenance.ics", "/maintenance.ics", {}),
    ("maintenance.ics?service", "/maintenance.ics?service=primo_ve", {}),
    ("atom feed", "/feeds/status.atom", {}),
    ("services JSON", "/services", {"Accept": "application/json"}),
    ("services page", "/services", {"Accept": "text/html"}),
)
ROUNDS = 5


def seed(database_url: str) -> None:
    """Five years (half past, half ahead) of the vendor's twice-monthly pattern plus a weekly
    network window, and an incident with four updates every three weeks in the past."""
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    first = now - timedelta(days=365 * YEARS / 2)
    windows, incidents = [], []
    for week in range(52 * YEARS):
        start = first + timedelta(weeks=week)
        services = ("alma", "primo_ve") if week % 4 in (0, 1) else ("network",)
        windows.append(
            Maintenance(
                title=f"Bench window {week}",
                description="Synthetic benchmark data.",
                impact=Impact.outage if week % 4 == 0 else Impact.degraded,
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                cancelled_at=now if week % 37 == 0 else None,
                service_links=[MaintenanceService(service=s) for s in services],
            )
        )
        if week % 3 == 0 and start < now:
            steps = list(IncidentStatus)
            incidents.append(
                Incident(
                    title=f"Bench incident {week}",
                    impact=Impact.degraded,
                    status=IncidentStatus.resolved,
                    started_at=start,
                    resolved_at=start + timedelta(hours=3),
                    updated_at=start + timedelta(hours=3),
                    service_links=[IncidentService(service="primo_ve")],
                    updates=[
                        IncidentUpdate(
                            status=s, body=f"{s} …", created_at=start + timedelta(hours=i)
                        )
                        for i, s in enumerate(steps)
                    ],
                )
            )
    with Session(engine) as session:
        session.add_all([*windows, *incidents])
        session.commit()
    engine.dispose()


def rendering(database_url: str, renders: int) -> dict[str, dict[str, float]]:
    """Per scenario, in this process: the statements of a request that builds a new version and
    of one that reuses it, and the CPU milliseconds building costs (see the module's doc)."""
    found = {}
    with in_process(database_url) as (client, engine):
        seen: list[str] = []

        def record(conn, cursor, statement: str, *args) -> None:
            if statement.strip().upper() != "BEGIN":
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        for label, path, headers in SCENARIOS[1:]:
            client.get(path, headers=headers).raise_for_status()  # templates compiled
            caching.clear()
            seen.clear()
            client.get(path, headers=headers)
            built = len(seen)
            seen.clear()
            client.get(path, headers=headers)
            reused = len(seen)
            cold = _cpu_ms(client, path, headers, renders, fresh=True)
            warm = _cpu_ms(client, path, headers, renders, fresh=False)
            found[label] = {
                "sql/build": built,
                "sql/reuse": reused,
                "render_ms": cold - warm,
                "request_ms": cold,
            }
        event.remove(engine, "before_cursor_execute", record)
    return found


def _cpu_ms(client, path: str, headers: Mapping[str, str], n: int, *, fresh: bool) -> float:
    """CPU milliseconds per request, best of `ROUNDS` rounds of `n`; `fresh`: each request
    builds a new version (the rendered bodies dropped first)."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(n):
            if fresh:
                caching.clear()
            client.get(path, headers=headers)
        best = min(best, (time.process_time() - started) / n * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per request kind")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--only", choices=sorted(DATABASES), help="one database only")
    parser.add_argument("--renders", type=int, default=20, help="requests per CPU round")
    args = parser.parse_args()
    for database in [args.only] if args.only else list(DATABASES):
        url = DATABASES[database]
        rows = []
        with start_server(url, seed=seed) as base_url:
            for label, path, headers in SCENARIOS:
                first = httpx.get(base_url + path, headers=headers, timeout=30)
                first.raise_for_status()
                variants = [("plain", headers)]
                if "etag" in first.headers:
                    variants.append(("304", {**headers, "If-None-Match": first.headers["etag"]}))
                for kind, sent in variants:
                    if kind == "304":
                        again = httpx.get(base_url + path, headers=sent, timeout=30)
                        if again.status_code != 304:
                            raise SystemExit(f"{path} answered {again.status_code}, not 304")
                    figures = drive(
                        base_url + path, sent, concurrency=args.concurrency, duration=args.duration
                    )
                    rows.append(
                        {
                            "database": database,
                            "request": f"{label} {kind}" if kind == "304" else label,
                            "bytes": len(first.content) if kind == "plain" else 0,
                            **figures,
                        }
                    )
            built = rendering(url, args.renders)
        empty = dict.fromkeys(next(iter(built.values())), None)
        for row in rows:
            row.update(built.get(row["request"], empty))
        report(
            rows,
            f"{database}: {YEARS} years of windows, {args.concurrency} clients, "
            f"{args.duration:g} s each; render_ms: best of {ROUNDS} × {args.renders}",
        )


if __name__ == "__main__":
    main()
