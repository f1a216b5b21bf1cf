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
        list_id: str | None = None,    # a list's message: List-Id, e.g. "Liaisons <x.example.org>"
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

from sqlalchemy import insert
from sqlmodel import Session, select

from app.core.config import get_settings
from app.models.outbox import OutboxMessage


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
    list_id: str | None = None,
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
        list_id=list_id,
        message_id=_new_message_id(),
    )
    session.add(message)
    return message


def enqueue_many(session: Session, messages: list[dict]) -> int:
    """Adds many messages at once, each a dict of `enqueue`'s keyword arguments (no
    `dedupe_key`): one multi-row INSERT in the caller's transaction instead of a statement per
    message (an announcement to ~1,000 people). Returns how many."""
    if not messages:
        return 0
    rows = []
    for m in messages:
        to = m["to"]
        rows.append(
            {
                "recipients": [to] if isinstance(to, str) else list(to),
                "template": m["template"].removesuffix(".html"),
                "context": m["context"],
                "reply_to": m.get("reply_to"),
                "unsubscribe_url": m.get("unsubscribe_url"),
                "attachments": m.get("attachments"),
                "dedupe_key": None,
                "list_id": m.get("list_id"),
                "message_id": _new_message_id(),
            }
        )
    session.execute(insert(OutboxMessage), rows)
    return len(rows)


def _new_message_id() -> str:
    """Fixed when the row is written, so every resend of it carries the same `Message-ID`."""
    sender = get_settings().mail_from
    domain = sender.rpartition("@")[2].rstrip(">").strip() or "liaison-portal.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"
