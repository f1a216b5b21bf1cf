"""The outbox: every e-mail the portal sends is a row written in the caller's transaction.

Call it from a service, before the service commits::

    from app.notify.outbox import enqueue

    def enqueue(
        session: Session,
        *,
        to: str | list[str],           # e-mail addresses
        template: str,                 # "tickets/reply" -> app/notify/templates/tickets/reply.html
        context: dict,                 # JSON-safe values only (str, int, float, bool, None, list,
                                       # dict); pass ISO strings for dates, ids, codes, URLs
        reply_to: str | None = None,   # where a reply should reach a person
        unsubscribe_url: str | None = None,  # a subscription caused it: List-Unsubscribe (+ -Post)
        attachments: list[dict] | None = None,  # [{"filename", "content_type", "content"(str)}]
        dedupe_key: str | None = None,  # enqueued once per key, e.g. "maint-remind:42:2026-12-01"
    ) -> OutboxMessage

`enqueue` adds the row and never commits: the e-mail commits or rolls back with the change that
caused it. A second call with a `dedupe_key` already present returns the existing row.

Templates: one file per kind of message, `app/notify/templates/<area>/<kind>.html`, with three
Jinja blocks, all three required::

    {% extends "_layout.html" %}  {# optional: wraps `content` in the portal's HTML e-mail layout #}
    {% block subject %}[{{ number }}] {{ subject }}{% endblock %}
    {% block text %}Plain-text body, {{ name }}.{% endblock %}
    {% block html %}<p>HTML body, {{ name }}.</p>{% endblock %}
      (or, with the layout: {% block content %}<p>HTML body</p>{% endblock %})

The worker renders them (HTML auto-escaped; text and subject not), with `StrictUndefined`: a
missing variable is an error. A template error never loses the message: the row becomes `failed`
with the error, is retried, and ends `dead` on the admin page (/admin) if it never renders. Every
template also sees `consortium_name` and `portal_url`.
"""

import uuid
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, Window, fetch
from app.models.outbox import OutboxMessage, OutboxState
from app.models.user import Role, User
from app.services.access import require_role
from app.services.audit import record, snapshot


def enqueue(
    session: Session,
    *,
    to: str | list[str],
    template: str,
    context: dict,
    reply_to: str | None = None,
    unsubscribe_url: str | None = None,
    attachments: list[dict] | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Adds one message to the caller's transaction (no commit); see the module docstring."""
    if dedupe_key is not None:
        existing = session.exec(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
        ).first()
        if existing is not None:
            return existing
    recipients = [to] if isinstance(to, str) else list(to)
    message = OutboxMessage(
        recipients=recipients,
        template=template.removesuffix(".html"),
        context=context,
        reply_to=reply_to,
        unsubscribe_url=unsubscribe_url,
        attachments=attachments,
        dedupe_key=dedupe_key,
        message_id=_new_message_id(),
    )
    session.add(message)
    return message


def _new_message_id() -> str:
    """Fixed when the row is written, so every resend of it carries the same `Message-ID`."""
    sender = get_settings().mail_from
    domain = sender.rpartition("@")[2].rstrip(">").strip() or "liaison-portal.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"


# --- the admin page -----------------------------------------------------------------------------


def counts(*, session: Session, actor: User) -> dict[OutboxState, int]:
    """Rows per state, every state listed (zero included)."""
    require_role(actor, Role.consortium_admin, action="see the outbox")
    rows = session.exec(
        select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    ).all()
    found = {OutboxState(state): n for state, n in rows}
    return {state: found.get(state, 0) for state in OutboxState}


def list_messages(
    *, session: Session, actor: User, states: list[OutboxState], page: PageParams
) -> Window:
    """Messages in `states`, the most recent first."""
    require_role(actor, Role.consortium_admin, action="see the outbox")
    stmt = select(OutboxMessage).where(OutboxMessage.state.in_(states))
    order = OutboxMessage.sent_at if states == [OutboxState.sent] else OutboxMessage.created_at
    return fetch(session, stmt.order_by(order.desc(), OutboxMessage.id.desc()), page)


def get_message(*, session: Session, actor: User, message_id: int) -> OutboxMessage:
    require_role(actor, Role.consortium_admin, action="see the outbox")
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"No outbox message {message_id}.")
    return message


def retry(*, session: Session, actor: User, message_id: int) -> OutboxMessage:
    """A failed or dead message is sent again at once, with a fresh count of attempts."""
    message = get_message(session=session, actor=actor, message_id=message_id)
    if message.state not in (OutboxState.failed, OutboxState.dead):
        raise Conflict(
            f"Only a failed or dead message can be retried (this one is {message.state})."
        )
    before = snapshot(message, exclude=_BULKY)
    message.state = OutboxState.pending
    message.attempts = 0
    message.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.add(message)
    record(
        session,
        actor=actor,
        action="retry",
        entity_type="outbox_message",
        entity_id=str(message.id),
        before=before,
        after=snapshot(message, exclude=_BULKY),
    )
    session.commit()
    return message


def discard(*, session: Session, actor: User, message_id: int) -> None:
    """Deletes a failed or dead message; the audit entry keeps what it was."""
    message = get_message(session=session, actor=actor, message_id=message_id)
    if message.state not in (OutboxState.failed, OutboxState.dead):
        raise Conflict(
            f"Only a failed or dead message can be discarded (this one is {message.state})."
        )
    record(
        session,
        actor=actor,
        action="discard",
        entity_type="outbox_message",
        entity_id=str(message.id),
        before=snapshot(message, exclude=_BULKY),
    )
    session.delete(message)
    session.commit()


def _require_undelivered(message: OutboxMessage, verb: str) -> None:
    if message.state not in (OutboxState.failed, OutboxState.dead):
        raise Conflict(f"Only a failed or dead message can be {verb}; this one is {message.state}.")


_BULKY = {"body_text", "body_html", "attachments"}
