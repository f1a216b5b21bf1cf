"""The only module that touches JWTs and password hashes."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from jose import JWTError, jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import get_settings
from app.core.db import utcnow

ALGORITHM = "HS256"
AUDIENCE = "liaison-portal"
COOKIE_NAME = "portal_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Before anyone is signed in: the sign-in form's double-submit cookie, and the cookie that marks
# a browser someone signed in with before (it keeps them out of their account's throttle).
LOGIN_CSRF_COOKIE = "portal_login_csrf"
DEVICE_COOKIE = "portal_device"
LOGIN_PATH = "/login"
DEVICE_DAYS = 365

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the e-mail is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("an unguessable placeholder password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)


COMMON_PASSWORDS = {
    "password1234",
    "passwordpassword",
    "123456789012",
    "qwertyuiopas",
    "letmeinletmein",
}


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password is too weak, or None."""
    if len(password) < 12:
        return "must be at least 12 characters"
    if len(password) > 256:
        return "must be at most 256 characters"
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 6:
        return "is too easy to guess"
    local = email.split("@")[0].lower()
    if len(local) >= 4 and local in password.lower():
        return "must not contain the e-mail address"
    return None


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    token_id: str
    session_id: str  # the sign-in (`user_session`) every token of it names
    issued_at: datetime
    expires_at: datetime


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def create_access_token(subject: str, session_id: str) -> tuple[str, TokenClaims]:
    settings = get_settings()
    now = utcnow().replace(microsecond=0)
    claims = TokenClaims(
        subject=subject,
        token_id=uuid.uuid4().hex,
        session_id=session_id,
        issued_at=now,
        expires_at=now + timedelta(minutes=settings.access_token_minutes),
    )
    payload = {
        "sub": claims.subject,
        "jti": claims.token_id,
        "sid": claims.session_id,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "aud": AUDIENCE,
    }
    token = jwt.encode(payload, _secret(), algorithm=ALGORITHM)
    return token, claims


# Tokens whose signature and claims were verified, by (secret, token): a request repeating a
# token skips the verification (≈ 40 µs) but not the expiry check, and never the database
# lookup that catches a revoked sign-in or disabled account (`auth.authenticate`). Holds only
# what the token itself says, so it is right in every process; cleared when full.
_VERIFIED: dict[tuple[str, str], TokenClaims] = {}
_VERIFIED_MAX = 4096


def decode_access_token(token: str) -> TokenClaims | None:
    """The token's claims, or None for any token that is not ours, is tampered or expired."""
    key = (_secret(), token)
    claims = _VERIFIED.get(key)
    if claims is None:
        claims = _verify_access_token(token)
        if claims is None:
            return None
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = claims
    return claims if utcnow() < claims.expires_at else None


def _verify_access_token(token: str) -> TokenClaims | None:
    try:
        payload = jwt.decode(
            token,
            _secret(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={f"require_{c}": True for c in ("exp", "iat", "sub", "aud", "jti")},
        )
        header = jwt.get_unverified_header(token)
    except JWTError:
        return None
    if header.get("alg") != ALGORITHM or not isinstance(payload.get("sid"), str):
        return None
    return TokenClaims(
        subject=str(payload["sub"]),
        token_id=str(payload["jti"]),
        session_id=payload["sid"],
        issued_at=datetime.fromtimestamp(payload["iat"], tz=utcnow().tzinfo),
        expires_at=datetime.fromtimestamp(payload["exp"], tz=utcnow().tzinfo),
    )


# --- API clients (OAuth 2 client credentials) ---------------------------------------------------

CLIENT_SUBJECT = "client:"


@dataclass(frozen=True)
class ClientClaims:
    client_id: int
    scopes: frozenset[str]
    issued_at: datetime
    expires_at: datetime


def create_client_token(client_id: int, scopes: list[str]) -> tuple[str, ClientClaims]:
    """A short-lived token for an API client: `sub=client:<id>` and the granted `scope`."""
    now = utcnow().replace(microsecond=0)
    claims = ClientClaims(
        client_id=client_id,
        scopes=frozenset(scopes),
        issued_at=now,
        expires_at=now + timedelta(minutes=get_settings().client_token_minutes),
    )
    payload = {
        "sub": f"{CLIENT_SUBJECT}{client_id}",
        "scope": " ".join(sorted(scopes)),
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "aud": AUDIENCE,
    }
    return jwt.encode(payload, _secret(), algorithm=ALGORITHM), claims


def looks_like_client_token(token: str) -> bool:
    """A cheap look (no signature check) that tells a client's token from a person's, so a
    person's request does not pay for a second verification; `decode_client_token` decides."""
    try:
        subject = jwt.get_unverified_claims(token).get("sub")
    except JWTError:
        return False
    return isinstance(subject, str) and subject.startswith(CLIENT_SUBJECT)


def decode_client_token(token: str) -> ClientClaims | None:
    """An API client's claims, or None for anything else (a person's token, tampered, expired).
    The same pinned algorithm and required claims as a person's token."""
    try:
        payload = jwt.decode(
            token,
            _secret(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={f"require_{c}": True for c in ("exp", "iat", "sub", "aud")},
        )
        header = jwt.get_unverified_header(token)
    except JWTError:
        return None
    subject, scope = str(payload["sub"]), payload.get("scope")
    number = subject.removeprefix(CLIENT_SUBJECT)
    if (
        header.get("alg") != ALGORITHM
        or not subject.startswith(CLIENT_SUBJECT)
        or not number.isdigit()
        or not isinstance(scope, str)
    ):
        return None
    return ClientClaims(
        client_id=int(number),
        scopes=frozenset(scope.split()),
        issued_at=datetime.fromtimestamp(payload["iat"], tz=utcnow().tzinfo),
        expires_at=datetime.fromtimestamp(payload["exp"], tz=utcnow().tzinfo),
    )


def new_client_secret() -> tuple[str, str]:
    """A client secret (shown once) and the digest that is stored."""
    secret = secrets.token_urlsafe(32)
    return secret, client_secret_digest(secret)


def client_secret_digest(secret: str) -> str:
    """HMAC-SHA256 keyed with the portal's secret. The secret is 256 random bits, so a slow
    hash would add nothing against guessing, only cost on every token request; the key means
    a copy of the database alone cannot check guesses offline. (Changing `PORTAL_SECRET_KEY`
    therefore voids every client secret: rotate them afterwards.)"""
    return _sign(f"api-client-secret:{secret}")


def client_secret_valid(secret: str, digest: str | None) -> bool:
    return digest is not None and hmac.compare_digest(client_secret_digest(secret), digest)


def session_cookie(token: str, claims: TokenClaims, *, secure: bool) -> str:
    """The `Set-Cookie` value that carries a browser's token: HttpOnly, SameSite=Lax."""
    max_age = int((claims.expires_at - utcnow()).total_seconds())
    cookie = f"{COOKIE_NAME}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax"
    return cookie + ("; Secure" if secure else "")


def needs_renewal(claims: TokenClaims) -> bool:
    """A browser session past half its life gets a fresh token, so active people stay signed in."""
    return utcnow() - claims.issued_at > (claims.expires_at - claims.issued_at) / 2


def csrf_token(session_id: str) -> str:
    """Bound to one sign-in (it outlives cookie renewal): another session's token does not pass."""
    return _sign(f"csrf:{session_id}")


def csrf_valid(session_id: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(session_id), presented)


# --- before sign-in: the login form's CSRF token and the device cookie --------------------------


def new_login_nonce() -> str:
    """The value of the sign-in form's cookie; the form carries `login_csrf_token(nonce)`."""
    return secrets.token_urlsafe(24)


def login_csrf_token(nonce: str) -> str:
    return _sign(f"login-csrf:{nonce}")


def login_csrf_valid(nonce: str | None, presented: str | None) -> bool:
    """Signed double submit: the form's token must be the signature of the cookie's nonce, so a
    cross-site page can neither read the pair nor make one (it has no secret)."""
    return bool(nonce and presented) and hmac.compare_digest(login_csrf_token(nonce), presented)


def login_cookie(name: str, value: str, *, max_age: int, secure: bool) -> str:
    """A cookie only the sign-in form receives."""
    cookie = f"{name}={value}; Max-Age={max_age}; Path={LOGIN_PATH}; HttpOnly; SameSite=Lax"
    return cookie + ("; Secure" if secure else "")


def device_cookie_value(email: str) -> str:
    """OWASP's device cookie: this browser signed in to `email` before."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_sign(f'device:{email.lower()}:{nonce}')}"


def device_for(cookie: str | None, email: str) -> str | None:
    """The device's nonce when `cookie` vouches for `email`, else None."""
    nonce, _, signature = (cookie or "").partition(".")
    if not nonce or not signature:
        return None
    expected = _sign(f"device:{email.lower()}:{nonce}")
    return nonce if hmac.compare_digest(expected, signature) else None


# --- single-use links -------------------------------------------------------------------------


def new_link_token() -> tuple[str, str]:
    """A secret for a link (invitation, password reset) and the digest that is stored."""
    token = secrets.token_urlsafe(32)
    return token, link_digest(token)


def link_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sign(message: str) -> str:
    return hmac.new(_secret().encode(), message.encode(), hashlib.sha256).hexdigest()


def _secret() -> str:
    return get_settings().secret_key.get_secret_value()
