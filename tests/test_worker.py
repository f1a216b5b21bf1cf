"""The worker against a real SMTP server (aiosmtpd) in the test process.

Most tests share the test's rolled-back transaction (the worker is given its connection); the
multi-worker test needs real concurrent transactions, so it commits and cleans up after itself.
"""

import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import delete
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from app.core import migrations
from app.core.config import get_settings
from app.core.db import build_engine, utcnow
from app.models.outbox import JobRun, OutboxMessage, OutboxState
from app.notify import jobs
from app.notify.mail import Rendered, SmtpConfig, SmtpSender, build
from app.notify.outbox import enqueue
from app.notify.worker import Worker
from tests.conftest import is_postgres

SMTP_USER, SMTP_PASSWORD = "portal", "s3cret/pass"


class Sink:
    """Collects what the SMTP server accepted; `refuse` makes it answer 451 instead."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = False
        self.drop = False  # hang up in the middle of the message
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        if self.refuse:
            return "451 4.3.0 Try again later"
        if self.drop:
            server.transport.close()
            return "421 4.3.0 Closing"
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(sink: Sink, port: int) -> Controller:
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    return controller


def sender_for(port: int) -> SmtpSender:
    url = f"smtp://{SMTP_USER}:s3cret%2Fpass@127.0.0.1:{port}?timeout=5"
    return SmtpSender(SmtpConfig.from_url(url, timeout=30))


@pytest.fixture
def smtp():
    """A running SMTP server: (sink, port)."""
    sink, port = Sink(), free_port()
    controller = start_server(sink, port)
    yield sink, port
    controller.stop()


def later(minutes: float):
    """A clock that many minutes ahead: leases and backoffs have passed."""
    return lambda: utcnow() + timedelta(minutes=minutes)


def test_delivers_multipart_with_headers(db, connection, smtp):
    sink, port = smtp
    message = enqueue(
        db,
        to=["liaison@test.example.edu", "backup@test.example.edu"],
        template="outbox/test",
        context={"name": "Pat <O'Brien>", "note": "Fish & chips."},
        reply_to="support@carli.example.org",
        unsubscribe_url="https://portal.example.org/lists/ann/unsubscribe?t=abc",
        attachments=[
            {
                "filename": "window.ics",
                "content_type": "text/calendar; method=PUBLISH",
                "content": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
            }
        ],
    )
    db.commit()

    Worker(connection, sender=sender_for(port)).drain_once()

    assert len(sink.messages) == 1
    mail = sink.messages[0]
    assert mail["Message-ID"] == message.message_id
    assert mail["Subject"] == "Test message from the Liaison Portal"
    assert mail["From"] == get_settings().mail_from
    assert mail["To"] == "liaison@test.example.edu, backup@test.example.edu"
    assert mail["Reply-To"] == "support@carli.example.org"
    assert mail["List-Unsubscribe"] == "<https://portal.example.org/lists/ann/unsubscribe?t=abc>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sink.envelopes[0][1] == ["liaison@test.example.edu", "backup@test.example.edu"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hello Pat <O'Brien>," in text  # plain text is not HTML-escaped
    assert "Hello Pat &lt;O&#39;Brien&gt;," in html  # HTML is
    assert "Fish &amp; chips." in html
    (ics,) = list(mail.iter_attachments())
    assert ics.get_filename() == "window.ics"
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "PUBLISH"

    db.refresh(message)
    assert message.state == OutboxState.sent
    assert message.transport == "smtp"
    assert message.attempts == 1
    assert message.subject == "Test message from the Liaison Portal"


def test_non_ascii_headers_and_bodies_survive_the_wire(db):
    """Subjects, display names and bodies in any script reach the reader unchanged, and a long
    header is not folded into a value with a leading space."""
    message = enqueue(
        db,
        to="liaison@test.example.edu",
        template="outbox/test",
        context={"name": "x", "note": "y"},
        reply_to="Zoë Ménard <support@carli.example.org>",
        unsubscribe_url="https://portal.example.org/lists/" + "a" * 90,
        attachments=[
            {"filename": "form.pdf", "content_type": "application/pdf", "content": "%PDF"}
        ],
    )
    text = "Élan — façade ✓\n" + "long line " * 40 + "\n"
    built = build(message, Rendered(subject="Fermeture d’Alma — été", text=text, html="<p>été</p>"))
    mail = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)

    assert mail["Subject"] == "Fermeture d’Alma — été"
    assert mail["Reply-To"] == "Zoë Ménard <support@carli.example.org>"
    assert mail["List-Unsubscribe"] == f"<{message.unsubscribe_url}>"
    assert mail.get_body(("plain",)).get_content() == text
    assert mail.get_body(("html",)).get_content() == "<p>été</p>"
    (pdf,) = list(mail.iter_attachments())
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", "form.pdf")
    assert pdf.get_content() == b"%PDF"
    assert all(len(line) <= 998 for line in built.as_bytes().splitlines())


def test_server_down_then_up_delivers_once(db, connection):
    sink, port = Sink(), free_port()
    message = enqueue(db, to="a@test.example.edu", template="outbox/test", context=_context())
    db.commit()
    sender = sender_for(port)

    Worker(connection, sender=sender).drain_once()  # nothing listens on the port
    db.refresh(message)
    assert message.state == OutboxState.failed
    assert message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error
    assert message.next_attempt_at > utcnow()  # backoff
    assert Worker(connection, sender=sender).drain_once() == 0  # not due yet

    controller = start_server(sink, port)
    sink.refuse = True  # up, but answering 451: a transient refusal
    try:
        Worker(connection, sender=sender, clock=later(10)).drain_once()
        db.refresh(message)
        assert (message.state, message.attempts) == (OutboxState.failed, 2)
        assert "451" in message.last_error

        sink.refuse = False
        Worker(connection, sender=sender, clock=later(30)).drain_once()
        Worker(connection, sender=sender, clock=later(90)).drain_once()
    finally:
        controller.stop()
    assert [m["Message-ID"] for m in sink.messages] == [message.message_id]
    db.refresh(message)
    assert (message.state, message.attempts) == (OutboxState.sent, 3)


def test_connection_dropped_mid_message_is_retried(db, connection, smtp):
    sink, port = smtp
    message = enqueue(db, to="a@test.example.edu", template="outbox/test", context=_context())
    db.commit()
    sink.drop = True
    Worker(connection, sender=sender_for(port)).drain_once()
    db.refresh(message)
    assert message.state == OutboxState.failed
    assert "SMTPServerDisconnected" in message.last_error

    sink.drop = False
    Worker(connection, sender=sender_for(port), clock=later(10)).drain_once()
    assert [m["Message-ID"] for m in sink.messages] == [message.message_id]
    db.refresh(message)
    assert (message.state, message.attempts) == (OutboxState.sent, 2)


def test_backoff_grows_then_dead_after_the_limit(db, connection):
    settings = get_settings().model_copy(update={"outbox_max_attempts": 3})
    message = enqueue(db, to="a@test.example.edu", template="outbox/test", context=_context())
    db.commit()
    sender = sender_for(free_port())  # never up
    delays = []
    for minutes in (0, 60 * 7, 60 * 14):
        start = later(minutes)()
        Worker(connection, sender=sender, settings=settings, clock=lambda s=start: s).drain_once()
        db.refresh(message)
        delays.append(message.next_attempt_at - start)
    assert message.state == OutboxState.dead
    assert message.attempts == 3
    assert delays[1] > delays[0]  # 30 s ± 25 %, then 60 s ± 25 %
    assert Worker(connection, sender=sender, clock=later(60 * 30)).drain_once() == 0


def test_template_error_and_bad_address_are_kept_with_the_error(db, connection, smtp):
    _, port = smtp
    broken = enqueue(db, to="a@test.example.edu", template="outbox/test", context={})
    missing = enqueue(db, to="a@test.example.edu", template="no/such", context=_context())
    invalid = enqueue(db, to="not an address", template="outbox/test", context=_context())
    db.commit()

    Worker(connection, sender=sender_for(port)).drain_once()

    for row in (broken, missing, invalid):
        db.refresh(row)
    assert broken.state == OutboxState.failed
    assert "'name' is undefined" in broken.last_error
    assert missing.state == OutboxState.failed
    assert "no/such" in missing.last_error
    assert invalid.state == OutboxState.dead  # retrying cannot help
    assert "invalid recipient" in invalid.last_error


def test_lease_expiry_reclaims_a_dead_workers_rows(db, connection, smtp):
    sink, port = smtp
    rows = [
        enqueue(db, to=f"p{n}@test.example.edu", template="outbox/test", context=_context())
        for n in range(3)
    ]
    db.commit()

    crashed = Worker(connection, name="crashed", sender=sender_for(port))
    assert [m.id for m in crashed.claim()] == [r.id for r in rows]  # ... then it dies

    other = Worker(connection, name="other", sender=sender_for(port))
    assert other.drain_once() == 0  # the lease holds
    assert sink.messages == []

    after_lease = Worker(connection, name="other", sender=sender_for(port), clock=later(6))
    assert after_lease.drain_once() == 3
    assert sorted(m["Message-ID"] for m in sink.messages) == sorted(r.message_id for r in rows)
    for row in rows:
        db.refresh(row)
        assert (row.state, row.claimed_by, row.attempts) == (OutboxState.sent, "other", 2)


def test_a_message_whose_workers_keep_dying_ends_dead(db, connection, smtp):
    sink, port = smtp
    settings = get_settings().model_copy(update={"outbox_max_attempts": 2})
    message = enqueue(db, to="a@test.example.edu", template="outbox/test", context=_context())
    db.commit()
    for minutes in (0, 6):  # two workers claim it and die; each lease runs out
        Worker(connection, settings=settings, clock=later(minutes)).claim()
    Worker(connection, sender=sender_for(port), settings=settings, clock=later(12)).drain_once()
    db.refresh(message)
    assert message.state == OutboxState.dead
    assert "worker gone" in message.last_error
    assert sink.messages == []


def test_without_smtp_mail_is_rendered_and_kept(db, connection):
    message = enqueue(db, to="a@test.example.edu", template="outbox/test", context=_context())
    db.commit()
    worker = Worker(connection)
    worker.sender = None  # as when PORTAL_SMTP_URL is unset

    worker.drain_once()

    db.refresh(message)
    assert (message.state, message.transport) == (OutboxState.sent, "kept")
    assert "Hello Pat," in message.body_text
    assert "<p>Hello Pat,</p>" in message.body_html


def test_scheduled_job_runs_once_per_period(db, connection):
    calls = []

    def remind(session: Session, period) -> None:
        calls.append(period)
        enqueue(
            session,
            to="a@test.example.edu",
            template="outbox/test",
            context=_context(),
            dedupe_key=f"test-remind:{period.isoformat()}",
        )

    job = jobs.register_job("test-remind", every=timedelta(hours=1), fn=remind)
    try:
        assert job in jobs.registered()
    finally:
        jobs._registry.pop("test-remind")
    now = utcnow()
    first = jobs.Scheduler(connection, "w1", only=[job])
    second = jobs.Scheduler(connection, "w2", only=[job])  # another worker, same period
    assert first.run_due(now) == ["test-remind"]
    assert second.run_due(now) == []
    assert first.run_due(now) == []
    assert second.run_due(now + timedelta(hours=1)) == ["test-remind"]
    assert len(calls) == 2
    runs = db.exec(select(JobRun).where(JobRun.job == "test-remind")).all()
    assert sorted(r.worker for r in runs) == ["w1", "w2"]
    queued = db.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("test-remind:%")))
    assert len(queued.all()) == 2


def test_failing_job_keeps_nothing_and_runs_again(db, connection):
    attempts = []

    def flaky(session: Session, period) -> None:
        attempts.append(period)
        enqueue(session, to="a@test.example.edu", template="outbox/test", context=_context())
        if len(attempts) == 1:
            raise RuntimeError("boom")

    job = jobs.Job("test-flaky", every=timedelta(days=1), fn=flaky)
    scheduler = jobs.Scheduler(connection, "w1", only=[job])
    now = utcnow()
    assert scheduler.run_due(now) == []
    assert db.exec(select(OutboxMessage)).all() == []  # the failed run's e-mail rolled back
    assert scheduler.run_due(now) == ["test-flaky"]
    assert len(db.exec(select(OutboxMessage)).all()) == 1


@pytest.mark.skipif(
    not is_postgres(),
    reason="several workers at once need PostgreSQL (FOR UPDATE SKIP LOCKED); "
    "SQLite runs one worker. Set TEST_DATABASE_URL to a PostgreSQL database to run it.",
)
def test_two_workers_on_postgresql_deliver_each_message_once(engine, smtp):
    sink, port = smtp
    total = 2000
    settings = get_settings().model_copy(update={"outbox_batch_size": 25})
    with Session(engine) as session:
        session.exec(delete(OutboxMessage))
        for n in range(total):
            enqueue(
                session, to=f"p{n}@test.example.edu", template="outbox/test", context=_context()
            )
        session.commit()
        expected = set(session.exec(select(OutboxMessage.message_id)).all())
    try:
        workers = [
            Worker(engine, name=f"w{n}", sender=sender_for(port), settings=settings)
            for n in range(2)
        ]

        def drain(worker: Worker) -> None:
            while worker.drain_once():
                pass

        threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        delivered = Counter(m["Message-ID"] for m in sink.messages)
        assert set(delivered) == expected
        assert max(delivered.values()) == 1
        with Session(engine) as session:
            rows = session.exec(select(OutboxMessage)).all()
            assert {r.state for r in rows} == {OutboxState.sent}
            assert {r.claimed_by for r in rows} == {"w0", "w1"}  # both took part
    finally:
        with Session(engine) as session:
            session.exec(delete(OutboxMessage))
            session.commit()


def _context() -> dict:
    return {"name": "Pat", "note": "Nothing to do."}


def test_the_loop_survives_a_database_error(db, connection, monkeypatch):
    message = enqueue(db, to="a@test.example.edu", template="outbox/test", context=_context())
    db.commit()
    settings = get_settings().model_copy(update={"outbox_poll_seconds": 0.01})
    worker = Worker(connection, settings=settings)
    worker.sender = None
    worker.scheduler.only = []
    real_claim, calls = worker.claim, []
    stop = threading.Event()

    def flaky_claim(*args):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        if len(calls) > 2:
            stop.set()
        return real_claim(*args)

    monkeypatch.setattr(worker, "claim", flaky_claim)
    monkeypatch.setattr(jobs, "discover", lambda: None)
    worker.run(stop)

    assert len(calls) >= 3  # it went on after the error
    db.refresh(message)
    assert message.state == OutboxState.sent


def test_portal_worker_command_delivers_and_stops_on_sigterm(tmp_path):
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    migrations.upgrade(url)
    engine = build_engine(url)
    with Session(engine) as session:
        message = enqueue(
            session, to="a@test.example.edu", template="outbox/test", context=_context()
        )
        session.commit()
        message_id = message.id
    env = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_LOG_LEVEL": "INFO"}
    env.update(PORTAL_OUTBOX_POLL_SECONDS="0.2", PORTAL_SMTP_URL="")
    process = subprocess.Popen(
        [Path(sys.executable).with_name("portal"), "worker"], env=env, stderr=subprocess.PIPE
    )
    try:
        for _ in range(300):
            with Session(engine) as session:
                if session.get(OutboxMessage, message_id).state == OutboxState.sent:
                    break
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        engine.dispose()
    assert process.returncode == 0
    assert b"worker stopped" in stderr
    with Session(engine) as session:
        assert session.get(OutboxMessage, message_id).transport == "kept"
