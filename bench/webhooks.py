"""Drain queued webhook deliveries to a local HTTP receiver with 1 and 4 worker processes.

    .venv/bin/python -m bench.webhooks                       # 4,000 deliveries, PostgreSQL
    .venv/bin/python -m bench.webhooks --deliveries 500 --workers 1   # a quick look

For each worker count: the `bench_webhooks` database is rebuilt from the migrations, one
webhook (allowed to reach 127.0.0.1) and N `ticket.created` deliveries are queued through
`publish`, a receiver process (plain asyncio, keep-alive, checks every signature) counts what
arrives by `webhook-id`, and that many `WebhookWorker` processes drain the queue (each exits
when it finds nothing left to claim). Printed: deliveries/s from the first arrival to the last
(processes already started), the same including process start-up, the CPU each delivery cost
the workers and the receiver (which, unlike deliveries/s, hardly moves when other work shares
the machine), and duplicates, missing deliveries and bad signatures, all of which must be 0.
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import func
from sqlmodel import Session, select

from app.core import migrations
from app.core.db import build_engine
from app.models.outbox import OutboxState
from app.models.webhook import Webhook, WebhookDelivery
from app.services.webhooks import publish
from bench.common import ROOT, SECRET_KEY, free_port, report, reset_database

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_webhooks"
SECRET = "whsec_" + base64.b64encode(b"bench-webhooks-signing-key-32byt").decode()
TICKET = {
    "number": "2026-00042",
    "subject": "Primo VE shows no availability for e-books",
    "description": "Since this morning every e-book record says 'No full text'.",
    "institution": "UIU",
    "requester": 12,
    "assignee": None,
    "category": "discovery_primo",
    "priority": "high",
    "status": "new",
    "watchers": [12, 14],
    "contains_patron_data": False,
    "created_at": "2026-12-03T15:00:00+00:00",
}


def queue(url: str, n: int, receiver: str) -> set[str]:
    """A fresh schema, one webhook to `receiver`, `n` pending deliveries; their ids."""
    reset_database(url)
    migrations.upgrade(url)
    engine = build_engine(url)
    with Session(engine) as session:
        hook = Webhook(
            name="Bench", url=receiver, secret=SECRET, events=["ticket.created"], allow_private=True
        )
        session.add(hook)
        session.commit()
        for i in range(n):
            publish(session, "ticket.created", lambda i=i: {**TICKET, "number": f"2026-{i:05d}"})
            if i % 1000 == 999:
                session.commit()
        session.commit()
        ids = set(session.exec(select(WebhookDelivery.message_id)).all())
    engine.dispose()
    return ids


# --- the receiver (its own process) ---------------------------------------------------------


def receive(port: int, expected: int) -> None:
    """Answers 200 to every POST, counts `webhook-id`s and bad signatures, and prints the
    tally as JSON once `expected` deliveries arrived (or nothing came for 60 s)."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    seen: Counter[str] = Counter()
    state = {"first": 0.0, "last": 0.0, "bad": 0}
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line
                )
                headers = {k.lower(): v for k, v in headers.items()}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                message = headers["webhook-id"]
                signed = f"{message}.{headers['webhook-timestamp']}.".encode() + body
                mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
                if headers["webhook-signature"] != f"v1,{mac}":
                    state["bad"] += 1
                now = time.monotonic()
                state["first"] = state["first"] or now
                state["last"] = now
                seen[message] += 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
                if sum(seen.values()) >= expected:
                    done.set()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        print("ready", flush=True)
        async with server:
            while not done.is_set():
                count = sum(seen.values())
                try:
                    await asyncio.wait_for(done.wait(), 60)
                except TimeoutError:
                    if sum(seen.values()) == count:
                        break
        print(
            json.dumps(
                {
                    "seen": dict(seen),
                    "steady": state["last"] - state["first"],
                    "bad": state["bad"],
                    "cpu": time.process_time(),
                }
            ),
            flush=True,
        )

    asyncio.run(serve())


# --- a worker (its own process) --------------------------------------------------------------


def drain() -> None:
    """One worker process: claim and post until nothing is left; prints its CPU time."""
    from app.core.db import get_engine
    from app.notify.webhooks import WebhookWorker
    from app.notify.worker import worker_name

    worker = WebhookWorker(get_engine(), name=worker_name())
    started = time.process_time()
    while worker.drain_once():
        pass
    worker.close()
    print(time.process_time() - started)


def run(url: str, deliveries: int, workers: int, port: int) -> dict:
    target = f"http://127.0.0.1:{port}/hooks/portal"
    expected = queue(url, deliveries, target)
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.webhooks", "--receive", str(port), str(deliveries)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout.readline().strip() == "ready"
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": url,
        "PORTAL_SECRET_KEY": SECRET_KEY,
        "PORTAL_LOG_LEVEL": "WARNING",
    }
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.webhooks", "--drain"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    worker_cpu = sum(float(process.communicate()[0].split()[-1]) for process in processes)
    elapsed = time.monotonic() - started
    tally = json.loads(receiver.communicate(timeout=120)[0].strip().splitlines()[-1])
    seen = Counter(tally["seen"])
    engine = build_engine(url)
    with Session(engine) as session:
        unsent = session.scalar(
            select(func.count()).where(WebhookDelivery.state != OutboxState.sent)
        )
    engine.dispose()
    delivered = sum(seen.values())
    steady = tally["steady"] or float("nan")
    return {
        "workers": workers,
        "deliveries": deliveries,
        "received": delivered,
        "deliveries/s": round(delivered / steady, 1),
        "deliveries/s (with start-up)": round(delivered / elapsed, 1),
        "worker cpu ms/delivery": round(worker_cpu / max(delivered, 1) * 1000, 2),
        "receiver cpu ms/delivery": round(tally["cpu"] / max(delivered, 1) * 1000, 2),
        "duplicates": sum(n - 1 for n in seen.values() if n > 1),
        "missing": len(expected - set(seen)),
        "bad signatures": tally["bad"],
        "not sent in db": unsent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=4_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--receive", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain:
        drain()
        return
    if args.receive:
        receive(*args.receive)
        return
    rows = [run(args.database_url, args.deliveries, n, free_port()) for n in args.workers]
    report(rows, f"webhooks: drain {args.deliveries} deliveries to a local receiver")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
