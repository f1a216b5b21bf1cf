"""Dependencies every router shares, as `Annotated` aliases."""

import ipaddress
from collections.abc import Awaitable, Callable
from functools import lru_cache, wraps
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.core import security
from app.core.config import get_settings
from app.core.db import get_session, reads_without_waiting
from app.core.errors import NotAuthenticated, PermissionDenied
from app.core.pagination import PageParams, page_params
from app.models.announcement import Announcement
from app.models.common import MAX_ID
from app.models.directory_change import DirectoryChange
from app.models.duty import Duty
from app.models.event import Event
from app.models.incident import Incident
from app.models.institution import Institution
from app.models.liaison import Liaison
from app.models.list import SLUG, MailingList
from app.models.maintenance import Maintenance
from app.models.ticket import Ticket
from app.models.user import User
from app.services import (
    access,
    announcements,
    api_clients,
    auth,
    directory_changes,
    duties,
    events,
    incidents,
    institutions,
    liaisons,
    lists,
    maintenance,
    tickets,
)

SessionDep = Annotated[Session, Depends(get_session)]
T = TypeVar("T")
TICKET_NUMBER = r"^\d{4}-\d{5,}$"
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The record's id.")]

_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def client_address(request: Request) -> str | None:
    """The client's address: the direct peer, or, when that peer is a trusted proxy
    (`PORTAL_TRUSTED_PROXIES`), the nearest `X-Forwarded-For` hop that is not one of ours
    (the hops further left are whatever the client claimed)."""
    peer = request.client.host if request.client else None
    proxies = _trusted_proxies(get_settings().trusted_proxies)
    if not proxies or not _within(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _within(hop, proxies):
            return hop if _address(hop) else peer
    return peer


@lru_cache
def _trusted_proxies(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in setting.split(",") if p.strip()
    )


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text or "")
    except ValueError:
        return None


def _within(text: str | None, networks) -> bool:
    address = _address(text)
    return address is not None and any(address in n for n in networks)


def _authenticate(request: Request, session: Session, bearer: str | None) -> User | None:
    """The signed-in user, or None when the request carries no credentials at all.

    A bearer header wins over the cookie; a cookie-authenticated unsafe request must also carry
    the CSRF token bound to that sign-in. One lookup (the user joined to a live session); at
    most once a minute a second statement notes that the session was seen.
    """
    token = bearer or request.cookies.get(security.COOKIE_NAME)
    if not token:
        return None
    if bearer is not None:
        client = _client(request, session, bearer)
        if client is not None:
            return client.user
    found = auth.authenticate(session=session, token=token)
    if found is None:
        raise NotAuthenticated("The access token is invalid, expired or revoked.")
    renewed = None
    if bearer is None and security.needs_renewal(found.claims):
        # The new cookie rides on whatever response this request gets (app.core.middleware).
        fresh, renewed = auth.renew(found)
        secure = request.url.scheme == "https"
        request.state.set_cookie = security.session_cookie(fresh, renewed, secure=secure)
    auth.seen(session, found, renewed)
    user, claims = found.user, found.claims
    request.state.user = user
    request.state.claims = claims
    request.state.csrf_token = security.csrf_token(claims.session_id)
    presented = request.headers.get(security.CSRF_HEADER)
    if (
        bearer is None
        and request.method not in SAFE_METHODS
        and not security.csrf_valid(claims.session_id, presented)
    ):
        raise PermissionDenied("The CSRF token is missing or wrong; reload the page.")
    return user


_UNSEEN = object()


def _client(request: Request, session: Session, bearer: str) -> api_clients.ClientPrincipal | None:
    """An API client's principal when `bearer` is a live client's token (looked up once per
    request); it then acts as its principal user, within its scopes (`require_scope`)."""
    found = getattr(request.state, "api_client", _UNSEEN)
    if found is _UNSEEN:
        found = api_clients.authenticate(session=session, token=bearer)
        request.state.api_client = found
        if found is not None:
            api_clients.seen(session, found)
            request.state.user = found.user
            request.state.claims = None  # no sign-in session: nothing to sign out or renew
            request.state.csrf_token = None
    return found


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def require_scope(request: Request, session: SessionDep) -> None:
    """Every route, for API clients: the scope its path and method imply (`tickets:write` for
    `PATCH /tickets/…`), else 403 naming it. People and anonymous callers pass untouched (their
    roles govern them), without a thread hop; so does a token that is not a client's."""
    bearer = _bearer_token(request)
    if bearer is None or not security.looks_like_client_token(bearer):
        request.state.api_client = None  # `_authenticate` need not look again
        return
    client = await run_in_threadpool(_client, request, session, bearer)
    if client is None:
        return  # revoked: the route's own authentication answers 401
    route = request.scope.get("route")
    scope = api_clients.scope_for(getattr(route, "path", request.url.path), request.method)
    if scope is not None:
        api_clients.require_scope(client.scopes, scope)


async def get_optional_user(
    request: Request, session: SessionDep, bearer: Annotated[str | None, Depends(_bearer)]
) -> User | None:
    """For public routes: anyone, but a signed-in person still sees their navigation. A
    request without credentials (most readers of the status page) costs no thread hop."""
    if bearer is None and security.COOKIE_NAME not in request.cookies:
        return None
    try:
        return await run_in_threadpool(_authenticate, request, session, bearer)
    except NotAuthenticated:
        return None


def get_current_user(
    request: Request, session: SessionDep, bearer: Annotated[str | None, Depends(_bearer)]
) -> User:
    user = _authenticate(request, session, bearer)
    if user is None:
        raise NotAuthenticated("Sign in first.")
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_staff_user(user: CurrentUser) -> User:
    access.require_staff(user, "see this")
    return user


StaffUser = Annotated[User, Depends(get_staff_user)]


def read_only(load: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """A dependency that only reads through its `session`, run without a thread hop when that
    cannot make the event loop wait (`reads_without_waiting`); FastAPI would send a `def`
    dependency to the thread pool every time. Its signature is the loader's own."""

    @wraps(load)
    async def dependency(*args: Any, **kwargs: Any) -> T:
        if reads_without_waiting(kwargs["session"]):
            return load(*args, **kwargs)
        return await run_in_threadpool(load, *args, **kwargs)

    return dependency


@read_only
def get_institution(code: str, session: SessionDep, user: CurrentUser) -> Institution:
    return institutions.get_institution(session=session, code=code)


InstitutionDep = Annotated[Institution, Depends(get_institution)]


Paging = Annotated[PageParams, Depends(page_params)]


# --- load-or-404: another institution's private record does not exist -----------------------


@read_only
def get_liaison(liaison_id: IdPath, session: SessionDep, user: CurrentUser) -> Liaison:
    return liaisons.get_liaison(session=session, liaison_id=liaison_id)


LiaisonDep = Annotated[Liaison, Depends(get_liaison)]


@read_only
def load_window(window_id: IdPath, session: SessionDep) -> Maintenance:
    return maintenance.get_window(session=session, window_id=window_id)


WindowDep = Annotated[Maintenance, Depends(load_window)]


@read_only
def get_ticket(
    number: Annotated[str, Path(pattern=TICKET_NUMBER, examples=["2026-00042"])],
    session: SessionDep,
    user: CurrentUser,
) -> Ticket:
    """Load-or-404, through the visibility rule: another library's ticket does not exist."""
    return tickets.get_ticket(session=session, actor=user, number=number)


TicketDep = Annotated[Ticket, Depends(get_ticket)]


@read_only
def get_change(change_id: IdPath, session: SessionDep, user: CurrentUser) -> DirectoryChange:
    return directory_changes.get_change(session=session, actor=user, change_id=change_id)


ChangeDep = Annotated[DirectoryChange, Depends(get_change)]


@read_only
def load_incident(incident_id: IdPath, session: SessionDep) -> Incident:
    return incidents.get_incident(session=session, incident_id=incident_id)


IncidentDep = Annotated[Incident, Depends(load_incident)]


@read_only
def load_duty(duty_id: IdPath, session: SessionDep, user: CurrentUser) -> Duty:
    return duties.get_duty(session=session, duty_id=duty_id)


DutyDep = Annotated[Duty, Depends(load_duty)]


# --- communications (lists, announcements, events) ---------------------------------------------


@read_only
def get_mailing_list(
    slug: Annotated[str, Path(pattern=SLUG, max_length=60, examples=["ishare-liaisons"])],
    session: SessionDep,
    user: CurrentUser,
) -> MailingList:
    return lists.get_list(session=session, slug=slug)


MailingListDep = Annotated[MailingList, Depends(get_mailing_list)]


@read_only
def get_announcement(
    announcement_id: IdPath, session: SessionDep, user: CurrentUser
) -> Announcement:
    """Members see sent announcements; a scheduled one exists only for staff."""
    return announcements.get_announcement(
        session=session, actor=user, announcement_id=announcement_id
    )


AnnouncementDep = Annotated[Announcement, Depends(get_announcement)]


@read_only
def get_event(event_id: IdPath, session: SessionDep, user: CurrentUser) -> Event:
    return events.get_event(session=session, event_id=event_id)


EventDep = Annotated[Event, Depends(get_event)]


def get_feed_reader(
    request: Request,
    session: SessionDep,
    bearer: Annotated[str | None, Depends(_bearer)],
    key: Annotated[
        str | None,
        Query(max_length=80, description="Your personal feed key (see the events page)."),
    ] = None,
) -> User:
    """A signed-in member, or a feed reader or calendar program presenting a member's key."""
    user = _authenticate(request, session, bearer) if (bearer or key is None) else None
    user = user or lists.user_for_feed_key(session, key)
    if user is None:
        raise NotAuthenticated("Sign in, or use your personal feed link.")
    return user


FeedReader = Annotated[User, Depends(get_feed_reader)]
