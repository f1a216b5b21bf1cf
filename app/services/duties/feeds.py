"""The task calendar feeds: a personal or an institution iCalendar of tasks (VTODOs with
stable UIDs) behind a secret link the owner can revoke and regenerate; only its hash is kept."""

import hashlib
import secrets

from icalendar import Calendar, Todo
from sqlalchemy import or_
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid, NotFound
from app.models.common import without_unsafe
from app.models.duty import Duty, Task, TaskFeed, TaskState
from app.models.liaison import Appointment, ContactRole, Liaison, current_on
from app.models.user import User
from app.services import audit, markdown
from app.services.access import require_library_lead
from app.services.duties.board import task_select
from app.services.duties.schedule import today


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _audit(session: Session, actor: User, institution: str | None, action: str) -> None:
    entity = institution or f"user:{actor.id}"
    audit.record(session, actor=actor, action=action, entity_type="task_feed", entity_id=entity)


def feed_scope(actor: User, institution: str | None) -> None:
    """A personal feed is anyone's own; an institution's feed is its director's or liaison's
    (or staff's)."""
    if institution is not None:
        require_library_lead(actor, institution, "manage the library's task calendar")
    elif actor.institution is None:
        raise Invalid(
            "A personal task calendar is for people at a member library; "
            "staff can subscribe to a library's calendar.",
            [FieldError("institution", "choose a library")],
        )


def active_feed(*, session: Session, actor: User, institution: str | None) -> TaskFeed | None:
    return session.exec(
        select(TaskFeed).where(
            TaskFeed.user_id == actor.id,
            TaskFeed.institution == institution if institution else TaskFeed.institution.is_(None),
            TaskFeed.revoked_at.is_(None),
        )
    ).first()


def regenerate_feed(*, session: Session, actor: User, institution: str | None) -> str:
    """A new secret link (the old one, if any, stops working); returns the token, shown once."""
    feed_scope(actor, institution)
    revoke_feed(session=session, actor=actor, institution=institution, commit=False)
    token = secrets.token_urlsafe(32)
    session.add(TaskFeed(token_hash=_hash(token), user_id=actor.id, institution=institution))
    _audit(session, actor, institution, "feed_regenerate")
    session.commit()
    return token


def revoke_feed(
    *, session: Session, actor: User, institution: str | None, commit: bool = True
) -> bool:
    feed_scope(actor, institution)
    feed = active_feed(session=session, actor=actor, institution=institution)
    if feed is not None:
        feed.revoked_at = utcnow()
        session.add(feed)
        if commit:
            _audit(session, actor, institution, "feed_revoke")
            session.commit()
    return feed is not None


def feed_calendar(*, session: Session, token: str) -> bytes:
    """The calendar behind a secret link; an unknown or revoked link is 404 (never 401)."""
    feed = session.exec(
        select(TaskFeed).where(TaskFeed.token_hash == _hash(token), TaskFeed.revoked_at.is_(None))
    ).first()
    owner = session.get(User, feed.user_id) if feed else None
    if feed is None or owner is None or not owner.active:
        raise NotFound("No such calendar.")
    day = today()
    stmt = task_select(day).add_columns(Duty.instructions.label("instructions"))
    if feed.institution:
        stmt = stmt.where(Task.institution == feed.institution)
        name = f"{feed.institution} duties"
    else:
        roles = session.exec(
            select(Appointment.role)
            .join(Liaison, Liaison.id == Appointment.liaison_id)
            .where(
                current_on(day),
                Appointment.institution == owner.institution,
                or_(Liaison.account == owner.id, Liaison.email == owner.email),
            )
        ).all()
        held = {ContactRole(r) for r in roles}
        if owner.is_library_lead:
            held.add(ContactRole.liaison)
        stmt = stmt.where(Task.institution == owner.institution, Duty.responsible.in_(sorted(held)))
        name = f"My duties ({owner.name})"
    rows = session.execute(stmt.order_by(Task.due_on, Task.id)).mappings().all()
    return _ical(rows, name)


def _ical(rows, name: str) -> bytes:
    settings = get_settings()
    base_url = settings.portal_url.rstrip("/")
    host = base_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    cal = Calendar()
    cal.add("prodid", f"-//{settings.consortium_name}//Liaison Portal duties//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", without_unsafe(name))
    stamp = utcnow().replace(microsecond=0)
    for row in rows:
        todo = Todo()
        todo.add("uid", f"task-{row['id']}@{host}")
        todo.add("dtstamp", stamp)
        todo.add("summary", without_unsafe(f"{row['title']} ({row['institution']})"))
        todo.add("dtstart", row["opens_on"])
        todo.add("due", row["due_on"])
        todo.add("url", f"{base_url}/tasks/{row['id']}")
        text = markdown.plain(row["instructions"])
        if text:
            todo.add("description", without_unsafe(text))
        state = TaskState(row["state"])
        if state is TaskState.done:
            todo.add("status", "COMPLETED")
            if row["completed_at"]:
                todo.add("completed", row["completed_at"])
        elif state is TaskState.not_applicable:
            todo.add("status", "CANCELLED")
        else:
            todo.add("status", "NEEDS-ACTION")
        cal.add_component(todo)
    return cal.to_ical()
