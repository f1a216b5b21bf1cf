"""Webhooks: subscriptions of consortium tools to events, and the deliveries queued for them.

A delivery row is the webhook's outbox: written in the transaction that causes the event
(`app.services.webhooks.publish`), claimed and sent by the worker (`app.notify.webhooks`) with
the same lease, backoff and dead-letter rules as mail. Each attempt leaves a `webhook_attempt`
row: the delivery log with response codes.

The signing secret must be recoverable (the worker signs with it), so it is stored as issued;
it is answered once, on creation and rotation, and never shown, logged or audited otherwise.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict
from sqlalchemy import JSON, Index, Text
from sqlmodel import Field, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput
from app.models.outbox import OutboxState
from app.models.service import Choices


class Webhook(SQLModel, table=True):
    __tablename__ = "webhook"
    __audit_type__ = "webhook"
    __table_args__ = (Index("ix_webhook_active_institution", "active", "institution"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=100)  # `whsec_<base64>`: never shown again, never logged
    events: list[str] = Field(default_factory=list, sa_type=JSON)
    # Bound: it receives only what this library may see.
    institution: str | None = Field(default=None, max_length=8, foreign_key="institution.code")
    active: bool = True
    allow_private: bool = False  # an admin let it reach addresses inside our network
    created_by: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_delivery_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: int | None = None  # the last attempt's HTTP status (None: no answer)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
        Index("ix_webhook_delivery_webhook", "webhook_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id")
    event: str = Field(max_length=50)
    # The `webhook-id` header: the same on every attempt, so a receiver can drop repeats.
    message_id: str = Field(max_length=64, unique=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    state: OutboxState = Field(default=OutboxState.pending, sa_type=EnumString(OutboxState, 16))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=100)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    response_excerpt: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    attempted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status_code: int | None = None  # None: no answer (refused, timed out, blocked address)
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int | None = None


class WebhookPublic(SQLModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # always sent

    id: int
    name: str
    url: str
    events: list[str]
    institution: str | None
    active: bool
    allow_private: bool
    created_by: int | None
    created_at: datetime
    rotated_at: datetime | None
    last_delivery_at: datetime | None
    last_status: int | None


class WebhookWithSecret(WebhookPublic):
    """Answered once, on creation and rotation: the secret is never shown again."""

    secret: str


class WebhookCreate(FormInput):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=2000, description="Where events are posted.")
    events: Choices = Field(min_length=1, description="Event types, e.g. `ticket.created`.")
    institution: str | None = Field(
        default=None, max_length=8, description="Bound: it receives only what this library sees."
    )
    active: bool = True
    allow_private: bool = Field(
        default=False, description="Let it reach addresses inside our own network."
    )


class WebhookUpdate(FormInput):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: Choices | None = Field(default=None, min_length=1)
    active: bool | None = None
    allow_private: bool | None = None


class WebhookAttemptPublic(SQLModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int | None


class WebhookDeliveryPublic(SQLModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: int
    webhook: int
    event: str
    message_id: str
    state: Literal["pending", "sending", "sent", "failed", "dead"]
    attempts: int
    next_attempt_at: datetime | None  # None once sent or dead
    last_status_code: int | None
    last_error: str | None
    response_excerpt: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]
    log: list[WebhookAttemptPublic]
