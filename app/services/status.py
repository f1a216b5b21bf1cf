"""What is happening now: service statuses, current notices, the status page and its validator.

Statuses are derived, never stored: a window's from the clock, a service's from open incidents
and active windows. Every function takes `now` so tests can hold the clock still.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, union_all
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.incident import Incident, IncidentPublic, IncidentTicket, IncidentUpdate
from app.models.maintenance import Maintenance, MaintenancePublic
from app.models.service import Impact, Service, ServicePublic, ServiceStatus
from app.models.status import HistoryDay, StatusPublic
from app.services import incidents as incident_service
from app.services.maintenance import affects
from app.services.service_catalogue import list_services

UPCOMING_DAYS = 30
HISTORY_DAYS = 90


@dataclass
class Notices:
    """What a library should know before it reports a problem."""

    active: list[Maintenance] = field(default_factory=list)
    upcoming: list[Maintenance] = field(default_factory=list)
    incidents: list[IncidentPublic] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.active or self.upcoming or self.incidents)


def current_notices(
    *,
    session: Session,
    institution: str | None = None,
    days: int = 7,
    now: datetime | None = None,
) -> Notices:
    """Active and upcoming (within `days`) windows and open incidents.

    Other slices call this (the ticket form shows it). With `institution`, only windows that
    affect that institution (or every member) are listed.
    """
    now = now or utcnow()
    windows = _windows_between(session, now, now + timedelta(days=days), institution)
    return Notices(
        active=[w for w in windows if w.starts_at <= now],
        upcoming=[w for w in windows if w.starts_at > now],
        incidents=incident_service.open_incidents(session=session),
    )


def service_statuses(
    *, session: Session, now: datetime | None = None, notices: Notices | None = None
) -> list[ServicePublic]:
    """Every service with its derived status: the worst of open incidents and active windows."""
    now = now or utcnow()
    notices = notices or current_notices(session=session, days=0, now=now)
    worst: dict[str, ServiceStatus] = {}
    rank = list(ServiceStatus)

    def raise_to(slug: str, status: ServiceStatus) -> None:
        if rank.index(status) > rank.index(worst.get(slug, ServiceStatus.operational)):
            worst[slug] = status

    for window in notices.active:
        for slug in window.services:
            raise_to(slug, ServiceStatus.maintenance)
    for incident in notices.incidents:
        if incident.impact != Impact.none:
            for slug in incident.services:
                raise_to(slug, ServiceStatus(incident.impact.value))
    services = list_services(session=session)
    return [
        ServicePublic(
            slug=s.slug,
            name=s.name,
            description=s.description,
            status=worst.get(s.slug, ServiceStatus.operational),
        )
        for s in services
    ]


# --- the status page --------------------------------------------------------------------------


def status_page(*, session: Session, now: datetime | None = None) -> StatusPublic:
    """Everything `/status` shows, in a fixed number of queries."""
    now = now or utcnow()
    notices = current_notices(session=session, days=UPCOMING_DAYS, now=now)
    zone = get_settings().tz
    today = now.astimezone(zone).date()
    since = datetime.combine(today - timedelta(days=HISTORY_DAYS - 1), datetime.min.time(), zone)
    past = session.exec(
        select(Maintenance)
        .where(Maintenance.starts_at >= since, Maintenance.starts_at <= now)
        .order_by(Maintenance.starts_at.desc())
    ).all()
    days: dict[date, HistoryDay] = {}

    def day(value: datetime) -> HistoryDay:
        key = value.astimezone(zone).date()
        return days.setdefault(key, HistoryDay(date=key, maintenance=[], incidents=[]))

    for window in past:
        day(window.starts_at).maintenance.append(public_window(window, now))
    for incident in incident_service.incidents_since(session=session, since=since):
        day(incident.started_at).incidents.append(incident)
    services = service_statuses(
        session=session, now=now, notices=Notices(notices.active, [], notices.incidents)
    )
    rank = list(ServiceStatus)
    return StatusPublic(
        overall=max((s.status for s in services), key=rank.index, default=rank[0]),
        services=services,
        active=[public_window(w, now) for w in notices.active],
        upcoming=[public_window(w, now) for w in notices.upcoming],
        incidents=notices.incidents,
        history=[days[d] for d in sorted(days, reverse=True)],
        generated_at=now,
    )


def public_window(window: Maintenance, now: datetime) -> MaintenancePublic:
    """The window as the clock `now` sees it."""
    return MaintenancePublic.model_validate(
        window, from_attributes=True, update={"status": window.status_at(now)}
    )


def fingerprint(*, session: Session, now: datetime | None = None) -> tuple[str, datetime]:
    """A validator for conditional GET: changes whenever anything the status views show changes.

    That is any write (the newest `updated_at`, row counts; a library's "me too" counts as a
    write of its incident, whose page shows how many libraries reported it) and any window
    starting or ending (derived statuses move with the clock), plus the hour, since pages show
    relative times and windows come into the 30-day and leave the 90-day views. Returns (ETag
    seed, Last-Modified). One query, however many windows there are. `app.web.caching` keys
    what it renders by the seed, so whatever changes what a view shows must change the seed.
    """
    now = now or utcnow()
    m, i, u, s, t = Maintenance, Incident, IncidentUpdate, Service, IncidentTicket
    parts = union_all(
        select(func.count(), func.max(m.updated_at)),
        select(func.count(), func.max(i.updated_at)),
        select(func.count(), func.max(u.created_at)),
        select(func.count(), func.max(s.created_at)),
        select(func.count(), func.max(t.linked_at)),
        select(func.count(), func.max(m.starts_at)).where(m.starts_at <= now),
        select(func.count(), func.max(m.ends_at)).where(m.ends_at <= now),
    )
    rows = session.execute(parts).all()
    hour = now.replace(minute=0, second=0, microsecond=0)
    seed = "|".join(f"{n}:{_iso(t)}" for n, t in rows) + f"|{hour.isoformat()}"
    changed = [_aware(t) for _, t in rows if t is not None]
    last = max([*changed, hour])
    return hashlib.sha256(seed.encode()).hexdigest()[:32], min(last, now)


# --- helpers ----------------------------------------------------------------------------------


def _windows_between(
    session: Session, now: datetime, until: datetime, institution: str | None
) -> list[Maintenance]:
    """Windows not cancelled that are active now or start before `until`, soonest first."""
    stmt = select(Maintenance).where(
        Maintenance.cancelled_at.is_(None),
        Maintenance.ends_at > now,
        Maintenance.starts_at <= until,
    )
    if institution:
        stmt = stmt.where(affects(institution))
    return list(session.exec(stmt.order_by(Maintenance.starts_at, Maintenance.id)).all())


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    return _aware(value).isoformat() if isinstance(value, datetime) else str(value)
