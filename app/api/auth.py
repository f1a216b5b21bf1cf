"""Tokens for API clients and the signed-in user."""

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.core.errors import DomainError, NotAuthenticated
from app.models.auth import TokenResponse
from app.models.user import UserPublic
from app.services import api_clients
from app.services import auth as service
from app.web.deps import CurrentUser, SessionDep, client_address
from app.web.problems import PROBLEM_JSON, make_problem, problem_responses
from app.web.render import SharedRoute

router = APIRouter(route_class=SharedRoute, prefix="/auth", tags=["auth"])


class TokenForm:
    """OAuth2's token request: the password grant (people) and, with `grant_type=
    client_credentials`, the client-credentials grant (API clients), whose id and secret come
    as form fields or HTTP Basic (RFC 6749 §2.3.1)."""

    def __init__(
        self,
        grant_type: Annotated[str | None, Form(pattern="^(password|client_credentials)$")] = None,
        username: Annotated[str | None, Form()] = None,
        password: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ):
        self.grant_type = grant_type or "password"
        self.username, self.password, self.scope = username, password, scope
        self.client_id, self.client_secret = client_id, client_secret


@router.post(
    "/token", response_model=TokenResponse, responses=problem_responses(400, 401, 422, 429)
)
def create_token(form: Annotated[TokenForm, Depends()], session: SessionDep, request: Request):
    """OAuth2 password grant: `username` is the e-mail address. Each token is a sign-in of
    its own, listed on the person's account page until it expires or is revoked. Repeated
    failures are slowed down per account and per address (429 + `Retry-After`).

    `grant_type=client_credentials`: an API client's short-lived token for its scopes (or the
    `scope` subset asked for); a wrong id or secret is 401 `invalid_client`, throttled alike."""
    if form.grant_type == "client_credentials":
        return _client_token(form, session, request)
    _require(form, "username", "password")
    client = service.Client(
        address=client_address(request), user_agent=request.headers.get("user-agent")
    )
    signed_in = service.sign_in(
        session=session, email=form.username, password=form.password, client=client
    )
    lifetime = signed_in.claims.expires_at - signed_in.claims.issued_at
    return TokenResponse(access_token=signed_in.token, expires_in=int(lifetime.total_seconds()))


def _client_token(form: TokenForm, session: SessionDep, request: Request):
    basic = _basic_credentials(request)
    client_id, secret = basic or (form.client_id, form.client_secret)
    try:
        if not client_id or not secret:
            raise NotAuthenticated("Send the client id and secret (form fields or HTTP Basic).")
        issued = api_clients.issue_token(
            session=session,
            client_id=client_id,
            client_secret=secret,
            scope=form.scope,
            address=client_address(request),
        )
    except NotAuthenticated as exc:
        return _oauth_error(request, exc, "invalid_client", basic=basic is not None)
    except api_clients.InvalidScope as exc:
        return _oauth_error(request, exc, "invalid_scope", basic=False)
    lifetime = issued.claims.expires_at - issued.claims.issued_at
    return TokenResponse(access_token=issued.token, expires_in=int(lifetime.total_seconds()))


def _require(form: TokenForm, *names: str) -> None:
    """The password grant's fields, missing: the same 422 as before the second grant."""
    missing = [n for n in names if getattr(form, n) is None]
    if missing:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body", n), "msg": "Field required"} for n in missing]
        )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def _oauth_error(request: Request, exc: DomainError, error: str, *, basic: bool) -> JSONResponse:
    """RFC 6749 §5.2's `error` beside the problem+json fields every other error has."""
    problem = make_problem(request, exc.status, exc.detail, exc.title)
    body = {"error": error, **problem.model_dump(exclude_none=True, exclude={"errors"})}
    headers = {"Cache-Control": "no-store"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="api-clients"' if basic else "Bearer"
    return JSONResponse(body, exc.status, headers, media_type=PROBLEM_JSON)


@router.get("/me", response_model=UserPublic, responses=problem_responses(401))
def me(user: CurrentUser):
    return user


@router.post("/logout", status_code=204, responses=problem_responses(401, 403))
def revoke_token(user: CurrentUser, session: SessionDep, request: Request):
    """Ends the sign-in this token belongs to (every token of it)."""
    service.sign_out(session=session, claims=request.state.claims)
