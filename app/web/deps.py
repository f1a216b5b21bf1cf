"""Dependencies every router shares, as `Annotated` aliases."""

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from app.core import security
from app.core.db import get_session
from app.core.errors import NotAuthenticated, PermissionDenied
from app.core.pagination import PageParams
from app.models.common import MAX_ID
from app.models.directory_change import DirectoryChange
from app.models.incident import Incident
from app.models.institution import Institution
from app.models.liaison import Liaison
from app.models.maintenance import Maintenance
from app.models.ticket import Ticket
from app.models.user import User
from app.services import (
    access,
    auth,
    directory_changes,
    incidents,
    institutions,
    liaisons,
    maintenance,
    tickets,
)

SessionDep = Annotated[Session, Depends(get_session)]
TICKET_NUMBER = r"^\d{4}-\d{5,}$"
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The record's id.")]

_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _authenticate(request: Request, session: Session, bearer: str | None) -> User | None:
    """The signed-in user, or None when the request carries no credentials at all.

    A bearer header wins over the cookie; a cookie-authenticated unsafe request must also carry
    the CSRF token bound to that sign-in.
    """
    token = bearer or request.cookies.get(security.COOKIE_NAME)
    if not token:
        return None
    found = auth.user_for_token(session=session, token=token)
    if found is None:
        raise NotAuthenticated("The access token is invalid, expired or revoked.")
    user, claims = found
    if bearer is None and security.needs_renewal(claims):
        # The new cookie rides on whatever response this request gets (app.core.middleware).
        renewed, renewed_claims = security.create_access_token(str(user.id))
        secure = request.url.scheme == "https"
        request.state.set_cookie = security.session_cookie(renewed, renewed_claims, secure=secure)
    request.state.user = user
    request.state.claims = claims
    request.state.csrf_token = security.csrf_token(claims.token_id)
    presented = request.headers.get(security.CSRF_HEADER)
    if (
        bearer is None
        and request.method not in SAFE_METHODS
        and not security.csrf_valid(claims.token_id, presented)
    ):
        raise PermissionDenied("The CSRF token is missing or wrong; reload the page.")
    return user


def get_optional_user(
    request: Request, session: SessionDep, bearer: Annotated[str | None, Depends(_bearer)]
) -> User | None:
    """For public routes: anyone, but a signed-in person still sees their navigation."""
    try:
        return _authenticate(request, session, bearer)
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


def get_staff_user(user: CurrentUser) -> User:
    access.require_staff(user, "see this")
    return user


StaffUser = Annotated[User, Depends(get_staff_user)]


def get_institution(code: str, session: SessionDep, user: CurrentUser) -> Institution:
    return institutions.get_institution(session=session, code=code)


InstitutionDep = Annotated[Institution, Depends(get_institution)]


Paging = Annotated[PageParams, Depends()]


# --- load-or-404: another institution's private record does not exist -----------------------


def get_liaison(liaison_id: IdPath, session: SessionDep, user: CurrentUser) -> Liaison:
    return liaisons.get_liaison(session=session, liaison_id=liaison_id)


LiaisonDep = Annotated[Liaison, Depends(get_liaison)]


def load_window(window_id: IdPath, session: SessionDep) -> Maintenance:
    return maintenance.get_window(session=session, window_id=window_id)


WindowDep = Annotated[Maintenance, Depends(load_window)]


def get_ticket(
    number: Annotated[str, Path(pattern=TICKET_NUMBER, examples=["2026-00042"])],
    session: SessionDep,
    user: CurrentUser,
) -> Ticket:
    """Load-or-404, through the visibility rule: another library's ticket does not exist."""
    return tickets.get_ticket(session=session, actor=user, number=number)


TicketDep = Annotated[Ticket, Depends(get_ticket)]


def get_change(change_id: IdPath, session: SessionDep, user: CurrentUser) -> DirectoryChange:
    return directory_changes.get_change(session=session, actor=user, change_id=change_id)


ChangeDep = Annotated[DirectoryChange, Depends(get_change)]


def load_incident(incident_id: IdPath, session: SessionDep) -> Incident:
    return incidents.get_incident(session=session, incident_id=incident_id)


IncidentDep = Annotated[Incident, Depends(load_incident)]
