"""Canned replies: the support team's saved replies, with placeholders filled from a ticket.

One list for the whole team (consortium staff and administrators): any of them may add, change
or delete any reply, as support teams share their answers. Placeholders are written in plain
words between braces, e.g. `Dear {requester name}, about ticket {ticket number} …`; a reply
that names one we do not know is refused when it is saved, never when it is used.
"""

import re
from datetime import datetime

from pydantic import ConfigDict, field_validator
from pydantic_core import PydanticCustomError
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow
from app.models.common import MAX_ID, FormInput
from app.models.ticket import MAX_TEXT

MAX_BODY = 10_000  # characters: half a reply box, so a draft still fits beside it

# Each placeholder, in the words a librarian types, and what it stands for.
PLACEHOLDERS: dict[str, str] = {
    "requester name": "the name of the person who filed the ticket",
    "ticket number": "the ticket's number, e.g. 2026-00042",
    "ticket subject": "the ticket's subject",
    "library": "the name of the ticket's library",
    "my name": "your own name",
}
PLACEHOLDER = re.compile(r"\{([^{}\n]{0,60})\}")


def placeholder_key(words: str) -> str:
    """`{ Requester  Name }` is `{requester name}`: case and spacing do not matter."""
    return " ".join(words.split()).lower()


def unknown_placeholders(body: str) -> list[str]:
    """The placeholders `body` uses that we cannot fill, as written, each once."""
    found: list[str] = []
    for match in PLACEHOLDER.finditer(body):
        if placeholder_key(match.group(1)) not in PLACEHOLDERS and match.group(0) not in found:
            found.append(match.group(0))
    return found


def known_words() -> str:
    names = [f"{{{p}}}" for p in PLACEHOLDERS]
    return ", ".join(names[:-1]) + f" or {names[-1]}"


class CannedReply(SQLModel, table=True):
    __tablename__ = "canned_reply"
    __audit_type__ = "canned_reply"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    body: str = Field(max_length=MAX_BODY)
    created_by: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CannedReplyPublic(SQLModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: int
    name: str
    body: str
    created_by: int | None  # a user id; none once that account is gone
    created_at: datetime
    updated_at: datetime


class _Body:
    """A body's placeholders are checked beside every other field, so all errors come at once."""

    @field_validator("body", check_fields=False)
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        unknown = unknown_placeholders(value or "")
        if unknown:
            raise PydanticCustomError(
                "placeholder",
                "We cannot fill {unknown}. Use {known}, or leave the braces out",
                {"unknown": " or ".join(unknown), "known": known_words()},
            )
        return value


class CannedReplyCreate(_Body, FormInput):
    name: str = Field(min_length=1, max_length=100, description="What staff pick it by.")
    body: str = Field(
        min_length=1,
        max_length=MAX_BODY,
        description="The text, with placeholders such as `{requester name}`, `{ticket number}`, "
        "`{ticket subject}`, `{library}` and `{my name}`.",
    )


class CannedReplyUpdate(_Body, FormInput):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)


class CannedReplyFill(FormInput):
    """The reply box asks for one reply filled in for its ticket, with the draft already typed
    (kept, the filled text goes after it)."""

    reply: int = Field(ge=1, le=MAX_ID)
    body: str | None = Field(default=None, max_length=MAX_TEXT)
