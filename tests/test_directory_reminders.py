"""A5 (issue 12): directory confirmation reminders.

Issue 14 made the yearly directory confirmation a duty (`DutyAction.directory_confirmation`);
its reminders (`app.services.duties.reminders`, the `duties-reminders` job) already e-mail the
library's liaison when the confirmation is due and again when it is overdue, through the
outbox, once per stage per person, in a job one worker at a time claims. Confirming the
directory completes the task, and the reminders stop. These tests prove that, so no second
job does the same work.
"""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.core.config import get_settings
from app.models.duty import TaskState
from app.models.outbox import OutboxMessage
from app.notify import jobs
from app.services import duties


def local(day, hour=12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=get_settings().tz).astimezone(UTC)


def _mail(db, to: str) -> list[OutboxMessage]:
    rows = db.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [m for m in rows if to in m.recipients and m.template == "duties/digest"]


def _prepare(make, world, db, due):
    """The own library's liaison, and a confirmation duty due on `due` (the World's own duty
    done, so only this one is reminded of)."""
    done = make.task_of(world.duty, world.own.code)
    done.state = TaskState.done
    db.add(done)
    db.commit()
    liaison = make.liaison(world.own.code, roles=("liaison",), email="lia@own.example.edu")
    duty = make.confirmation_duty(due_on=due, lead_days=14, grace_days=30, fan_out=False)
    return liaison, duty


def test_a5_confirmation_due_then_overdue_once_each_and_stops_when_confirmed(
    client, make, world, db
):
    due = duties.today() - timedelta(days=5)  # so that today the task is open and overdue
    liaison, duty = _prepare(make, world, db, due)
    duties.fan_out(db, now=local(due - timedelta(days=14)))
    db.commit()
    # Due: the opening notice, then "due soon" a few days before.
    duties.send_reminders(db, now=local(due - timedelta(days=14)))
    duties.send_reminders(db, now=local(due - timedelta(days=2)))
    duties.send_reminders(db, now=local(due - timedelta(days=1)))  # nothing new to say
    kinds = [[i["kind"] for i in m.context["items"]] for m in _mail(db, liaison.email)]
    assert kinds == [["opened"], ["due_soon"]]
    assert all(
        i["title"] == "Confirm the directory"
        for m in _mail(db, liaison.email)
        for i in m.context["items"]
    )
    # Overdue: said once, however many runs follow.
    for days in (1, 2, 3):
        duties.send_reminders(db, now=local(due + timedelta(days=days)))
    kinds = [[i["kind"] for i in m.context["items"]] for m in _mail(db, liaison.email)]
    assert kinds == [["opened"], ["due_soon"], ["overdue"]]
    # Confirming the directory completes the task: nothing more is said.
    confirmed = client.post(
        f"/institutions/{world.own.code}/liaisons/confirmation",
        headers=world.headers(world.own.liaison),
    )
    assert confirmed.status_code == 201
    assert make.task_of(duty, world.own.code).state == TaskState.done
    duties.send_reminders(db, now=local(due + timedelta(days=40)))
    assert len(_mail(db, liaison.email)) == 3


def test_a5_two_workers_send_one_reminder(connection, make, world, db):
    """The `duties-reminders` job is claimed per period: a second worker does nothing, and a
    later period of the same day adds no second e-mail (one per person per day)."""
    due = duties.today() + timedelta(days=2)
    liaison, _ = _prepare(make, world, db, due)
    duties.fan_out(db)
    db.commit()
    (job,) = [j for j in jobs.registered() if j.name == "duties-reminders"]
    now = datetime.now(UTC)
    first = jobs.Scheduler(connection, "w1", only=[job])
    second = jobs.Scheduler(connection, "w2", only=[job])
    assert first.run_due(now) == ["duties-reminders"]
    assert second.run_due(now) == []
    assert len(_mail(db, liaison.email)) == 1
    second.run_due(now + job.every)
    assert len(_mail(db, liaison.email)) == 1
