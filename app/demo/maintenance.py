"""Demo data for the maintenance slice: a year of clearly fictitious but realistic windows.

The vendor's pattern: a release on the first weekend of each month (overnight Saturday to
Sunday) and a follow-up the next weekend; a sandbox refresh in February and August; one
cancelled window; one resolved incident with its timeline. Written straight to the tables (no
notices are queued for demo data).
"""

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.incident import Incident, IncidentService, IncidentStatus, IncidentUpdate
from app.models.maintenance import Maintenance, MaintenanceSeries, MaintenanceService
from app.models.service import Impact
from app.models.user import User
from app.services.maintenance import expand

NOTE = "(Demo data: not a real maintenance window.)"


def load(session: Session, admin: User) -> dict[str, int]:
    """Adds what is missing; returns what it added, by kind."""
    if session.exec(select(Maintenance.id).limit(1)).first() is not None:
        return {}
    zone = get_settings().tz
    now = utcnow()
    local = now.astimezone(zone)
    month = local.month - 6
    year = local.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    windows: list[Maintenance] = []

    def series(rule: str, start: datetime, hours: float, title: str, services, impact) -> None:
        row = MaintenanceSeries(rrule=rule, created_by=admin.id)
        session.add(row)
        session.flush()
        for begins, ends in expand(rule, start, start + timedelta(hours=hours)):
            windows.append(_window(begins, ends, title, services, impact, admin, row.id))

    first = datetime(year, month, 1, 0, 0, tzinfo=zone)
    series(
        "FREQ=MONTHLY;BYDAY=1SU;COUNT=12",
        first,
        3.5,
        "Alma and Primo VE monthly release",
        ("alma", "primo_ve"),
        Impact.outage,
    )
    series(
        "FREQ=MONTHLY;BYDAY=2SU;COUNT=12",
        first.replace(hour=1),
        1,
        "Alma release follow-up (hotfix)",
        ("alma", "primo_ve"),
        Impact.degraded,
    )
    for refresh_month in (2, 8):
        refresh_year = year if refresh_month >= month else year + 1
        start = datetime(refresh_year, refresh_month, 10, 8, 0, tzinfo=zone)
        windows.append(
            _window(
                start.astimezone(UTC),
                (start + timedelta(days=2)).astimezone(UTC),
                "Alma sandbox refresh",
                ("alma",),
                Impact.none,
                admin,
                None,
            )
        )
    upcoming = sorted((w for w in windows if w.starts_at > now), key=lambda w: w.starts_at)
    if len(upcoming) > 3:
        upcoming[3].cancelled_at = now
        upcoming[3].sequence = 1
        upcoming[3].description += " Cancelled: the vendor moved this release."
    session.add_all(windows)
    session.add(_incident(now - timedelta(days=12), admin))
    session.commit()
    return {"maintenance windows": len(windows), "incidents": 1}


def _window(start, end, title, services, impact, admin, series_id) -> Maintenance:
    return Maintenance(
        title=title,
        description=f"Ex Libris scheduled work. {NOTE}",
        impact=impact,
        starts_at=start,
        ends_at=end,
        series_id=series_id,
        created_by=admin.id,
        service_links=[MaintenanceService(service=s) for s in services],
    )


def _incident(started: datetime, admin: User) -> Incident:
    steps = [
        (IncidentStatus.investigating, 0, "Primo VE searches time out for some libraries."),
        (IncidentStatus.identified, 40, "The vendor found a failing search node."),
        (IncidentStatus.monitoring, 95, "A fix is in place; we are watching response times."),
        (IncidentStatus.resolved, 180, "Searches are back to normal. Thank you for the reports."),
    ]
    return Incident(
        title="Primo VE searches time out (demo)",
        impact=Impact.degraded,
        status=IncidentStatus.resolved,
        started_at=started,
        resolved_at=started + timedelta(minutes=180),
        created_at=started,
        updated_at=started + timedelta(minutes=180),
        created_by=admin.id,
        service_links=[IncidentService(service="primo_ve")],
        updates=[
            IncidentUpdate(
                status=s, body=body, author=admin.id, created_at=started + timedelta(minutes=m)
            )
            for s, m, body in steps
        ],
    )
