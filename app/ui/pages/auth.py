"""Sign-in, sign-out and forgotten passwords for browsers: the session cookie (API clients
use `/auth/token`).

The sign-in form is protected against login CSRF twice: a cross-site `Origin` is refused, and
the form must carry the signature of a nonce this site set in a cookie only `/login` receives
(a signed double submit). A browser that signed in before holds a device cookie for the
account, which keeps its owner out of the throttle an attacker may have run up.
"""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.core import security
from app.core.config import get_settings
from app.core.errors import (
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)
from app.services import auth
from app.web.deps import OptionalUser, SessionDep, client_address
from app.web.render import html

router = APIRouter(include_in_schema=False)
LOGIN_FORM_SECONDS = 2 * 60 * 60  # how long a sign-in form may stay open
STALE_FORM = "The sign-in form had expired or came from another site; please sign in again."
RESET_SENT = (
    "If an account uses that address, a link to choose a new password is on its way. "
    "It works once, for {minutes} minutes."
)


def _safe_next(path: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    parts = urlsplit(path)
    return "/" if parts.scheme or parts.netloc else path


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_settings().base_url.startswith("https://")


def _login_form(request: Request, *, status_code: int = 200, **values) -> HTMLResponse:
    """The sign-in page with a fresh double-submit pair (cookie + hidden field)."""
    nonce = security.new_login_nonce()
    response = html(
        request,
        "auth/login.html",
        status_code=status_code,
        login_csrf=security.login_csrf_token(nonce),
        **values,
    )
    response.headers.append(
        "Set-Cookie",
        security.login_cookie(
            security.LOGIN_CSRF_COOKIE,
            nonce,
            max_age=LOGIN_FORM_SECONDS,
            secure=_secure(request),
        ),
    )
    return response


def _same_origin(request: Request) -> bool:
    """No `Origin` (older browsers, some privacy settings), or the portal's own: its
    configured public address, or the address this request was sent to."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = {_origin(get_settings().base_url), _origin(str(request.base_url))}
    return origin.rstrip("/").lower() in own


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None):
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_form(request, next_path=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "/",
    login_csrf: Annotated[str, Form(max_length=200)] = "",
):
    target = _safe_next(next)
    nonce = request.cookies.get(security.LOGIN_CSRF_COOKIE)
    if not _same_origin(request) or not security.login_csrf_valid(nonce, login_csrf):
        return _login_form(
            request, status_code=403, error=STALE_FORM, email=username, next_path=target
        )
    client = auth.Client(
        address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        device_cookie=request.cookies.get(security.DEVICE_COOKIE),
    )
    try:
        signed_in = auth.sign_in(session=session, email=username, password=password, client=client)
    except (NotAuthenticated, TooManyRequests) as exc:
        throttled = isinstance(exc, TooManyRequests)
        return _login_form(
            request,
            status_code=429 if throttled else 200,
            headers={"Retry-After": str(exc.retry_after)} if throttled else None,
            error=exc.detail,
            email=username,
            next_path=target,
        )
    secure = _secure(request)
    response = RedirectResponse(target, status_code=303)
    response.headers.append(
        "Set-Cookie", security.session_cookie(signed_in.token, signed_in.claims, secure=secure)
    )
    response.headers.append(
        "Set-Cookie",
        security.login_cookie(
            security.DEVICE_COOKIE,
            signed_in.device_cookie,
            max_age=security.DEVICE_DAYS * 86400,
            secure=secure,
        ),
    )
    response.delete_cookie(security.LOGIN_CSRF_COOKIE, path=security.LOGIN_PATH)
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    csrf_token: Annotated[str, Form(alias=security.CSRF_FIELD)] = "",
):
    """Ends this sign-in server-side (every token of it), then clears the cookie."""
    token = request.cookies.get(security.COOKIE_NAME)
    found = auth.authenticate(session=session, token=token) if token else None
    if found is not None:
        if not security.csrf_valid(found.claims.session_id, csrf_token):
            raise PermissionDenied("The CSRF token is missing or wrong; reload the page.")
        auth.sign_out(session=session, claims=found.claims)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(security.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response


# --- forgotten passwords ----------------------------------------------------------------------


@router.get("/password-reset")
def forgot_password(request: Request):
    return html(request, "auth/forgot.html")


@router.post("/password-reset")
def request_reset(
    request: Request, session: SessionDep, email: Annotated[str, Form(max_length=254)]
):
    """The same answer whether or not the address has an account."""
    try:
        auth.request_reset(session=session, email=email, address=client_address(request))
    except TooManyRequests as exc:
        return html(
            request,
            "auth/forgot.html",
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
            error=exc.detail,
            email=email,
        )
    minutes = get_settings().password_reset_minutes
    return html(request, "auth/forgot.html", sent=RESET_SENT.format(minutes=minutes))


@router.get("/password-reset/{token}")
def reset_page(request: Request, session: SessionDep, token: str):
    user = auth.open_reset(session=session, token=token)
    return html(request, "auth/reset.html", person=user, token=token)


@router.post("/password-reset/{token}")
def reset_password(
    request: Request,
    session: SessionDep,
    token: str,
    password: Annotated[str, Form(max_length=256)],
):
    """The unguessable single-use token is the credential; every sign-in of the account ends."""
    try:
        auth.complete_reset(session=session, token=token, password=password)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        user = auth.open_reset(session=session, token=token)
        return html(
            request,
            "auth/reset.html",
            status_code=exc.status,
            person=user,
            token=token,
            error=exc.detail,
        )
    return _login_form(request, notice="Your new password is set. Sign in with it.", next_path="/")
