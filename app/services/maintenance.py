"""Maintenance windows: reads, scheduling (one-off or from an RRULE), edits and cancellation.

A window's status is derived from the clock, never stored: `Maintenance.status_at` in Python and
the `status` filter of `list_windows` in SQL say the same (tests/test_maintenance.py holds them to
it). The e-mails a write sends are in `app.services.maintenance_notices`, the .ics writer in
`app.services.feeds`."""

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, or_
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, DomainError, FieldError, Invalid, NotFound
from app.core.pagination import PageParams, Window, columns, construct, fetch_rows
from app.models.institution import Institution, InstitutionStatus
from app.models.maintenance import (
    Maintenance,
    MaintenanceCreate,
    MaintenanceInstitution,
    MaintenancePublic,
    MaintenanceSeries,
    MaintenanceService,
    MaintenanceStatus,
    MaintenanceUpdate,
)
from app.models.user import User
from app.services import audit, feeds, recurrence, webhooks
from app.services.access import require_staff
from app.services.maintenance_notices import WindowNotice, notify, notify_dropped, snapshot
from app.services.service_catalogue import check_services, names_of, service_names

MATERIAL = ("starts_at", "ends_at", "services", "impact", "institutions")
FEED_DAYS_BACK = 400


class MaintenanceSort(StrEnum):
    starts_at = "starts_at"
    starts_at_desc = "-starts_at"


class When(StrEnum):
    """The maintenance page's tabs: windows not yet over, or those that are."""

    upcoming = "upcoming"
    past = "past"
    all = "all"


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
    when: When | None = None,
    page: PageParams,
    now: datetime | None = None,
) -> Window:
    stmt = _filtered(service=service, institution=institution)
    if when is When.upcoming:
        stmt = stmt.where(Maintenance.ends_at > (now or utcnow()))
    elif when is When.past:
        stmt = stmt.where(Maintenance.ends_at <= (now or utcnow()))
    if since:
        stmt = stmt.where(Maintenance.ends_at >= since)
    if until:
        stmt = stmt.where(Maintenance.starts_at < until)
    if status:
        stmt = stmt.where(_status_is(status, now or utcnow()))
    order = Maintenance.starts_at.desc() if sort.value.startswith("-") else Maintenance.starts_at
    stmt = stmt.with_only_columns(*_WINDOW_COLUMNS).order_by(order, Maintenance.id)
    window = fetch_rows(session, stmt, page)
    window.items = _public_windows(session, window.items, now or utcnow())
    return window


# What a list reads of a window; `services`, `institutions` and `status` are added to each.
_WINDOW_COLUMNS = (
    *columns(Maintenance, MaintenancePublic, series=Maintenance.series_id),
    Maintenance.cancelled_at,
)
_build_window = construct(MaintenancePublic)


def _links_of(links, column):
    """A page's windows' links, by the windows' ids: built once (building a statement costs
    more than running it)."""
    wanted = links.maintenance_id.in_(bindparam("ids", expanding=True))
    return select(links.maintenance_id, column).where(wanted).order_by(column)


_SERVICES_OF = _links_of(MaintenanceService, MaintenanceService.service)
_INSTITUTIONS_OF = _links_of(MaintenanceInstitution, MaintenanceInstitution.institution)


def _public_windows(session: Session, rows, now: datetime) -> list[MaintenancePublic]:
    """Window rows as `MaintenancePublic`, with one statement for all their services and one
    for all their institutions (none: every member)."""
    services: dict[int, list[str]] = {row["id"]: [] for row in rows}
    institutions: dict[int, list[str]] = {row["id"]: [] for row in rows}
    if services:
        ids = {"ids": list(services)}
        for stmt, found in ((_SERVICES_OF, services), (_INSTITUTIONS_OF, institutions)):
            for window_id, value in session.execute(stmt, ids):
                found[window_id].append(value)
    return [
        _build_window(
            {
                **row,
                "status": _status_of(row, now),
                "services": services[row["id"]],
                "institutions": institutions[row["id"]],
            }
        )
        for row in rows
    ]


def _status_of(row, now: datetime) -> MaintenanceStatus:
    """`Maintenance.status_at` for a row."""
    if row["cancelled_at"] is not None:
        return MaintenanceStatus.cancelled
    if now < row["starts_at"]:
        return MaintenanceStatus.scheduled
    if now < row["ends_at"]:
        return MaintenanceStatus.in_progress
    return MaintenanceStatus.completed


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


def member_choices(*, session: Session) -> list[tuple[str, str]]:
    """(code, name) of every library a window may name (not former members), by name."""
    stmt = (
        select(Institution.code, Institution.name)
        .where(Institution.status != InstitutionStatus.former)
        .order_by(Institution.name)
    )
    return [(code, name) for code, name in session.exec(stmt).all()]


# --- writes -----------------------------------------------------------------------------------


def create_windows(
    *, session: Session, actor: User, data: MaintenanceCreate, now: datetime | None = None
) -> tuple[list[Maintenance], list[str]]:
    """One window, or one per occurrence of `data.rrule`. Returns them and staff warnings."""
    require_staff(actor, "schedule maintenance")
    now = now or utcnow()
    _check_times(data.starts_at, data.ends_at)
    rule = data.rrule or _rule_from_choices(data)
    # Every refusal at once, each beside its field.
    services, institutions, times = _all_or_nothing(
        lambda: check_services(session, sorted(set(data.services))),
        lambda: _check_institutions(session, data.institutions),
        lambda: _times(data, rule),
    )
    series_id = None
    if rule:
        series = MaintenanceSeries(rrule=rule, created_by=actor.id)
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
            after=snapshot(window),
        )
    # One announcement per contact, a series' with every window in it (and in its .ics).
    notify(session, windows[0], WindowNotice.announced, series=windows)
    for window in windows:
        _publish(session, window, "maintenance.announced")
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
    before = snapshot(window)
    libraries_before = window.institutions
    values = data.model_dump(exclude_unset=True)
    if "services" in values:
        wanted = check_services(session, sorted(set(values.pop("services"))))
        if wanted != window.services:
            window.service_links = [MaintenanceService(service=s) for s in wanted]
    if "institutions" in values:
        wanted = _check_institutions(session, values.pop("institutions") or [])
        if wanted != window.institutions:
            window.institution_links = [MaintenanceInstitution(institution=c) for c in wanted]
    for key, value in values.items():
        setattr(window, key, "" if key == "description" and value is None else value)
    _check_times(window.starts_at, window.ends_at)
    old, new = audit.changes(before, snapshot(window))
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
        notify(session, window, WindowNotice.changed, changed=sorted(new))
        notify_dropped(session, window, libraries_before, changed=sorted(new))
    warnings = _warnings(session, [window], now) if {"starts_at", "ends_at"} & set(new) else []
    _publish(session, window, "maintenance.changed")
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
    if not may_cancel(window, now):
        raise Conflict(
            "This window has already ended, so it cannot be cancelled; it stays in the "
            "list as it happened."
        )
    with audit.change(session, window, actor=actor, action="cancel", touch=None):
        window.cancelled_at = now
    window.sequence += 1
    window.updated_at = now
    notify(session, window, WindowNotice.cancelled)
    _publish(session, window, "maintenance.cancelled")
    session.commit()
    return window


def _publish(session: Session, window: Maintenance, event: str) -> None:
    """Queues `event` for webhooks in this transaction: the window as `GET /maintenance/{id}`
    answers it (public, so every subscriber gets it)."""
    webhooks.publish(
        session,
        event,
        lambda: MaintenancePublic.model_validate(window, from_attributes=True).model_dump(
            mode="json"
        ),
    )


def may_cancel(window: Maintenance, now: datetime | None = None) -> bool:
    """A window not yet over and not cancelled: the page offers its cancel button only then."""
    return window.cancelled_at is None and window.ends_at > (now or utcnow())


def preview_warnings(
    *,
    session: Session,
    starts_at: datetime,
    ends_at: datetime,
    services: list[str],
    window_id: int | None = None,
    now: datetime | None = None,
) -> list[str]:
    """What saving these times would warn about, before anything is saved (the form's check)."""
    draft = Maintenance(
        id=window_id or 0,
        title="",
        starts_at=starts_at,
        ends_at=ends_at,
        service_links=[MaintenanceService(service=s) for s in services],
    )
    found = _warnings(session, [draft], now or utcnow())
    return found


def expand(rule: str, starts_at: datetime, ends_at: datetime) -> list[tuple[datetime, datetime]]:
    """The windows of an RFC 5545 RRULE, at the first window's local wall-clock times.

    The rule must end (COUNT or UNTIL) within the configured number of windows; the work of
    expanding it is bounded too (`app.services.recurrence`)."""
    zone = get_settings().tz
    local_start = starts_at.astimezone(zone).replace(tzinfo=None)
    length = ends_at.astimezone(zone).replace(tzinfo=None) - local_start
    found = recurrence.occurrences(
        rule, local_start, limit=get_settings().maintenance_max_occurrences, zone=zone
    )
    return [(_utc(start, zone), _utc(start + length, zone)) for start in found]


# --- helpers ----------------------------------------------------------------------------------


def _utc(local: datetime, zone) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


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


def affects(institution: str):
    """A window for every member (no institutions listed) or one listing `institution`."""
    listed = select(MaintenanceInstitution.maintenance_id).where(
        MaintenanceInstitution.maintenance_id == Maintenance.id
    )
    return or_(
        ~listed.exists(),
        listed.where(MaintenanceInstitution.institution == institution).exists(),
    )


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


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid(
            "A maintenance window must end after it starts.",
            [FieldError("ends_at", "Enter the end time; it must be after the start")],
        )


def _all_or_nothing(*checks):
    """The results of `checks`; when any refuses, one 422 with every refusal's fields."""
    results, errors, details = [], [], []
    for check in checks:
        try:
            results.append(check())
        except Invalid as exc:
            results.append(None)
            errors += exc.errors
            details.append(exc.detail)
    if errors:
        raise Invalid(" ".join(details), errors)
    return results


def _rule_from_choices(data: MaintenanceCreate) -> str | None:
    if data.repeat is None:
        return None
    local = data.starts_at.astimezone(get_settings().tz)
    return recurrence.rule_from_choices(
        data.repeat.value,
        local,
        weekdays=data.repeat_weekdays,
        monthday=data.repeat_monthday,
        count=data.repeat_count,
        until=data.repeat_until,
    )


def _times(data: MaintenanceCreate, rule: str | None) -> list[tuple[datetime, datetime]]:
    """The windows to write; a rule from the repeat choices is refused in their own words."""
    if not rule:
        return [(data.starts_at, data.ends_at)]
    if data.rrule:
        return expand(rule, data.starts_at, data.ends_at)
    limit = get_settings().maintenance_max_occurrences
    field = "repeat_count" if data.repeat_count is not None else "repeat_until"
    if data.repeat_count is not None and data.repeat_count > limit:
        _refuse_choice(field, f"At most {limit} windows in one series; enter {limit} or fewer")
    if (
        data.repeat_until is not None
        and data.repeat_until < data.starts_at.astimezone(get_settings().tz).date()
    ):
        _refuse_choice(field, "The last date must be on or after the first window")
    try:
        return expand(rule, data.starts_at, data.ends_at)
    except DomainError as exc:
        reason = exc.errors[0].message if exc.errors else ""
        if "more than" in reason and "years" not in reason:
            words = f"That makes more than {limit} windows; choose an earlier last date"
        elif "years" in reason:
            words = f"A series may run for at most {recurrence.HORIZON_WORDS}; choose fewer"
        else:
            words = "No window falls on those days; check the days and the last date"
        _refuse_choice(field, words)


def _refuse_choice(field: str, words: str):
    raise Invalid(f"The repeat choices do not work: {words}.", [FieldError(field, words)])


def _check_institutions(session: Session, codes: list[str]) -> list[str]:
    wanted = sorted({c.strip().upper() for c in codes})
    known = set(session.exec(select(Institution.code).where(Institution.code.in_(wanted))).all())
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise Invalid(
            f"Unknown institution: {', '.join(unknown)}.",
            [
                FieldError(
                    "institutions",
                    f"No member library has the code {', '.join(unknown)}; choose from the list",
                )
            ],
        )
    return wanted


def _warnings(session: Session, windows: list[Maintenance], now: datetime) -> list[str]:
    """Not refusals: staff may have good reasons, but they should know."""
    settings = get_settings()
    lead = settings.maintenance_lead_days
    zone = settings.tz
    warnings = []
    soon = [w for w in windows if w.starts_at - now < timedelta(days=lead)]
    if soon:
        first = soon[0].starts_at.astimezone(zone)
        many = f"{len(soon)} of these windows start" if len(windows) > 1 else "This window starts"
        warnings.append(
            f"Short notice: {many} in less than {lead} days (the first on "
            f"{first:%a %b %-d, %Y %H:%M %Z}); libraries are asked to get {lead} days' notice."
        )
    ids = [w.id for w in windows if w.id]
    slugs = sorted({s for w in windows for s in w.services})
    if not slugs:
        return warnings
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
    names = service_names(session) if others else {}
    for window in windows:
        for other in others:
            shared = sorted(set(window.services) & set(other.services))
            if shared and other.starts_at < window.ends_at and other.ends_at > window.starts_at:
                when = feeds.local_range(other.starts_at, other.ends_at)
                warnings.append(
                    f"Overlap: {window.starts_at.astimezone(zone):%a %b %-d, %Y %H:%M %Z} "
                    f"overlaps “{other.title}” (#{other.id}, {when}) "
                    f"on {names_of(shared, names)}."
                )
    return warnings
