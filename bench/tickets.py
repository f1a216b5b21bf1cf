"""Tickets at scale (issues 4 and 11): a generator for 1,000,000 tickets with comments, then the
staff queue in SLA order (JSON and page), the list with filters (first page and a page deep in
the result), full-text search, the ticket page and filing under concurrency — p50/p99, CPU
and SQL statements per request, on SQLite (one app process) and PostgreSQL (two, as issue 11
asks), and each list query's `EXPLAIN` plan, to show it runs on its index. Each search also
runs one request at a time: what one person typing in the box waits for.

    .venv/bin/python -m bench.tickets [--tickets 1000000] [--duration 10] [--only sqlite|postgres]
        [--workers 2] [--no-plans] [--reuse]

`--reuse` keeps the tickets a previous run generated (it only migrates the database), so a
change to a query or an index can be measured again without generating a million rows anew.

The generator writes in bulk (executemany on SQLite, COPY on PostgreSQL) and fills the search
index in one statement per table, so a million tickets take minutes, not hours.
"""

import argparse
import os
import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.config import get_settings
from app.core.db import build_engine
from app.services.tickets import TicketSort, encode_cursor
from bench.common import TMP, count_statements, drive, observe, report, start_server, token

# Databases of their own: other benchmarks reset the shared `bench` ones while this one runs.
DATABASES = {
    "sqlite": f"sqlite:///{TMP / 'portal-bench-tickets.db'}",
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/bench_tickets",
}

STAFF = "staff@consortium.example.org"
LIAISON = "liaison@uiu.example.edu"
WORDS = [
    *("alma", "primo", "loan", "renewal", "invoice", "vendor", "import", "profile", "analytics"),
    *("report", "delivery", "request", "patron", "fine", "calendar", "location", "holdings"),
    *("portfolio", "electronic", "collection", "license", "sandbox", "login", "saml", "desk"),
    *("fulfillment", "resource", "sharing", "borrowing", "lending", "course", "reserves"),
]
RECENT = ["new", "open", "open", "pending_library", "pending_vendor", "resolved"]
# Made-up words, so that search terms are about as selective as in real reports.
SYLLABLES = ["ka", "lo", "mi", "ren", "tor", "vel", "zu", "pra", "dex", "qui", "sta", "nor"]
RARE = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})
PRIORITIES = ["low", "normal", "normal", "normal", "high", "system_down"]
CATEGORIES = ["access_login", "discovery_primo", "fulfillment", "resource_sharing", "cataloging"]
BATCH = 20_000
TICKET_COLUMNS = (
    "id, number, subject, description, institution, requester, assignee, category, priority, "
    "status, product, environment, contains_patron_data, version, public_version, created_at, "
    "updated_at, public_updated_at, first_response_at, resolved_at, response_due_at, "
    "resolution_due_at, sla_due_at"
)
COMMENT_COLUMNS = "id, ticket_id, author, body, internal, created_at"


def generate(database_url: str, count: int, comments_per_ticket: int = 2) -> None:
    """`count` tickets over the past three years, spread over every library, with comments."""
    rng = random.Random(7)
    engine = create_engine(database_url)
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    with engine.begin() as conn:
        libraries = [r[0] for r in conn.execute(text("SELECT code FROM institution"))]
        people = conn.execute(text("SELECT id, institution, role FROM user_account")).all()
        first_id = conn.execute(text("SELECT coalesce(max(id), 0) FROM ticket")).scalar_one()
        first_comment = conn.execute(
            text("SELECT coalesce(max(id), 0) FROM ticket_comment")
        ).scalar_one()
        serial = dict(conn.execute(text("SELECT year, last FROM ticket_counter")).all())
    staff = [p.id for p in people if p.institution is None]
    by_library = {}
    for p in people:
        if p.institution:
            by_library.setdefault(p.institution, []).append(p.id)
    anyone = [p.id for p in people if p.institution]
    now = datetime.now(UTC)
    span = 3 * 365 * 24 * 3600
    # Creation times in order, so numbers run with them (as they would in real life).
    moments = sorted(now - timedelta(seconds=rng.randrange(span)) for _ in range(count))
    tz = get_settings().tz
    tickets, comments = [], []
    comment_id = first_comment
    for i, created in enumerate(moments, start=first_id + 1):
        year = created.astimezone(tz).year
        serial[year] = serial.get(year, 0) + 1
        library = rng.choice(libraries)
        requester = rng.choice(by_library.get(library) or anyone)
        status = _status(rng, now - created)
        words = " ".join(rng.choices(WORDS, k=3) + rng.choices(RARE, k=9))
        done = status in ("resolved", "closed")
        updated = created + timedelta(hours=rng.randrange(1, 400))
        responded = created + timedelta(hours=2) if status != "new" else None
        respond_by, resolve_by = created + timedelta(hours=8), created + timedelta(days=5)
        running = not done and not status.startswith("pending")
        due = (respond_by if responded is None else resolve_by) if running else None
        tickets.append(
            (
                i, f"{year}-{serial[year]:05d}", f"Bench {' '.join(rng.choices(WORDS, k=4))}",
                f"Synthetic report {i}: {words}", library, requester,
                rng.choice(staff) if status != "new" else None, rng.choice(CATEGORIES),
                rng.choice(PRIORITIES), status, "alma", "production", False, 1, 1, created,
                updated, updated, responded, created + timedelta(days=3) if done else None,
                respond_by, resolve_by, due,
            )
        )  # fmt: skip
        for k in range(rng.randrange(comments_per_ticket * 2 + 1)):
            comment_id += 1
            comments.append(
                (comment_id, i, rng.choice(staff if k % 2 == 0 else [requester]),
                 " ".join(rng.choices(WORDS, k=2) + rng.choices(RARE, k=8)), k == 1,
                 created + timedelta(hours=k + 1))
            )  # fmt: skip
    started = time.perf_counter()
    if postgres:
        _copy_postgres(database_url, tickets, comments)
    else:
        _insert_sqlite(engine, tickets, comments)
    with engine.begin() as conn:
        for year, n in serial.items():
            conn.execute(text("DELETE FROM ticket_counter WHERE year = :y"), {"y": year})
            conn.execute(text("INSERT INTO ticket_counter (year, last) VALUES (:y, :n)"),
                         {"y": year, "n": n})  # fmt: skip
    # What autovacuum does to a table that has been loaded for a while: statistics, and the
    # visibility map that lets a count read an index alone (index-only scans).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    engine.dispose()
    print(
        f"generated {len(tickets):,} tickets and {len(comments):,} comments "
        f"in {time.perf_counter() - started:,.0f} s",
        flush=True,
    )


def _status(rng: random.Random, age: timedelta) -> str:
    """Like a real desk: recent tickets in every state, older ones resolved or closed."""
    if age < timedelta(days=14):
        return rng.choice(RECENT)
    if age < timedelta(days=60):
        return rng.choice(["resolved", "closed", "closed", "pending_vendor"])
    return "closed"


def _insert_sqlite(engine, tickets: list[tuple], comments: list[tuple]) -> None:
    """executemany in large transactions; the triggers fill the FTS5 table as rows arrive."""
    marks_t = ", ".join("?" * len(tickets[0]))
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for start in range(0, len(tickets), BATCH):
            rows = [_sqlite_row(r) for r in tickets[start : start + BATCH]]
            raw.executemany(f"INSERT INTO ticket ({TICKET_COLUMNS}) VALUES ({marks_t})", rows)  # noqa: S608
        for start in range(0, len(comments), BATCH):
            rows = [_sqlite_row(r) for r in comments[start : start + BATCH]]
            insert = f"INSERT INTO ticket_comment ({COMMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608
            raw.executemany(insert, rows)


def _sqlite_row(row: tuple) -> tuple:
    """Datetimes as the UTC text UTCDateTime stores on SQLite."""
    return tuple(
        v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
        for v in row
    )


def _copy_postgres(database_url: str, tickets: list[tuple], comments: list[tuple]) -> None:
    """COPY with the search triggers off, then the search documents in one statement each."""
    import psycopg

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as conn:
        conn.execute("ALTER TABLE ticket DISABLE TRIGGER ticket_fts_sync")
        conn.execute("ALTER TABLE ticket_comment DISABLE TRIGGER ticket_comment_fts_sync")
        with conn.cursor().copy(f"COPY ticket ({TICKET_COLUMNS}) FROM STDIN") as copy:
            for row in tickets:
                copy.write_row(row)
        with conn.cursor().copy(f"COPY ticket_comment ({COMMENT_COLUMNS}) FROM STDIN") as copy:
            for row in comments:
                copy.write_row(row)
        conn.execute(
            "INSERT INTO ticket_fts (doc, ticket_id, internal, document) "
            "SELECT 2 * id, id, false, setweight(to_tsvector('english', subject), 'A') "
            "|| to_tsvector('english', description) FROM ticket ON CONFLICT (doc) DO NOTHING"
        )
        conn.execute(
            "INSERT INTO ticket_fts (doc, ticket_id, internal, document) "
            "SELECT 2 * id + 1, ticket_id, internal, to_tsvector('english', body) "
            "FROM ticket_comment ON CONFLICT (doc) DO NOTHING"
        )
        conn.execute("ALTER TABLE ticket ENABLE TRIGGER ticket_fts_sync")
        conn.execute("ALTER TABLE ticket_comment ENABLE TRIGGER ticket_comment_fts_sync")
        for table in ("ticket", "ticket_comment"):
            sequence = (
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"  # noqa: S608
            )
            conn.execute(sequence)


def deep_cursors(database_url: str, position: int) -> tuple[str, str]:
    """The cursors a client would hold after paging `position` tickets into the staff list
    (newest first) and into the SLA queue (its tail: the tickets without a running clock)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT id, created_at FROM ticket ORDER BY created_at DESC, id DESC "
                 "LIMIT 1 OFFSET :n"), {"n": position}
        ).one()  # fmt: skip
        tail = conn.execute(
            text("SELECT id FROM ticket WHERE sla_due_at IS NULL ORDER BY id LIMIT 1 OFFSET :n"),
            {"n": position},
        ).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()
    engine.dispose()
    created = row.created_at
    if isinstance(created, str):
        created = datetime.fromisoformat(created).replace(tzinfo=UTC)
    shown, capped = min(total, 10_000), total > 10_000
    return (
        encode_cursor(TicketSort.created_desc, created, row.id, shown, capped),
        encode_cursor(TicketSort.sla_due, None, tail, shown, capped),
    )


def file_concurrently(base_url: str, bearer: str, clients: int, per_client: int) -> dict:
    """POST /tickets from `clients` threads at once; latencies and whether numbers stay
    gap-free (the load driver sends bodiless requests, so filing has its own)."""
    headers = {"Authorization": f"Bearer {bearer}"}
    body = {"subject": "Bench filing", "description": "Load test", "category": "other"}

    def one_client(_: int) -> list[tuple[float, int, str]]:
        results = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            for _ in range(per_client):
                started = time.perf_counter()
                response = client.post("/tickets", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                number = response.json().get("number", "") if response.status_code == 201 else ""
                results.append((elapsed, response.status_code, number))
        return results

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for batch in pool.map(one_client, range(clients)) for r in batch]
    elapsed = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    numbers = sorted(int(r[2].split("-")[1]) for r in results if r[2])
    gap_free = numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else False
    return {
        "requests": len(results),
        "errors": sum(r[1] != 201 for r in results),
        "rps": len(results) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[max(0, int(len(latencies) * 0.95) - 1)],
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "gap_free": gap_free,
    }


def explain(database_url: str, path: str, headers: dict) -> list[str]:
    """The plan of every ticket query one request runs, with the parameters it ran with
    (`EXPLAIN` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite), one line per plan step."""
    seen = observe("GET", path, headers, database_url)
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    engine = build_engine(database_url)  # the portal's own connection settings (no JIT)
    lines = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, parameters in zip(seen.statements, seen.parameters, strict=True):
            if "FROM ticket" not in statement:
                continue  # the signed-in user's lookup
            if postgres:
                with raw.cursor() as cursor:
                    cursor.execute("EXPLAIN " + statement, parameters)
                    lines += [f"    {row[0]}" for row in cursor.fetchall()]
            else:
                plan = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
                lines += [f"    {row[-1]}" for row in plan]
            lines.append("    --")
    engine.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets to generate")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per request kind")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--filers", type=int, default=8, help="concurrent filing clients")
    parser.add_argument("--workers", type=int, default=2, help="app processes on PostgreSQL")
    parser.add_argument("--only", choices=sorted(DATABASES), help="one database only")
    parser.add_argument("--no-plans", action="store_true", help="skip the EXPLAIN output")
    parser.add_argument("--reuse", action="store_true", help="keep the generated tickets")
    parser.add_argument("--match", help="only the requests whose label contains this")
    args = parser.parse_args()
    for database in [args.only] if args.only else list(DATABASES):
        url = DATABASES[database]
        rows = []
        # SQLite has one writer and a file: one process; PostgreSQL serves several.
        serve = ("--workers", str(args.workers)) if database == "postgres" else ()
        processes = args.workers if database == "postgres" else 1
        with start_server(
            url, seed=lambda u: generate(u, args.tickets), serve_args=serve, fresh=not args.reuse
        ) as base_url:
            staff = {"Authorization": f"Bearer {token(base_url, STAFF)}"}
            liaison = {"Authorization": f"Bearer {token(base_url, LIAISON)}"}
            deep, deep_queue = deep_cursors(url, args.tickets // 2)
            number = httpx.get(f"{base_url}/tickets?limit=1&q=alma", headers=staff).json()
            some = number["data"][0]["number"]
            page = {**staff, "Accept": "text/html"}
            queue = "/tickets?view=open&sort=sla_due_at"
            scenarios = [
                ("staff queue page: open, by SLA due", queue, page),
                ("staff queue JSON: open, by SLA due", queue, staff),
                ("staff queue: high priority, by SLA due", f"{queue}&priority=high", staff),
                ("staff queue: by priority", "/tickets?view=open&sort=priority", staff),
                ("staff queue page: by priority", "/tickets?view=open&sort=priority", page),
                ("staff queue: due soon", "/tickets?view=due_soon&sort=sla_due_at", staff),
                ("staff queue page: due soon", "/tickets?view=due_soon&sort=sla_due_at", page),
                ("staff queue, deep page (cursor)",
                 f"/tickets?sort=sla_due_at&cursor={deep_queue}", staff),
                ("staff list, open, page 1", "/tickets?status=open", staff),
                ("staff list, priority+category", "/tickets?priority=high&category=cataloging",
                 staff),
                ("staff list, deep page (cursor)", f"/tickets?cursor={deep}", staff),
                ("staff queue: breaching SLA", "/tickets?view=breaching", staff),
                ("liaison: our tickets", "/tickets", liaison),
                ("liaison: recently updated", "/tickets?sort=-updated_at", liaison),
                ("search 'renewal invoice'", "/tickets?q=renewal%20invoice", staff),
                ("search a rarer word", "/tickets?q=kalomi", staff),
                ("search a common word", "/tickets?q=loan", staff),
                ("search + status filter", "/tickets?q=portfolio&status=pending_vendor", staff),
                ("liaison search 'loan'", "/tickets?q=loan", liaison),
                ("ticket JSON", f"/tickets/{some}", staff),
                ("ticket page", f"/tickets/{some}", page),
            ]  # fmt: skip
            if args.match:
                scenarios = [s for s in scenarios if args.match in s[0]]
            for label, path, headers in scenarios:
                httpx.get(base_url + path, headers=headers, timeout=120).raise_for_status()
                figures = drive(
                    base_url + path, headers, concurrency=args.concurrency, duration=args.duration
                )
                sql = count_statements("GET", path, headers, url)
                rows.append({"request": label, **figures, "sql/req": sql, "load": _load1()})
                print(f"{database}: {rows[-1]}", flush=True)  # kept should a later row fail
                if "search" in label:  # what one person typing in the box waits for
                    alone = drive(base_url + path, headers, concurrency=1, duration=args.duration)
                    rows.append({"request": f"{label}, one at a time", **alone, "sql/req": sql,
                                 "load": _load1()})  # fmt: skip
                    print(f"{database}: {rows[-1]}", flush=True)
                if not args.no_plans and "Accept" not in headers:
                    print("\n".join([f"  plan of {label}:", *explain(url, path, headers)]))
            if not args.match:
                filing = file_concurrently(base_url, token(base_url, LIAISON), args.filers, 25)
                sql = count_statements(
                    "POST", "/tickets", liaison, url,
                    json={"subject": "Count", "description": "x", "category": "other"},
                )  # fmt: skip
                gaps = "gap-free" if filing.pop("gap_free") else "GAPS!"
                label = f"file a ticket ({args.filers} at once, {gaps})"
                rows.append({"request": label, **filing, "cpu_ms": float("nan"), "sql/req": sql,
                             "load": _load1()})  # fmt: skip
        report(
            rows,
            f"{database}: {args.tickets:,} tickets, {processes} app process(es), "
            f"{args.concurrency} clients, {args.duration:g} s each; load: {_load()}",
        )


def _load1() -> float:
    """The 1-minute load average when a row was taken."""
    return os.getloadavg()[0]


def _load() -> str:
    """The machine's load average (1, 5, 15 min): the figures depend on it."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
