"""Recurring duties: the schedule's rules, the fan-out, completion, the board, reminders,
calendar feeds and the directory confirmation that is also a duty."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func
from sqlmodel import Session, select

from app.core.config import get_settings
from app.models.audit import AuditEntry
from app.models.directory import DirectoryConfirmation
from app.models.duty import Duty, Occurrence, Task, TaskFeed, TaskState
from app.models.institution import Institution, InstitutionStatus
from app.models.liaison import Appointment
from app.models.outbox import OutboxMessage
from app.services import duties
from tests.conftest import DATABASE_URL

TZ = get_settings().tz


def local(y, m, d, hh=12, mm=0) -> datetime:
    """A wall-clock time in the consortium's zone, as an aware UTC time."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ).astimezone(UTC)


def count(db: Session, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


# --- defining a duty: bad input is a clear error and writes nothing -----------------------------


def test_staff_define_a_duty_and_open_occurrences_fan_out_at_once(client, world, db):
    headers = world.headers(world.staff)
    due = duties.today() + timedelta(days=3)
    answer = client.post(
        "/duties",
        json={
            "title": "Semester calendar exceptions",
            "instructions": "Check **Alma**",
            "due_on": due.isoformat(),
            "lead_days": 10,
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["location"] == f"/duties/{body['id']}"
    assert body["occurrences"] == [due.isoformat()] and body["responsible"] == "liaison"
    codes = set(db.exec(select(Task.institution).where(Task.duty_id == body["id"])))
    assert codes == {world.own.code, world.other.code}
    page = client.get(f"/duties/{body['id']}", headers={**headers, "Accept": "text/html"})
    assert "<strong>Alma</strong>" in page.text


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"rrule": "FREQ=WEEKLY"}, "rrule", "never ends"),
        ({"rrule": "FREQ=DAILY;COUNT=5000"}, "rrule", "more than"),
        ({"rrule": "FREQ=HOURLY;COUNT=3"}, "rrule", "more often than daily"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=2"}, "rrule", "makes only"),
        ({"rrule": "FREQ=MONTHLY;COUNT=4", "lead_days": 40}, "lead_days", "longer than"),
        ({"responsible": "billing"}, "responsible", "no institution it applies to has"),
        ({"applies_to": "list", "institutions": ["NOPE"]}, "institutions", "no institution NOPE"),
        ({"applies_to": "kind"}, "kinds", "at least one kind"),
    ],
)
def test_bad_duties_are_refused_in_plain_words_and_write_nothing(
    client, world, db, values, field, words
):
    before = count(db, Duty)
    answer = client.post(
        "/duties",
        json={"title": "Bad", "due_on": "2031-01-15", **values},
        headers=world.headers(world.staff),
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert any(e["field"] == field and words in e["message"] for e in problem["errors"]), problem
    assert count(db, Duty) == before


def test_every_error_at_once(client, world):
    answer = client.post(
        "/duties",
        json={
            "title": "Bad",
            "due_on": "2031-01-15",
            "rrule": "FREQ=MONTHLY;COUNT=3",
            "lead_days": 90,
            "applies_to": "kind",
        },
        headers=world.headers(world.staff),
    )
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {"lead_days", "kinds"}


def test_a_functional_role_some_library_holds_is_accepted(client, world):
    # The World's people hold `fulfillment` at both libraries.
    answer = client.post(
        "/duties",
        json={
            "title": "Resource sharing check",
            "due_on": "2031-03-01",
            "responsible": "fulfillment",
        },
        headers=world.headers(world.staff),
    )
    assert answer.status_code == 201, answer.text


def test_libraries_may_not_define_duties(client, world):
    answer = client.post(
        "/duties",
        json={"title": "Mine", "due_on": "2031-01-15"},
        headers=world.headers(world.own.liaison),
    )
    assert answer.status_code == 403


@pytest.mark.parametrize("field", ["title", "responsible", "lead_days", "grace_days", "active"])
def test_emptying_a_required_field_is_refused_in_plain_words(client, world, db, field):
    """A null (or, from a form, a blank) for a field a duty must have is a 422 that names the
    field and writes nothing, never a database error."""
    duty = world.make.duty(title="Keep me", instructions="Keep these", fan_out=False)
    before = {name: getattr(duty, name) for name in ("title", "instructions", "lead_days")}
    answer = client.patch(
        f"/duties/{duty.id}", json={field: None}, headers=world.headers(world.staff)
    )
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert error["field"] == field and error["message"] == "may not be empty", error
    db.expire_all()
    kept = db.get(Duty, duty.id)
    assert {name: getattr(kept, name) for name in before} == before


@pytest.mark.parametrize("empty", [None, ""])
def test_emptying_the_instructions_clears_them(client, world, db, empty):
    """Instructions are optional (a new duty may have none), so a null, or the emptied textarea
    of the edit form, clears them, as it does on creation."""
    duty = world.make.duty(title="Keep me", instructions="Old **steps**", fan_out=False)
    answer = client.patch(
        f"/duties/{duty.id}", json={"instructions": empty}, headers=world.headers(world.staff)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["instructions"] == "" and answer.json()["title"] == "Keep me"
    db.expire_all()
    assert db.get(Duty, duty.id).instructions == ""


# --- schedules: DST and leap years ------------------------------------------------------------


def test_leap_day_schedule_falls_only_in_leap_years():
    found = duties.schedule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=2", date(2025, 1, 1))
    assert found == [date(2028, 2, 29), date(2032, 2, 29)]
    month_ends = duties.schedule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1;COUNT=2", date(2027, 2, 1))
    assert month_ends == [date(2027, 2, 28), date(2028, 2, 29)]


def test_schedules_keep_their_dates_across_daylight_saving_changes():
    # 8 March 2026 (spring forward) and 1 November 2026 (fall back) in America/Chicago.
    weekly = duties.schedule("FREQ=WEEKLY;COUNT=3", date(2026, 3, 1))
    assert weekly == [date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 15)]
    autumn = duties.schedule("FREQ=DAILY;COUNT=3", date(2026, 10, 31))
    assert autumn == [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]


def test_overdue_follows_the_local_day_on_a_dst_change(make, world, db):
    duty = make.duty(date(2026, 3, 8), lead_days=3, fan_out=False, title="Spring check")
    make.task(duty, world.own.code, date(2026, 3, 8))
    late_on_the_day = local(2026, 3, 8, 23, 30)  # already 9 March in UTC
    next_morning = local(2026, 3, 9, 0, 30)
    assert late_on_the_day.date() == date(2026, 3, 9)
    page = duties.board(session=db, actor=world.staff, duty=duty, page=_all(), now=late_on_the_day)
    assert page.counts.overdue == 0
    page = duties.board(session=db, actor=world.staff, duty=duty, page=_all(), now=next_morning)
    assert page.counts.overdue == 1


def _all():
    from app.core.pagination import PageParams

    return PageParams(limit=200, offset=0)


# --- the fan-out ------------------------------------------------------------------------------


def test_fan_out_is_exactly_once_and_reaches_a_library_that_joins_later(make, world, db):
    duty = make.duty(title="Named-user audit")
    assert count(db, Task, Task.duty_id == duty.id) == 2
    assert duties.fan_out(db) == 0  # a second run adds nothing
    joining = make.institution("NEWB", status=InstitutionStatus.joining)
    assert duties.fan_out(db) == 0  # not a member yet
    joining.status = InstitutionStatus.active
    db.add(joining)
    db.commit()
    assert duties.fan_out(db, duty_ids=[duty.id]) == 1
    assert make.task_of(duty, "NEWB").due_on == duty.due_on
    assert count(db, Occurrence, Occurrence.duty_id == duty.id) == 1


def test_an_occurrence_opens_lead_days_before_and_closes_after_the_grace(make, world, db):
    due = duties.today() + timedelta(days=30)
    duty = make.duty(due, lead_days=10, grace_days=5, title="Later")
    assert count(db, Task, Task.duty_id == duty.id) == 0
    assert duties.fan_out(db, now=local(due.year, due.month, due.day) - timedelta(days=10)) == 2
    old = make.duty(duties.today() - timedelta(days=20), grace_days=5, title="Closed")
    assert count(db, Task, Task.duty_id == old.id) == 0


def test_the_scheduled_job_is_registered():
    from app.notify.jobs import registered

    names = {job.name for job in registered()}
    assert {"duties-fan-out", "duties-reminders"} <= names


@pytest.mark.skipif(
    not DATABASE_URL.startswith("postgresql"), reason="concurrent writers need PostgreSQL"
)
def test_two_workers_fanning_out_at_once_create_each_task_once(engine):
    """Two threads, each with its own connection and transaction, fan out the same open
    occurrence at the same moment: the unique key and insert-if-absent leave one row each."""
    codes = [f"RC{i:02d}" for i in range(30)]
    with Session(engine) as session:
        for code in codes:
            session.add(
                Institution(
                    code=code,
                    name=f"Race College {code}",
                    city="Normal",
                    status=InstitutionStatus.active,
                    alma_code=f"01CARLI_{code}",
                )
            )
        duty = Duty(title="Race", due_on=duties.today() + timedelta(days=2), lead_days=5)
        session.add(duty)
        session.commit()
        duty_id = duty.id
    barrier = threading.Barrier(2)
    made: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Session(engine) as session:
                barrier.wait()
                made.append(duties.fan_out(session, duty_ids=[duty_id]))
                session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        with Session(engine) as session:
            rows = session.exec(select(Task.institution).where(Task.duty_id == duty_id)).all()
            total = session.scalar(
                select(func.count()).select_from(Task).where(Task.institution.in_(codes))
            )
        assert sorted(r for r in rows if r in codes) == codes
        assert total == len(codes)
        assert sum(made) == len(rows)  # between them they made each row once
    finally:
        with Session(engine) as session:
            session.exec(select(Duty).where(Duty.id == duty_id)).one()
            for model, where in (
                (Task, Task.duty_id == duty_id),
                (Occurrence, Occurrence.duty_id == duty_id),
                (Duty, Duty.id == duty_id),
                (Institution, Institution.code.in_(codes)),
            ):
                for row in session.exec(select(model).where(where)).all():
                    session.delete(row)
                session.flush()
            session.commit()


# --- completing a task ------------------------------------------------------------------------


def test_a_liaison_marks_done_once_and_twice_changes_nothing(client, world, db):
    task = world.make.task_of(world.duty, world.own.code)
    headers = world.headers(world.own.liaison)
    first = client.patch(
        f"/tasks/{task.id}", json={"state": "done", "note": "Done by the book"}, headers=headers
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["state"] == "done" and body["completed_by"] == world.own.liaison.id
    entries = count(db, AuditEntry, AuditEntry.entity_type == "task")
    again = client.patch(
        f"/tasks/{task.id}", json={"state": "done", "note": "Again"}, headers=headers
    )
    assert again.status_code == 200
    assert again.json()["completed_at"] == body["completed_at"]
    assert again.json()["note"] == "Done by the book"
    assert count(db, AuditEntry, AuditEntry.entity_type == "task") == entries


def test_another_librarys_task_is_404_and_library_staff_may_not_complete(client, world):
    task = world.make.task_of(world.duty, world.own.code)
    other = client.patch(
        f"/tasks/{task.id}", json={"state": "done"}, headers=world.headers(world.other.liaison)
    )
    assert other.status_code == 404
    assert (
        client.get(f"/tasks/{task.id}", headers=world.headers(world.other.director)).status_code
        == 404
    )
    staff = client.patch(
        f"/tasks/{task.id}", json={"state": "done"}, headers=world.headers(world.own.library_staff)
    )
    assert staff.status_code == 403
    assert world.make.task_of(world.duty, world.own.code).state == TaskState.open


def test_not_applicable_needs_a_reason_and_only_staff_reopen(client, world):
    task = world.make.task_of(world.duty, world.own.code)
    lead = world.headers(world.own.director)
    missing = client.patch(f"/tasks/{task.id}", json={"state": "not_applicable"}, headers=lead)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "reason"
    ok = client.patch(
        f"/tasks/{task.id}",
        json={"state": "not_applicable", "reason": "We have no sandbox"},
        headers=lead,
    )
    assert ok.json()["state"] == "not_applicable"
    assert (
        client.patch(f"/tasks/{task.id}", json={"state": "open"}, headers=lead).status_code == 403
    )
    reopened = client.patch(
        f"/tasks/{task.id}", json={"state": "open"}, headers=world.headers(world.staff)
    )
    assert reopened.json()["state"] == "open" and reopened.json()["reason"] is None


# --- the board --------------------------------------------------------------------------------


def test_the_board_counts_filters_sorts_and_exports(client, world, make):
    for code in ("AAA", "BBB", "CCC"):
        make.institution(code, name=f"{code} University")
    duties.fan_out(make.session)
    make.session.commit()
    staff = world.headers(world.staff)
    task = make.task_of(world.duty, "BBB")
    client.patch(f"/tasks/{task.id}", json={"state": "done"}, headers=staff)
    board = client.get(f"/duties/{world.duty.id}/tasks", headers=staff).json()
    assert board["counts"] == {
        "total": 5,
        "done": 1,
        "open": 4,
        "overdue": 0,
        "not_applicable": 0,
        "percent": 20,
    }
    assert board["count"] == 5 and board["due_on"] == world.duty.due_on.isoformat()
    done = client.get(f"/duties/{world.duty.id}/tasks?state=done", headers=staff).json()
    assert [t["institution"] for t in done["data"]] == ["BBB"]
    by_code = client.get(
        f"/duties/{world.duty.id}/tasks?sort=institution&desc=true", headers=staff
    ).json()
    assert [t["institution"] for t in by_code["data"]] == ["OWN", "OTH", "CCC", "BBB", "AAA"]
    searched = client.get(f"/duties/{world.duty.id}/tasks?q=ccc", headers=staff).json()
    assert [t["institution"] for t in searched["data"]] == ["CCC"]
    page = client.get(f"/duties/{world.duty.id}/tasks", headers={**staff, "Accept": "text/html"})
    assert '<progress id="progress-' in page.text and 'value="20"' in page.text
    assert "style=" not in page.text
    csv = client.get(f"/duties/{world.duty.id}/tasks?format=csv", headers=staff)
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("Code,Library,Due,State") and len(lines) == 6
    assert any(line.startswith("BBB,") and ",Done," in line for line in lines)


def test_a_library_sees_only_its_own_row_on_the_board(client, world):
    board = client.get(
        f"/duties/{world.duty.id}/tasks", headers=world.headers(world.other.liaison)
    ).json()
    assert [t["institution"] for t in board["data"]] == [world.other.code]
    assert board["counts"]["total"] == 1


def test_homes_show_tasks_due_and_the_staff_boards(client, world):
    # The home page loads each widget on its own (issue 12): the duties one is /home/duties.
    liaison = client.get(
        "/home/duties", headers={**world.headers(world.own.liaison), "Accept": "text/html"}
    )
    assert "Duties due" in liaison.text and "World duty" in liaison.text
    staff = client.get(
        "/home/duties", headers={**world.headers(world.staff), "Accept": "text/html"}
    )
    assert "Open duties" in staff.text and "0% of 2" in staff.text


# --- reminders and escalation -----------------------------------------------------------------


def _mail(db: Session, to: str) -> list[OutboxMessage]:
    rows = db.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [m for m in rows if to in m.recipients and m.template == "duties/digest"]


@pytest.fixture
def contacts(make, world, db):
    """The own library's liaison and director in the directory; the World's own task is done,
    so only each test's duties are reminded of."""
    done = make.task_of(world.duty, world.own.code)
    done.state = TaskState.done
    db.add(done)
    db.commit()
    liaison = make.liaison(
        world.own.code, roles=("liaison",), name="Lee Liaison", email="lee@own.example.edu"
    )
    director = make.liaison(
        world.own.code, roles=("director",), name="Dana Director", email="dana@own.example.edu"
    )
    return liaison, director


def test_reminders_coalesce_per_person_per_day_and_stop_once_done(make, world, db, contacts):
    liaison, director = contacts
    due = date(2031, 5, 20)
    one = make.duty(due, lead_days=14, grace_days=7, fan_out=False, title="Calendar exceptions")
    two = make.duty(due, lead_days=14, grace_days=7, fan_out=False, title="Closed dates survey")
    opened = local(2031, 5, 6)
    duties.fan_out(db, now=opened)
    assert duties.send_reminders(db, now=opened) >= 1
    mine = _mail(db, liaison.email)
    assert len(mine) == 1  # both tasks, one e-mail
    items = mine[0].context["items"]
    assert {i["title"] for i in items} == {"Calendar exceptions", "Closed dates survey"}
    assert {i["kind"] for i in items} == {"opened"}
    duties.send_reminders(db, now=opened + timedelta(hours=3))
    assert len(_mail(db, liaison.email)) == 1  # said once
    # The library finishes one; the reminder before the due date mentions only the other.
    task = make.task_of(one, world.own.code)
    duties.update_task(session=db, actor=world.own.liaison, task_id=task.id, data=_update("done"))
    duties.send_reminders(db, now=local(2031, 5, 18))
    mine = _mail(db, liaison.email)
    assert len(mine) == 2
    assert [(i["title"], i["kind"]) for i in mine[1].context["items"]] == [
        ("Closed dates survey", "due_soon")
    ]
    # Done too: nothing more is said, however late it gets.
    other = make.task_of(two, world.own.code)
    duties.update_task(session=db, actor=world.own.liaison, task_id=other.id, data=_update("done"))
    for day in (21, 28, 30):
        duties.send_reminders(db, now=local(2031, 5, day))
    assert len(_mail(db, liaison.email)) == 2
    assert _mail(db, director.email) == []


def test_reminders_go_to_todays_holder_not_a_future_appointee(make, world, db, contacts):
    liaison, _ = contacts
    handover = date(2032, 1, 1)
    for appointment in db.exec(select(Appointment).where(Appointment.liaison_id == liaison.id)):
        appointment.ended_on = handover
        db.add(appointment)
    successor = make.liaison(
        world.own.code,
        roles=("liaison",),
        email="next@own.example.edu",
        started_on=handover,
    )
    make.duty(date(2031, 5, 20), lead_days=14, fan_out=False, title="Closed dates survey")
    opened = local(2031, 5, 6)
    duties.fan_out(db, now=opened)
    duties.send_reminders(db, now=opened)
    assert len(_mail(db, liaison.email)) == 1
    assert _mail(db, successor.email) == []


def test_after_the_grace_period_the_director_is_copied(make, world, db, contacts):
    liaison, director = contacts
    duty = make.duty(
        date(2031, 9, 10), lead_days=7, grace_days=3, fan_out=False, title="Sandbox refresh check"
    )
    duties.fan_out(db, now=local(2031, 9, 5))
    duties.send_reminders(db, now=local(2031, 9, 12))  # overdue, within the grace
    assert [i["kind"] for i in _mail(db, liaison.email)[0].context["items"]] == ["overdue"]
    assert _mail(db, director.email) == []
    duties.send_reminders(db, now=local(2031, 9, 14))  # past the grace
    escalated = _mail(db, director.email)
    assert len(escalated) == 1 and escalated[0].context["items"][0]["kind"] == "escalated"
    duties.send_reminders(db, now=local(2031, 9, 20))
    assert len(_mail(db, director.email)) == 1
    assert make.task_of(duty, world.own.code).escalated_on == date(2031, 9, 14)


def _update(state: str, **values):
    from app.models.duty import TaskUpdate

    return TaskUpdate(state=state, **values)


# --- calendar feeds ---------------------------------------------------------------------------


def test_feeds_parse_keep_their_uids_and_a_revoked_link_is_404(client, world, db):
    lead = world.headers(world.own.liaison)
    made = client.post(
        "/duties/calendar",
        json={"scope": world.own.code, "action": "regenerate"},
        headers={**lead, "HX-Request": "true"},
    )
    assert made.status_code == 200
    url = made.text.split('<code class="feed-url">')[1].split("</code>")[0]
    path = url.split("://", 1)[1].split("/", 1)[1]
    first = client.get("/" + path)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/calendar")
    todos = Calendar.from_ical(first.content).walk("VTODO")
    task = world.make.task_of(world.duty, world.own.code)
    assert [str(t["uid"]) for t in todos] == [f"task-{task.id}@{_host()}"]
    assert todos[0]["due"].dt == world.duty.due_on and str(todos[0]["status"]) == "NEEDS-ACTION"
    client.patch(f"/tasks/{task.id}", json={"state": "done"}, headers=lead)
    second = Calendar.from_ical(client.get("/" + path).content).walk("VTODO")
    assert str(second[0]["uid"]) == str(todos[0]["uid"]) and str(second[0]["status"]) == "COMPLETED"
    # Regenerate: the old link is gone (404, not 401), the new one works.
    again = client.post(
        "/duties/calendar",
        json={"scope": world.own.code, "action": "regenerate"},
        headers={**lead, "HX-Request": "true"},
    )
    new_path = again.text.split('<code class="feed-url">')[1].split("</code>")[0].split("/", 3)[3]
    assert client.get("/" + path).status_code == 404
    assert client.get("/" + new_path).status_code == 200
    client.post(
        "/duties/calendar",
        json={"scope": world.own.code, "action": "revoke"},
        headers={**lead, "HX-Request": "true"},
    )
    assert client.get("/" + new_path).status_code == 404
    assert count(db, TaskFeed, TaskFeed.revoked_at.is_(None)) == 0


def test_a_personal_feed_holds_the_tasks_the_person_is_responsible_for(make, world, db):
    token = duties.regenerate_feed(session=db, actor=world.own.liaison, institution=None)
    body = duties.feed_calendar(session=db, token=token)
    uids = [str(t["uid"]) for t in Calendar.from_ical(body).walk("VTODO")]
    assert uids == [f"task-{make.task_of(world.duty, world.own.code).id}@{_host()}"]


def test_another_library_may_not_make_our_feed_and_unknown_tokens_are_404(client, world):
    other = client.post(
        "/duties/calendar",
        json={"scope": world.own.code, "action": "regenerate"},
        headers={**world.headers(world.other.liaison), "HX-Request": "true"},
    )
    assert other.status_code == 404
    assert client.get("/feeds/tasks/" + "x" * 43 + ".ics").status_code == 404


def _host() -> str:
    return get_settings().portal_url.split("//", 1)[1].split("/", 1)[0].split(":", 1)[0]


# --- the directory confirmation is a duty -----------------------------------------------------


def test_confirming_the_directory_completes_the_task(client, make, world, db):
    duty = make.confirmation_duty()
    task = make.task_of(duty, world.own.code)
    answer = client.post(
        f"/institutions/{world.own.code}/liaisons/confirmation",
        headers=world.headers(world.own.director),
    )
    assert answer.status_code == 201
    db.refresh(task)
    assert task.state == TaskState.done and task.completed_by == world.own.director.id
    assert make.task_of(duty, world.other.code).state == TaskState.open


def test_marking_the_confirmation_task_done_confirms_the_directory(client, make, world, db):
    duty = make.confirmation_duty()
    task = make.task_of(duty, world.own.code)
    before = count(db, DirectoryConfirmation, DirectoryConfirmation.institution == world.own.code)
    answer = client.patch(
        f"/tasks/{task.id}", json={"state": "done"}, headers=world.headers(world.own.liaison)
    )
    assert answer.status_code == 200 and answer.json()["state"] == "done"
    after = count(db, DirectoryConfirmation, DirectoryConfirmation.institution == world.own.code)
    assert after == before + 1


def test_institution_tasks_list_is_private(client, world):
    own = client.get(
        f"/institutions/{world.own.code}/tasks", headers=world.headers(world.own.library_staff)
    )
    assert own.status_code == 200 and own.json()["data"][0]["title"] == "World duty"
    other = client.get(
        f"/institutions/{world.own.code}/tasks", headers=world.headers(world.other.liaison)
    )
    assert other.status_code == 404
