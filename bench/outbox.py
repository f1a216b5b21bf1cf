"""Drain queued e-mail to a local SMTP server with 1, 2 and 4 worker processes.

    .venv/bin/python -m bench.outbox                       # 10,000 messages, PostgreSQL
    .venv/bin/python -m bench.outbox --messages 1000 --workers 1 2   # a quick look

For each worker count: the `bench_outbox` database is rebuilt from the migrations, N messages
are queued, an aiosmtpd server in this process collects what arrives, and that many
`Worker` processes drain the outbox (each exits when it finds nothing left to claim). Printed:
messages/s from the first delivery to the last (processes already started), the same over the
whole run including process start-up, and duplicates and missing messages, both of which must
be 0. The SMTP server shares this machine's cores with the workers and the database, so the CPU
each message cost the workers (`worker cpu ms/msg`) and the SMTP server in this process
(`smtp cpu ms/msg`) is printed too: unlike msg/s it hardly moves when other work shares the
machine; `cores × 1000 / (worker + smtp cpu)` is the rate the machine could reach if the
database were free (it is not: add its share).
"""

import argparse
import email
import os
import subprocess
import sys
import threading
import time
from collections import Counter

from aiosmtpd.controller import Controller
from sqlalchemy import func
from sqlmodel import Session, select

from app.core import migrations
from app.core.db import build_engine
from app.models.outbox import OutboxMessage, OutboxState
from app.notify.outbox import enqueue
from bench.common import ROOT, SECRET_KEY, free_port, report, reset_database

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_outbox"


class Sink:
    """Counts Message-IDs as the server accepts them, and when the first and last arrived."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.first = self.last = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        headers = email.message_from_bytes(envelope.original_content.split(b"\r\n\r\n", 1)[0])
        now = time.monotonic()
        with self.lock:
            self.seen[headers["Message-ID"]] += 1
            self.first = self.first or now
            self.last = now
        return "250 OK"


def queue(url: str, n: int) -> set[str]:
    """A fresh schema with `n` pending messages; returns their Message-IDs."""
    reset_database(url)
    migrations.upgrade(url)
    engine = build_engine(url)
    with Session(engine) as session:
        for i in range(n):
            enqueue(
                session,
                to=f"liaison{i}@bench.example.edu",
                template="outbox/test",
                context={"name": f"Liaison {i}", "note": "Benchmark message."},
            )
            if i % 1000 == 999:
                session.commit()
        session.commit()
        ids = set(session.exec(select(OutboxMessage.message_id)).all())
    engine.dispose()
    return ids


def run(url: str, messages: int, workers: int, smtp_port: int) -> dict:
    expected = queue(url, messages)
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_SECRET_KEY": SECRET_KEY,
        "PORTAL_LOG_LEVEL": "WARNING",
        "PORTAL_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
    }
    started = time.monotonic()
    own = time.process_time()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.outbox", "--drain"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    # Each worker reports the CPU its drain loop took (start-up and imports left out).
    worker_cpu = sum(float(process.communicate()[0].split()[-1]) for process in processes)
    elapsed = time.monotonic() - started
    smtp_cpu = time.process_time() - own  # this process is idle but for the SMTP server
    controller.stop()
    engine = build_engine(url)
    with Session(engine) as session:
        unsent = session.scalar(select(func.count()).where(OutboxMessage.state != OutboxState.sent))
    engine.dispose()
    delivered = sum(sink.seen.values())
    steady = (sink.last - sink.first) or float("nan")
    return {
        "workers": workers,
        "messages": messages,
        "delivered": delivered,
        "msg/s": round(delivered / steady, 1),
        "msg/s (with start-up)": round(delivered / elapsed, 1),
        "worker cpu ms/msg": round(worker_cpu / max(delivered, 1) * 1000, 2),
        "smtp cpu ms/msg": round(smtp_cpu / max(delivered, 1) * 1000, 2),
        "duplicates": sum(n - 1 for n in sink.seen.values() if n > 1),
        "missing": len(expected - set(sink.seen)),
        "not sent in db": unsent,
    }


def drain() -> None:
    """One worker process: claim and send until nothing is left."""
    from app.core.db import get_engine
    from app.notify.worker import Worker

    worker = Worker(get_engine())
    started = time.process_time()
    while worker.drain_once():
        pass
    print(time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain:
        drain()
        return
    rows = [run(args.database_url, args.messages, n, free_port()) for n in args.workers]
    report(rows, f"outbox: drain {args.messages} messages to a local aiosmtpd")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
