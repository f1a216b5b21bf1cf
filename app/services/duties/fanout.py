"""The fan-out (a scheduled job): one occurrence per open due date, one task per library."""

from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from app.core.db import utcnow
from app.core.errors import Invalid
from app.models.duty import Duty, Occurrence, Task, TaskState
from app.notify.jobs import register_job
from app.services.duties.schedule import applicable, schedule, today


def _insert(session: Session, table):
    """INSERT … ON CONFLICT DO NOTHING, on PostgreSQL and SQLite alike."""
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def fan_out(
    session: Session, *, now: datetime | None = None, duty_ids: list[int] | None = None
) -> int:
    """Creates every missing occurrence that is open today (between its opening and the end of
    its grace period) and every missing task of it, one per applicable library: also for a
    library that became a member while the occurrence is open. Inserts "if absent" against the
    unique keys, so any number of workers running at once create each row once. Returns how
    many tasks it created. Does not commit (the job runner does)."""
    day = today(now)
    stamp = now or utcnow()
    stmt = select(Duty).where(Duty.active.is_(True))
    if duty_ids is not None:
        stmt = stmt.where(Duty.id.in_(duty_ids))
    created = 0
    for duty in session.exec(stmt).all():
        try:
            dates = schedule(duty.rrule, duty.due_on)
        except Invalid:
            continue
        open_dates = [
            d
            for d in dates
            if d - timedelta(days=duty.lead_days) <= day <= d + timedelta(days=duty.grace_days)
        ]
        if not open_dates:
            continue
        codes = list(
            session.exec(applicable(session, duty.applies_to, duty.kinds, duty.institutions))
        )
        for due in open_dates:
            opens = due - timedelta(days=duty.lead_days)
            session.execute(
                _insert(session, Occurrence.__table__)
                .values(
                    duty_id=duty.id,
                    due_on=due,
                    opens_on=opens,
                    closes_on=due + timedelta(days=duty.grace_days),
                    created_at=stamp,
                )
                .on_conflict_do_nothing(index_elements=["duty_id", "due_on"])
            )
            occurrence_id = session.exec(
                select(Occurrence.id).where(Occurrence.duty_id == duty.id, Occurrence.due_on == due)
            ).one()
            have = set(
                session.exec(select(Task.institution).where(Task.occurrence_id == occurrence_id))
            )
            missing = [c for c in codes if c not in have]
            if not missing:
                continue
            result = session.execute(
                _insert(session, Task.__table__)
                .values(
                    [
                        {
                            "occurrence_id": occurrence_id,
                            "duty_id": duty.id,
                            "institution": code,
                            "due_on": due,
                            "opens_on": opens,
                            "state": TaskState.open.value,
                            "created_at": stamp,
                            "updated_at": stamp,
                        }
                        for code in missing
                    ]
                )
                .on_conflict_do_nothing(index_elements=["occurrence_id", "institution"])
                .returning(Task.__table__.c.id)
            )
            created += len(result.all())
    return created


def _fan_out_job(session: Session, period: datetime) -> None:
    fan_out(session)


register_job("duties-fan-out", every=timedelta(minutes=15), fn=_fan_out_job)
