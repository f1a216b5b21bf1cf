"""The worker: drains the outbox (mail, and webhooks: `app.notify.webhooks`), runs the jobs.

Claiming: a batch of due rows is selected `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one
writer and ignores it), marked `sending` with a lease (`next_attempt_at` = now + lease) and
committed. Each message is then sent and its row marked `sent` in its own short transaction,
right after the server accepted it. A worker that dies mid-batch leaves its rows `sending`;
once the lease has passed they are due again and another worker claims them. So a message is
delivered twice only when the server accepted it and the worker died before recording that (the
one message in flight), and the resend carries the same `Message-ID`. No transaction is open
while the worker talks to the SMTP server: on SQLite, where one writer at a time holds the
database, requests never wait for a send.

Throughput: each worker keeps one SMTP connection open while there is mail to send (it is
closed when the outbox is empty, and checked with NOOP before reuse after a pause), so a send
costs one SMTP transaction, not a connection, EHLO and login.

Failures are retried with exponential backoff and jitter; after `PORTAL_OUTBOX_MAX_ATTEMPTS` (or
at once when retrying cannot help: an invalid address, a refusal) the row becomes `dead`.
"""

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, update
from sqlmodel import Session, select

from app.core.config import Settings, get_settings
from app.core.db import utcnow
from app.models.outbox import OutboxMessage, OutboxState
from app.notify import jobs
from app.notify.mail import PermanentError, SmtpSender, build, render, sender_from_settings
from app.notify.webhooks import WebhookWorker

log = logging.getLogger(__name__)

DUE = (OutboxState.pending, OutboxState.failed, OutboxState.sending)
OUTBOX = OutboxMessage.__table__  # row updates as plain SQL: no ORM bookkeeping per message
MAX_BACKOFF = timedelta(hours=6)
# Built once: a statement per message would spend more CPU building SQL than sending.
MARK_SENT = (
    OUTBOX.update()
    .where(
        OUTBOX.c.id == bindparam("message"),
        OUTBOX.c.claimed_by == bindparam("worker"),  # still this worker's claim
        OUTBOX.c.state == OutboxState.sending,
    )
    .values(
        state=OutboxState.sent,
        sent_at=bindparam("when"),
        subject=bindparam("subject"),
        body_text=bindparam("text"),
        body_html=bindparam("html"),
        transport=bindparam("transport"),
        last_error=bindparam("error"),
    )
)


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self,
        bind: Engine | Connection,
        *,
        name: str | None = None,
        sender: SmtpSender | None = None,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`bind` is normally the engine; tests pass their connection. `sender` None: SMTP
        from the settings, if any (else mail is kept)."""
        self.bind = bind
        self.name = name or worker_name()
        self.settings = settings or get_settings()
        self.sender = sender if sender is not None else sender_from_settings()
        self.clock = clock
        self.scheduler = jobs.Scheduler(bind, self.name)
        self.webhooks = WebhookWorker(bind, name=self.name, settings=self.settings, clock=clock)

    def _session(self) -> Session:
        return Session(self.bind, join_transaction_mode="create_savepoint", expire_on_commit=False)

    # --- the outbox ---------------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[OutboxMessage]:
        """Takes up to `limit` due rows under this worker's lease (detached copies, by id)."""
        now = self.clock()
        lease_end = now + timedelta(seconds=self.settings.outbox_lease_seconds)
        with self._session() as session:
            ids = session.exec(
                select(OutboxMessage.id)
                .where(OutboxMessage.state.in_(DUE), OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit or self.settings.outbox_batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not ids:
                return []
            # The same conditions again: on SQLite nothing was locked by the SELECT.
            claimed = (
                session.exec(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(ids),
                        OutboxMessage.state.in_(DUE),
                        OutboxMessage.next_attempt_at <= now,
                    )
                    .values(
                        state=OutboxState.sending,
                        claimed_by=self.name,
                        attempts=OutboxMessage.attempts + 1,
                        next_attempt_at=lease_end,
                    )
                    .returning(OutboxMessage)
                    .execution_options(synchronize_session=False)
                )
                .scalars()
                .all()
            )
            session.commit()
            session.expunge_all()
        return sorted(claimed, key=lambda m: m.id)

    def deliver(self, messages: list[OutboxMessage], stop: threading.Event | None = None) -> int:
        """Sends the claimed rows one by one; returns how many were sent (or kept). The SMTP
        connection stays open for the next batch (`close` ends it)."""
        sent = 0
        # Stop early enough that the slowest send still ends inside the lease.
        deadline = (
            time.monotonic()
            + self.settings.outbox_lease_seconds
            - (2 * self.settings.smtp_timeout_seconds + 5)
        )
        for index, message in enumerate(messages):
            if (stop is not None and stop.is_set()) or time.monotonic() > deadline:
                self._release([m.id for m in messages[index:]])
                break
            sent += self._deliver_one(message)
        return sent

    def close(self) -> None:
        """Ends the SMTP connection (the outbox is empty, or the worker stops)."""
        if self.sender is not None:
            self.sender.close()

    def _deliver_one(self, message: OutboxMessage) -> int:
        if message.attempts > self.settings.outbox_max_attempts:
            # Only workers that died mid-send (leases run out) got it this far: stop the cycle.
            self._fail(message, RuntimeError("every attempt ended with its worker gone"))
            return 0
        try:
            rendered = render(message.template, message.context)
            email = build(message, rendered)
            refused = self.sender.send(email, message.recipients) if self.sender else {}
        except Exception as exc:  # every failure is recorded; none loses the message
            self._fail(message, exc)
            return 0
        with self._transaction() as connection:  # recorded at once: only this one was in flight
            done = connection.execute(
                MARK_SENT,
                {
                    "message": message.id,
                    "worker": self.name,
                    "when": self.clock(),
                    "subject": rendered.subject[:500],
                    "text": rendered.text,
                    "html": rendered.html,
                    "transport": "smtp" if self.sender is not None else "kept",
                    "error": f"refused recipients: {refused}" if refused else None,
                },
            ).rowcount
        if not done:
            log.warning("lease lost before the send was recorded", extra={"outbox": message.id})
        return 1

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A short transaction on a plain connection (a savepoint when tests hand us theirs)."""
        if isinstance(self.bind, Engine):
            with self.bind.begin() as connection:
                yield connection
        else:
            with self.bind.begin_nested():
                yield self.bind

    def _still_mine(self, message_id: int) -> tuple:
        """A row this worker claimed and still holds (no other worker re-claimed it)."""
        return (
            OutboxMessage.id == message_id,
            OutboxMessage.claimed_by == self.name,
            OutboxMessage.state == OutboxState.sending,
        )

    def _fail(self, message: OutboxMessage, exc: Exception) -> None:
        permanent = isinstance(exc, PermanentError)
        dead = permanent or message.attempts >= self.settings.outbox_max_attempts
        delay = self.settings.outbox_backoff_seconds * 2 ** (message.attempts - 1)
        delay = min(delay * random.uniform(0.75, 1.25), MAX_BACKOFF.total_seconds())  # noqa: S311
        with self._session() as session:
            session.exec(
                update(OutboxMessage)
                .where(*self._still_mine(message.id))
                .values(
                    state=OutboxState.dead if dead else OutboxState.failed,
                    next_attempt_at=self.clock() + timedelta(seconds=delay),
                    last_error=f"{type(exc).__name__}: {exc}"[:4000],
                )
            )
            session.commit()
        log.warning(
            "outbox message failed",
            extra={"outbox": message.id, "attempt": message.attempts, "dead": dead},
        )

    def _release(self, ids: list[int]) -> None:
        """Hands unstarted rows back at once, the attempt they were charged undone."""
        with self._session() as session:
            session.exec(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.claimed_by == self.name,
                    OutboxMessage.state == OutboxState.sending,
                )
                .values(next_attempt_at=self.clock(), attempts=OutboxMessage.attempts - 1)
            )
            session.commit()

    def drain_once(self, stop: threading.Event | None = None) -> int:
        """One batch: claim, then deliver. Returns how many rows were claimed. A short batch
        means the outbox is (nearly) empty: the SMTP connection is closed until there is more."""
        messages = self.claim()
        try:
            if messages:
                self.deliver(messages, stop)
        finally:
            if len(messages) < self.settings.outbox_batch_size:
                self.close()
        return len(messages)

    # --- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; an error (the database restarting, …) is logged and waited out."""
        jobs.discover()
        log.info("worker started", extra={"worker": self.name, "smtp": self.sender is not None})
        poll = self.settings.outbox_poll_seconds
        errors = 0
        while not stop.is_set():
            try:
                self.scheduler.run_due(self.clock())
                claimed = self.drain_once(stop) + self.webhooks.drain_once(stop)
                errors = 0
            except Exception:
                errors += 1
                log.exception("worker error; retrying", extra={"worker": self.name})
                self.close()
                self.webhooks.close()
                stop.wait(min(60.0, poll * 2**errors))
                continue
            if not claimed:
                stop.wait(poll)
        self.close()
        self.webhooks.close()
        log.info("worker stopped", extra={"worker": self.name})


def start_in_thread(engine: Engine) -> tuple[threading.Thread, threading.Event]:
    """The worker inside `portal serve` (single-machine installs and the demo)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=Worker(engine).run, args=(stop,), name="outbox-worker", daemon=True
    )
    thread.start()
    return thread, stop
