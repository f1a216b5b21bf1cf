"""Tokens for API clients and the signed-in user."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from app.models.auth import TokenResponse
from app.models.user import UserPublic
from app.services import auth as service
from app.web.deps import CurrentUser, SessionDep, client_address
from app.web.problems import problem_responses
from app.web.render import SharedRoute

router = APIRouter(route_class=SharedRoute, prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenResponse, responses=problem_responses(401, 422, 429))
def create_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, request: Request
):
    """OAuth2 password grant: `username` is the e-mail address. Each token is a sign-in of
    its own, listed on the person's account page until it expires or is revoked. Repeated
    failures are slowed down per account and per address (429 + `Retry-After`)."""
    client = service.Client(
        address=client_address(request), user_agent=request.headers.get("user-agent")
    )
    signed_in = service.sign_in(
        session=session, email=form.username, password=form.password, client=client
    )
    lifetime = signed_in.claims.expires_at - signed_in.claims.issued_at
    return TokenResponse(access_token=signed_in.token, expires_in=int(lifetime.total_seconds()))


@router.get("/me", response_model=UserPublic, responses=problem_responses(401))
def me(user: CurrentUser):
    return user


@router.post("/logout", status_code=204, responses=problem_responses(401, 403))
def revoke_token(user: CurrentUser, session: SessionDep, request: Request):
    """Ends the sign-in this token belongs to (every token of it)."""
    service.sign_out(session=session, claims=request.state.claims)
