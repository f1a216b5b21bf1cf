"""Sign-in, tokens, sign-out and login throttling."""

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, or_
from sqlmodel import Session, select

from app.core import security
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import NotAuthenticated, TooManyRequests
from app.core.security import TokenClaims
from app.models.auth import LoginFailure, RevokedToken
from app.models.user import User

BAD_CREDENTIALS = "The e-mail address or password is not correct."


@dataclass(frozen=True)
class SignIn:
    token: str
    claims: TokenClaims
    user: User


def sign_in(*, session: Session, email: str, password: str, address: str | None) -> SignIn:
    """Same answer, and the same work, for an unknown e-mail as for a wrong password."""
    email = email.strip().lower()
    keys = [f"account:{email}", f"address:{address or 'unknown'}"]
    _refuse_if_throttled(session, keys)
    user = session.exec(select(User).where(User.email == email)).first()
    known = user is not None and user.active
    if not security.verify_password(password, user.password_hash if known else None) or not known:
        session.add_all([LoginFailure(key=k) for k in keys])
        session.exec(delete(LoginFailure).where(LoginFailure.at < _window_start()))
        session.commit()
        raise NotAuthenticated(BAD_CREDENTIALS)
    session.exec(delete(LoginFailure).where(LoginFailure.key == keys[0]))
    token, claims = security.create_access_token(str(user.id))
    session.commit()
    return SignIn(token=token, claims=claims, user=user)


def user_for_token(*, session: Session, token: str) -> tuple[User, TokenClaims] | None:
    claims = security.decode_access_token(token)
    if claims is None or not claims.subject.isdigit():
        return None
    revoked = select(RevokedToken.jti).where(RevokedToken.jti == claims.token_id).exists()
    user = session.exec(
        select(User).where(User.id == int(claims.subject), User.active, ~revoked)
    ).first()
    return (user, claims) if user else None


def sign_out(*, session: Session, claims: TokenClaims) -> None:
    if session.get(RevokedToken, claims.token_id) is None:
        session.add(RevokedToken(jti=claims.token_id, expires_at=claims.expires_at))
    session.exec(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
    session.commit()


def _window_start():
    return utcnow() - timedelta(seconds=get_settings().login_failure_window_seconds)


def _refuse_if_throttled(session: Session, keys: list[str]) -> None:
    settings = get_settings()
    window = timedelta(seconds=settings.login_failure_window_seconds)
    since = utcnow() - window
    limits = {
        "account": settings.login_max_failures_per_account,
        "address": settings.login_max_failures_per_address,
    }
    rows = session.exec(
        select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
        .where(or_(*(LoginFailure.key == k for k in keys)), LoginFailure.at >= since)
        .group_by(LoginFailure.key)
    ).all()
    for key, count, oldest in rows:
        if count >= limits[key.split(":", 1)[0]]:
            retry = math.ceil((oldest + window - utcnow()).total_seconds())
            raise TooManyRequests(
                "Too many failed sign-ins. Wait a while and try again.",
                retry_after=max(retry, 1),
            )
