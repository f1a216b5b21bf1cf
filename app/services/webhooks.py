"""Webhooks (consortium admins): subscriptions, the event fan-out, the delivery log.

`publish` is what the other slices call when something happens: it queues one delivery per
subscribed webhook inside the caller's transaction (the outbox rule: no event for a change
that was rolled back, no change without its event). The worker (`app.notify.webhooks`) signs
and posts them.

Who receives what: a webhook bound to an institution receives only what that library may see,
so an event about one library's private record (a ticket, a duty task) goes to unbound
webhooks and to webhooks bound to that library; an event about something every member sees
(maintenance, incidents, the directory, announcements) goes to every subscriber. The caller
passes the representation the library would see (no internal notes: `ticket.commented` is
published for public replies only).

Target addresses are checked twice against SSRF: here, when a URL is saved, and by the worker
before every attempt (a name may resolve elsewhere by then).
"""

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, or_, update
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid, NotFound
from app.core.pagination import PageParams, Window, fetch
from app.models.institution import Institution
from app.models.outbox import OutboxState
from app.models.user import User
from app.models.webhook import (
    Webhook,
    WebhookAttempt,
    WebhookAttemptPublic,
    WebhookCreate,
    WebhookDelivery,
    WebhookDeliveryPublic,
    WebhookPublic,
    WebhookUpdate,
)
from app.notify import webhooks as delivery
from app.services import audit
from app.services.access import require_admin

EVENT_TYPES: tuple[str, ...] = (
    "ticket.created",
    "ticket.updated",
    "ticket.commented",
    "maintenance.announced",
    "maintenance.changed",
    "maintenance.cancelled",
    "incident.created",
    "incident.updated",
    "incident.resolved",
    "directory.changed",
    "announcement.sent",
    "task.completed",
)
TEST_EVENT = "webhook.test"  # "send test event": only to the one webhook asked for
SECRET_FIELDS = {"secret"}
DELIVERIES = WebhookDelivery.__table__


def new_message_id() -> str:
    """The `webhook-id` header: unique per delivery, the same on every attempt of it."""
    return f"msg_{secrets.token_hex(16)}"


def _delivery_row(webhook_id: int, event: str, payload: dict[str, Any], now: datetime) -> dict:
    return {
        "webhook_id": webhook_id,
        "event": event,
        "message_id": new_message_id(),
        "payload": payload,
        "state": OutboxState.pending,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def publish(
    session: Session,
    event: str,
    payload: Callable[[], dict[str, Any]],
    *,
    institution: str | None = None,
) -> int:
    """Queues `event` for every active webhook subscribed to it, in the caller's transaction
    (no commit). `payload` builds the resource's JSON representation (a JSON-safe dict, exactly
    as the API returns it, e.g. `model.model_dump(mode="json")`); it is called only when someone
    subscribes, so a write nobody listens to pays for the lookup alone. `institution`: the code
    of the institution whose private record this is (a ticket, a duty task): only unbound
    webhooks and webhooks bound to that institution receive it. None: every member may see it
    (maintenance, incidents, directory, announcements): every subscribed webhook receives it.
    Returns how many deliveries were queued: one indexed statement to find the subscribers,
    one multi-row insert (none when nobody subscribes)."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}")
    stmt = select(Webhook.id, Webhook.events).where(col(Webhook.active).is_(True))
    if institution is not None:
        stmt = stmt.where(
            or_(col(Webhook.institution).is_(None), Webhook.institution == institution)
        )
    subscribers = [hook for hook, events in session.exec(stmt) if event in events]
    if not subscribers:
        return 0
    now, body = utcnow(), payload()
    session.execute(
        insert(DELIVERIES).values([_delivery_row(h, event, body, now) for h in subscribers])
    )
    return len(subscribers)


# --- administration ----------------------------------------------------------------------------


def undelivered(*, session: Session, actor: User) -> dict[OutboxState, int]:
    """Deliveries waiting for a retry (`failed`) and given up (`dead`), for the admin's home."""
    require_admin(actor, "see webhooks")
    stmt = (
        select(WebhookDelivery.state, func.count())
        .where(col(WebhookDelivery.state).in_((OutboxState.failed, OutboxState.dead)))
        .group_by(WebhookDelivery.state)
    )
    found = dict(session.exec(stmt).all())
    return {state: found.get(state, 0) for state in (OutboxState.failed, OutboxState.dead)}


def public(webhook: Webhook) -> WebhookPublic:
    return WebhookPublic.model_validate(webhook, from_attributes=True)


def list_webhooks(*, session: Session, actor: User, page: PageParams) -> Window:
    require_admin(actor, "see webhooks")
    stmt = select(Webhook).order_by(col(Webhook.active).desc(), Webhook.name, Webhook.id)
    window = fetch(session, stmt, page)
    window.items = [public(w) for w in window.items]
    return window


def get_webhook(*, session: Session, actor: User, webhook_id: int) -> Webhook:
    require_admin(actor, "see webhooks")
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"No webhook has the id {webhook_id}.")
    return webhook


def create_webhook(*, session: Session, actor: User, data: WebhookCreate) -> Webhook:
    """The webhook with its signing secret (`webhook.secret`, to be shown this once)."""
    require_admin(actor, "add webhooks")
    errors = _check_url(data.url, data.allow_private) + _check_events(data.events)
    institution, more = _institution(session, data.institution)
    _refuse(errors + more)
    webhook = Webhook(
        name=data.name,
        url=data.url,
        secret=delivery.new_secret(),
        events=_events(data.events),
        institution=institution,
        active=data.active,
        allow_private=data.allow_private,
        created_by=actor.id,
    )
    session.add(webhook)
    session.flush()
    audit.created(session, webhook, actor=actor, exclude=SECRET_FIELDS)
    session.commit()
    return webhook


def update_webhook(
    *, session: Session, actor: User, webhook: Webhook, data: WebhookUpdate
) -> Webhook:
    require_admin(actor, "change webhooks")
    fields = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    allow_private = fields.get("allow_private", webhook.allow_private)
    errors = _check_events(fields["events"]) if "events" in fields else []
    if "url" in fields or "allow_private" in fields:
        errors = _check_url(fields.get("url", webhook.url), allow_private) + errors
    _refuse(errors)
    if "events" in fields:
        fields["events"] = _events(fields["events"])
    with audit.change(session, webhook, actor=actor, touch=None, exclude=SECRET_FIELDS):
        for name, value in fields.items():
            setattr(webhook, name, value)
    session.commit()
    return webhook


def rotate_secret(*, session: Session, actor: User, webhook: Webhook) -> str:
    """A new signing secret, in force at once (also for deliveries still queued)."""
    require_admin(actor, "rotate webhook secrets")
    webhook.secret = delivery.new_secret()
    webhook.rotated_at = utcnow()
    session.add(webhook)
    audit.about(
        session,
        webhook,
        actor=actor,
        action="rotate_secret",
        after={"rotated_at": webhook.rotated_at.isoformat()},
    )
    session.commit()
    return webhook.secret


def delete_webhook(*, session: Session, actor: User, webhook: Webhook) -> None:
    """Deletes it with its deliveries and their log (the audit trail keeps that it existed)."""
    require_admin(actor, "delete webhooks")
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook.id)
    session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(deliveries)))
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    audit.removed(session, webhook, actor=actor, exclude=SECRET_FIELDS)
    session.delete(webhook)
    session.commit()


def send_test(*, session: Session, actor: User, webhook: Webhook) -> WebhookDelivery:
    """Queues a `webhook.test` event for this webhook alone, due at once."""
    require_admin(actor, "send test events")
    payload = {"webhook": webhook.id, "message": "A test event from the Liaison Portal."}
    row = WebhookDelivery(**_delivery_row(webhook.id, TEST_EVENT, payload, utcnow()))
    session.add(row)
    session.commit()
    return row


# --- the delivery log ----------------------------------------------------------------------------


def list_deliveries(*, session: Session, actor: User, webhook: Webhook, page: PageParams) -> Window:
    """Newest first, each with its attempts (one statement for the whole page's log)."""
    require_admin(actor, "see webhook deliveries")
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(col(WebhookDelivery.id).desc())
    )
    window = fetch(session, stmt, page)
    window.items = _with_log(session, window.items)
    return window


def get_delivery(
    *, session: Session, actor: User, webhook: Webhook, delivery_id: int
) -> WebhookDelivery:
    require_admin(actor, "see webhook deliveries")
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.webhook_id != webhook.id:
        raise NotFound(f"This webhook has no delivery with the id {delivery_id}.")
    return row


def delivery_public(session: Session, row: WebhookDelivery) -> WebhookDeliveryPublic:
    return _with_log(session, [row])[0]


def redeliver(
    *, session: Session, actor: User, webhook: Webhook, row: WebhookDelivery
) -> WebhookDelivery:
    """Queues the delivery again, due at once, with a fresh set of attempts. It keeps its
    `webhook-id`, so a receiver that already has it can tell."""
    require_admin(actor, "redeliver webhook events")
    if row.state == OutboxState.sending:
        raise Invalid("This delivery is being sent right now; wait for the result.")
    if row.state == OutboxState.sent:  # its success moves into the log (see `_with_log`)
        session.add(
            WebhookAttempt(
                delivery_id=row.id,
                attempted_at=row.delivered_at,
                status_code=row.last_status_code,
            )
        )
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == row.id)
        .values(
            state=OutboxState.pending,
            attempts=0,
            next_attempt_at=utcnow(),
            claimed_by=None,
            delivered_at=None,
        )
    )
    audit.about(session, webhook, actor=actor, action="redeliver", after={"delivery": row.id})
    session.commit()
    session.refresh(row)
    return row


def _with_log(session: Session, rows: list[WebhookDelivery]) -> list[WebhookDeliveryPublic]:
    """Each delivery with its attempts. The worker logs failures as `webhook_attempt` rows; a
    success is recorded on the delivery itself (one statement on the hot path), and read back
    here as the last entry."""
    ids = [r.id for r in rows]
    log: dict[int, list[WebhookAttemptPublic]] = {i: [] for i in ids}
    if ids:
        attempts = session.exec(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(ids))
            .order_by(WebhookAttempt.id)
        )
        for a in attempts:
            log[a.delivery_id].append(WebhookAttemptPublic.model_validate(a, from_attributes=True))
    for r in rows:
        if r.state == OutboxState.sent and r.delivered_at is not None:
            success = WebhookAttemptPublic(
                attempted_at=r.delivered_at,
                status_code=r.last_status_code,
                error=None,
                duration_ms=None,
            )
            log[r.id].append(success)
    finished = (OutboxState.sent, OutboxState.dead)
    return [
        WebhookDeliveryPublic(
            id=r.id,
            webhook=r.webhook_id,
            event=r.event,
            message_id=r.message_id,
            state=r.state.value,
            attempts=r.attempts,
            next_attempt_at=None if r.state in finished else r.next_attempt_at,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            response_excerpt=r.response_excerpt,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            payload=r.payload,
            log=log[r.id],
        )
        for r in rows
    ]


# --- checks --------------------------------------------------------------------------------------


def _events(events: list[str]) -> list[str]:
    """Explicit types, in the catalogue's order; `incident.*` stands for every incident event."""
    wanted = set()
    for event in events:
        prefix = event.removesuffix("*") if event.endswith(".*") else None
        wanted |= {e for e in EVENT_TYPES if e.startswith(prefix)} if prefix else {event}
    return [e for e in EVENT_TYPES if e in wanted]


def _check_events(events: list[str]) -> list[FieldError]:
    unknown = [e for e in events if not _events([e])]
    if not unknown:
        return []
    shown = ", ".join(f'"{e}"' for e in unknown)
    return [FieldError("events", f"{shown} is not an event we send")]


def _check_url(url: str, allow_private: bool) -> list[FieldError]:
    parts = urlsplit(url)
    production = get_settings().environment == "production"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [FieldError("url", "must be a web address starting with https://")]
    if production and parts.scheme != "https":
        return [FieldError("url", "must start with https:// (events are not sent unencrypted)")]
    if parts.username or parts.password:
        return [FieldError("url", "must not hold a user name or password")]
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        return [FieldError("url", "has a port number that is not valid")]
    if not (allow_private or get_settings().webhook_allow_private):
        reason = delivery.refused_target(parts.hostname, parts.port)
        if reason:
            return [FieldError("url", reason)]
    return []


def _institution(session: Session, code: str | None) -> tuple[str | None, list[FieldError]]:
    if not code:
        return None, []
    code = code.strip().upper()
    if session.get(Institution, code) is None:
        return None, [FieldError("institution", "is not a known institution")]
    return code, []


FIELD_WORDS = {"url": "the address", "events": "the events", "institution": "the library"}


def _refuse(errors: list[FieldError]) -> None:
    """Every problem at once, in words (never a field's name)."""
    if errors:
        said = "; ".join(f"{FIELD_WORDS[e.field]} {e.message}" for e in errors)
        raise Invalid(f"The webhook was not saved: {said}.", errors)
