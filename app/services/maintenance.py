"""Maintenance windows: scheduling (one-off or from an RRULE), edits, cancellation, the iCalendar
feed and the notices libraries get by e-mail."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import islice

from dateutil.rrule import rrulestr
from icalendar import Calendar, Event, vText
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid, NotFound
from app.core.pagination import PageParams, Window, fetch
from app.models.institution import Institution
from app.models.maintenance import (
    Maintenance,
    MaintenanceCreate,
    MaintenanceInstitution,
    MaintenanceSeries,
    MaintenanceService,
    MaintenanceStatus,
    MaintenanceUpdate,
    Service,
    ServiceCreate,
)
from app.models.user import User
from app.notify.jobs import register_job
from app.notify.outbox import enqueue
from app.services import audit
from app.services.access import require_staff
from app.services.incidents import library_contacts
from app.services.status import affects, local_range

MATERIAL = ("starts_at", "ends_at", "services", "impact", "institutions")
FEED_DAYS_BACK = 400


class MaintenanceSort(StrEnum):
    starts_at = "starts_at"
    starts_at_desc = "-starts_at"


# --- reads ------------------------------------------------------------------------------------


def list_windows(
    *,
    session: Session,
    service: str | None = None,
    institution: str | None = None,
    status: MaintenanceStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: MaintenanceSort = MaintenanceSort.starts_at,
    page: PageParams,
    now: datetime | None = None,
) -> Window:
    stmt = _filtered(service=service, institution=institution)
    if since:
        stmt = stmt.where(Maintenance.ends_at >= since)
    if until:
        stmt = stmt.where(Maintenance.starts_at < until)
    if status:
        stmt = stmt.where(_status_is(status, now or utcnow()))
    order = Maintenance.starts_at.desc() if sort.value.startswith("-") else Maintenance.starts_at
    return fetch(session, stmt.order_by(order, Maintenance.id), page)


def get_window(*, session: Session, window_id: int) -> Maintenance:
    window = session.get(Maintenance, window_id)
    if window is None:
        raise NotFound(f"No maintenance window has the id {window_id}.")
    return window


def windows_in_month(*, session: Session, year: int, month: int) -> list[Maintenance]:
    """Every window that touches the month in the consortium's zone, cancelled ones too."""
    zone = get_settings().tz
    first = datetime(year, month, 1, tzinfo=zone)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    stmt = select(Maintenance).where(Maintenance.starts_at < following, Maintenance.ends_at > first)
    return list(session.exec(stmt.order_by(Maintenance.starts_at)).all())


def list_services(*, session: Session) -> Sequence[Service]:
    return session.exec(select(Service).order_by(Service.position, Service.name)).all()


def create_service(*, session: Session, actor: User, data: ServiceCreate) -> Service:
    require_staff(actor, "add services")
    if session.get(Service, data.slug) is not None:
        raise Invalid(
            f"A service with the slug {data.slug} already exists.",
            [FieldError("slug", "is already taken")],
        )
    service = Service.model_validate(data)
    session.add(service)
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="service",
        entity_id=service.slug,
        after=audit.snapshot(service),
    )
    session.commit()
    return service


# --- writes -----------------------------------------------------------------------------------


def create_windows(
    *, session: Session, actor: User, data: MaintenanceCreate, now: datetime | None = None
) -> tuple[list[Maintenance], list[str]]:
    """One window, or one per occurrence of `data.rrule`. Returns them and staff warnings."""
    require_staff(actor, "schedule maintenance")
    now = now or utcnow()
    _check_times(data.starts_at, data.ends_at)
    services = _check_services(session, data.services)
    institutions = _check_institutions(session, data.institutions)
    series_id = None
    times = [(data.starts_at, data.ends_at)]
    if data.rrule:
        times = expand(data.rrule, data.starts_at, data.ends_at)
        series = MaintenanceSeries(rrule=data.rrule, created_by=actor.id)
        session.add(series)
        session.flush()
        series_id = series.id
    windows = [
        Maintenance(
            title=data.title,
            description=data.description or "",
            impact=data.impact,
            starts_at=start,
            ends_at=end,
            series_id=series_id,
            created_by=actor.id,
            created_at=now,
            updated_at=now,
            service_links=[MaintenanceService(service=s) for s in services],
            institution_links=[MaintenanceInstitution(institution=c) for c in institutions],
        )
        for start, end in times
    ]
    session.add_all(windows)
    session.flush()
    warnings = _warnings(session, windows, now)
    for window in windows:
        audit.record(
            session,
            actor=actor,
            action="create",
            entity_type="maintenance",
            entity_id=str(window.id),
            after=_snapshot(window),
        )
    # One announcement per contact, a series' with every window in it (and in its .ics).
    _notify(session, windows[0], "maintenance/announced", series=windows)
    session.commit()
    return windows, warnings


def update_window(
    *,
    session: Session,
    actor: User,
    window: Maintenance,
    data: MaintenanceUpdate,
    now: datetime | None = None,
) -> list[str]:
    """Edits one window (even one of a series). Every change raises SEQUENCE; only a material
    change (time, services, impact, institutions) notifies the libraries again."""
    require_staff(actor, "edit maintenance")
    if window.cancelled_at is not None:
        raise Invalid("This window is cancelled; schedule a new one instead.")
    now = now or utcnow()
    before = _snapshot(window)
    values = data.model_dump(exclude_unset=True)
    if "services" in values:
        wanted = _check_services(session, values.pop("services"))
        if wanted != window.services:
            window.service_links = [MaintenanceService(service=s) for s in wanted]
    if "institutions" in values:
        wanted = _check_institutions(session, values.pop("institutions") or [])
        if wanted != window.institutions:
            window.institution_links = [MaintenanceInstitution(institution=c) for c in wanted]
    for key, value in values.items():
        setattr(window, key, "" if key == "description" and value is None else value)
    _check_times(window.starts_at, window.ends_at)
    old, new = audit.changes(before, _snapshot(window))
    if not new:
        return []
    window.sequence += 1
    window.updated_at = now
    session.add(window)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="update",
        entity_type="maintenance",
        entity_id=str(window.id),
        before=old,
        after=new,
    )
    if any(key in new for key in MATERIAL):
        _notify(session, window, "maintenance/changed", changed=sorted(new))
    warnings = _warnings(session, [window], now) if {"starts_at", "ends_at"} & set(new) else []
    session.commit()
    return warnings


def cancel_window(
    *, session: Session, actor: User, window: Maintenance, now: datetime | None = None
) -> Maintenance:
    """The window stays, cancelled, in lists and feeds; calendars see STATUS:CANCELLED."""
    require_staff(actor, "cancel maintenance")
    if window.cancelled_at is not None:
        return window
    now = now or utcnow()
    window.cancelled_at = now
    window.sequence += 1
    window.updated_at = now
    session.add(window)
    audit.record(
        session,
        actor=actor,
        action="cancel",
        entity_type="maintenance",
        entity_id=str(window.id),
        after={"cancelled_at": now.isoformat()},
    )
    _notify(session, window, "maintenance/cancelled")
    session.commit()
    return window


def expand(rule: str, starts_at: datetime, ends_at: datetime) -> list[tuple[datetime, datetime]]:
    """The occurrences of an RFC 5545 RRULE, at the first window's local wall-clock times.

    The rule must end (COUNT or UNTIL) within the configured number of windows.
    """
    limit = get_settings().maintenance_max_occurrences
    zone = get_settings().tz
    local_start = starts_at.astimezone(zone)
    length = ends_at.astimezone(zone).replace(tzinfo=None) - local_start.replace(tzinfo=None)
    text = rule.strip().removeprefix("RRULE:")
    problem = None
    for dtstart in (local_start, local_start.replace(tzinfo=None)):
        try:
            found = list(islice(rrulestr(text, dtstart=dtstart, forceset=True), limit + 1))
            break
        except (ValueError, TypeError) as exc:
            problem = problem or str(exc) or "it does not parse"
    else:
        raise Invalid(
            f"The recurrence rule is not valid RFC 5545: {problem}.",
            [FieldError("rrule", f"does not parse: {problem}")],
        )
    if len(found) > limit:
        raise Invalid(
            f"The recurrence rule makes more than {limit} windows; give it a COUNT or an UNTIL.",
            [FieldError("rrule", f"makes more than {limit} windows")],
        )
    if not found:
        raise Invalid(
            "The recurrence rule makes no window.", [FieldError("rrule", "makes no window")]
        )
    out = []
    for occurrence in found:
        naive = occurrence.replace(tzinfo=None)
        out.append(
            (naive.replace(tzinfo=zone).astimezone(UTC), (naive + length).replace(tzinfo=zone))
        )
    return [(start, end.astimezone(UTC)) for start, end in out]


# --- iCalendar --------------------------------------------------------------------------------


def calendar_windows(
    *,
    session: Session,
    service: str | None = None,
    institution: str | None = None,
    now: datetime | None = None,
) -> list[Maintenance]:
    """What the .ics feed carries: the past ~13 months and everything ahead, cancelled too."""
    since = (now or utcnow()) - timedelta(days=FEED_DAYS_BACK)
    stmt = _filtered(service=service, institution=institution).where(Maintenance.ends_at >= since)
    return list(session.exec(stmt.order_by(Maintenance.starts_at, Maintenance.id)).all())


def calendar(windows: Sequence[Maintenance], *, host: str, base_url: str) -> bytes:
    """RFC 5545, times in UTC: a stable UID per window, SEQUENCE, STATUS:CANCELLED."""
    settings = get_settings()
    cal = Calendar()
    cal.add("prodid", f"-//{settings.consortium_name}//Liaison Portal//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{settings.consortium_name} maintenance")
    cal.add("x-wr-timezone", settings.timezone)
    for window in windows:
        cal.add_component(_event(window, host=host, base_url=base_url))
    return cal.to_ical()


def _event(window: Maintenance, *, host: str, base_url: str) -> Event:
    event = Event()
    event.add("uid", f"maintenance-{window.id}@{host}")
    event.add("dtstamp", window.updated_at)
    event.add("created", window.created_at)
    event.add("last-modified", window.updated_at)
    event.add("sequence", window.sequence)
    event.add("dtstart", window.starts_at)
    event.add("dtend", window.ends_at)
    event.add("summary", window.title)
    services = ", ".join(window.services)
    event.add(
        "description",
        f"Services: {services}\nImpact: {window.impact}\n\n{window.description}".strip(),
    )
    event.add("url", f"{base_url}/maintenance/{window.id}")
    event.add("categories", window.services)
    event.add("transp", vText("TRANSPARENT"))
    event.add("status", "CANCELLED" if window.cancelled_at else "CONFIRMED")
    return event


# --- helpers ----------------------------------------------------------------------------------


def _filtered(*, service: str | None, institution: str | None):
    stmt = select(Maintenance)
    if service:
        stmt = stmt.where(
            select(MaintenanceService.maintenance_id)
            .where(
                MaintenanceService.maintenance_id == Maintenance.id,
                MaintenanceService.service == service,
            )
            .exists()
        )
    if institution:
        stmt = stmt.where(affects(institution))
    return stmt


def _status_is(status: MaintenanceStatus, now: datetime):
    live = Maintenance.cancelled_at.is_(None)
    return {
        MaintenanceStatus.cancelled: Maintenance.cancelled_at.is_not(None),
        MaintenanceStatus.scheduled: live & (Maintenance.starts_at > now),
        MaintenanceStatus.in_progress: live
        & (Maintenance.starts_at <= now)
        & (Maintenance.ends_at > now),
        MaintenanceStatus.completed: live & (Maintenance.ends_at <= now),
    }[status]


def _snapshot(window: Maintenance) -> dict:
    return {
        **audit.snapshot(window, exclude={"sequence", "updated_at", "created_at"}),
        "services": window.services,
        "institutions": window.institutions,
    }


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid(
            "A maintenance window must end after it starts.",
            [FieldError("ends_at", "must be after starts_at")],
        )


def _check_services(session: Session, slugs: list[str]) -> list[str]:
    wanted = sorted(set(slugs))
    known = set(session.exec(select(Service.slug).where(Service.slug.in_(wanted))).all())
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise Invalid(
            f"Unknown service: {', '.join(unknown)}.",
            [FieldError("services", f"unknown: {', '.join(unknown)} (see /services)")],
        )
    return wanted


def _check_institutions(session: Session, codes: list[str]) -> list[str]:
    wanted = sorted({c.strip().upper() for c in codes})
    known = set(session.exec(select(Institution.code).where(Institution.code.in_(wanted))).all())
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise Invalid(
            f"Unknown institution: {', '.join(unknown)}.",
            [FieldError("institutions", f"unknown: {', '.join(unknown)}")],
        )
    return wanted


def _warnings(session: Session, windows: list[Maintenance], now: datetime) -> list[str]:
    """Not refusals: staff may have good reasons, but they should know."""
    lead = get_settings().maintenance_lead_days
    warnings = []
    soon = [w for w in windows if w.starts_at - now < timedelta(days=lead)]
    if soon:
        first = soon[0].starts_at.astimezone(get_settings().tz)
        warnings.append(
            f"{len(soon)} window(s) start with less than {lead} days' notice "
            f"(the first on {first:%Y-%m-%d %H:%M %Z}); policy asks for {lead} days."
        )
    ids = [w.id for w in windows]
    slugs = sorted({s for w in windows for s in w.services})
    others = session.exec(
        select(Maintenance).where(
            Maintenance.cancelled_at.is_(None),
            Maintenance.id.not_in(ids),
            Maintenance.starts_at < max(w.ends_at for w in windows),
            Maintenance.ends_at > min(w.starts_at for w in windows),
            select(MaintenanceService.maintenance_id)
            .where(
                MaintenanceService.maintenance_id == Maintenance.id,
                MaintenanceService.service.in_(slugs),
            )
            .exists(),
        )
    ).all()
    zone = get_settings().tz
    for window in windows:
        for other in others:
            shared = sorted(set(window.services) & set(other.services))
            if shared and other.starts_at < window.ends_at and other.ends_at > window.starts_at:
                warnings.append(
                    f"{window.starts_at.astimezone(zone):%Y-%m-%d %H:%M %Z} overlaps "
                    f"“{other.title}” (#{other.id}) on {', '.join(shared)}."
                )
    return warnings


def _notify(
    session: Session,
    window: Maintenance,
    template: str,
    key: str | None = None,
    series: list[Maintenance] | None = None,
    **extra,
) -> None:
    """One outbox message per contact of the affected institutions (see `library_contacts`),
    in the caller's transaction, with the .ics attached."""
    settings = get_settings()
    base_url = settings.portal_url.rstrip("/")
    windows = series or [window]
    ics = calendar(windows, host=_host(base_url), base_url=base_url)
    context = {
        "window": _snapshot(window) | {"id": window.id, "sequence": window.sequence},
        "when": local_range(window.starts_at, window.ends_at),
        "url": f"{base_url}/maintenance/{window.id}",
        "changed": [],
        "occurrences": [local_range(w.starts_at, w.ends_at) for w in windows[1:]],
        **extra,
    }
    for person in library_contacts(session, window.institutions):
        enqueue(
            session,
            to=person.email,
            template=template,
            context={**context, "name": person.name},
            attachments=[
                {
                    "filename": f"maintenance-{window.id}.ics",
                    "content_type": "text/calendar",
                    "content": ics.decode(),
                }
            ],
            dedupe_key=f"{template}:{window.id}:{key or window.sequence}:{person.email}",
        )


def _host(base_url: str) -> str:
    return base_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]


# --- scheduled jobs (run by `portal worker`) ----------------------------------------------------


def send_reminders_and_transitions(session: Session, period: datetime) -> None:
    """Reminds libraries before a window starts and tells them when it starts and ends.

    Acts on everything due in the last hour (a missed period is not caught up by the worker);
    the dedupe keys make a second run a no-op. A rescheduled window is reminded again.
    """
    now = utcnow()
    ahead = now + timedelta(hours=get_settings().maintenance_reminder_hours)
    recent = now - timedelta(hours=1)
    live = select(Maintenance).where(Maintenance.cancelled_at.is_(None))
    for window in session.exec(
        live.where(Maintenance.starts_at > now, Maintenance.starts_at <= ahead)
    ).all():
        _notify(session, window, "maintenance/reminder", key=window.starts_at.isoformat())
    for window in session.exec(
        live.where(Maintenance.starts_at > recent, Maintenance.starts_at <= now)
    ).all():
        _notify(session, window, "maintenance/started", key="start")
    for window in session.exec(
        live.where(Maintenance.ends_at > recent, Maintenance.ends_at <= now)
    ).all():
        _notify(session, window, "maintenance/ended", key="end")


register_job("maintenance-notices", every=timedelta(minutes=5), fn=send_reminders_and_transitions)
