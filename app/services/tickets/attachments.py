"""Attachments: files on disk under the attachment directory, metadata in the database.

The type is read from the content (magic bytes), never from the name or the client's claim; a
file is served only through the ticket's visibility rule, always as a download, under a name
that cannot pose as a path, reverse itself or open as a page or script.
"""

import hashlib
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, Invalid, NotFound
from app.models.ticket import (
    AttachmentPublic,
    Ticket,
    TicketAttachment,
    TicketEventKind,
    TicketStatus,
)
from app.models.user import User
from app.services.access import require_staff
from app.services.tickets.records import add_event, audited, columns, lock, touch
from app.services.uploads import safe_filename, sniff  # shared with duty tasks


def directory() -> Path:
    return Path(get_settings().ticket_attachment_dir)


def max_bytes() -> int:
    """The largest file a ticket takes (the request-body limit allows for it too)."""
    return get_settings().ticket_attachment_max_bytes


def add_attachment(
    *, session: Session, actor: User, ticket: Ticket, filename: str, stream: BinaryIO
) -> TicketAttachment:
    """Reads at most one byte more than the limit, so an oversized upload is refused unread."""
    limit = max_bytes()
    content = stream.read(limit + 1)
    if len(content) > limit:
        raise Invalid(
            f"The file is larger than {limit} bytes.",
            [FieldError("file", f"must be at most {limit} bytes")],
        )
    if ticket.status == TicketStatus.closed or ticket.merged_into is not None:
        raise Conflict("A closed or merged ticket takes no more attachments.")
    if not content:
        raise Invalid("The file is empty.", [FieldError("file", "is empty")])
    media_type = sniff(content)
    if media_type is None:
        raise Invalid(
            "Only PDF, PNG, JPEG, GIF and plain-text files can be attached.",
            [FieldError("file", "is not an accepted type")],
        )
    name = safe_filename(filename or "attachment")
    key = uuid.uuid4().hex
    folder = directory()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / key
    path.write_bytes(content)
    try:
        attachment = TicketAttachment(
            ticket_id=ticket.id,
            filename=name,
            content_type=media_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            storage_key=key,
            uploaded_by=actor.id,
        )
        session.add(attachment)
        session.flush()
        now = utcnow()
        add_event(
            session,
            ticket,
            actor,
            TicketEventKind.attachment,
            {"attachment": attachment.id},
            at=now,
        )
        touch(ticket, now)
        session.add(ticket)
        after = {"attachment": attachment.id, "size": attachment.size, "type": media_type}
        audited(session, ticket, actor, "attach", after)
        session.commit()
    except Exception:
        path.unlink(missing_ok=True)  # no file without its row
        raise
    return attachment


def list_attachments(*, session: Session, ticket: Ticket) -> list[AttachmentPublic]:
    rows = session.exec(
        select(TicketAttachment)
        .where(TicketAttachment.ticket_id == ticket.id)
        .order_by(col(TicketAttachment.id))
    )
    return [attachment_public(a, ticket) for a in rows]


def get_attachment(*, session: Session, ticket: Ticket, attachment_id: int) -> TicketAttachment:
    attachment = session.get(TicketAttachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket.id:
        raise NotFound(f"Ticket {ticket.number} has no attachment {attachment_id}.")
    return attachment


def file_path(attachment: TicketAttachment) -> Path:
    return directory() / attachment.storage_key


def attachment_public(attachment: TicketAttachment, ticket: Ticket) -> AttachmentPublic:
    url = f"/tickets/{ticket.number}/attachments/{attachment.id}"
    return AttachmentPublic.model_validate(
        columns(attachment) | {"ticket": ticket.number, "url": url}
    )


def redact_content(
    attachment: TicketAttachment, passage: str
) -> tuple[int, tuple[Path, Path] | None]:
    """Removes the passage from a text attachment by writing the file anew under a new key
    (the row then points at it; the caller deletes the old file once that is committed).
    Returns the occurrences and (old, new) paths when the file was rewritten. Other types
    (PDF, images) cannot be searched reliably: staff delete those instead."""
    if attachment.content_type != "text/plain":
        return 0, None
    old = file_path(attachment)
    content = old.read_bytes().decode("utf-8", errors="surrogateescape")
    count = content.count(passage)
    if not count:
        return 0, None
    data = content.replace(passage, "[redacted]").encode("utf-8", errors="surrogateescape")
    key = uuid.uuid4().hex
    new = directory() / key
    new.write_bytes(data)
    attachment.storage_key = key
    attachment.size = len(data)
    attachment.sha256 = hashlib.sha256(data).hexdigest()
    return count, (old, new)


def discard(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def delete_attachment(
    *, session: Session, actor: User, ticket: Ticket, attachment: TicketAttachment
) -> None:
    """Staff remove a file (e.g. a screenshot full of patron data); the timeline says a file
    was removed and the audit entry which, by id, size and type (never its name)."""
    require_staff(actor, "delete attachments")
    lock(session, ticket)
    path = file_path(attachment)
    before = {"attachment": attachment.id, "size": attachment.size, "type": attachment.content_type}
    session.delete(attachment)
    now = utcnow()
    data = {"attachment": before["attachment"], "removed": True}
    add_event(session, ticket, actor, TicketEventKind.attachment, data, at=now)
    touch(ticket, now)
    session.add(ticket)
    audited(session, ticket, actor, "delete attachment", {}, before=before)
    session.commit()
    path.unlink(missing_ok=True)  # after the commit: a failed delete keeps its file
