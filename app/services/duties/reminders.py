"""Reminders and escalation (a scheduled job): one digest e-mail per person per day through the
outbox, saying each thing about a task once, and nothing once it is done."""

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from app.core.config import get_settings
from app.models.common import without_unsafe
from app.models.duty import Duty, Task, TaskState
from app.models.institution import Institution
from app.models.liaison import Appointment, ContactRole, Liaison, current_on
from app.models.outbox import OutboxMessage
from app.notify.jobs import register_job
from app.notify.outbox import enqueue
from app.services.duties.schedule import today

REMIND_DAYS = 3  # the reminder goes this many days before the due date
DIGEST_TEMPLATE = "duties/digest"


def _holders(
    session: Session, codes: set[str], day: date
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(institution, role) → [(email, name)] of the appointments current on `day` at `codes`."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    if not codes:
        return found
    for code, role, email, name in session.execute(
        select(Appointment.institution, Appointment.role, Liaison.email, Liaison.name)
        .join(Liaison, Liaison.id == Appointment.liaison_id)
        .where(current_on(day), Appointment.institution.in_(codes))
        .order_by(Liaison.id)
    ).all():
        found[(code, ContactRole(role).value)].append((email, name))
    return found


def send_reminders(session: Session, now: datetime | None = None) -> int:
    """One e-mail per person per day listing what is new about their open tasks: opened, due
    soon, overdue; the director hears of a task still open after the grace period. A task that
    is done or not applicable is never mentioned again. Returns how many e-mails it enqueued.

    Each task remembers what it was told, so a later run (or a missed day) says each thing
    once; a person who already has today's e-mail hears of anything newer tomorrow."""
    day = today(now)
    base_url = get_settings().portal_url.rstrip("/")
    rows = session.execute(
        select(Task, Duty.title, Duty.responsible, Duty.grace_days, Institution.name)
        .join(Duty, Duty.id == Task.duty_id)
        .join(Institution, Institution.code == Task.institution)
        .where(
            Task.state == TaskState.open,
            Task.opens_on <= day,
            or_(
                Task.opened_notice_on.is_(None),
                and_(Task.reminded_on.is_(None), Task.due_on <= day + timedelta(REMIND_DAYS)),
                and_(Task.overdue_notice_on.is_(None), Task.due_on < day),
                Task.escalated_on.is_(None),
            ),
        )
        .order_by(Task.due_on, Task.id)
    ).all()
    holders = _holders(session, {task.institution for task, *_ in rows}, day)
    items: dict[str, list[dict]] = defaultdict(list)
    names: dict[str, str] = {}
    marks: dict[str, list[tuple[Task, dict[str, date]]]] = defaultdict(list)
    for task, title, responsible, grace, inst_name in rows:
        item = {
            "title": without_unsafe(title),
            "institution": task.institution,
            "institution_name": without_unsafe(inst_name),
            "due_on": task.due_on.isoformat(),
            "due_text": task.due_on.strftime("%A %B %-d, %Y"),  # what the e-mail says
            "url": f"{base_url}/tasks/{task.id}",
        }
        if task.due_on < day:
            kind, flags = "overdue", ("opened_notice_on", "reminded_on", "overdue_notice_on")
        elif task.due_on <= day + timedelta(REMIND_DAYS):
            kind, flags = "due_soon", ("opened_notice_on", "reminded_on")
        else:
            kind, flags = "opened", ("opened_notice_on",)
        if all(getattr(task, f) is not None for f in flags):
            kind = None
        people = holders.get((task.institution, ContactRole(responsible).value)) or holders.get(
            (task.institution, ContactRole.liaison.value), []
        )
        if kind:
            for email, name in people:
                items[email].append({**item, "kind": kind})
                names[email] = name
                marks[email].append((task, dict.fromkeys(flags, day)))
        if task.escalated_on is None and task.due_on + timedelta(days=grace) < day:
            for email, name in holders.get((task.institution, ContactRole.director.value), []):
                items[email].append({**item, "kind": "escalated"})
                names[email] = name
                marks[email].append((task, {"escalated_on": day}))
    keys = {email: f"duties/digest:{day.isoformat()}:{email}" for email in items}
    sent_today = set(
        session.exec(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys.values()))
        )
    )
    count = 0
    for email, entries in items.items():
        if keys[email] in sent_today:
            continue  # today's e-mail has gone: the rest waits for tomorrow's
        enqueue(
            session,
            to=email,
            template=DIGEST_TEMPLATE,
            context={
                "name": without_unsafe(names[email]),
                "day": day.isoformat(),
                "items": entries,
                "url": f"{base_url}/",
            },
            dedupe_key=keys[email],
        )
        count += 1
        for task, flags in marks[email]:
            for flag, value in flags.items():
                setattr(task, flag, value)
            session.add(task)
    return count


def _reminders_job(session: Session, period: datetime) -> None:
    send_reminders(session)


register_job("duties-reminders", every=timedelta(hours=1), fn=_reminders_job)
