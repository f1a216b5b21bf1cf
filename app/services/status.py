"""What is happening now: service statuses, current notices, the status page and its validator.

Statuses are derived, never stored: a window's from the clock, a service's from open incidents
and active windows. Every function takes `now` so tests can hold the clock still.

Every read here is one SQL statement (`snapshot`): the services, the windows and incidents a
view shows and all their related rows, as one `UNION ALL` of rows tagged by kind, put together
here. `/status` and the feeds then cost the validator plus that one statement when something
changed, and the validator alone when nothing did (`app.web.caching`).
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    FunctionElement,
    Integer,
    ScalarSelect,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import UTCDateTime, utcnow
from app.core.pagination import construct
from app.models.incident import (
    Incident,
    IncidentPublic,
    IncidentService,
    IncidentStatus,
    IncidentTicket,
    IncidentUpdate,
    IncidentUpdatePublic,
)
from app.models.maintenance import (
    Maintenance,
    MaintenanceInstitution,
    MaintenancePublic,
    MaintenanceService,
    MaintenanceStatus,
)
from app.models.service import Impact, Service, ServicePublic, ServiceStatus
from app.models.status import HistoryDay, StatusPublic
from app.services.feeds import FEED_ENTRIES
from app.services.maintenance import FEED_DAYS_BACK, affects

OPERATIONAL = ServiceStatus.operational
UPCOMING_DAYS = 30
HISTORY_DAYS = 90


@dataclass
class Notices:
    """What a library should know before it reports a problem."""

    active: list[MaintenancePublic] = field(default_factory=list)
    upcoming: list[MaintenancePublic] = field(default_factory=list)
    incidents: list[IncidentPublic] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.active or self.upcoming or self.incidents)


@dataclass
class Snapshot:
    """What one `snapshot` statement read: services in catalogue order, windows soonest first,
    incidents newest first, each with its services, institutions and updates (newest first)."""

    services: list[ServicePublic]  # each `operational`: see `_statuses`
    windows: list[MaintenancePublic]
    incidents: list[IncidentPublic]

    @property
    def names(self) -> dict[str, str]:
        """Service slug → the name people read."""
        return {s.slug: s.name for s in self.services}


def current_notices(
    *,
    session: Session,
    institution: str | None = None,
    days: int = 7,
    now: datetime | None = None,
) -> Notices:
    """Active and upcoming (within `days`) windows and open incidents, in one statement.

    Other slices call this (the ticket form and the banner show it). With `institution`, only
    windows that affect that institution (or every member) are listed.
    """
    now = now or utcnow()
    params = {"now": now, "until": now + timedelta(days=days)}
    if institution:
        params["institution"] = institution
    found = snapshot(session, now, _notices_statement(bool(institution)), params)
    return Notices(
        active=[w for w in found.windows if w.starts_at <= now],
        upcoming=[w for w in found.windows if w.starts_at > now],
        incidents=found.incidents,
    )


def service_statuses(*, session: Session, now: datetime | None = None) -> list[ServicePublic]:
    """Every service with its derived status: the worst of open incidents and active windows,
    in one statement."""
    now = now or utcnow()
    found = snapshot(session, now, _statuses_statement(), {"now": now})
    return _statuses(found.services, found.windows, found.incidents)


# --- the status page --------------------------------------------------------------------------


def status_page(*, session: Session, now: datetime | None = None) -> StatusPublic:
    """Everything `/status` shows, in one statement."""
    now = now or utcnow()
    zone = get_settings().tz
    today = now.astimezone(zone).date()
    since = datetime.combine(today - timedelta(days=HISTORY_DAYS - 1), datetime.min.time(), zone)
    until = now + timedelta(days=UPCOMING_DAYS)
    params = {"now": now, "until": until, "since": since}
    found = snapshot(session, now, _status_statement(), params)
    active = [w for w in found.windows if w.status is MaintenanceStatus.in_progress]
    upcoming = [
        w for w in found.windows if w.status is MaintenanceStatus.scheduled and w.starts_at <= until
    ]
    opened = [x for x in found.incidents if x.status is not IncidentStatus.resolved]
    days: dict[date, HistoryDay] = {}

    def day(value: datetime) -> HistoryDay:
        key = value.astimezone(zone).date()
        return days.setdefault(
            key, HistoryDay.model_construct(date=key, maintenance=[], incidents=[])
        )

    for window in reversed(found.windows):  # newest first
        if since <= window.starts_at <= now:
            day(window.starts_at).maintenance.append(window)
    for incident in found.incidents:
        if incident.started_at >= since and (
            incident.resolved_at is None or incident.resolved_at >= since
        ):
            day(incident.started_at).incidents.append(incident)
    services = _statuses(found.services, active, opened)
    rank = list(ServiceStatus)
    return StatusPublic.model_construct(
        overall=max((s.status for s in services), key=rank.index, default=rank[0]),
        services=services,
        active=active,
        upcoming=upcoming,
        incidents=opened,
        history=[days[d] for d in sorted(days, reverse=True)],
        generated_at=now,
    )


def calendar_windows(
    *,
    session: Session,
    service: str | None = None,
    institution: str | None = None,
    now: datetime | None = None,
) -> Snapshot:
    """What the .ics feed carries, with the services' names, in one statement: the past ~13
    months and everything ahead, cancelled too; with `service` or `institution`, the windows
    for that service, or that affect that institution (or every member)."""
    now = now or utcnow()
    params = {"since": now - timedelta(days=FEED_DAYS_BACK)}
    if service:
        params["service"] = service
    if institution:
        params["institution"] = institution
    return snapshot(session, now, _calendar_statement(bool(service), bool(institution)), params)


def feed_items(*, session: Session, now: datetime | None = None) -> Snapshot:
    """What the Atom feed needs, in one statement: the `FEED_ENTRIES` windows changed last, the
    incidents with one of the `FEED_ENTRIES` newest updates (with all their updates), and the
    services' names."""
    return snapshot(session, now or utcnow(), _feed_statement(), {})


def fingerprint(*, session: Session, now: datetime | None = None) -> tuple[str, datetime]:
    """A validator for conditional GET: changes whenever anything the status views show changes.

    That is any write (the newest `updated_at`, row counts; a library's "me too" counts as a
    write of its incident, whose page shows how many libraries reported it) and any window
    starting or ending (derived statuses move with the clock), plus the hour, since pages show
    relative times and windows come into the 30-day and leave the 90-day views. Returns (ETag
    seed, Last-Modified). One query, however many windows there are, read from the database
    on every request, so every process sees another's writes at once. `app.web.caching` keys
    what it renders by the seed, so whatever changes what a view shows must change the seed.
    """
    now = now or utcnow()
    rows = session.execute(_fingerprint_statement(), {"now": now}).all()
    hour = now.replace(minute=0, second=0, microsecond=0)
    seed = "|".join(f"{n}:{_iso(t)}" for n, t in rows) + f"|{hour.isoformat()}"
    changed = [_aware(t) for _, t in rows if t is not None]
    last = max([*changed, hour])
    return hashlib.sha256(seed.encode()).hexdigest()[:32], min(last, now)


# --- the statements, built once (with parameters) rather than on every request ---------------

_NOW, _UNTIL, _SINCE = (bindparam(name, type_=UTCDateTime) for name in ("now", "until", "since"))


@cache
def _fingerprint_statement() -> CompoundSelect:
    m, i, u, s, t = Maintenance, Incident, IncidentUpdate, Service, IncidentTicket
    return union_all(
        select(func.count(), func.max(m.updated_at)),
        select(func.count(), func.max(i.updated_at)),
        select(func.count(), func.max(u.created_at)),
        select(func.count(), func.max(s.created_at)),
        select(func.count(), func.max(t.linked_at)),
        select(func.count(), func.max(m.starts_at)).where(m.starts_at <= _NOW),
        select(func.count(), func.max(m.ends_at)).where(m.ends_at <= _NOW),
    )


@cache
def _status_statement() -> CompoundSelect:
    """Active and upcoming (until) windows, those that started since `since`, open incidents
    and those of the days since."""
    m, i = Maintenance, Incident
    return _statement(
        windows=or_(_live(_NOW, _UNTIL), and_(m.starts_at >= _SINCE, m.starts_at <= _NOW)),
        incidents=or_(
            _open(),
            and_(i.started_at >= _SINCE, or_(i.resolved_at.is_(None), i.resolved_at >= _SINCE)),
        ),
    )


@cache
def _statuses_statement() -> CompoundSelect:
    return _statement(windows=_live(_NOW, _NOW), incidents=_open(), updates=False)


@cache
def _notices_statement(for_institution: bool) -> CompoundSelect:
    windows = _live(_NOW, _UNTIL)
    if for_institution:
        windows = and_(windows, affects(bindparam("institution")))
    return _statement(windows=windows, incidents=_open(), services=False)


@cache
def _calendar_statement(for_service: bool, for_institution: bool) -> CompoundSelect:
    m, ms = Maintenance, MaintenanceService
    windows = m.ends_at >= _SINCE
    if for_service:
        named = select(ms.maintenance_id).where(
            ms.maintenance_id == m.id, ms.service == bindparam("service")
        )
        windows = and_(windows, named.exists())
    if for_institution:
        windows = and_(windows, affects(bindparam("institution")))
    return _statement(windows=windows, incidents=None)


@cache
def _feed_statement() -> CompoundSelect:
    m, u = Maintenance, IncidentUpdate
    newest_windows = select(m.id).order_by(m.updated_at.desc()).limit(FEED_ENTRIES)
    newest_updates = select(u.incident_id).order_by(u.created_at.desc()).limit(FEED_ENTRIES)
    return _statement(windows=m.id.in_(newest_windows), incidents=Incident.id.in_(newest_updates))


# --- one statement for all of it --------------------------------------------------------------


class _joined(FunctionElement):
    """The values of a column over a group, joined by commas: `string_agg` on PostgreSQL,
    `group_concat` elsewhere. For slugs and codes, which hold no comma."""

    type = String()
    inherit_cache = True


@compiles(_joined)
def _group_concat(element: _joined, compiler, **kw) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


@compiles(_joined, "postgresql")
def _string_agg(element: _joined, compiler, **kw) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


def _listed(column, key, parent) -> ScalarSelect:
    """`column`'s values for the row `parent`, joined (see `_joined`)."""
    return select(_joined(column)).where(key == parent).scalar_subquery()


# The columns every kind of row shares: (name, type). Each kind fills the ones it needs.
_SLOTS = (
    ("id", Integer),
    ("parent", Integer),
    ("a", String),
    ("b", Text),
    ("c", String),
    ("d", String),
    ("e", String),
    ("f", String),
    ("t1", UTCDateTime),
    ("t2", UTCDateTime),
    ("t3", UTCDateTime),
    ("t4", UTCDateTime),
    ("t5", UTCDateTime),
    ("n1", Integer),
    ("n2", Integer),
)


def snapshot(session: Session, now: datetime, statement: CompoundSelect, params: dict) -> Snapshot:
    """What `statement` (one of `_statement`'s) reads with `params`, as public models; window
    statuses as the clock `now` sees them."""
    return _assemble(session.execute(statement, params).all(), now)


def _statement(
    *,
    windows: ColumnElement[bool] | None,
    incidents: ColumnElement[bool] | None,
    services: bool = True,
    updates: bool = True,
) -> CompoundSelect:
    """The windows matching `windows` and the incidents matching `incidents` (None: none),
    with their services, institutions and (`updates`) timelines, and (`services`) the service
    catalogue, in one statement whatever the number of rows: one row per service, window,
    incident and update, each window's and incident's services (and institutions) joined into
    one column."""
    m, i, u = Maintenance, Incident, IncidentUpdate
    parts = []
    if services:
        s = Service
        parts.append(_row("s", a=s.name, b=s.description, c=s.slug, n1=s.position))
    if windows is not None:
        ms, mi = MaintenanceService, MaintenanceInstitution
        row = _row(
            "w",
            id=m.id,
            a=m.title,
            b=m.description,
            c=m.impact,
            e=_listed(ms.service, ms.maintenance_id, m.id),
            f=_listed(mi.institution, mi.maintenance_id, m.id),
            t1=m.starts_at,
            t2=m.ends_at,
            t3=m.cancelled_at,
            t4=m.created_at,
            t5=m.updated_at,
            n1=m.series_id,
            n2=m.sequence,
        )
        parts.append(row.where(windows))
    if incidents is not None:
        reports = (
            select(func.count(func.distinct(IncidentTicket.institution)))
            .where(IncidentTicket.incident_id == i.id)
            .scalar_subquery()
        )
        links = IncidentService
        row = _row(
            "i",
            id=i.id,
            a=i.title,
            c=i.impact,
            d=i.status,
            e=_listed(links.service, links.incident_id, i.id),
            t1=i.started_at,
            t2=i.resolved_at,
            t5=i.updated_at,
            n1=reports,
        )
        parts.append(row.where(incidents))
        if updates:
            row = _row(
                "u",
                id=u.id,
                parent=u.incident_id,
                b=u.body,
                d=u.status,
                t1=u.created_at,
                n1=u.author,
            )
            parts.append(row.where(u.incident_id.in_(select(i.id).where(incidents))))
    return union_all(*parts)


def _row(kind: str, **values) -> Select:
    """One branch of the union: `kind`, then every slot, typed alike in every branch."""
    return select(
        literal_column(f"'{kind}'", String).label("kind"),
        *(
            (type_coerce(values[name], type_) if name in values else cast(null(), type_)).label(
                name
            )
            for name, type_ in _SLOTS
        ),
    )


def _assemble(rows: Iterable, now: datetime) -> Snapshot:
    """The rows of `snapshot` as public models, in the orders every view lists them."""
    services: list[tuple[int, ServicePublic]] = []
    windows: list[MaintenancePublic] = []
    incidents: list[dict] = []
    updates: dict[int, list[IncidentUpdatePublic]] = {}
    # Unpacked, not read by name: a third of the cost for a calendar of hundreds of windows.
    for kind, id, parent, a, b, c, d, e, f, t1, t2, t3, t4, t5, n1, n2 in rows:
        if kind == "w":
            windows.append(
                _window(
                    {
                        "title": a,
                        "description": b,
                        "impact": Impact(c),
                        "id": id,
                        "services": _split(e),
                        "starts_at": t1,
                        "ends_at": t2,
                        "status": _window_status(t1, t2, t3, now),
                        "institutions": _split(f),
                        "series": n1,
                        "sequence": n2,
                        "created_at": t4,
                        "updated_at": t5,
                    }
                )
            )
        elif kind == "u":
            update = {
                "id": id,
                "status": IncidentStatus(d),
                "body": b,
                "author": n1,
                "created_at": t1,
            }
            updates.setdefault(parent, []).append(_update(update))
        elif kind == "i":
            incidents.append(
                {
                    "title": a,
                    "impact": Impact(c),
                    "id": id,
                    "status": IncidentStatus(d),
                    "services": _split(e),
                    "started_at": t1,
                    "resolved_at": t2,
                    "updated_at": t5,
                    "reports": n1 or 0,
                }
            )
        else:
            service = {"name": a, "description": b, "slug": c, "status": OPERATIONAL}
            services.append((n1, _service(service)))
    windows.sort(key=lambda w: (w.starts_at, w.id))
    newest = lambda x: (x.created_at, x.id)  # noqa: E731
    built = [
        _incident({**x, "updates": sorted(updates.get(x["id"], ()), key=newest, reverse=True)})
        for x in incidents
    ]
    built.sort(key=lambda x: (x.started_at, x.id), reverse=True)
    services.sort(key=lambda s: (s[0], s[1].name))
    return Snapshot(services=[s for _, s in services], windows=windows, incidents=built)


def _split(joined: str | None) -> list[str]:
    return sorted(joined.split(",")) if joined else []


_window = construct(MaintenancePublic)
_incident = construct(IncidentPublic)
_update = construct(IncidentUpdatePublic)
_service = construct(ServicePublic)


def _statuses(
    services: list[ServicePublic], active: list[MaintenancePublic], opened: list[IncidentPublic]
) -> list[ServicePublic]:
    """The worst of open incidents and active windows, per service."""
    rank = list(ServiceStatus)
    worst: dict[str, ServiceStatus] = {}

    def raise_to(slug: str, status: ServiceStatus) -> None:
        if rank.index(status) > rank.index(worst.get(slug, ServiceStatus.operational)):
            worst[slug] = status

    for window in active:
        if window.status is MaintenanceStatus.in_progress:
            for slug in window.services:
                raise_to(slug, ServiceStatus.maintenance)
    for incident in opened:
        if incident.status is not IncidentStatus.resolved and incident.impact != Impact.none:
            for slug in incident.services:
                raise_to(slug, ServiceStatus(incident.impact.value))
    return [
        _service(
            {
                "name": s.name,
                "description": s.description,
                "slug": s.slug,
                "status": worst.get(s.slug, ServiceStatus.operational),
            }
        )
        for s in services
    ]


def _live(now: datetime, until: datetime) -> ColumnElement[bool]:
    """Windows not cancelled that are active at `now` or start by `until`."""
    m = Maintenance
    return and_(m.cancelled_at.is_(None), m.ends_at > now, m.starts_at <= until)


def _open() -> ColumnElement[bool]:
    return Incident.status != IncidentStatus.resolved


def _window_status(
    starts: datetime, ends: datetime, cancelled: datetime | None, now: datetime
) -> MaintenanceStatus:
    """`Maintenance.status_at`, from the columns."""
    if cancelled is not None:
        return MaintenanceStatus.cancelled
    if now < starts:
        return MaintenanceStatus.scheduled
    return MaintenanceStatus.in_progress if now < ends else MaintenanceStatus.completed


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    return _aware(value).isoformat() if isinstance(value, datetime) else str(value)
