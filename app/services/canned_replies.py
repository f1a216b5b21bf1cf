"""Canned replies: the team's saved replies, and filling one in for a ticket.

Staff only, one shared list (see `app.models.canned_reply`). Filling reads the ticket the
caller already loaded through the visibility rule (`app.web.deps.get_ticket`), so it can never
name what the caller may not see; the result is plain text for the reply box, sent by nobody.
"""

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.db import committed
from app.core.errors import Conflict, FieldError, NotFound
from app.core.pagination import PageParams, Window, fetch
from app.models.canned_reply import (
    PLACEHOLDER,
    CannedReply,
    CannedReplyCreate,
    CannedReplyPublic,
    CannedReplyUpdate,
    placeholder_key,
)
from app.models.institution import Institution
from app.models.ticket import Ticket
from app.models.user import User
from app.services import audit
from app.services.access import require_staff

TAKEN = "Another saved reply is already called “{name}”; choose another name."
TAKEN_FIELD = FieldError("name", "Another saved reply has this name")


def public(reply: CannedReply) -> CannedReplyPublic:
    return CannedReplyPublic.model_validate(reply, from_attributes=True)


def list_replies(*, session: Session, actor: User, page: PageParams) -> Window:
    require_staff(actor, "see saved replies")
    window = fetch(session, select(CannedReply).order_by(CannedReply.name, CannedReply.id), page)
    window.items = [public(r) for r in window.items]
    return window


def choices(*, session: Session, actor: User) -> list[tuple[int, str]]:
    """Every reply's id and name, for the reply box's picker (one statement)."""
    require_staff(actor, "use saved replies")
    return list(session.exec(select(CannedReply.id, CannedReply.name).order_by(CannedReply.name)))


def get_reply(*, session: Session, actor: User, reply_id: int) -> CannedReply:
    require_staff(actor, "see saved replies")
    reply = session.get(CannedReply, reply_id)
    if reply is None:
        raise NotFound(f"No saved reply has the id {reply_id}.")
    return reply


def create_reply(*, session: Session, actor: User, data: CannedReplyCreate) -> CannedReply:
    require_staff(actor, "add saved replies")
    _name_free(session, data.name)
    reply = CannedReply(name=data.name, body=data.body, created_by=actor.id)
    with committed(session, TAKEN.format(name=data.name), [TAKEN_FIELD]):
        audit.created(session, reply, actor=actor)
    return reply


def update_reply(
    *, session: Session, actor: User, reply: CannedReply, data: CannedReplyUpdate
) -> CannedReply:
    require_staff(actor, "change saved replies")
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in fields:
        _name_free(session, fields["name"], but=reply.id)
    name = fields.get("name", reply.name)
    with (
        committed(session, TAKEN.format(name=name), [TAKEN_FIELD]),
        audit.change(session, reply, actor=actor),
    ):
        for key, value in fields.items():
            setattr(reply, key, value)
    return reply


def delete_reply(*, session: Session, actor: User, reply: CannedReply) -> CannedReplyPublic:
    """Gone for the whole team; the audit trail keeps what it said."""
    require_staff(actor, "delete saved replies")
    gone = public(reply)
    audit.removed(session, reply, actor=actor)
    session.delete(reply)
    session.commit()
    return gone


def fill(*, session: Session, actor: User, reply: CannedReply, ticket: Ticket) -> str:
    """The reply's text with its placeholders filled in from `ticket`, which the caller loaded
    with `actor`'s own visibility. A placeholder we cannot fill stays as written (saving
    refuses those, but an older reply may hold one)."""
    require_staff(actor, "use saved replies")
    requester, library = session.exec(
        select(User.name, Institution.name)
        .select_from(Ticket)
        .join(User, col(User.id) == Ticket.requester)
        .join(Institution, col(Institution.code) == Ticket.institution)
        .where(Ticket.id == ticket.id)
    ).one()
    values = {
        "requester name": requester,
        "ticket number": ticket.number,
        "ticket subject": ticket.subject,
        "library": library,
        "my name": actor.name,
    }
    return PLACEHOLDER.sub(
        lambda m: values.get(placeholder_key(m.group(1)), m.group(0)), reply.body
    )


def insert(draft: str | None, filled: str) -> str:
    """What the reply box holds after inserting: the draft kept, the reply after it."""
    draft = (draft or "").rstrip()
    return f"{draft}\n\n{filled}" if draft else filled


def _name_free(session: Session, name: str, but: int | None = None) -> None:
    """Names differ by more than case: the picker would show two alike."""
    stmt = select(CannedReply.id).where(func.lower(CannedReply.name) == name.lower())
    if but is not None:
        stmt = stmt.where(CannedReply.id != but)
    if session.exec(stmt).first() is not None:
        raise Conflict(TAKEN.format(name=name), [TAKEN_FIELD])
