"""Scale-out: 1, 2 and 4 app processes (`portal serve --workers N`) over one PostgreSQL, on a
signed-in list route (issue 11, point 5).

    .venv/bin/python -m bench.scale                       # 10 s per process count
    .venv/bin/python -m bench.scale --duration 2 --processes 1 2   # a quick look

For each process count the portal is started on the `bench_scale` database (rebuilt, demo data)
and `GET /institutions?limit=50` (JSON, a liaison's bearer token) is driven from this process
with 64 keep-alive connections. Besides req/s and latency it prints where the CPU went: the app
processes, the PostgreSQL backends serving them (found in `pg_stat_activity`, read from
/proc), and the load driver itself, each as cores busy over the run, against the cores the
machine has. Throughput grows with processes until one of them is the limit; the last line
names it. Processes share nothing but the database (sessions, revocations and throttles are
rows; the status and feed caches are keyed by a fingerprint read from the database on every
request), so any count answers the same.
"""

import argparse
import os
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import drive, report, start_server, token

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_scale"
ACCOUNT = "liaison@uiu.example.edu"
PATH = "/institutions?limit=50"
JSON = "application/json"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: set[int]) -> float:
    """User + system CPU of these processes, from /proc."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the backend ended
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def backends(url: str) -> set[int]:
    """The PostgreSQL server processes connected to the benchmark's database."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        own = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        pids = {pid for (pid,) in rows} - {own}
    engine.dispose()
    return pids


def run(processes: int, duration: float, concurrency: int) -> dict:
    with start_server(DATABASE_URL, serve_args=["--workers", str(processes)]) as base_url:
        bearer = {
            "Authorization": f"Bearer {token(base_url, ACCOUNT)}",
            "Accept": "application/json",
        }
        url = base_url + PATH
        drive(url, bearer, concurrency=concurrency, requests=concurrency * 20)  # warm every process
        database = backends(DATABASE_URL)
        before = (cpu_seconds(database), time.process_time())
        started = time.perf_counter()
        figures = drive(url, bearer, concurrency=concurrency, duration=duration)
        elapsed = time.perf_counter() - started
        after = (cpu_seconds(database), time.process_time())
    db_cores, driver_cores = ((b - a) / elapsed for a, b in zip(before, after, strict=True))
    app_cores = figures["cpu_ms"] * figures["rps"] / 1000  # the server and its workers
    return {
        "processes": processes,
        "rps": figures["rps"],
        "p50_ms": figures["p50_ms"],
        "p99_ms": figures["p99_ms"],
        "errors": figures["errors"],
        "app cpu_ms/req": figures["cpu_ms"],
        "app cores": app_cores,
        "db cores": db_cores,
        "driver cores": driver_cores,
        "cores busy": app_cores + db_cores + driver_cores,
    }


def verdict(rows: list[dict], cores: int) -> str:
    """Where the limit is, read from the figures of the largest process count."""
    top = rows[-1]
    best = max(rows, key=lambda r: r["rps"])
    gain = f"{rows[0]['rps']:,.0f} → {best['rps']:,.0f} req/s from 1 to {best['processes']}"
    shares = {
        "the app processes": top["app cores"],
        "PostgreSQL": top["db cores"],
        "the load driver": top["driver cores"],
    }
    heaviest = max(shares, key=shares.get)
    load = os.getloadavg()[0]
    if top["cores busy"] >= 0.8 * cores or load >= cores:
        return (
            f"{gain} processes. The limit is the machine's {cores} cores: with "
            f"{top['processes']} processes they were {top['cores busy']:.1f} busy with this "
            f"benchmark alone (load average {load:.1f}, other work included), most of it in "
            f"{heaviest} ({shares[heaviest]:.1f} cores). More processes than cores add only "
            f"switching; on a larger machine throughput keeps growing until PostgreSQL's share "
            f"({top['db cores'] / max(top['cores busy'], 1e-9):.0%} of the CPU here) fills it."
        )
    return (
        f"{gain} processes. The cores were not all busy ({top['cores busy']:.1f} of {cores}): "
        f"the limit is waiting, most likely on PostgreSQL (its backends used "
        f"{top['db cores']:.1f} cores) or on the driver's {top['driver cores']:.1f}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per process count")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    rows = [run(n, args.duration, args.concurrency) for n in args.processes]
    cores = os.cpu_count() or 1
    report(
        rows, f"GET {PATH} (JSON, signed in), PostgreSQL, {args.concurrency} clients, {cores} cores"
    )
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(verdict(rows, cores))


if __name__ == "__main__":
    main()
