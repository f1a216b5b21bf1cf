"""Webhook delivery against a real HTTP receiver on 127.0.0.1: signatures checked with an
independent implementation, retries with backoff, dead after the limit, the delivery log,
redelivery, the test event, and the SSRF guard at delivery time.

The worker shares the test's rolled-back transaction (it is given the test's connection)."""

import base64
import hashlib
import hmac
import json
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import delete, text
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.user import Role
from app.models.webhook import Webhook, WebhookAttempt, WebhookCreate, WebhookDelivery
from app.notify.webhooks import WebhookWorker
from app.services import webhooks

SECRET = "whsec_" + base64.b64encode(b"a test key of thirty-two bytes!!").decode()


class Receiver:
    """A local HTTP server that records each request and answers with the next queued status
    (200 once the queue is empty)."""

    def __init__(self, tls: ssl.SSLContext | None = None, name: str = "127.0.0.1") -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(
                    {
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "path": self.path,
                    }
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = json.dumps({"ok": status < 300}).encode()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("location", "http://127.0.0.1:1/elsewhere")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://{name}:{self.server.server_port}/hooks/portal"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.stop()


@pytest.fixture
def admin(make):
    return make.user(Role.consortium_admin, name="Ada Admin")


class Clock:
    """The worker's clock, a moment after what the test queues (so that is due)."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=5)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def worker(connection, clock):
    found = WebhookWorker(connection, name="test-worker", clock=clock)
    yield found
    found.close()


def _hook(db, admin, url, events=("ticket.created",), **values):
    data = WebhookCreate(
        name="Receiver", url=url, events=list(events), allow_private=True, **values
    )
    return webhooks.create_webhook(session=db, actor=admin, data=data)


def _verify(secret: str, headers: dict, body: bytes) -> bool:
    """The receiver's side, written from the Standard Webhooks spec, not from our code."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = b".".join(
        [headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body]
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    versions = [s.split(",", 1) for s in headers["webhook-signature"].split()]
    return any(v == "v1" and hmac.compare_digest(sig, expected) for v, sig in versions)


def _row(db, delivery_id) -> WebhookDelivery:
    db.expire_all()
    return db.get(WebhookDelivery, delivery_id)


def _one(db, hook) -> WebhookDelivery:
    db.expire_all()
    [row] = db.exec(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)).all()
    return row


def test_a_signed_delivery_of_the_resource(db, admin, receiver, worker, clock):
    hook = _hook(db, admin, receiver.url)
    payload = {"number": "2026-00042", "subject": "Primo is down", "watchers": [3]}
    webhooks.publish(db, "ticket.created", lambda: payload)
    db.commit()

    assert worker.drain_once() == 1
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/portal"
    assert headers["content-type"] == "application/json"
    assert headers["host"] == receiver.url.split("/")[2]
    assert _verify(hook.secret, headers, body)
    assert not _verify(hook.secret, headers, body + b" ")  # the body is covered
    assert int(headers["webhook-timestamp"]) == int(clock.now.timestamp())
    document = json.loads(body)
    assert document["type"] == "ticket.created"
    assert document["data"] == payload
    row = _one(db, hook)
    assert headers["webhook-id"] == row.message_id
    assert (row.state.value, row.attempts, row.last_status_code) == ("sent", 1, 200)
    assert row.delivered_at is not None and row.response_excerpt == '{"ok": true}'
    db.refresh(hook)
    assert hook.last_status == 200 and hook.last_delivery_at is not None
    assert worker.drain_once() == 0  # delivered once


def test_failures_back_off_and_die_after_the_limit(db, admin, receiver, worker, clock, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 3)
    hook = _hook(db, admin, receiver.url)
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    receiver.statuses = [500, 503, 502]

    assert worker.drain_once() == 1
    row = _one(db, hook)
    assert (row.state.value, row.attempts, row.last_status_code) == ("failed", 1, 500)
    assert row.last_error == "the receiver answered 500"
    first_wait = row.next_attempt_at - clock.now
    base = get_settings().webhook_backoff_seconds
    assert timedelta(seconds=base * 0.75) <= first_wait <= timedelta(seconds=base * 1.25)
    assert worker.drain_once() == 0  # not due yet

    clock.now = row.next_attempt_at
    assert worker.drain_once() == 1
    row = _row(db, row.id)
    second_wait = row.next_attempt_at - clock.now
    assert timedelta(seconds=base * 1.5) <= second_wait <= timedelta(seconds=base * 2.5)

    clock.now = row.next_attempt_at
    assert worker.drain_once() == 1
    row = _row(db, row.id)
    assert (row.state.value, row.attempts, row.last_status_code) == ("dead", 3, 502)
    clock.now += timedelta(days=1)
    assert worker.drain_once() == 0  # dead stays dead
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {row.message_id}  # every attempt carries the same id
    log = db.exec(select(WebhookAttempt.status_code).where(WebhookAttempt.delivery_id == row.id))
    assert sorted(log.all()) == [500, 502, 503]


def test_redirects_are_not_followed_and_gone_is_final(db, admin, receiver, worker):
    hook = _hook(db, admin, receiver.url)
    receiver.statuses = [302]
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    worker.drain_once()
    assert len(receiver.requests) == 1
    row = _one(db, hook)
    assert (row.state.value, row.last_status_code) == ("failed", 302)

    receiver.statuses = [410]
    webhooks.redeliver(session=db, actor=admin, webhook=hook, row=row)
    worker.drain_once()
    assert _row(db, row.id).state.value == "dead"  # 410: the receiver is gone for good


def test_redelivery_and_the_test_event(db, admin, receiver, worker, clock, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 1)
    hook = _hook(db, admin, receiver.url)
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    receiver.statuses = [500]
    worker.drain_once()
    row = _one(db, hook)
    assert row.state.value == "dead"

    again = webhooks.redeliver(session=db, actor=admin, webhook=hook, row=row)
    assert (again.state.value, again.attempts) == ("pending", 0)
    assert worker.drain_once() == 1
    row = _row(db, row.id)
    assert (row.state.value, row.last_status_code) == ("sent", 200)
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    public = webhooks.delivery_public(db, row)
    assert [a.status_code for a in public.log] == [500, 200]  # the log keeps both

    test = webhooks.send_test(session=db, actor=admin, webhook=hook)
    assert worker.drain_once() == 1
    document = json.loads(receiver.requests[-1]["body"])
    assert document["type"] == "webhook.test"
    assert document["data"]["webhook"] == hook.id
    assert _row(db, test.id).state.value == "sent"


def test_the_address_is_checked_again_before_every_attempt(db, admin, receiver, worker):
    hook = _hook(db, admin, receiver.url)
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    # An admin's permission taken away behind the checks (as if the name now resolved inside).
    db.get(Webhook, hook.id).allow_private = False
    db.commit()

    worker.drain_once()
    assert receiver.requests == []  # never sent
    row = _one(db, hook)
    assert row.state.value == "failed" and row.last_status_code is None
    assert "inside our own network" in row.last_error


def test_a_receiver_that_does_not_answer(db, admin, worker):
    hook = _hook(db, admin, "http://127.0.0.1:1/closed")
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    worker.drain_once()
    row = _one(db, hook)
    assert (row.state.value, row.last_error) == ("failed", "could not connect to the receiver")


def test_the_secret_is_never_logged(db, admin, receiver, worker, caplog):
    caplog.set_level("DEBUG")
    hook = _hook(db, admin, receiver.url)
    receiver.statuses = [500]
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    worker.drain_once()
    assert caplog.records  # the failure was logged …
    assert hook.secret not in caplog.text  # … without the secret
    assert hook.secret.split("_", 1)[1] not in caplog.text


def test_a_worker_on_its_own_engine_records_every_result(engine, receiver):
    """The worker as `portal worker` runs it: its own connections and real commits (on
    PostgreSQL one autocommit connection per batch, handed back with durable commits)."""
    with Session(engine) as session:
        hook = Webhook(
            name="Engine",
            url=receiver.url,
            secret=SECRET,
            events=["ticket.created"],
            allow_private=True,
        )
        session.add(hook)
        session.commit()
        hook_id = hook.id
        webhooks.publish(session, "ticket.created", lambda: {"n": 1})
        webhooks.publish(session, "ticket.created", lambda: {"n": 2})
        session.commit()
    receiver.statuses = [200, 500]
    worker = WebhookWorker(engine, name="engine-worker", clock=Clock())
    try:
        assert worker.drain_once() == 2
        with Session(engine) as session:
            rows = session.exec(
                select(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == hook_id)
                .order_by(WebhookDelivery.id)
            ).all()
            assert [(r.state.value, r.last_status_code) for r in rows] == [
                ("sent", 200),
                ("failed", 500),
            ]
            assert session.get(Webhook, hook_id).last_status == 500
            if engine.dialect.name == "postgresql":
                assert session.exec(text("SHOW synchronous_commit")).one()[0] == "on"
    finally:
        worker.close()
        with Session(engine) as session:
            ids = select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == hook_id)
            session.exec(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
            session.exec(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id))
            session.exec(delete(Webhook).where(Webhook.id == hook_id))
            session.commit()


def test_sending_a_delivered_event_again_keeps_both_answers_in_the_log(db, admin, receiver, worker):
    hook = _hook(db, admin, receiver.url)
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    receiver.statuses = [202, 204]
    worker.drain_once()
    row = _one(db, hook)
    assert [a.status_code for a in webhooks.delivery_public(db, row).log] == [202]
    webhooks.redeliver(session=db, actor=admin, webhook=hook, row=row)
    assert [a.status_code for a in webhooks.delivery_public(db, _row(db, row.id)).log] == [202]
    worker.drain_once()
    row = _row(db, row.id)
    assert row.state.value == "sent"
    assert [a.status_code for a in webhooks.delivery_public(db, row).log] == [202, 204]


def _certificate(tmp_path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (and no address): its file and its key's."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_https_goes_to_the_vetted_address_and_checks_the_name(
    db, admin, connection, clock, tmp_path
):
    """The worker connects to the address it vetted, yet TLS still checks the certificate
    against the host's name (SNI) and `Host` carries the name: no second lookup is made."""
    cert_file, key_file = _certificate(tmp_path, "localhost")
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    server_side.sni_callback = lambda sock, name, ctx: names.append(name)
    receiver = Receiver(tls=server_side, name="localhost")
    worker = WebhookWorker(
        connection, name="tls", clock=clock, verify=ssl.create_default_context(cafile=cert_file)
    )
    try:
        hook = _hook(db, admin, receiver.url)
        webhooks.publish(db, "ticket.created", lambda: {"n": 1})
        db.commit()
        worker.drain_once()
        row = _one(db, hook)
        assert (row.state.value, row.last_status_code) == ("sent", 200), row.last_error
        [request] = receiver.requests
        assert request["headers"]["host"] == f"localhost:{receiver.server.server_port}"
        assert names and set(names) == {"localhost"}
    finally:
        worker.close()
        receiver.stop()


def test_a_webhook_deleted_while_its_delivery_is_in_flight(db, admin, receiver, worker):
    hook = _hook(db, admin, receiver.url)
    webhooks.publish(db, "ticket.created", lambda: {"n": 1})
    db.commit()
    receiver.statuses = [503]
    batch = worker.claim()
    webhooks.delete_webhook(session=db, actor=admin, webhook=hook)
    assert worker.deliver(batch) == 0  # the answer has nowhere to go, and no error
    assert len(receiver.requests) == 1
    assert db.exec(select(WebhookAttempt)).first() is None
