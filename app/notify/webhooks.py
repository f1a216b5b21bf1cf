"""Webhook delivery: signing, the SSRF guard, and the worker's drainer of `webhook_delivery`.

Same claim semantics as mail (`app.notify.worker`): a batch of due rows is selected `FOR UPDATE
SKIP LOCKED`, marked `sending` under a lease and committed; each is then posted with no
transaction open and its result committed right after the answer (one autocommit statement
for a success, see `WebhookWorker._batch`). A worker that dies mid-batch leaves its rows
`sending` until the lease ends and another worker takes them: only the delivery in flight can
arrive twice, with the same `webhook-id`. Failures are retried with exponential backoff and
jitter and are `dead` after `PORTAL_WEBHOOK_MAX_ATTEMPTS` (at once on 410 Gone: the receiver
says it is gone for good).

Signing follows Standard Webhooks: headers `webhook-id` (the same on every attempt, for
receivers to drop repeats), `webhook-timestamp` (seconds) and `webhook-signature: v1,<base64
HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the secret's bytes (`whsec_<base64>`).

SSRF: before every attempt the host is resolved and refused when any address is loopback,
link-local, private, reserved, multicast or otherwise not global (unless an admin allowed it
for that webhook, or `PORTAL_WEBHOOK_ALLOW_PRIVATE`). The request then goes to the vetted
address itself (the name kept for `Host` and TLS), so a second lookup cannot swap it, and
redirects are never followed.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Engine, bindparam, insert, update
from sqlmodel import Session, col, select

from app.core.config import Settings, get_settings
from app.core.db import utcnow
from app.models.outbox import OutboxState
from app.models.webhook import Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

DUE = (OutboxState.pending, OutboxState.failed, OutboxState.sending)
DELIVERIES = WebhookDelivery.__table__
ATTEMPTS = WebhookAttempt.__table__
MAX_BACKOFF = timedelta(hours=6)
EXCERPT = 500
INSIDE = (
    "points inside our own network ({address}); only an administrator's explicit permission "
    "lets a webhook reach such an address"
)
# Built once: the hot path of a delivery is this statement and the attempt's row.
MARK_SENT = (
    DELIVERIES.update()
    .where(
        DELIVERIES.c.id == bindparam("delivery"),
        DELIVERIES.c.claimed_by == bindparam("worker"),  # still this worker's claim
        DELIVERIES.c.state == OutboxState.sending,
    )
    .values(
        state=OutboxState.sent,
        delivered_at=bindparam("when"),
        last_status_code=bindparam("code"),
        response_excerpt=bindparam("excerpt"),
        last_error=None,
    )
)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _inside(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved


def resolve(host: str, port: int | None) -> list[str]:
    """Every address `host` resolves to (an address literal: itself)."""
    infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def refused_target(host: str, port: int | None) -> str | None:
    """Why a target is refused (plain words), or None. A name that does not resolve (yet) is
    not refused here: every attempt checks again, and fails while it does not resolve."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return None
    inside = [a for a in addresses if _inside(a)]
    return INSIDE.format(address=inside[0]) if inside else None


class Refused(Exception):
    """The target may not be reached (SSRF guard), or its name does not resolve."""


def vetted_addresses(host: str, port: int | None, allow_private: bool) -> list[str]:
    """Every address of `host`, or Refused when one of them may not be reached."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"could not find the host {host}") from exc
    if not allow_private:
        inside = [a for a in addresses if _inside(a)]
        if inside:
            raise Refused("this address " + INSIDE.format(address=inside[0]))
    return addresses


def body_of(row: WebhookDelivery) -> bytes:
    """The same bytes on every attempt: the event, when it happened, and the resource."""
    document = {"type": row.event, "timestamp": row.created_at.isoformat(), "data": row.payload}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Target:
    url: str
    secret: str
    allow_private: bool


@dataclass
class Outcome:
    code: int | None
    excerpt: str | None
    error: str | None
    millis: int

    @property
    def delivered(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class WebhookWorker:
    """Drains `webhook_delivery`; one HTTP client (its connection pool) per worker."""

    def __init__(
        self,
        bind: Engine | Connection,
        *,
        name: str,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = utcnow,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """`verify`: how receivers' certificates are checked (tests pass their own CA)."""
        self.bind = bind
        self.name = name
        self.verify = verify
        self.settings = settings or get_settings()
        self.clock = clock
        self._client: httpx.Client | None = None
        self._held: Connection | None = None  # the batch's autocommit connection (`_batch`)

    def _session(self) -> Session:
        return Session(self.bind, join_transaction_mode="create_savepoint", expire_on_commit=False)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.settings.webhook_timeout_seconds,
                follow_redirects=False,
                verify=self.verify,
                trust_env=False,  # no proxy from the environment: the vetted address is it
                headers={"user-agent": "LiaisonPortal-Webhooks/1"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def claim(self, limit: int | None = None) -> list[tuple[WebhookDelivery, Target]]:
        """Up to `limit` due deliveries under this worker's lease, each with its target."""
        now = self.clock()
        lease_end = now + timedelta(seconds=self.settings.outbox_lease_seconds)
        with self._session() as session:
            ids = session.exec(
                select(WebhookDelivery.id)
                .where(col(WebhookDelivery.state).in_(DUE), WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit or self.settings.outbox_batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not ids:
                return []
            claimed = (
                session.exec(
                    update(WebhookDelivery)
                    .where(
                        col(WebhookDelivery.id).in_(ids),
                        col(WebhookDelivery.state).in_(DUE),
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .values(
                        state=OutboxState.sending,
                        claimed_by=self.name,
                        attempts=WebhookDelivery.attempts + 1,
                        next_attempt_at=lease_end,
                    )
                    .returning(WebhookDelivery)
                    .execution_options(synchronize_session=False)
                )
                .scalars()
                .all()
            )
            hooks = {row.webhook_id for row in claimed}
            targets = {
                h.id: Target(h.url, h.secret, h.allow_private)
                for h in session.exec(select(Webhook).where(col(Webhook.id).in_(hooks)))
            }
            session.commit()
            session.expunge_all()
        return [(row, targets[row.webhook_id]) for row in sorted(claimed, key=lambda r: r.id)]

    def deliver(
        self, batch: list[tuple[WebhookDelivery, Target]], stop: threading.Event | None = None
    ) -> int:
        """Posts the claimed deliveries one by one; returns how many were accepted (2xx)."""
        delivered = 0
        last: dict[int, tuple[datetime, int | None]] = {}
        deadline = (
            time.monotonic()
            + self.settings.outbox_lease_seconds
            - (2 * self.settings.webhook_timeout_seconds + 5)
        )
        with self._batch():
            for index, (row, target) in enumerate(batch):
                if (stop is not None and stop.is_set()) or time.monotonic() > deadline:
                    self._release([r.id for r, _ in batch[index:]])
                    break
                if row.attempts > self.settings.webhook_max_attempts:
                    # Only workers that died mid-post (leases ran out) got it this far.
                    gone = Outcome(None, None, "every attempt ended with its worker gone", 0)
                    self._fail(row, gone)
                    continue
                outcome = self._post(row, target)
                if outcome.delivered:
                    self._delivered(row, outcome)
                    delivered += 1
                else:
                    self._fail(row, outcome)
                last[row.webhook_id] = (self.clock(), outcome.code)
            self._note_last(last)
        return delivered

    def drain_once(self, stop: threading.Event | None = None) -> int:
        """One batch: claim, then deliver. Returns how many deliveries were claimed."""
        batch = self.claim()
        if batch:
            self.deliver(batch, stop)
        return len(batch)

    # --- one attempt --------------------------------------------------------------------------

    def _post(self, row: WebhookDelivery, target: Target) -> Outcome:
        started = time.monotonic()
        allow = target.allow_private or self.settings.webhook_allow_private
        parts = urlsplit(target.url)
        try:
            addresses = vetted_addresses(parts.hostname or "", parts.port, allow)
            body = body_of(row)
            stamp = int(self.clock().timestamp())
            headers = {
                "host": parts.netloc.rsplit("@", 1)[-1],
                "content-type": "application/json",
                "webhook-id": row.message_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(target.secret, row.message_id, stamp, body),
            }
            extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
            for index, address in enumerate(addresses):  # as a browser would: the next one
                url = httpx.URL(target.url).copy_with(host=address)
                try:
                    response = self.client.post(
                        url, content=body, headers=headers, extensions=extensions
                    )
                    break
                except httpx.ConnectError:
                    if index == len(addresses) - 1:
                        raise
        except (Refused, httpx.HTTPError) as exc:
            return Outcome(None, None, _words(exc), _since(started))
        excerpt = response.text[:EXCERPT] if response.content else None
        error = None if response.is_success else f"the receiver answered {response.status_code}"
        return Outcome(response.status_code, excerpt, error, _since(started))

    def _delivered(self, row: WebhookDelivery, outcome: Outcome) -> None:
        """One statement, the hot path: the delivery row is its own log entry of the success
        (`app.services.webhooks` shows it; a redelivery first copies it into the log)."""
        with self._transaction() as connection:
            done = connection.execute(
                MARK_SENT,
                {
                    "delivery": row.id,
                    "worker": self.name,
                    "when": self.clock(),
                    "code": outcome.code,
                    "excerpt": outcome.excerpt,
                },
            ).rowcount
        if not done:
            log.warning("lease lost before the delivery was recorded", extra={"webhook": row.id})

    def _fail(self, row: WebhookDelivery, outcome: Outcome) -> None:
        gone = outcome.code == 410
        dead = gone or row.attempts >= self.settings.webhook_max_attempts
        delay = self.settings.webhook_backoff_seconds * 2 ** (row.attempts - 1)
        delay = min(delay * random.uniform(0.75, 1.25), MAX_BACKOFF.total_seconds())  # noqa: S311
        with self._transaction() as connection:
            still_mine = connection.execute(
                DELIVERIES.update()
                .where(
                    DELIVERIES.c.id == row.id,
                    DELIVERIES.c.claimed_by == self.name,
                    DELIVERIES.c.state == OutboxState.sending,
                )
                .values(
                    state=OutboxState.dead if dead else OutboxState.failed,
                    next_attempt_at=self.clock() + timedelta(seconds=delay),
                    last_status_code=outcome.code,
                    last_error=outcome.error,
                    response_excerpt=outcome.excerpt,
                )
            ).rowcount
            if still_mine:  # (not when an admin deleted the webhook meanwhile)
                self._log(connection, row, outcome)
        log.warning(
            "webhook delivery failed",
            extra={"webhook_delivery": row.id, "attempt": row.attempts, "dead": dead},
        )

    def _log(self, connection: Connection, row: WebhookDelivery, outcome: Outcome) -> None:
        connection.execute(
            insert(ATTEMPTS).values(
                delivery_id=row.id,
                attempted_at=self.clock(),
                status_code=outcome.code,
                error=(outcome.error or "")[:500] or None,
                duration_ms=outcome.millis,
            )
        )

    def _note_last(self, last: dict[int, tuple[datetime, int | None]]) -> None:
        """Each webhook's latest result, once per batch (not once per delivery: workers
        posting to one receiver would otherwise queue on its row)."""
        if not last:
            return
        with self._transaction() as connection:
            for webhook_id, (when, code) in sorted(last.items()):
                connection.execute(
                    update(Webhook)
                    .where(Webhook.id == webhook_id)
                    .values(last_delivery_at=when, last_status=code)
                )

    def _release(self, ids: list[int]) -> None:
        """Hands unstarted rows back at once, the attempt they were charged undone."""
        with self._transaction() as connection:
            connection.execute(
                DELIVERIES.update()
                .where(
                    DELIVERIES.c.id.in_(ids),
                    DELIVERIES.c.claimed_by == self.name,
                    DELIVERIES.c.state == OutboxState.sending,
                )
                .values(next_attempt_at=self.clock(), attempts=DELIVERIES.c.attempts - 1)
            )

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """PostgreSQL: one connection for a batch's writes, in autocommit, so recording a
        delivery is one round trip (no pool checkout, ping, BEGIN or COMMIT each), and its
        commits do not wait for the disk (`synchronous_commit` off while it is held): a flush
        cost ~11 ms here, most of a delivery. The row is committed and visible at once; only a
        crash of the database server itself could forget the last fraction of a second of
        results, and then those deliveries are sent again with the same `webhook-id` (never
        lost: the queued row was written by the publisher's durable commit).

        SQLite keeps a short transaction per write: a held connection would hold its one
        writer's lock for the whole batch."""
        if not isinstance(self.bind, Engine) or self.bind.dialect.name != "postgresql":
            yield
            return
        with self.bind.connect() as connection:
            self._held = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("SET synchronous_commit TO OFF")
            try:
                yield
            finally:
                self._held = None
                connection.exec_driver_sql("RESET synchronous_commit")  # the pool hands it on

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """Where a write goes: the batch's autocommit connection, else a short transaction on
        a plain connection (a savepoint when tests hand us theirs)."""
        if self._held is not None:
            yield self._held
        elif isinstance(self.bind, Engine):
            with self.bind.begin() as connection:
                yield connection
        else:
            with self.bind.begin_nested():
                yield self.bind


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _words(exc: Exception) -> str:
    """What went wrong, in words an administrator can act on."""
    if isinstance(exc, Refused):
        return str(exc)[:500]
    if isinstance(exc, httpx.TimeoutException):
        return "the receiver did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect to the receiver"
    return f"the request failed ({type(exc).__name__})"
