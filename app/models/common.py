"""Pieces every model family shares."""

from typing import Any

from pydantic import BeforeValidator, ConfigDict, model_validator
from sqlmodel import SQLModel

MAX_ID = 2**31 - 1
"""The largest PostgreSQL `integer`: ids bounded by it make a larger one a 422, not a 500."""


def blank_is_none(value: Any) -> Any:
    return None if value == "" else value


# A plain HTML form sends an unchosen filter ("Any status") as an empty string.
OptionalFilter = BeforeValidator(blank_is_none)


class FormInput(SQLModel):
    """A request body: unknown fields are refused, and an empty form field means "no value".

    htmx's json-enc sends every input as a string, so an emptied optional input arrives as "".
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: blank_is_none(v) for k, v in data.items()}
        return data
