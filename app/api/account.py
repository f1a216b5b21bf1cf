"""The signed-in person's own account: `/account` (details, notice choices, password, sign-ins)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.core import security
from app.models.user import AccountPublic, AccountUpdate, PasswordChange
from app.services import auth, users
from app.web.deps import CurrentUser, SessionDep, client_address
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import account as views

router = APIRouter(route_class=SharedRoute, prefix="/account", tags=["account"])
READ = problem_responses(401, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 422, 429)
SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$", description="A sign-in's id.")]
saved = shared("account/index.html", block="account", event="account-saved", context=views.page)


@router.get("", response_model=AccountPublic, responses=READ)
@shared("account/index.html", block="account", context=views.page)
def get_account(session: SessionDep, user: CurrentUser, request: Request):
    """Your details, notice choices and the sign-ins (browsers and tokens) still open."""
    return _account(session, user, request)


@router.patch("", response_model=AccountPublic, responses=WRITE)
@saved
def update_account(data: AccountUpdate, session: SessionDep, user: CurrentUser, request: Request):
    """Your name, phone and notice choices (`notices`: kind of notice → e-mail it or not)."""
    users.update_account(session=session, actor=user, data=data)
    return _account(session, user, request)


@router.post("/password", response_model=AccountPublic, responses=WRITE)
@saved
def change_password(data: PasswordChange, session: SessionDep, user: CurrentUser, request: Request):
    """Needs the current password. Ends every sign-in, tokens included; a browser gets a new
    sign-in and stays signed in."""
    users.change_password(
        session=session, actor=user, current=data.current_password, new=data.new_password
    )
    if "authorization" not in request.headers:
        _sign_in_again(session, user, request)
    return _account(session, user, request)


@router.delete("/sessions/{session_id}", status_code=204, responses=WRITE)
def revoke_session(session_id: SessionId, session: SessionDep, user: CurrentUser):
    """Signs out one of your sign-ins (another person's does not exist: 404)."""
    users.revoke_session(session=session, actor=user, session_id=session_id)
    return Response(status_code=204, headers={"HX-Trigger": "sessions-changed"})


@router.delete("/sessions", status_code=204, responses=WRITE)
def revoke_all_sessions(session: SessionDep, user: CurrentUser):
    """Signs you out everywhere, this browser and this token included."""
    users.revoke_all_sessions(session=session, actor=user)
    response = Response(status_code=204, headers={"HX-Redirect": "/login"})
    response.delete_cookie(security.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


def _account(session, user, request: Request) -> AccountPublic:
    claims = getattr(request.state, "claims", None)
    current = claims.session_id if claims else None
    return users.account(session=session, actor=user, current_session=current)


def _sign_in_again(session, user, request: Request) -> None:
    """The browser that changed the password gets a fresh sign-in (cookie and CSRF token)."""
    client = auth.Client(
        address=client_address(request), user_agent=request.headers.get("user-agent")
    )
    token, claims = auth.start_session(session, user, client)
    session.commit()
    secure = request.url.scheme == "https"
    request.state.set_cookie = security.session_cookie(token, claims, secure=secure)
    request.state.claims = claims
    request.state.csrf_token = security.csrf_token(claims.session_id)
