"""Demo data for the duties slice: the I-Share liaison's year, this year and next.

Past occurrences get their tasks written here with realistic completion (most libraries done,
a few overdue, one "not applicable"); occurrences open today are fanned out by the same code
the scheduled job runs. Written straight to the tables: no reminders are queued.
"""

import zlib
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.duty import Duty, DutyAction, Occurrence, Task, TaskState
from app.models.institution import Institution, InstitutionStatus
from app.models.user import User
from app.services import duties

NOTE = "_(Demo data: not a real consortium duty.)_"

# (title, rule from 1 January this year, lead days, grace days, instructions, action)
DUTIES = (
    ("Fiscal period rollover", "FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=1;COUNT=2", 21, 7,
     "Close the fiscal period in Alma and roll over the open orders.\n\n"
     "1. Run **Fiscal Period Closure** in *Acquisitions › Fiscal Period Closure*.\n"
     "2. Check the rolled-over funds and encumbrances.", None),
    ("Semester calendar exceptions", "FREQ=YEARLY;BYMONTH=1,5,8;BYMONTHDAY=15;COUNT=6", 21, 7,
     "Enter the coming term's closures and changed hours as **calendar exceptions** in Alma "
     "(*Fulfillment › Calendar*), so due dates avoid closed days.", None),
    ("ILDS closed-dates survey",  # 25 January, 5 April, 15 October
     "FREQ=YEARLY;BYMONTH=1,4,10;BYMONTHDAY=5,15,25;BYSETPOS=3,4,8;COUNT=6", 14, 7,
     "Tell the delivery service (ILDS) which days the library is closed next term.", None),
    ("Winter AFN pause", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=10;COUNT=2", 21, 5,
     "Pause automated fines and notices (AFN) for the winter closure and set the restart date.",
     None),
    ("Annual statistics download", "FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=20;COUNT=2", 14, 14,
     "After July 1, download the year's circulation and resource-sharing statistics from "
     "Alma Analytics for the annual report.", None),
    ("Confirm the liaison and directory entries", "FREQ=YEARLY;BYMONTH=9;BYMONTHDAY=30;COUNT=2",
     30, 14, "Check the library's people in the member directory and press **Our entries are "
     "correct** (or mark this task done: it is the same thing).",
     DutyAction.directory_confirmation),
    ("Named-user audit", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=31;COUNT=2", 30, 14,
     "Review the library's named Alma users: remove people who left and check their roles.",
     None),
    ("Sandbox refresh check", "FREQ=YEARLY;BYMONTH=2,8;BYMONTHDAY=20;COUNT=4", 10, 7,
     "After the sandbox refresh, check that the library's configuration came across.", None),
)  # fmt: skip


def _roll(*parts: object) -> int:
    """A stable number 0–99 for a library and date: the same demo every time."""
    return zlib.crc32("|".join(map(str, parts)).encode()) % 100


def load(session: Session, admin: User) -> dict[str, int]:
    if session.exec(select(Duty.id).limit(1)).first() is not None:
        return {}
    today = duties.today()
    first = date(today.year, 1, 1)
    codes = list(
        session.exec(
            select(Institution.code)
            .where(Institution.status == InstitutionStatus.active)
            .order_by(Institution.code)
        )
    )
    zone = get_settings().tz
    added = {"duties": 0, "tasks": 0}
    not_applicable_done = False
    for title, rule, lead, grace, instructions, action in DUTIES:
        duty = Duty(
            title=title,
            instructions=f"{instructions}\n\n{NOTE}",
            due_on=first,
            rrule=rule,
            lead_days=lead,
            grace_days=grace,
            action=action,
            created_by=admin.id,
        )
        session.add(duty)
        session.flush()
        added["duties"] += 1
        for due in duties.schedule(rule, first):
            opens = due - timedelta(days=lead)
            if opens > today:
                continue
            occurrence = Occurrence(
                duty_id=duty.id, due_on=due, opens_on=opens, closes_on=due + timedelta(grace)
            )
            session.add(occurrence)
            session.flush()
            finished_at = datetime.combine(min(due, today), time(10), zone)
            for code in codes:
                roll = _roll(code, title, due)
                past = due < today
                done = roll < (97 if past else 40)
                state = TaskState.done if done else TaskState.open
                reason = None
                if past and not done and not not_applicable_done and title.startswith("Sandbox"):
                    state, reason, not_applicable_done = (
                        TaskState.not_applicable,
                        "We use no sandbox this year.",
                        True,
                    )
                session.add(
                    Task(
                        occurrence_id=occurrence.id,
                        duty_id=duty.id,
                        institution=code,
                        due_on=due,
                        opens_on=opens,
                        state=state,
                        reason=reason,
                        completed_at=(finished_at - timedelta(days=roll % 9))
                        if state is not TaskState.open
                        else None,
                        completed_by=admin.id if state is not TaskState.open else None,
                        # Demo data: nobody is told of what happened before today.
                        opened_notice_on=today,
                        reminded_on=today if past else None,
                        overdue_notice_on=today if past else None,
                        escalated_on=today if past else None,
                    )
                )
                added["tasks"] += 1
    session.commit()
    duties.fan_out(session, now=utcnow())
    session.commit()
    return added
