"""What every benchmark needs: a real server on a fresh database, load, SQL counts, a table.

The server runs as `portal serve` in its own process (the way it runs in production), on a
database that is wiped and loaded with the demo data first. Load comes from this process over
loopback, so on a small machine the driver and the server share the cores: compare figures
taken on the same machine, and read `GET /healthz` as the ceiling of driver plus framework.
"""

import asyncio
import math
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from app.core.config import get_settings
from app.core.db import get_engine
from app.demo import DEMO_PASSWORD
from app.main import create_app

try:
    import uvloop as _uvloop
except ImportError:  # the standard event loop works too, with a lower ceiling
    _uvloop = None

ROOT = Path(__file__).resolve().parents[1]
PORTAL = Path(sys.executable).with_name("portal")
TMP = Path(tempfile.gettempdir()).resolve()
SQLITE_URL = f"sqlite:///{TMP / 'portal-bench.db'}"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
DATABASES = {"sqlite": SQLITE_URL, "postgres": POSTGRES_URL}
# One secret per run, shared by the server and the in-process app that counts statements, so a
# token issued by one is accepted by the other.
SECRET_KEY = secrets.token_urlsafe(48)
_BENCH_DATABASE = re.compile(r"^bench\w*$")
# The process serving each base URL that `start_server` yielded, for `drive` to read its CPU time.
_SERVERS: dict[str, int] = {}


def server_environment(database_url: str) -> dict[str, str]:
    """The settings a benchmarked portal runs with: production mode, quiet logs, and no outbox
    worker thread inside the web process (on by default for SQLite), so that both databases
    measure the same thing."""
    return {
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_SECRET_KEY": SECRET_KEY,
        "PORTAL_ENVIRONMENT": "production",
        "PORTAL_LOG_LEVEL": "WARNING",
        "PORTAL_WORKER_IN_PROCESS": "false",
    }


def reset_database(database_url: str) -> None:
    """An empty database. Refuses anything but a SQLite file under the temporary directory or a
    `bench*` PostgreSQL database, so a mistyped URL cannot wipe someone's data."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "").resolve()
        if not path.is_relative_to(TMP) or path == TMP:
            raise ValueError(f"benchmarks keep SQLite files under {TMP}, not {path}")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = url.database or ""
    if not _BENCH_DATABASE.match(name):
        raise ValueError(f"benchmarks only reset a database named bench…, not {name!r}")
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        found = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not found:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def start_server(
    database_url: str,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    *,
    seed: Callable[[str], None] | None = None,
    serve_args: Sequence[str] = (),
    fresh: bool = True,
) -> Iterator[str]:
    """Yields the base URL of a portal serving a fresh database with the demo data.

    `seed(database_url)` runs after the demo loader and before the server starts, for a
    benchmark that needs more rows than the demo has. `env` overrides settings; `serve_args`
    are extra `portal serve` options (e.g. `--workers 2`). `fresh=False` keeps the database a
    previous run loaded (only migrating it), for data that takes minutes to generate. The
    server's log (warnings and errors only) goes to /tmp/portal-bench-<port>.log.
    """
    port = port or free_port()
    environment = {**os.environ, **server_environment(database_url), **(env or {})}
    if fresh:
        reset_database(database_url)
    command = ["demo"] if fresh else ["db", "upgrade"]
    subprocess.run(
        [PORTAL, *command], env=environment, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    if seed and fresh:
        seed(database_url)
    log_path = TMP / f"portal-bench-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [PORTAL, "serve", "--port", str(port), *serve_args],
            env=environment,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, log_path)
        _SERVERS[base_url] = process.pid
        yield base_url
    finally:
        _SERVERS.pop(base_url, None)
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base_url} was not ready within 60 s")


def token(base_url: str, email: str, password: str = DEMO_PASSWORD) -> str:
    """A bearer token for a demo account (see `app/demo/members.py`)."""
    response = httpx.post(
        f"{base_url}/auth/token", data={"username": email, "password": password}, timeout=30
    )
    response.raise_for_status()
    return response.json()["access_token"]


def check(
    url: str,
    headers: Mapping[str, str],
    content_type: str,
    present: str | Sequence[str],
    absent: str | Sequence[str] = (),
) -> None:
    """Refuses to time a response that is not the representation its row claims to measure:
    it must succeed, have `content_type`, contain every `present` text and no `absent` one."""
    response = httpx.get(url, headers=dict(headers), timeout=30)
    got = response.headers.get("content-type", "")
    present = [present] if isinstance(present, str) else present
    absent = [absent] if isinstance(absent, str) else absent
    if (
        response.status_code >= 400
        or not got.startswith(content_type)
        or not all(text in response.text for text in present)
        or any(text in response.text for text in absent)
    ):
        raise SystemExit(
            f"{url} answered {response.status_code} {got}, not the expected {content_type}:\n"
            f"{response.text[:300]}"
        )


def drive(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    concurrency: int = 32,
    duration: float = 10.0,
    requests: int | None = None,
    method: str = "GET",
) -> dict[str, float]:
    """Sends requests over `concurrency` keep-alive connections for `duration` seconds (or until
    `requests` have been sent), after one unmeasured warm-up round; a status of 400 or more, or a
    broken connection, counts as an error.

    When the URL is served by `start_server`, `cpu_ms` is the server's CPU time per request:
    unlike req/s, it hardly moves when other work shares the machine.

    A minimal HTTP/1.1 client on asyncio streams rather than httpx: httpx's AsyncClient spends
    about 1 ms of CPU per request and slows down as connections are added (about 220 req/s on
    `/healthz` with 32 of them here), so it would measure itself, not the portal.
    """
    run = getattr(_uvloop, "run", asyncio.run)
    return run(_drive(url, headers or {}, concurrency, duration, requests, method.upper()))


async def _drive(
    url: str,
    headers: Mapping[str, str],
    concurrency: int,
    duration: float,
    requests: int | None,
    method: str,
) -> dict[str, float]:
    target = httpx.URL(url)
    if target.scheme != "http":
        raise ValueError("the load driver speaks plain HTTP to a local server only")
    port = target.port or 80
    lines = [
        f"{method} {target.raw_path.decode()} HTTP/1.1",
        f"Host: {target.host}:{port}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def send(stream: _Stream | None) -> tuple[int, _Stream | None]:
        """One request on `stream` (opened if None); returns the stream if it can be reused.
        A kept-alive connection the server closed while it sat idle (uvicorn closes them after
        5 s, e.g. while a slow route's warm-up requests finish) is opened again once, as HTTP
        clients do; a failure on a new connection is an error."""
        for _ in range(2):
            reused = stream is not None
            try:
                stream = stream or await asyncio.open_connection(target.host, port)
                status, reusable = await _exchange(*stream, request, method)
                break
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                if stream:
                    stream[1].close()
                stream, status, reusable = None, 599, False
                if not reused:
                    break
        if not reusable and stream:
            stream[1].close()
            stream = None
        return status, stream

    def more(deadline: float) -> bool:
        nonlocal remaining
        if remaining is None:
            return time.perf_counter() < deadline
        remaining -= 1
        return remaining >= 0

    async def client(stream: _Stream | None, deadline: float) -> None:
        nonlocal errors
        while more(deadline):
            started = time.perf_counter()
            status, stream = await send(stream)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += status >= 400
        if stream:
            stream[1].close()

    # Warm-up: one unmeasured request per connection opens it and fills the server's caches.
    warm = await asyncio.gather(*(send(None) for _ in range(concurrency)))
    server = _SERVERS.get(f"{target.scheme}://{target.host}:{port}")
    cpu = _cpu_seconds(server)
    started = time.perf_counter()
    await asyncio.gather(*(client(stream, started + duration) for _, stream in warm))
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(server) - cpu
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "p99_ms": _percentile(latencies, 99),
        "cpu_ms": cpu / len(latencies) * 1000 if latencies else math.nan,
    }


_Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, method: str
) -> tuple[int, bool]:
    """Sends one request and reads its response to the end: (status, connection reusable)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip().lower()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        pass
    elif fields.get("transfer-encoding") == "chunked":
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")  # the end of the (empty) trailer
    elif "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    else:
        await reader.read()  # delimited by closing the connection
        return status, False
    return status, fields.get("connection") != "close"


def _cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of a process and its children (uvicorn's worker processes),
    from /proc; NaN where there is no /proc or no server."""
    if pid is None:
        return math.nan
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total if total else math.nan


def _percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@contextmanager
def in_process(database_url: str) -> Iterator[tuple[TestClient, Engine]]:
    """The app in this process, configured like the benchmarked server, and the engine it uses."""
    saved = {key: os.environ.get(key) for key in server_environment(database_url)}
    os.environ.update(server_environment(database_url))
    get_settings.cache_clear()
    get_engine.cache_clear()
    engine = get_engine()
    try:
        with engine.connect():
            pass  # the dialect's first-connect queries happen here, not in a counted request
        with TestClient(create_app()) as client:
            yield client, engine
    finally:
        engine.dispose()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        get_engine.cache_clear()


@dataclass(frozen=True)
class Observation:
    statements: list[str]  # the SQL, in order (SQLite's explicit BEGIN left out)
    thread_hops: int  # hand-offs to the thread pool
    parameters: list[Any] = field(default_factory=list)  # what each statement was given


def observe(
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    database_url: str,
    *,
    json: Any = None,
) -> Observation:
    """Runs one request through the app in this process and records the SQL it executes and
    how often it hands work to the thread pool: each `def` dependency (twice for one that
    yields), each `def` endpoint and, for a `def` endpoint, the validation of its response
    model. Each hop costs a thread switch and a fight for the GIL (DESIGN.md §8). SQLite's
    explicit `BEGIN` is left out so both databases count the same statements. The parameters
    each statement was given are kept too, so `bench.floor` can replay the request's SQL.
    Raises if the request fails: a failed request's counts would mislead."""
    seen: list[str] = []
    given: list[Any] = []
    hops = 0
    run_sync = anyio.to_thread.run_sync

    def capture(conn, cursor, statement: str, parameters, context, executemany) -> None:
        if statement.strip().upper() != "BEGIN":
            seen.append(statement)
            given.append(parameters)

    async def counting_run_sync(*args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await run_sync(*args, **kwargs)

    with in_process(database_url) as (client, engine):
        event.listen(engine, "before_cursor_execute", capture)
        anyio.to_thread.run_sync = counting_run_sync
        try:
            response = client.request(method, path, headers=dict(headers or {}), json=json)
        finally:
            anyio.to_thread.run_sync = run_sync
            event.remove(engine, "before_cursor_execute", capture)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")
    return Observation(statements=seen, thread_hops=hops, parameters=given)


def statements(
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    database_url: str,
    *,
    json: Any = None,
) -> list[str]:
    """The SQL one request executes, in order: to see which statement is the extra one."""
    return observe(method, path, headers, database_url, json=json).statements


def count_statements(
    method: str,
    path: str,
    headers: Mapping[str, str] | None,
    database_url: str,
    *,
    json: Any = None,
) -> int:
    """SQL statements per request: a number that must not grow with the rows on a page."""
    return len(statements(method, path, headers, database_url, json=json))


def report(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> None:
    """Prints rows (dicts with the same keys) as a fixed-width table; numbers right-aligned."""
    if not rows:
        return
    columns = list(rows[0])
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row.get(c), int | float) for row in rows) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ).rstrip()

    if title:
        print(f"\n{title}")
    print(line(columns))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.1f}"
    return str(value)
