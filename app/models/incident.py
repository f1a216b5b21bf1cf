"""Incidents: unplanned problems, their timeline of updates, and the tickets libraries linked
to them."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, Relationship, SQLModel

from app.core.db import EnumString, UTCDateTime, utcnow
from app.models.common import FormInput
from app.models.maintenance import NAIVE_TIMES, LocalTime, PlainForm
from app.models.service import Choices, Impact


class IncidentStatus(StrEnum):
    investigating = "investigating"
    identified = "identified"
    monitoring = "monitoring"
    resolved = "resolved"


class IncidentService(SQLModel, table=True):
    __tablename__ = "incident_service"

    incident_id: int = Field(
        sa_column=Column(Integer, ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    )
    service: str = Field(foreign_key="service.slug", primary_key=True, max_length=40, index=True)


class IncidentUpdate(SQLModel, table=True):
    """One entry of an incident's timeline."""

    __tablename__ = "incident_update"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("incident.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    status: IncidentStatus = Field(sa_type=EnumString(IncidentStatus, 16))
    body: str = Field(max_length=5000, sa_type=Text)
    author: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class IncidentTicket(SQLModel, table=True):
    """A library's ticket linked to an incident ("me too")."""

    __tablename__ = "incident_ticket"

    incident_id: int = Field(
        sa_column=Column(Integer, ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    )
    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True, index=True)
    institution: str = Field(foreign_key="institution.code", max_length=8)
    linked_by: int | None = Field(default=None, foreign_key="user_account.id")
    linked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IncidentBase(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    impact: Impact = Field(default=Impact.degraded, sa_type=EnumString(Impact, 16))


class Incident(IncidentBase, table=True):
    __table_args__ = (Index("ix_incident_status_started_at", "status", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    status: IncidentStatus = Field(
        default=IncidentStatus.investigating, sa_type=EnumString(IncidentStatus, 16)
    )
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    created_by: int | None = Field(default=None, foreign_key="user_account.id")

    service_links: list[IncidentService] = Relationship(
        sa_relationship_kwargs={"lazy": "selectin", "cascade": "all, delete-orphan"}
    )
    updates: list[IncidentUpdate] = Relationship(
        sa_relationship_kwargs={
            "lazy": "selectin",
            "cascade": "all, delete-orphan",
            "order_by": "IncidentUpdate.created_at.desc(), IncidentUpdate.id.desc()",
        }
    )

    @property
    def services(self) -> list[str]:
        return sorted(link.service for link in self.service_links)


INCIDENT_WORDS = {
    "title": "Enter a title, e.g. “Primo VE searches time out”",
    "services": "Choose at least one service",
    "body": "Say what is happening, in a sentence or two",
    "status": "Choose a status: investigating, identified, monitoring or resolved",
    "impact": "Choose the impact: none, degraded or outage",
    "started_at": "Enter when it started as a date and a time, e.g. 2027-06-05 23:00",
    "ticket_reply": "Write the reply the linked tickets get",
    "resolve_tickets": "Tick the box, or leave it clear",
    "ticket": "Enter your ticket's number, e.g. 2026-00042",
}


class IncidentCreate(PlainForm, IncidentBase):
    words: ClassVar[dict[str, str]] = INCIDENT_WORDS
    services: Choices = Field(min_length=1, description="Service slugs, see `/services`.")
    body: str = Field(min_length=1, max_length=5000, description="The first timeline entry.")
    status: IncidentStatus = IncidentStatus.investigating
    started_at: LocalTime | None = Field(default=None, description=NAIVE_TIMES)


class IncidentEdit(PlainForm):
    """A correction of the incident itself (its timeline stays as written)."""

    words: ClassVar[dict[str, str]] = INCIDENT_WORDS

    title: str | None = Field(default=None, min_length=1, max_length=200)
    services: Choices | None = Field(default=None, min_length=1)


class IncidentUpdateCreate(PlainForm):
    words: ClassVar[dict[str, str]] = INCIDENT_WORDS
    multiline: ClassVar[frozenset[str]] = FormInput.multiline | {"ticket_reply"}

    status: IncidentStatus
    body: str = Field(min_length=1, max_length=5000)
    impact: Impact | None = None
    resolve_tickets: bool = Field(
        default=False,
        description="With status `resolved`: resolve every linked ticket with `ticket_reply`.",
    )
    ticket_reply: str | None = Field(
        default=None, max_length=5000, description="The reply each linked ticket gets."
    )

    @classmethod
    def cross_checks(cls, values: dict, *, parsed: bool) -> list[tuple[str, str]]:
        if values.get("resolve_tickets") in (True, "true", "on") and not values.get("ticket_reply"):
            return [("ticket_reply", "Write the reply the linked tickets get")]
        return []


class IncidentUpdatePublic(SQLModel):
    id: int
    status: IncidentStatus
    body: str
    author: int | None
    created_at: datetime


class IncidentPublic(IncidentBase):
    id: int
    status: IncidentStatus
    services: list[str]
    started_at: datetime
    resolved_at: datetime | None
    updated_at: datetime
    updates: list[IncidentUpdatePublic]
    reports: int = Field(default=0, description="How many libraries linked a ticket to it.")


class IncidentTicketCreate(PlainForm):
    words: ClassVar[dict[str, str]] = INCIDENT_WORDS

    ticket: str = Field(min_length=1, max_length=40, description="The ticket's number.")
