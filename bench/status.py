"""`GET /status` (JSON, page, htmx fragment) and `GET /maintenance.ics`, plain and conditional
(`If-None-Match` → 304), over 5 years of maintenance windows and incidents, on SQLite and on
PostgreSQL, with 32 concurrent clients (issue 5).

    .venv/bin/python -m bench.status [--duration 10] [--only sqlite|postgres]

Each body is rendered once per version of what it shows and reused (`app.web.caching`), so
`sql/req` (one request after another, in-process) is the steady state: the fingerprint, one
statement; `sql/build` is the first request after a change, which builds and renders the body.
`cpu_ms` is the server's CPU per request under load, mostly reused bodies.
"""

import argparse
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import create_engine
from sqlmodel import Session

from app.models.incident import Incident, IncidentService, IncidentStatus, IncidentUpdate
from app.models.maintenance import Maintenance, MaintenanceService
from app.models.service import Impact
from app.web import caching
from bench.common import TMP, count_statements, drive, report, start_server

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
)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per request kind")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--only", choices=sorted(DATABASES), help="one database only")
    args = parser.parse_args()
    rows = []
    for database in [args.only] if args.only else list(DATABASES):
        url = DATABASES[database]
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
                    if kind == "plain":
                        caching.clear()
                        build = count_statements("GET", path, sent, url)
                        sql = count_statements("GET", path, sent, url)
                    else:
                        build = sql = None
                    rows.append(
                        {
                            "database": database,
                            "request": f"{label} {kind}" if kind == "304" else label,
                            "bytes": len(first.content) if kind == "plain" else 0,
                            **figures,
                            "sql/req": sql,
                            "sql/build": build,
                        }
                    )
        report(
            [r for r in rows if r["database"] == database],
            f"{database}: {YEARS} years of windows, {args.concurrency} clients, "
            f"{args.duration:g} s each",
        )


if __name__ == "__main__":
    main()
