"""Builders for the duties slice (mixed into `Factory`)."""

from datetime import date, timedelta

from sqlmodel import Session

from app.core.db import utcnow
from app.models.duty import AppliesTo, Duty, DutyAction, Occurrence, Task, TaskState
from app.services import duties


class DutiesBuilders:
    session: Session

    def duty(
        self,
        due_on: date | None = None,
        *,
        rrule: str | None = None,
        lead_days: int = 14,
        grace_days: int = 7,
        fan_out: bool = True,
        **values,
    ) -> Duty:
        """A duty (default: due in five days, once, for every active member), written without
        the service's checks; with `fan_out`, its open occurrence's tasks too."""
        values.setdefault("title", "Test duty")
        values.setdefault("applies_to", AppliesTo.all)
        duty = Duty(
            due_on=due_on or duties.today() + timedelta(days=5),
            rrule=rrule,
            lead_days=lead_days,
            grace_days=grace_days,
            **values,
        )
        self.session.add(duty)
        self.session.flush()
        if fan_out:
            duties.fan_out(self.session, duty_ids=[duty.id])
        self.session.commit()
        return duty

    def confirmation_duty(self, **values) -> Duty:
        values.setdefault("title", "Confirm the directory")
        return self.duty(action=DutyAction.directory_confirmation, **values)

    def task_of(self, duty: Duty, code: str, due_on: date | None = None) -> Task:
        """The duty's task for `code` (the occurrence due on `due_on`, default its first)."""
        from sqlmodel import select

        stmt = select(Task).where(Task.duty_id == duty.id, Task.institution == code)
        if due_on is not None:
            stmt = stmt.where(Task.due_on == due_on)
        return self.session.exec(stmt.order_by(Task.due_on)).first()

    def task(
        self, duty: Duty, code: str, due_on: date, state: TaskState = TaskState.open, **values
    ) -> Task:
        """A task written directly (e.g. on a past occurrence), with its occurrence."""
        from sqlmodel import select

        occurrence = self.session.exec(
            select(Occurrence).where(Occurrence.duty_id == duty.id, Occurrence.due_on == due_on)
        ).first()
        if occurrence is None:
            occurrence = Occurrence(
                duty_id=duty.id,
                due_on=due_on,
                opens_on=due_on - timedelta(days=duty.lead_days),
                closes_on=due_on + timedelta(days=duty.grace_days),
            )
            self.session.add(occurrence)
            self.session.flush()
        task = Task(
            occurrence_id=occurrence.id,
            duty_id=duty.id,
            institution=code,
            due_on=due_on,
            opens_on=occurrence.opens_on,
            state=state,
            completed_at=utcnow() if state is not TaskState.open else None,
            **values,
        )
        self.session.add(task)
        self.session.commit()
        return task
