"""The raw-SQL floor: what a route could cost if the portal were nothing but its SQL.

A tiny FastAPI app that answers the portal's paths by running the SAME statements, with the
same parameters, that the portal ran for that request (captured in-process by
`bench.common.observe`), through the standard `sqlite3` module or plain psycopg, and returns
the rows as JSON (`json.dumps`). No ORM, no models, no validation, no templates, no auth code
beyond the auth query itself: a list at "≥ 0.5 of the floor" is judged against this (issue 11).

It runs in its own process (one uvicorn worker, like the portal) beside the portal, on the same
database and rows. One connection serves every request from an `async def` route: with one
worker nothing overlaps, and no thread-pool hop or pool checkout is paid.

    with serve_floor(database_url, {"/institutions?limit=50": observation}) as floor_url: ...
"""

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

PLAN_ENV = "FLOOR_PLAN"
URL_ENV = "FLOOR_DATABASE_URL"
Plan = dict[str, list[tuple[str, Any]]]  # "path?query" → [(statement, parameters), …]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _connect(url: str):
    """A DB-API connection for a SQLAlchemy URL: the standard `sqlite3`, or psycopg."""
    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA journal_mode=WAL")
        return connection
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def create_floor() -> FastAPI:
    # The plan is the file `serve_floor` itself just wrote for this run.
    plan: Plan = pickle.loads(Path(os.environ[PLAN_ENV]).read_bytes())  # noqa: S301
    connection = _connect(os.environ[URL_ENV])
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/{path:path}")
    async def replay(request: Request) -> Response:
        query = request.url.query
        steps = plan.get(request.url.path + ("?" + query if query else ""))
        if steps is None:
            return Response(status_code=404)
        results = []
        for statement, parameters in steps:
            cursor = connection.execute(statement, parameters)
            names = [d[0] for d in cursor.description or ()]
            results.append([dict(zip(names, row, strict=True)) for row in cursor.fetchall()])
        body = json.dumps(results, default=_plain, ensure_ascii=False, separators=(",", ":"))
        return Response(body, media_type="application/json")

    return app


def plan_entry(observation) -> list[tuple[str, Any]]:
    """The statements of one observed request, ready to replay."""
    return list(zip(observation.statements, observation.parameters, strict=True))


@contextmanager
def serve_floor(
    database_url: str, plan: Mapping[str, Any], port: int | None = None
) -> Iterator[str]:
    """Starts the floor for `plan` ("path?query" → an `Observation` or a list of (statement,
    parameters)) and yields its base URL; `bench.common.drive` reports its CPU per request."""
    from bench.common import _SERVERS, TMP, free_port

    port = port or free_port()
    steps = {
        path: plan_entry(entry) if hasattr(entry, "statements") else list(entry)
        for path, entry in plan.items()
    }
    plan_path = TMP / f"portal-floor-{port}.pickle"
    plan_path.write_bytes(pickle.dumps(steps))
    log_path = TMP / f"portal-floor-{port}.log"
    environment = {**os.environ, PLAN_ENV: str(plan_path), URL_ENV: database_url}
    command = [sys.executable, "-m", "uvicorn", "bench.floor:create_floor", "--factory"]
    command += ["--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=environment, cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_floor(base_url, process, log_path)
        _SERVERS[base_url] = process.pid
        yield base_url
    finally:
        _SERVERS.pop(base_url, None)
        process.terminate()
        process.wait(timeout=15)
        plan_path.unlink(missing_ok=True)


def _wait_floor(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the floor exited ({process.returncode}):\n{log_path.read_text()}")
        try:
            httpx.get(f"{base_url}/", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the floor at {base_url} was not ready within 30 s")
