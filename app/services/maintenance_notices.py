"""What libraries hear of maintenance by e-mail: the announcement, changes and cancellation
(sent by `app.services.maintenance` in the write's transaction) and the reminder, start and end
(sent by the scheduled job below). One template, `maintenance/window`, with a part per kind.

Who hears (`notice_recipients`, incidents use it too): one e-mail per address however many
roles the person holds; only current members (not a `former` library) and appointments that
have begun; never someone who turned the kind of notice off on their account page."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, or_
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.common import without_unsafe
from app.models.institution import Institution, InstitutionStatus
from app.models.labels import label
from app.models.liaison import Appointment, Liaison
from app.models.maintenance import Maintenance
from app.models.service import Impact
from app.models.user import NoticePreference, User
from app.notify.jobs import register_job
from app.notify.outbox import enqueue
from app.services import audit
from app.services.access import Notice, notice_roles
from app.services.feeds import calendar, host_of, local_range
from app.services.institutions import today
from app.services.service_catalogue import names_of, service_names

TEMPLATE = "maintenance/window"


class WindowNotice(StrEnum):
    announced = "announced"
    changed = "changed"
    cancelled = "cancelled"
    dropped = "dropped"  # an edit took the person's library off the window
    reminder = "reminder"
    started = "started"
    ended = "ended"


# What an edit changed, as the e-mail says it.
CHANGED_WORDS = {
    "title": "title",
    "description": "details",
    "starts_at": "start time",
    "ends_at": "end time",
    "services": "services",
    "impact": "impact",
    "institutions": "libraries affected",
}


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str


def notice_recipients(
    session: Session, kind: Notice, institutions: list[str] | None = None
) -> list[Recipient]:
    """The people who hear of a notice of `kind` for their library (`access.notice_roles`) at
    `institutions` (default: every member), one per address, in two statements."""
    now = today()
    stmt = (
        select(Liaison.email, Liaison.name, Liaison.account)
        .join(Appointment, Appointment.liaison_id == Liaison.id)
        .join(Institution, Institution.code == Appointment.institution)
        .where(
            Appointment.started_on <= now,
            or_(Appointment.ended_on.is_(None), Appointment.ended_on > now),
            Appointment.role.in_(notice_roles(kind)),
            Institution.status != InstitutionStatus.former,
        )
        .order_by(Liaison.id)
    )
    if institutions:
        stmt = stmt.where(Appointment.institution.in_(institutions))
    opted_out = session.execute(
        select(User.id, func.lower(User.email))
        .join(NoticePreference, NoticePreference.user_id == User.id)
        .where(NoticePreference.kind == kind.value, NoticePreference.email.is_(False))
    ).all()
    quiet_ids = {row[0] for row in opted_out}
    quiet = {row[1] for row in opted_out}
    found: dict[str, Recipient] = {}
    for email, name, account in session.execute(stmt):
        address = email.strip().lower()
        if address in found or address in quiet or account in quiet_ids:
            continue
        found[address] = Recipient(email=email, name=name)
    return list(found.values())


def snapshot(window: Maintenance) -> dict:
    """The window's values, JSON-safe, with its services and institutions: what its audit
    entries record and what a notice carries."""
    return {
        **audit.snapshot(window, exclude={"sequence", "updated_at", "created_at"}),
        "services": window.services,
        "institutions": window.institutions,
    }


def notify(
    session: Session,
    window: Maintenance,
    kind: WindowNotice,
    key: str | None = None,
    series: list[Maintenance] | None = None,
    changed: list[str] | None = None,
) -> None:
    """One outbox message per contact of the affected institutions (`notice_recipients`),
    in the caller's transaction, with the .ics attached (a series': every window in it).

    Enqueued once per kind, window, `key` (default: the window's SEQUENCE) and address.
    """
    people = notice_recipients(session, Notice.maintenance, window.institutions)
    _send(session, window, kind, people, key=key, series=series, changed=changed)


def notify_dropped(
    session: Session, window: Maintenance, before: list[str], changed: list[str] | None = None
) -> None:
    """Tells the libraries an edit took off the window (`before`: its institutions then, none
    meaning every member) that it no longer affects them."""
    if before == window.institutions or not window.institutions:
        return
    now = {
        r.email.lower() for r in notice_recipients(session, Notice.maintenance, window.institutions)
    }
    then = notice_recipients(session, Notice.maintenance, before)
    gone = [r for r in then if r.email.lower() not in now]
    _send(session, window, WindowNotice.dropped, gone, changed=changed)


def _send(
    session: Session,
    window: Maintenance,
    kind: WindowNotice,
    people: list[Recipient],
    key: str | None = None,
    series: list[Maintenance] | None = None,
    changed: list[str] | None = None,
) -> None:
    if not people:
        return
    base_url = get_settings().portal_url.rstrip("/")
    windows = series or [window]
    names = service_names(session)
    ics = calendar(windows, host=host_of(base_url), base_url=base_url, names=names)
    lead = _reminder_lead()
    # A short window's reminder stands for its start and end notices too; announced within the
    # reminder's lead, its announcement stands for the reminder as well.
    short = window.ends_at - window.starts_at <= lead
    soon = window.starts_at - utcnow() <= lead
    context = {
        "kind": kind.value,
        "window": _clean(snapshot(window)) | {"id": window.id, "sequence": window.sequence},
        "services": names_of(window.services, names),
        "impact": label(Impact(window.impact)),
        "when": local_range(window.starts_at, window.ends_at),
        "url": f"{base_url}/maintenance/{window.id}",
        "changed": changed or [],
        "changed_words": [CHANGED_WORDS.get(c, c) for c in changed or []],
        "occurrences": [local_range(w.starts_at, w.ends_at) for w in windows[1:]],
        "coalesced": short
        and (kind is WindowNotice.reminder or (kind is WindowNotice.announced and soon)),
    }
    for person in people:
        enqueue(
            session,
            to=person.email,
            template=TEMPLATE,
            context={**context, "name": without_unsafe(person.name)},
            attachments=[
                {
                    "filename": f"maintenance-{window.id}.ics",
                    "content_type": "text/calendar",
                    "content": ics.decode(),
                }
            ],
            # The key each kind had when it was a template of its own, so nothing is re-sent.
            dedupe_key=f"maintenance/{kind}:{window.id}:{key or window.sequence}:{person.email}",
        )


def _clean(values: dict) -> dict:
    """The text of a row written before input was checked, without control characters: a
    notice must render and send whatever the row holds."""
    return {k: without_unsafe(v) if isinstance(v, str) else v for k, v in values.items()}


# --- the scheduled job (run by `portal worker`) -------------------------------------------------


def send_reminders_and_transitions(session: Session, period: datetime) -> None:
    """Reminds libraries before a window starts and tells them when it starts and ends.

    Acts on everything due in the last hour (a missed period is not caught up by the worker);
    the dedupe keys make a second run a no-op. A rescheduled window is reminded again.
    """
    now = utcnow()
    lead = _reminder_lead()
    ahead = now + lead
    recent = now - timedelta(hours=1)
    # A window no longer than the reminder's lead gets the reminder only, which says when it
    # starts and ends: three e-mails within a few hours would be noise. A window announced
    # within the lead is not reminded: the announcement was the reminder.
    live = select(Maintenance).where(Maintenance.cancelled_at.is_(None))
    for window in session.exec(
        live.where(Maintenance.starts_at > now, Maintenance.starts_at <= ahead)
    ).all():
        if window.created_at <= window.starts_at - lead:  # else the announcement reminded
            notify(session, window, WindowNotice.reminder, key=window.starts_at.isoformat())
    for window in session.exec(
        live.where(Maintenance.starts_at > recent, Maintenance.starts_at <= now)
    ).all():
        if window.ends_at - window.starts_at > lead:
            notify(session, window, WindowNotice.started, key="start")
    for window in session.exec(
        live.where(Maintenance.ends_at > recent, Maintenance.ends_at <= now)
    ).all():
        if window.ends_at - window.starts_at > lead:
            notify(session, window, WindowNotice.ended, key="end")


def _reminder_lead() -> timedelta:
    return timedelta(hours=get_settings().maintenance_reminder_hours)


register_job("maintenance-notices", every=timedelta(minutes=5), fn=send_reminders_and_transitions)
