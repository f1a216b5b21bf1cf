"""Pieces every model family shares."""

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BeforeValidator, ConfigDict, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlmodel import SQLModel

MAX_ID = 2**31 - 1
"""The largest PostgreSQL `integer`: ids bounded by it make a larger one a 422, not a 500."""

# Characters no text field may hold: C0 controls but tab, line feed and carriage return; DEL
# and the C1 controls; lone surrogates; U+FFFE/U+FFFF; the bidirectional overrides, embeddings
# and isolates that make text read differently from what it is. Tab and line breaks are allowed
# only in multi-line fields (`FormInput.multiline`).
_UNSAFE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[{_UNSAFE}]")
UNSAFE_IN_A_LINE = re.compile(f"[{_UNSAFE}\t\n\r\u2028\u2029]")
# What XML 1.0 cannot carry at all (feeds), beside the rest of UNSAFE.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
TIME_RANGE = "between the years 1900 and 2999"


def blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def without_unsafe(text: str) -> str:
    """`text` without the characters UNSAFE names: for rows written before input was checked,
    on their way into a feed, calendar, export or e-mail."""
    return UNSAFE.sub("", text)


def unsafe_character(value: Any, *, multiline: bool) -> str | None:
    """Plain words for the first character a text field may not hold, looking inside lists and
    dicts too; None when there is none."""
    if isinstance(value, str):
        found = (UNSAFE if multiline else UNSAFE_IN_A_LINE).search(value)
        if found is None:
            return None
        ch = found.group()
        if ch in "\t\n\r\u2028\u2029":
            return "must be one line (no line breaks or tabs)"
        name = unicodedata.name(ch, "a control character")
        return f"contains a character that is not allowed ({name.lower()}, U+{ord(ch):04X})"
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set):
        for item in value:
            reason = unsafe_character(item, multiline=multiline)
            if reason:
                return reason
    return None


def check_time_range(value: datetime) -> datetime:
    """A time the portal can do arithmetic with (time zones, month ends, a series' horizon)
    without leaving the years a datetime can hold."""
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= moment < LATEST:
        raise PydanticCustomError("time_range", f"must be {TIME_RANGE}")
    return value


# A plain HTML form sends an unchosen filter ("Any status") as an empty string.
OptionalFilter = BeforeValidator(blank_is_none)


class FormInput(SQLModel):
    """A request body: unknown fields are refused, an empty form field means "no value", and no
    text holds a control character (tabs and line breaks only in `multiline` fields).

    htmx's json-enc sends every input as a string, so an emptied optional input arrives as "".
    Every Create/Update/request model derives from this class, so each is checked here, once.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    multiline: ClassVar[frozenset[str]] = frozenset(
        {"description", "body", "text", "note", "reason", "comment", "message", "details"}
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: blank_is_none(v) for k, v in data.items()}
        return data

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        reason = unsafe_character(value, multiline=info.field_name in cls.multiline)
        if reason:
            raise PydanticCustomError("unsafe_character", reason)
        return value
