"""Maintenance windows: `/maintenance`, `/maintenance/{id}` and the `/maintenance.ics` calendar.

Reads are public (anonymous); every write needs consortium staff.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.core.pagination import Page, page
from app.models.maintenance import (
    NAIVE_TIMES,
    LocalTime,
    Maintenance,
    MaintenanceCreate,
    MaintenancePublic,
    MaintenanceStatus,
    MaintenanceUpdate,
    MaintenanceWritten,
)
from app.services import feeds
from app.services import maintenance as service
from app.services import status as notices
from app.services.maintenance import MaintenanceSort, When
from app.web.caching import CONDITIONAL, feed
from app.web.deps import CurrentUser, OptionalUser, Paging, SessionDep, WindowDep
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import maintenance as views

router = APIRouter(route_class=SharedRoute, tags=["maintenance"])
READ = problem_responses(404, 422)
WRITE = problem_responses(400, 401, 403, 404, 413, 422)
ICALENDAR = "text/calendar"
# Every write answers with the window: JSON, or its page (htmx: the detail block).
saved = shared(
    "maintenance/detail.html", block="detail", event="maintenance-saved", context=views.detail
)


ServiceFilter = Annotated[
    str | None, Query(alias="service", pattern=r"^[a-z][a-z0-9_]{1,39}$", description="A slug.")
]
InstitutionFilter = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9]{2,8}$",
        description="An institution code: its windows and those for every member.",
    ),
]


@router.get("/maintenance", response_model=Page[MaintenancePublic], responses=READ)
@shared("maintenance/list.html", block="results", context=views.listing)
def list_maintenance(
    session: SessionDep,
    user: OptionalUser,
    request: Request,
    response: Response,
    paging: Paging,
    service_: ServiceFilter = None,
    institution: InstitutionFilter = None,
    status: MaintenanceStatus | None = None,
    since: Annotated[
        LocalTime | None, Query(description="Windows ending after. " + NAIVE_TIMES)
    ] = None,
    until: Annotated[LocalTime | None, Query(description="Windows starting before.")] = None,
    sort: MaintenanceSort = MaintenanceSort.starts_at,
    when: Annotated[
        When | None,
        Query(description="`upcoming`: not yet over; `past`: over; absent or `all`: every window."),
    ] = None,
):
    """Every window, cancelled ones included (with status `cancelled`). Public. (The page opens
    on the upcoming ones.)"""
    window = service.list_windows(
        session=session,
        service=service_,
        institution=institution.upper() if institution else None,
        status=status,
        since=since,
        until=until,
        sort=sort,
        when=when,
        page=paging,
    )
    return page(window, paging, request, response)


@router.post(
    "/maintenance",
    status_code=status.HTTP_201_CREATED,
    response_model=MaintenanceWritten,
    responses=WRITE,
    description=(
        "Schedules a window, or with `rrule` a series of them. The answer carries `warnings` "
        "(overlap on a service, short notice) that do not stop the write. " + NAIVE_TIMES
    ),
)
@saved
def create_maintenance(
    data: MaintenanceCreate, session: SessionDep, user: CurrentUser, response: Response
):
    windows, warnings = service.create_windows(session=session, actor=user, data=data)
    response.headers["Location"] = f"/maintenance/{windows[0].id}"
    return _written(windows[0], warnings, [w.id for w in windows])


@router.get(
    "/maintenance.ics",
    response_class=Response,
    responses={
        200: {"content": {ICALENDAR: {"schema": {"type": "string"}}}},
        **CONDITIONAL,
        **problem_responses(422),
    },
)
def maintenance_calendar(
    session: SessionDep,
    request: Request,
    response: Response,
    service_: ServiceFilter = None,
    institution: InstitutionFilter = None,
):
    """An iCalendar feed (RFC 5545) to subscribe to: one VEVENT per window of the last 13
    months and ahead, a stable UID, SEQUENCE raised on every change, STATUS:CANCELLED for a
    cancelled window, times in UTC. Public."""
    code = institution.upper() if institution else None

    def build(base_url: str) -> bytes:
        found = notices.calendar_windows(session=session, service=service_, institution=code)
        host = feeds.host_of(base_url)
        return feeds.calendar(found.windows, host=host, base_url=base_url, names=found.names)

    return feed(
        request,
        response,
        session,
        variant="ics",
        media_type=ICALENDAR,
        build=build,
        headers={"Content-Disposition": 'inline; filename="maintenance.ics"'},
    )


@router.get("/maintenance/{window_id}", response_model=MaintenancePublic, responses=READ)
@shared("maintenance/detail.html", block="detail", context=views.detail)
def get_maintenance(window: WindowDep, user: OptionalUser):
    return window


@router.patch(
    "/maintenance/{window_id}",
    response_model=MaintenanceWritten,
    responses=WRITE,
    description=(
        "Edits one window (one of a series too). Every change raises the calendar SEQUENCE; "
        "libraries are notified again only when the time, services, impact or institutions "
        "change. " + NAIVE_TIMES
    ),
)
@saved
def update_maintenance(
    data: MaintenanceUpdate,
    window: WindowDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    warnings = service.update_window(session=session, actor=user, window=window, data=data)
    response.headers["Location"] = f"/maintenance/{window.id}"
    return _written(window, warnings, [])


@router.delete(
    "/maintenance/{window_id}",
    response_model=MaintenancePublic,
    responses=problem_responses(401, 403, 404, 409, 422),
)
@saved
def cancel_maintenance(window: WindowDep, session: SessionDep, user: CurrentUser):
    """Cancels the window: it stays, with status `cancelled`, in the list and the feeds. A
    window that has already ended cannot be cancelled (409)."""
    return service.cancel_window(session=session, actor=user, window=window)


def _written(window: Maintenance, warnings: list[str], ids: list[int]) -> MaintenanceWritten:
    return MaintenanceWritten.model_validate(
        window, from_attributes=True, update={"warnings": warnings, "windows": ids}
    )
