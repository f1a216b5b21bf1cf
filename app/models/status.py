"""`/status`: what is happening now, what is coming, and the last 90 days."""

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.models.incident import IncidentPublic
from app.models.maintenance import MaintenancePublic
from app.models.service import ServicePublic, ServiceStatus


class HistoryDay(SQLModel):
    date: date
    maintenance: list[MaintenancePublic]
    incidents: list[IncidentPublic]


class StatusPublic(SQLModel):
    """`/status`: what is happening now, what is coming, and the last 90 days."""

    overall: ServiceStatus
    services: list[ServicePublic]
    active: list[MaintenancePublic]
    upcoming: list[MaintenancePublic] = Field(description="Windows in the next 30 days.")
    incidents: list[IncidentPublic] = Field(description="Open incidents.")
    history: list[HistoryDay] = Field(description="Days of the last 90 with something on them.")
    generated_at: datetime
