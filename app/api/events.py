"""Events: `/events` (meetings, webinars, trainings), RSVPs, and the `/events.ics` calendar."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.core.pagination import Page, page_of_list
from app.models.event import CalendarEventPublic, EventCreate, EventUpdate, RsvpCreate
from app.services import events as service
from app.web.deps import CurrentUser, EventDep, FeedReader, Paging, SessionDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import events as views

router = APIRouter(route_class=SharedRoute, tags=["events"])
READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 422)
ICALENDAR = "text/calendar"
saved = shared("events/detail.html", block="detail", event="event-saved", context=views.detail)


@router.get("/events", response_model=Page[CalendarEventPublic], responses=READ)
@shared("events/list.html", block="results", context=views.listing)
def list_events(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    past: Annotated[bool, Query(description="Past events, latest first.")] = False,
):
    """Upcoming events, soonest first (`past=true`: those that are over). Members."""
    rows = service.list_events(session=session, user=user, past=past)
    return page_of_list(rows, paging, request, response)


@router.post(
    "/events",
    status_code=status.HTTP_201_CREATED,
    response_model=CalendarEventPublic,
    responses=WRITE,
)
@saved
def create_event(data: EventCreate, session: SessionDep, user: CurrentUser, response: Response):
    """Schedules an event and invites the audience lists (with an .ics). Staff."""
    event = service.create_event(session=session, actor=user, data=data)
    response.headers["Location"] = f"/events/{event.id}"
    return service.public(session, event, user)


@router.get(
    "/events.ics",
    response_class=Response,
    responses={200: {"content": {ICALENDAR: {"schema": {"type": "string"}}}}, **READ},
)
def events_calendar(session: SessionDep, user: FeedReader):
    """An iCalendar feed (RFC 5545): a stable UID per event, SEQUENCE raised on every change,
    STATUS:CANCELLED. Members: signed in, or with their personal `key`."""
    body = service.calendar(service.calendar_events(session=session), base_url=views.base_url())
    return Response(
        body,
        media_type=ICALENDAR,
        headers={"Content-Disposition": 'inline; filename="events.ics"'},
    )


@router.get(
    "/events/{event_id}.ics",
    response_class=Response,
    responses={200: {"content": {ICALENDAR: {"schema": {"type": "string"}}}}, **READ},
)
def event_calendar(event: EventDep):
    """One event as iCalendar, for "add to my calendar": the same UID and SEQUENCE as in
    `/events.ics` and the invitation, so calendars update one entry. Members."""
    body = service.calendar([event], base_url=views.base_url())
    return Response(
        body,
        media_type=ICALENDAR,
        headers={"Content-Disposition": f'attachment; filename="event-{event.id}.ics"'},
    )


@router.get("/events/{event_id}", response_model=CalendarEventPublic, responses=READ)
@shared("events/detail.html", block="detail", context=views.detail)
def get_event(event: EventDep, session: SessionDep, user: CurrentUser):
    return service.public(session, event, user)


@router.patch("/events/{event_id}", response_model=CalendarEventPublic, responses=WRITE)
@saved
def update_event(data: EventUpdate, event: EventDep, session: SessionDep, user: CurrentUser):
    """Edits the event or adds its materials; a new time or place raises SEQUENCE and tells
    the audience again. Staff."""
    service.update_event(session=session, actor=user, event=event, data=data)
    return service.public(session, event, user)


@router.delete("/events/{event_id}", response_model=CalendarEventPublic, responses=WRITE)
@saved
def cancel_event(event: EventDep, session: SessionDep, user: CurrentUser):
    """Cancels: it stays listed (STATUS:CANCELLED in calendars) and the audience is told. Staff."""
    service.cancel_event(session=session, actor=user, event=event)
    return service.public(session, event, user)


@router.post("/events/{event_id}/rsvp", response_model=CalendarEventPublic, responses=WRITE)
@saved
def rsvp(data: RsvpCreate, event: EventDep, session: SessionDep, user: CurrentUser):
    """Your answer: yes, no or maybe (again to change it). Members."""
    service.rsvp(session=session, actor=user, event=event, data=data)
    return service.public(session, event, user)
