"""Sign-in and sign-out for browsers: the session cookie (API clients use `/auth/token`)."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from app.core import security
from app.core.errors import NotAuthenticated, PermissionDenied, TooManyRequests
from app.services import auth
from app.web.deps import OptionalUser, SessionDep, client_address
from app.web.render import html

router = APIRouter(include_in_schema=False)


def _safe_next(path: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    parts = urlsplit(path)
    return "/" if parts.scheme or parts.netloc else path


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None):
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return html(request, "auth/login.html", next_path=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "/",
):
    target = _safe_next(next)
    try:
        signed_in = auth.sign_in(
            session=session, email=username, password=password, address=client_address(request)
        )
    except (NotAuthenticated, TooManyRequests) as exc:
        throttled = isinstance(exc, TooManyRequests)
        return html(
            request,
            "auth/login.html",
            status_code=429 if throttled else 200,
            headers={"Retry-After": str(exc.retry_after)} if throttled else None,
            error=exc.detail,
            email=username,
            next_path=target,
        )
    cookie = security.session_cookie(
        signed_in.token, signed_in.claims, secure=request.url.scheme == "https"
    )
    return RedirectResponse(target, status_code=303, headers={"Set-Cookie": cookie})


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    csrf_token: Annotated[str, Form(alias=security.CSRF_FIELD)] = "",
):
    """Revokes the cookie's token server-side, then clears the cookie."""
    token = request.cookies.get(security.COOKIE_NAME)
    found = auth.user_for_token(session=session, token=token) if token else None
    if found is not None:
        _, claims = found
        if not security.csrf_valid(claims.token_id, csrf_token):
            raise PermissionDenied("The CSRF token is missing or wrong; reload the page.")
        auth.sign_out(session=session, claims=claims)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(security.COOKIE_NAME, path="/", httponly=True, samesite="lax")
    return response
