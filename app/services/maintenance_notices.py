"""What libraries hear of maintenance by e-mail: the announcement, changes and cancellation
(sent by `app.services.maintenance` in the write's transaction) and the reminder, start and end
(sent by the scheduled job below). One template, `maintenance/window`, with a part per kind."""

from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.common import without_unsafe
from app.models.maintenance import Maintenance
from app.notify.jobs import register_job
from app.notify.outbox import enqueue
from app.services import audit
from app.services.access import Notice
from app.services.feeds import calendar, host_of, local_range
from app.services.liaisons import library_contacts

TEMPLATE = "maintenance/window"


class WindowNotice(StrEnum):
    announced = "announced"
    changed = "changed"
    cancelled = "cancelled"
    reminder = "reminder"
    started = "started"
    ended = "ended"


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
    """One outbox message per contact of the affected institutions (see `library_contacts`),
    in the caller's transaction, with the .ics attached (a series': every window in it).

    Enqueued once per kind, window, `key` (default: the window's SEQUENCE) and address.
    """
    base_url = get_settings().portal_url.rstrip("/")
    windows = series or [window]
    ics = calendar(windows, host=host_of(base_url), base_url=base_url)
    context = {
        "kind": kind.value,
        "window": _clean(snapshot(window)) | {"id": window.id, "sequence": window.sequence},
        "when": local_range(window.starts_at, window.ends_at),
        "url": f"{base_url}/maintenance/{window.id}",
        "changed": changed or [],
        "occurrences": [local_range(w.starts_at, w.ends_at) for w in windows[1:]],
    }
    for person in library_contacts(session, Notice.maintenance, window.institutions):
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
    ahead = now + timedelta(hours=get_settings().maintenance_reminder_hours)
    recent = now - timedelta(hours=1)
    live = select(Maintenance).where(Maintenance.cancelled_at.is_(None))
    for window in session.exec(
        live.where(Maintenance.starts_at > now, Maintenance.starts_at <= ahead)
    ).all():
        notify(session, window, WindowNotice.reminder, key=window.starts_at.isoformat())
    for window in session.exec(
        live.where(Maintenance.starts_at > recent, Maintenance.starts_at <= now)
    ).all():
        notify(session, window, WindowNotice.started, key="start")
    for window in session.exec(
        live.where(Maintenance.ends_at > recent, Maintenance.ends_at <= now)
    ).all():
        notify(session, window, WindowNotice.ended, key="end")


register_job("maintenance-notices", every=timedelta(minutes=5), fn=send_reminders_and_transitions)
