"""Sign-in and its throttle, sessions and sign-out, password resets.

Throttling follows what trusted systems do instead of locking accounts: every attempt is first
*reserved* with one atomic statement on a counter row (an account, an address, or a device
that signed in to the account before), so parallel guesses are counted one by one and never
checked past the limit; past a few free failures each further check must wait a delay that
doubles per failure (429 + Retry-After meanwhile). A browser holding the account's device
cookie is counted on its own row, so an attacker hammering the account (or the office's shared
address) never keeps its owner out.
"""

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, delete, insert, or_, update
from sqlmodel import Session, select

from app.core import security
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid, NotAuthenticated, NotFound, TooManyRequests
from app.core.security import TokenClaims
from app.models.auth import LoginThrottle, PasswordReset, UserSession
from app.models.common import without_unsafe
from app.models.user import User
from app.notify.outbox import enqueue
from app.services import audit

BAD_CREDENTIALS = "The e-mail address or password is not correct."
THROTTLED = "Too many failed sign-ins. Wait {wait} and try again."
RESETS_THROTTLED = "Too many requests for a new password. Wait {wait} and try again."
RESET_UNKNOWN = "This password reset link is unknown, used or expired; ask for a new one."
TOUCH_EVERY = timedelta(minutes=1)  # how often a session's "last seen" is written
RESETS_PER_ADDRESS = 3  # reset e-mails before they are slowed down like sign-ins


@dataclass(frozen=True)
class Client:
    """Who is signing in: their address, browser and device cookie (if any)."""

    address: str | None = None
    user_agent: str | None = None
    device_cookie: str | None = None


@dataclass(frozen=True)
class SignIn:
    token: str
    claims: TokenClaims
    user: User
    device_cookie: str  # this browser is now known for the account


def sign_in(*, session: Session, email: str, password: str, client: Client) -> SignIn:
    """Same answer, and the same work, for an unknown e-mail as for a wrong password. Both
    outcomes are audited; a failure with the e-mail as typed, never the password."""
    typed, email = email, email.strip().lower()
    settings = get_settings()
    device = security.device_for(client.device_cookie, email)
    if device is not None:
        keys = [(f"device:{device}", settings.login_max_failures_per_account)]
    else:
        keys = [
            (f"address:{client.address or 'unknown'}", settings.login_max_failures_per_address),
            (f"account:{email}", settings.login_max_failures_per_account),
        ]
    for key, free in keys:
        reserve(session, key, free)
    user = session.exec(select(User).where(User.email == email)).first()
    # End the read before the slow check: on SQLite a write in the same transaction would
    # fail ("database is locked") once another sign-in has written since the read began.
    session.commit()
    known = user is not None and user.active
    if not security.verify_password(password, user.password_hash if known else None) or not known:
        _forget_quiet_rows(session)
        _audit_sign_in(session, user, typed, client, ok=False)
        session.commit()
        raise NotAuthenticated(BAD_CREDENTIALS)
    for key, _ in keys:
        succeeded(session, key)
    token, claims = start_session(session, user, client)
    _audit_sign_in(session, user, typed, client, ok=True)
    session.commit()
    return SignIn(token, claims, user, security.device_cookie_value(email))


def _audit_sign_in(
    session: Session, user: User | None, typed: str, client: Client, *, ok: bool
) -> None:
    """Who signed in, or which e-mail (as typed, shortened) failed, from where; no secret."""
    entry = audit.record(
        session,
        actor=user if ok else None,
        action="sign_in" if ok else "sign_in_failed",
        entity_type="user",
        entity_id=str(user.id) if user is not None else "",
        after={"email": without_unsafe(typed)[:254], "address": client.address},
    )
    if not ok:
        entry.actor_name = without_unsafe(typed)[:200] or "(no e-mail given)"


# --- the throttle ------------------------------------------------------------------------------


def reserve(session: Session, key: str, free: int, message: str = THROTTLED) -> int:
    """Counts one attempt for `key` before it is checked, in one atomic statement; refuses
    (429) while the key waits out its delay. Returns the attempt's number.

    Commits at once: the reservation stands whatever happens next, and the write transaction
    stays short (SQLite: it starts with a write, so it waits its turn instead of failing).
    """
    settings = get_settings()
    now = time.time()
    window, base = settings.login_failure_window_seconds, settings.login_delay_seconds
    table = LoginThrottle.__table__
    session.commit()  # a fresh transaction that starts with a write (see `sign_in`)
    session.execute(_insert_missing(session, key))
    quiet = table.c.next_at < now - window  # no attempt for a whole window: start afresh
    failures = case((quiet, 1), else_=table.c.failures + 1)
    delay = case(
        (failures < free, 0.0),
        (or_(quiet, table.c.delay == 0), base),
        (table.c.delay * 2 > window, float(window)),
        else_=table.c.delay * 2,
    )
    granted = session.execute(
        update(table)
        # The first `free` attempts need no waiting (whatever clock a parallel one read).
        .where(table.c.key == key, or_(quiet, table.c.failures < free, table.c.next_at <= now))
        .values(failures=failures, delay=delay, next_at=now + delay)
        .returning(table.c.failures)
    ).first()
    waiting_until = None
    if granted is None:
        waiting_until = session.get(LoginThrottle, key, populate_existing=True).next_at
    session.commit()
    if granted is None:
        retry = max(math.ceil(waiting_until - now), 1)
        raise TooManyRequests(message.format(wait=_duration(retry)), retry_after=retry)
    return granted[0]


def succeeded(session: Session, key: str) -> None:
    """The right password: an account's or device's count starts again; an address (which
    many people may share) only gets this attempt back."""
    table = LoginThrottle.__table__
    if key.startswith("address:"):
        session.execute(
            update(table)
            .where(table.c.key == key)
            .values(failures=case((table.c.failures > 0, table.c.failures - 1), else_=0))
        )
    else:
        session.execute(delete(table).where(table.c.key == key))


def _insert_missing(session: Session, key: str):
    values = {"key": key, "failures": 0, "delay": 0.0, "next_at": 0.0}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(LoginThrottle).values(values).on_conflict_do_nothing()
    return insert(LoginThrottle).values(values).prefix_with("OR IGNORE")


def _forget_quiet_rows(session: Session) -> None:
    quiet_since = time.time() - get_settings().login_failure_window_seconds
    session.execute(delete(LoginThrottle).where(LoginThrottle.next_at < quiet_since))


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


# --- sessions ---------------------------------------------------------------------------------


def start_session(session: Session, user: User, client: Client) -> tuple[str, TokenClaims]:
    """A new sign-in and its first token (the caller commits)."""
    token, claims = security.create_access_token(str(user.id), security.new_session_id())
    session.add(
        UserSession(
            id=claims.session_id,
            user_id=user.id,
            expires_at=claims.expires_at,
            user_agent=(client.user_agent or "")[:300] or None,
            address=(client.address or "")[:64] or None,
        )
    )
    return token, claims


@dataclass(frozen=True)
class Authenticated:
    user: User
    claims: TokenClaims
    last_seen_at: datetime


# Built once: building a statement and its cache key costs SQLAlchemy about four times what
# running it does, and every signed-in request runs this one (bench/README.md, issue 11).
_LIVE_USER = (
    select(User, UserSession.last_seen_at)
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        UserSession.id == bindparam("session_id"),
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > bindparam("now"),
        User.id == bindparam("user_id"),
        User.active,
    )
)


def authenticate(*, session: Session, token: str) -> Authenticated | None:
    """The user behind a token: one indexed lookup of the user joined to a live session, so a
    revoked sign-in or a disabled account fails at once, in every process."""
    claims = security.decode_access_token(token)
    if claims is None or not claims.subject.isdigit():
        return None
    row = session.exec(
        _LIVE_USER,
        params={"session_id": claims.session_id, "now": utcnow(), "user_id": int(claims.subject)},
    ).first()
    return Authenticated(row[0], claims, row[1]) if row else None


def seen(session: Session, found: Authenticated, renewed: TokenClaims | None = None) -> None:
    """Notes the session's use at most once a minute, and a renewed token's later expiry.

    Its own short transaction: the request's read is committed first, so on SQLite the write
    starts afresh and waits for its turn instead of failing on a stale snapshot.
    """
    now = utcnow()
    if renewed is None and now - found.last_seen_at < TOUCH_EVERY:
        return
    values: dict = {"last_seen_at": now}
    if renewed is not None:
        values["expires_at"] = renewed.expires_at
    session.commit()
    session.execute(
        update(UserSession).where(UserSession.id == found.claims.session_id).values(**values)
    )
    session.commit()


def renew(found: Authenticated) -> tuple[str, TokenClaims]:
    """A fresh token for the same sign-in: revoking the session still ends both."""
    return security.create_access_token(str(found.user.id), found.claims.session_id)


def sign_out(*, session: Session, claims: TokenClaims) -> None:
    """Ends the sign-in the token belongs to, and with it every token of that sign-in."""
    revoke_sessions(session, session_ids=[claims.session_id])
    session.execute(
        delete(UserSession).where(UserSession.expires_at < utcnow() - timedelta(days=30))
    )
    session.commit()


def revoke_sessions(
    session: Session,
    *,
    user_id: int | None = None,
    session_ids: list[str] | None = None,
    keep: str | None = None,
) -> int:
    """Revokes the user's live sessions (or the named ones); the caller commits."""
    stmt = update(UserSession).where(UserSession.revoked_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(UserSession.user_id == user_id)
    if session_ids is not None:
        stmt = stmt.where(UserSession.id.in_(session_ids))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    return session.execute(stmt.values(revoked_at=utcnow())).rowcount


def live_sessions(session: Session, user_id: int) -> list[UserSession]:
    return list(
        session.exec(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > utcnow(),
            )
            .order_by(UserSession.last_seen_at.desc())
        )
    )


# --- password resets --------------------------------------------------------------------------


def request_reset(*, session: Session, email: str, address: str | None) -> None:
    """E-mails a reset link when the address belongs to an active account; says nothing
    either way (the page answers the same), and slows down many requests from one address."""
    reserve(session, f"reset:{address or 'unknown'}", RESETS_PER_ADDRESS, RESETS_THROTTLED)
    email = email.strip().lower()
    user = session.exec(select(User).where(User.email == email, User.active)).first()
    if user is not None:
        issue_reset(session, user)
    session.commit()


def issue_reset(
    session: Session,
    user: User,
    *,
    template: str = "account/reset",
    minutes: int | None = None,
    context: dict | None = None,
) -> PasswordReset:
    """A new single-use link (earlier unused ones stop working), sent through the outbox; the
    caller commits."""
    settings = get_settings()
    session.execute(
        delete(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    )
    token, digest = security.new_link_token()
    lifetime = timedelta(minutes=minutes or settings.password_reset_minutes)
    reset = PasswordReset(user_id=user.id, token_hash=digest, expires_at=utcnow() + lifetime)
    session.add(reset)
    enqueue(
        session,
        to=user.email,
        template=template,
        context={
            "name": user.name,
            "url": f"{settings.base_url}{reset_path(token)}",
            "expires_at": reset.expires_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z"),
            **(context or {}),
        },
    )
    return reset


def reset_path(token: str) -> str:
    """Its token never reaches the access log (`app.core.middleware.loggable_path`)."""
    return f"/password-reset/{token}"


def open_reset(*, session: Session, token: str) -> User:
    found = session.exec(
        select(PasswordReset, User)
        .join(User, User.id == PasswordReset.user_id)
        .where(PasswordReset.token_hash == security.link_digest(token))
    ).first()
    if found is None:
        raise NotFound(RESET_UNKNOWN)
    reset, user = found
    if reset.used_at is not None or reset.expires_at < utcnow() or not user.active:
        raise NotFound(RESET_UNKNOWN)
    return user


def complete_reset(*, session: Session, token: str, password: str) -> User:
    """Sets the new password once; every sign-in of the account ends."""
    user = open_reset(session=session, token=token)
    problem = security.password_problem(password, user.email)
    if problem:
        raise Invalid(f"The password {problem}.", [FieldError("password", problem)])
    used = session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == security.link_digest(token),
            PasswordReset.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:  # a parallel request used it first
        session.rollback()
        raise NotFound(RESET_UNKNOWN)
    set_password(session, user, password, actor=user, action="reset_password")
    session.commit()
    return user


def set_password(session: Session, user: User, password: str, *, actor: User, action: str) -> None:
    """A new password ends every sign-in and clears the account's throttle; the caller
    commits."""
    user.password_hash = security.hash_password(password)
    session.add(user)
    revoke_sessions(session, user_id=user.id)
    session.execute(
        delete(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    )
    succeeded(session, f"account:{user.email}")
    audit.record(session, actor=actor, action=action, entity_type="user", entity_id=str(user.id))
