"""The only module that touches JWTs and password hashes."""

import hashlib
import hmac
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
    issued_at: datetime
    expires_at: datetime


def create_access_token(subject: str) -> tuple[str, TokenClaims]:
    settings = get_settings()
    now = utcnow().replace(microsecond=0)
    claims = TokenClaims(
        subject=subject,
        token_id=uuid.uuid4().hex,
        issued_at=now,
        expires_at=now + timedelta(minutes=settings.access_token_minutes),
    )
    payload = {
        "sub": claims.subject,
        "jti": claims.token_id,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "aud": AUDIENCE,
    }
    token = jwt.encode(payload, _secret(), algorithm=ALGORITHM)
    return token, claims


def decode_access_token(token: str) -> TokenClaims | None:
    """The token's claims, or None for any token that is not ours, is tampered or expired."""
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
    if header.get("alg") != ALGORITHM:
        return None
    return TokenClaims(
        subject=str(payload["sub"]),
        token_id=str(payload["jti"]),
        issued_at=datetime.fromtimestamp(payload["iat"], tz=utcnow().tzinfo),
        expires_at=datetime.fromtimestamp(payload["exp"], tz=utcnow().tzinfo),
    )


def session_cookie(token: str, claims: TokenClaims, *, secure: bool) -> str:
    """The `Set-Cookie` value that carries a browser's token: HttpOnly, SameSite=Lax."""
    max_age = int((claims.expires_at - utcnow()).total_seconds())
    cookie = f"{COOKIE_NAME}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax"
    return cookie + ("; Secure" if secure else "")


def needs_renewal(claims: TokenClaims) -> bool:
    """A browser session past half its life gets a fresh token, so active people stay signed in."""
    return utcnow() - claims.issued_at > (claims.expires_at - claims.issued_at) / 2


def csrf_token(token_id: str) -> str:
    """Bound to one sign-in: a token stolen from another session does not pass."""
    return hmac.new(_secret().encode(), f"csrf:{token_id}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(token_id: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(token_id), presented)


def _secret() -> str:
    return get_settings().secret_key.get_secret_value()
