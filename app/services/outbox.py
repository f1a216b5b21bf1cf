"""The outbox as consortium admins see it: counts, failed and dead messages, sent mail, and
retrying or discarding a message (both audited). Enqueueing lives in `app.notify.outbox`."""

from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, Window, fetch
from app.models.outbox import OutboxMessage, OutboxState
from app.models.user import Role, User
from app.services import audit
from app.services.access import require_role

# Too large for an audit entry, and rebuilt by the worker anyway.
_BULKY = {"body_text", "body_html", "attachments"}
UNDELIVERED = (OutboxState.failed, OutboxState.dead)


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
    message = _undelivered(session, actor, message_id, "retried")
    with audit.change(session, message, actor=actor, action="retry", exclude=_BULKY, touch=None):
        message.state = OutboxState.pending
        message.attempts = 0
        message.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.commit()
    return message


def discard(*, session: Session, actor: User, message_id: int) -> None:
    """Deletes a failed or dead message; the audit entry keeps what it was."""
    message = _undelivered(session, actor, message_id, "discarded")
    audit.removed(session, message, actor=actor, action="discard", exclude=_BULKY)
    session.delete(message)
    session.commit()


def _undelivered(session: Session, actor: User, message_id: int, verb: str) -> OutboxMessage:
    message = get_message(session=session, actor=actor, message_id=message_id)
    if message.state not in UNDELIVERED:
        raise Conflict(
            f"Only a failed or dead message can be {verb} (this one is {message.state})."
        )
    return message
