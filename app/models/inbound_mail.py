"""Mail that came in to the portal's inbound address (reply and file by e-mail, issue 15).

One row per message, whatever became of it: a reply, a new report, ignored (an automatic
reply, a loop) or refused (with the reason in plain words). The unique `message_key` (the
`Message-ID`, or a hash of the raw bytes when a message has none) makes delivery idempotent:
the same message fed twice, even at once, is handled once.

The message's text and files are not kept here: accepted ones live on in the ticket (where
redaction and retention reach them), and a refused one may hold patron data of a library the
sender does not speak for; the sender still has it. Only what staff need to follow up is kept:
who sent it, its subject, when, and why it was refused.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.outbox import OutboxMessage


class InboundOutcome(StrEnum):
    replied = "replied"  # a public reply on a ticket
    filed = "filed"  # a new ticket
    ignored = "ignored"  # an automatic reply, a bounce or our own mail coming back
    rejected = "rejected"  # refused: the reason says why


class InboundMail(SQLModel, table=True):
    __tablename__ = "inbound_mail"
    __table_args__ = (Index("ix_inbound_mail_outcome_received", "outcome", "received_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(max_length=255, unique=True)
    message_id: str | None = Field(default=None, max_length=255)
    sender: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    outcome: InboundOutcome = Field(sa_type=EnumString(InboundOutcome, 16))
    reason: str = Field(sa_type=Text)  # plain words: what was done, or why not
    ticket_number: str | None = Field(default=None, max_length=12)
    author: int | None = Field(default=None, foreign_key="user_account.id")
    patron_data: bool = False  # the text looked like it held patron data
    size: int = 0  # bytes
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# A reply names the Message-ID of the ticket e-mail it answers: finding that outbox row must not
# scan the outbox. Declared here, beside its only reader; the outbox's columns are unchanged.
Index("ix_outbox_message_message_id", OutboxMessage.__table__.c.message_id)
