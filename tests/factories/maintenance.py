"""Builders for the maintenance slice (mixed into `Factory`)."""

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from app.models.incident import Incident, IncidentService, IncidentStatus, IncidentUpdate
from app.models.maintenance import Maintenance, MaintenanceInstitution, MaintenanceService
from app.models.service import Impact


class MaintenanceBuilders:
    session: Session

    def window(
        self,
        starts_at: datetime | None = None,
        hours: float = 2,
        services: tuple[str, ...] = ("alma",),
        institutions: tuple[str, ...] = (),
        **values,
    ) -> Maintenance:
        """A window (default: alma, in 30 days, two hours), written without the service rules."""
        starts_at = starts_at or datetime.now(UTC) + timedelta(days=30)
        values.setdefault("title", "Test maintenance")
        values.setdefault("impact", Impact.outage)
        window = Maintenance(
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=hours),
            service_links=[MaintenanceService(service=s) for s in services],
            institution_links=[MaintenanceInstitution(institution=c) for c in institutions],
            **values,
        )
        self.session.add(window)
        self.session.commit()
        return window

    def incident(
        self,
        services: tuple[str, ...] = ("primo_ve",),
        status: IncidentStatus = IncidentStatus.investigating,
        **values,
    ) -> Incident:
        values.setdefault("title", "Test incident")
        values.setdefault("impact", Impact.degraded)
        incident = Incident(
            status=status,
            service_links=[IncidentService(service=s) for s in services],
            updates=[IncidentUpdate(status=status, body="Looking into it.")],
            **values,
        )
        if status == IncidentStatus.resolved:
            incident.resolved_at = datetime.now(UTC)
        self.session.add(incident)
        self.session.commit()
        return incident
