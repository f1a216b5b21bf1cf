"""The SQLite default under writes (issue 10 point 17, issue 11 point 6): people sign in and file
tickets in parallel while the built-in worker sends hundreds of e-mails, and nobody gets a 500
("database is locked").

A real `portal serve` (its own process, its built-in worker, the real session dependency) on a
real SQLite file, a real SMTP server (aiosmtpd) in this process and real threads sending
requests. The SMTP server holds the first message until half the requests have answered, so
the worker is in the middle of a send while people write: it must hold no transaction then.
"""

import asyncio
import email
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func
from sqlmodel import Session, select

from app.core import migrations
from app.core.db import build_engine
from app.models.outbox import OutboxMessage, OutboxState
from app.models.user import Role
from app.notify.outbox import enqueue
from tests.conftest import is_postgres
from tests.factories import Factory
from tests.factories.core import PASSWORD

# The suite's PostgreSQL run skips the two server tests: they build their own SQLite file, so
# the SQLite run has already run them against exactly the same thing.
sqlite_run_only = pytest.mark.skipif(
    is_postgres(), reason="runs in the SQLite run of the suite (its own SQLite file either way)"
)

MESSAGES = 500
PARALLEL = 50


class Gate:
    """An SMTP server that counts Message-IDs and holds the first message of a round until
    `open` is set."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.open = threading.Event()
        self.waiting = threading.Event()  # the worker is in the middle of a send

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        while not self.open.is_set():
            self.waiting.set()
            await asyncio.sleep(0.01)
        headers = email.message_from_bytes(envelope.original_content.split(b"\r\n\r\n", 1)[0])
        with self.lock:
            self.seen[headers["Message-ID"]] += 1
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return sum(self.seen.values())


@dataclass
class Portal:
    base_url: str
    database_url: str
    gate: Gate
    log: Path
    users: list = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """`portal serve` on a fresh SQLite file, with its built-in worker sending to a `Gate`."""
    folder = tmp_path_factory.mktemp("sqlite-writes")
    url = f"sqlite:///{folder / 'portal.db'}"
    migrations.upgrade(url)
    engine = build_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        make = Factory(session)
        library = make.institution().code
        users = [make.user(Role.library_staff, library) for _ in range(PARALLEL)]
    engine.dispose()
    gate, smtp_port, port = Gate(), _free_port(), _free_port()
    controller = Controller(gate, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "PORTAL_OUTBOX_POLL_SECONDS": "0.2",
        "PORTAL_LOG_LEVEL": "WARNING",
        # Behind a proxy: each sign-in below comes from a library of its own (X-Forwarded-For).
        "PORTAL_TRUSTED_PROXIES": "127.0.0.1",
    }
    log = folder / "server.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [Path(sys.executable).with_name("portal"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, server, log)
        yield Portal(base_url, url, gate, log, users)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        controller.stop()


def _wait_ready(base_url: str, server: subprocess.Popen, log: Path) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"portal serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"portal serve was not ready:\n{log.read_text()}")


def _queue(database_url: str, n: int) -> set[str]:
    """`n` messages in the outbox, committed; their Message-IDs."""
    engine = build_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        messages = [
            enqueue(
                session,
                to=f"liaison{i}@writes.example.edu",
                template="outbox/test",
                context={"name": f"Liaison {i}", "note": "Maintenance tonight."},
            )
            for i in range(n)
        ]
        session.commit()
        ids = {m.message_id for m in messages}
    engine.dispose()
    return ids


def _outbox_states(database_url: str) -> dict[OutboxState, int]:
    engine = build_engine(database_url)
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        ).all()
    engine.dispose()
    return dict(rows)


def _while_the_worker_sends(
    portal: Portal, request: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """Queues MESSAGES e-mails, waits until the worker is in the middle of sending the first,
    then sends PARALLEL requests from as many threads; the SMTP server lets the worker go on
    once half of them have answered. Returns the responses once every e-mail has arrived."""
    gate = portal.gate
    gate.open.clear()
    gate.waiting.clear()
    gate.seen.clear()
    expected = _queue(portal.database_url, MESSAGES)
    assert gate.waiting.wait(timeout=30), "the worker never started sending"
    answered = Counter()
    lock = threading.Lock()

    def one(client: httpx.Client, n: int) -> httpx.Response:
        response = request(client, n)
        with lock:
            answered["n"] += 1
            if answered["n"] >= PARALLEL // 2:
                gate.open.set()
        return response

    with (
        httpx.Client(base_url=portal.base_url, timeout=120) as client,
        ThreadPoolExecutor(max_workers=PARALLEL) as pool,
    ):
        responses = list(pool.map(lambda n: one(client, n), range(PARALLEL)))
    gate.open.set()
    for _ in range(1200):  # the rest of the drain, however slow the machine
        with gate.lock:
            if expected <= set(gate.seen):
                break
        time.sleep(0.1)
    # Filing a ticket queues its own confirmation e-mail beside the queued messages.
    with gate.lock:
        assert expected <= set(gate.seen), "every queued message arrives"
    assert max(gate.seen.values()) == 1, "and arrives once"
    return responses


def _server_errors(portal: Portal, responses: list[httpx.Response]) -> list[str]:
    errors = [f"{r.status_code} {r.text[:200]}" for r in responses if r.status_code >= 500]
    log = portal.log.read_text()
    if "database is locked" in log:
        errors.append(f"the server logged 'database is locked':\n{log[-2000:]}")
    return errors


@sqlite_run_only
def test_signing_in_50_times_while_the_worker_sends_500_notices(portal):
    def sign_in(client: httpx.Client, n: int) -> httpx.Response:
        user = portal.users[n]
        return client.post(
            "/auth/token",
            data={"username": user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": f"192.0.2.{n + 1}"},
        )

    responses = _while_the_worker_sends(portal, sign_in)

    assert _server_errors(portal, responses) == []
    assert [r.status_code for r in responses] == [200] * PARALLEL
    assert all(r.json()["access_token"] for r in responses)
    assert _outbox_states(portal.database_url).get(OutboxState.sent, 0) >= MESSAGES


@sqlite_run_only
def test_50_parallel_writers_while_the_worker_sends_500_notices(portal):
    with httpx.Client(base_url=portal.base_url, timeout=60) as client:
        tokens = [
            client.post("/auth/token", data={"username": u.email, "password": PASSWORD}).json()[
                "access_token"
            ]
            for u in portal.users[:10]
        ]

    def file_ticket(client: httpx.Client, n: int) -> httpx.Response:
        return client.post(
            "/tickets",
            json={
                "subject": f"Primo shows no availability ({n})",
                "description": "Since this morning every e-book shows as unavailable.",
                "category": "discovery_primo",
            },
            headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"},
        )

    responses = _while_the_worker_sends(portal, file_ticket)

    assert _server_errors(portal, responses) == []
    assert [r.status_code for r in responses] == [201] * PARALLEL
    numbers = [r.json()["number"] for r in responses]
    assert len(set(numbers)) == PARALLEL  # gap-free numbering held too
    assert _outbox_states(portal.database_url).get(OutboxState.failed, 0) == 0


def test_a_transaction_that_read_still_writes_after_another_committed(tmp_path):
    """The upgrade SQLite refuses at once ("database is locked", no busy wait) when another
    connection committed after this transaction's first read: the write lock is taken afresh."""
    engine = build_engine(f"sqlite:///{tmp_path / 'upgrade.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE note (body TEXT)")
    try:
        with engine.connect() as reader, engine.connect() as other:
            reader.begin()
            assert reader.exec_driver_sql("SELECT count(*) FROM note").scalar() == 0
            with other.begin():
                other.exec_driver_sql("INSERT INTO note VALUES ('from the other')")
            reader.exec_driver_sql("INSERT INTO note VALUES ('from the reader')")
            reader.commit()
        with engine.connect() as conn:
            bodies = conn.exec_driver_sql("SELECT body FROM note ORDER BY body").scalars().all()
        assert bodies == ["from the other", "from the reader"]
    finally:
        engine.dispose()
