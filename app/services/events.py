"""Events: meetings, webinars and trainings for audience lists; invitations with an .ics,
RSVPs per person, the calendar feed, and materials added afterwards."""

from collections.abc import Sequence

from icalendar import Calendar
from icalendar import Event as VEvent
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.db import committed, utcnow
from app.core.errors import Conflict, FieldError, Invalid, NotFound
from app.models.common import without_unsafe
from app.models.event import (
    CalendarEventPublic,
    Event,
    EventCreate,
    EventList,
    EventUpdate,
    Rsvp,
    RsvpAnswer,
    RsvpCreate,
)
from app.models.list import Delivery, MailingList
from app.models.user import User
from app.notify.outbox import enqueue
from app.services import access, audit, lists
from app.services.feeds import host_of, local_range

TEMPLATE = "events/invitation"
# What changes the meeting for the people invited (and so raises SEQUENCE and tells them).
SCHEDULE_FIELDS = {"title", "starts_at", "ends_at", "location", "link"}


def _slugs(session: Session) -> dict[int, str]:
    return dict(session.exec(select(MailingList.id, MailingList.slug)).all())


def public(
    session: Session, event: Event, user: User | None, slugs: dict[int, str] | None = None
) -> CalendarEventPublic:
    return public_many(session, [event], user, slugs)[0]


def public_many(
    session: Session, events: list[Event], user: User | None, slugs: dict[int, str] | None = None
) -> list[CalendarEventPublic]:
    """Events as the API shows them, with who is going and the user's own answer: two
    statements for any number of events, never one per event."""
    if not events:
        return []
    slugs = slugs or _slugs(session)
    ids = [e.id for e in events]
    going = dict(
        session.exec(
            select(Rsvp.event_id, func.count())
            .where(col(Rsvp.event_id).in_(ids), Rsvp.answer == RsvpAnswer.yes)
            .group_by(Rsvp.event_id)
        ).all()
    )
    mine: dict[int, RsvpAnswer] = {}
    if user is not None:
        mine = dict(
            session.exec(
                select(Rsvp.event_id, Rsvp.answer).where(
                    col(Rsvp.event_id).in_(ids), Rsvp.user_id == user.id
                )
            ).all()
        )
    return [
        CalendarEventPublic.model_validate(
            event,
            from_attributes=True,
            update={
                "lists": [slugs[link.list_id] for link in event.list_links],
                "status": event.status,
                "going": going.get(event.id, 0),
                "my_rsvp": mine.get(event.id),
                "url": f"/events/{event.id}",
            },
        )
        for event in events
    ]


def list_events(*, session: Session, user: User, past: bool = False) -> list[CalendarEventPublic]:
    """Upcoming (soonest first), or past (latest first), cancelled ones included."""
    now = utcnow()
    stmt = select(Event)
    stmt = (
        stmt.where(Event.ends_at < now).order_by(Event.starts_at.desc())
        if past
        else stmt.where(Event.ends_at >= now).order_by(Event.starts_at)
    )
    return public_many(session, list(session.exec(stmt.limit(200)).all()), user)


def get_event(*, session: Session, event_id: int) -> Event:
    found = session.get(Event, event_id)
    if found is None:
        raise NotFound(f"There is no event {event_id}.")
    return found


def _audience(session: Session, slugs: list[str]) -> list[MailingList]:
    return lists.lists_by_slug(session, slugs)


def create_event(*, session: Session, actor: User, data: EventCreate) -> Event:
    access.require_staff(actor, "schedule events")
    chosen = _audience(session, data.lists)
    if data.starts_at < utcnow():
        raise Invalid(
            "The event would start in the past; choose a later time.",
            [FieldError("starts_at", "is in the past")],
        )
    event = Event.model_validate(
        data.model_dump(exclude={"lists"}), update={"created_by": actor.id}
    )
    event.list_links = [EventList(list_id=m.id) for m in chosen]
    with committed(session, "The event could not be saved; try again."):
        audit.created(session, event, actor=actor)
        invite(session, event, chosen)
    return event


def update_event(*, session: Session, actor: User, event: Event, data: EventUpdate) -> Event:
    access.require_staff(actor, "edit events")
    if event.cancelled_at is not None:
        raise Conflict("This event was cancelled; schedule a new one.")
    values = data.model_dump(exclude_unset=True)
    chosen = _audience(session, values.pop("lists")) if data.lists else None
    starts = values.get("starts_at") or event.starts_at
    ends = values.get("ends_at") or event.ends_at
    if ends <= starts:
        raise Invalid(
            "The event must end after it starts.", [FieldError("ends_at", "is before the start")]
        )
    with committed(session, "The event changed meanwhile."):
        with audit.change(session, event, actor=actor, exclude={"sequence"}) as changed:
            for name, value in values.items():
                if value is not None:
                    setattr(event, name, value)
            if chosen is not None:
                event.list_links = [EventList(list_id=m.id) for m in chosen]
        if SCHEDULE_FIELDS & set(changed.after):
            event.sequence += 1
            session.add(event)
            session.flush()
            invite(session, event, _event_lists(session, event))
    return event


def cancel_event(*, session: Session, actor: User, event: Event) -> Event:
    access.require_staff(actor, "cancel events")
    if event.cancelled_at is None:
        with committed(session, "The event changed meanwhile."):
            with audit.change(session, event, actor=actor, action="cancel", exclude={"sequence"}):
                event.cancelled_at = utcnow()
            event.sequence += 1
            session.add(event)
            session.flush()
            invite(session, event, _event_lists(session, event))
    return event


def rsvp(*, session: Session, actor: User, event: Event, data: RsvpCreate) -> Event:
    if event.cancelled_at is not None:
        raise Conflict("This event was cancelled.")
    if event.ends_at < utcnow():
        raise Conflict("This event is over; answers are closed.")
    found = session.get(Rsvp, (event.id, actor.id))
    with committed(session, "Your answer changed meanwhile."):
        if found is None:
            found = Rsvp(event_id=event.id, user_id=actor.id, answer=data.answer)
        found.answer, found.updated_at = data.answer, utcnow()
        session.add(found)
    return event


def _event_lists(session: Session, event: Event) -> list[MailingList]:
    ids = [link.list_id for link in event.list_links]
    return list(session.exec(select(MailingList).where(MailingList.id.in_(ids))).all())


def invite(session: Session, event: Event, chosen: list[MailingList]) -> int:
    """One invitation (or update, or cancellation) per person on the audience lists, with the
    event's .ics attached; once per person and SEQUENCE."""
    base_url = get_settings().portal_url.rstrip("/")
    ics = calendar([event], base_url=base_url, method="CANCEL" if event.cancelled_at else "REQUEST")
    context = {
        "id": event.id,
        "title": without_unsafe(event.title),
        "when": local_range(event.starts_at, event.ends_at),
        "location": without_unsafe(event.location),
        "link": event.link,
        "url": f"{base_url}/events/{event.id}",
        "cancelled": event.cancelled_at is not None,
        "updated": event.sequence > 0,
    }
    people = [m for m in lists.members(session, chosen) if m.delivery is not Delivery.none]
    for person in people:
        enqueue(
            session,
            to=person.email,
            template=TEMPLATE,
            context={**context, "name": without_unsafe(person.name)},
            attachments=[
                {
                    "filename": f"event-{event.id}.ics",
                    "content_type": "text/calendar; method="
                    + ("CANCEL" if event.cancelled_at else "REQUEST"),
                    "content": ics.decode(),
                }
            ],
            dedupe_key=f"events/invitation:{event.id}:{event.sequence}:{person.email}",
        )
    return len(people)


def calendar(events: Sequence[Event], *, base_url: str, method: str = "PUBLISH") -> bytes:
    """RFC 5545 in UTC: a stable UID per event, SEQUENCE, STATUS:CANCELLED."""
    settings = get_settings()
    host = host_of(base_url)
    cal = Calendar()
    cal.add("prodid", f"-//{settings.consortium_name}//Liaison Portal//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add("x-wr-calname", f"{settings.consortium_name} events")
    cal.add("x-wr-timezone", settings.timezone)
    for event in events:
        item = VEvent()
        item.add("uid", f"event-{event.id}@{host}")
        item.add("dtstamp", event.updated_at)
        item.add("created", event.created_at)
        item.add("last-modified", event.updated_at)
        item.add("sequence", event.sequence)
        item.add("dtstart", event.starts_at)
        item.add("dtend", event.ends_at)
        item.add("summary", without_unsafe(event.title))
        item.add("description", without_unsafe(f"{event.description}\n\n{event.link}".strip()))
        if event.location:
            item.add("location", without_unsafe(event.location))
        item.add("url", f"{base_url}/events/{event.id}")
        item.add("status", "CANCELLED" if event.cancelled_at else "CONFIRMED")
        cal.add_component(item)
    return cal.to_ical()


def calendar_events(*, session: Session) -> list[Event]:
    """The feed: a year back and everything ahead."""
    from datetime import timedelta

    since = utcnow() - timedelta(days=366)
    return list(
        session.exec(select(Event).where(Event.ends_at >= since).order_by(Event.starts_at)).all()
    )
