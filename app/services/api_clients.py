"""API clients (consortium tools): scopes, secrets, the client-credentials grant, principals.

Scopes follow resources and verbs: a route's scope is its path's first segment and `read` (GET,
HEAD) or `write` (anything else), e.g. `PATCH /tickets/2026-00042` needs `tickets:write`. The
check is made once for every route (`app.web.deps.require_scope`), for clients only; people are
governed by their roles.

A client acts through its principal (`app.models.api_client`): bound to an institution it is
that library's liaison and sees what the library sees, never more (no internal notes, another
library's records are 404); unbound it is consortium staff. Clients never hold administrator
powers: accounts, account invitations, API clients and "my account" have no grantable scope.

Secrets are shown once, stored as keyed digests (`app.core.security.client_secret_digest`);
rotation keeps the previous secret working for `PORTAL_CLIENT_SECRET_OVERLAP_HOURS`; revocation
is immediate, because every request looks the client up (one indexed statement).
"""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from app.core import security
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid, NotAuthenticated, NotFound, PermissionDenied
from app.core.pagination import PageParams, Window, fetch
from app.models.api_client import ApiClient, ApiClientCreate, ApiClientPublic, ApiClientUpdate
from app.models.common import MAX_ID
from app.models.institution import Institution
from app.models.user import Role, User
from app.services import audit, auth
from app.services.access import require_admin

# What each resource's scopes let a client do, in plain words.
RESOURCES: dict[str, str] = {
    "institutions": "member institutions",
    "liaisons": "the directory of people",
    "directory-changes": "directory change requests",
    "tickets": "problem reports, their comments and attachments",
    "canned-replies": "the support team's saved replies",
    "maintenance": "scheduled maintenance",
    "incidents": "incidents",
    "services": "the service catalogue",
    "status": "the status page",
    "duties": "recurring duties",
    "tasks": "duty tasks of each library",
    "lists": "announcement and interest-group lists",
    "announcements": "announcements",
    "events": "events",
    "reports": "reports",
    "audit": "the audit trail",
    "feeds": "the status and calendar feeds",
}
# Resources no client may use: administration, account invitations, a person's own account.
NOT_GRANTABLE = frozenset(
    {"users", "api-clients", "account", "auth", "admin", "invitations", "retention", "webhooks"}
)
ACCOUNT_INVITATIONS = frozenset({"invitation", "invitations"})
VERBS = {"read": "Read {}", "write": "Change {}"}
SCOPES: dict[str, str] = {
    f"{resource}:{verb}": words.format(what)
    for resource, what in RESOURCES.items()
    for verb, words in VERBS.items()
}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes a client needs no scope for: asking for a token, and "who am I".
OPEN_PATHS = frozenset({"/auth/token", "/auth/me"})
TOUCH_EVERY = timedelta(minutes=1)  # how often `last_used_at` is written
BAD_CLIENT = "The client id or secret is not correct."
THROTTLED = "Too many failed token requests. Wait {wait} and try again."
EMAIL_DOMAIN = "api-clients.example"  # RFC 2606: never delivered


def resource_of(path: str) -> str:
    """`/tickets/{number}` → `tickets`; `/maintenance.ics` → `maintenance`; `/` → `home`.
    Account invitations, wherever they sit (`/liaisons/{id}/invitation`), are `invitations`:
    they make accounts, so no client may send or read them."""
    segments = path.lstrip("/").split("/")
    if ACCOUNT_INVITATIONS & set(segments):
        return "invitations"
    return segments[0].split(".", 1)[0] or "home"


def scope_for(path: str, method: str) -> str | None:
    """The scope a route needs, or None for the few open to any client."""
    if path in OPEN_PATHS:
        return None
    verb = "read" if method.upper() in READ_METHODS else "write"
    return f"{resource_of(path)}:{verb}"


def require_scope(granted: frozenset[str], scope: str) -> None:
    if scope not in granted:
        raise PermissionDenied(
            f'This API client needs the scope "{scope}" for this request, and was not granted it.'
        )


def label(client: ApiClient) -> str:
    """How the audit trail and every page name the client (its principal's name)."""
    return f"API client: {client.name} (#{client.id})"


# --- administration ----------------------------------------------------------------------------


def public(client: ApiClient) -> ApiClientPublic:
    return ApiClientPublic(
        id=client.id,
        client_id=str(client.id),
        name=client.name,
        owner=client.owner,
        institution=client.institution,
        scopes=list(client.scopes),
        state="revoked" if client.revoked_at else "active",
        created_at=client.created_at,
        rotated_at=client.rotated_at,
        previous_secret_expires_at=client.previous_secret_expires_at,
        revoked_at=client.revoked_at,
        last_used_at=client.last_used_at,
    )


def list_clients(*, session: Session, actor: User, page: PageParams) -> Window:
    require_admin(actor, "see API clients")
    stmt = select(ApiClient).order_by(col(ApiClient.revoked_at).is_not(None), ApiClient.name)
    window = fetch(session, stmt, page)
    window.items = [public(c) for c in window.items]
    return window


def get_client(*, session: Session, actor: User, client_id: int) -> ApiClient:
    require_admin(actor, "see API clients")
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"No API client has the id {client_id}.")
    return client


def create_client(*, session: Session, actor: User, data: ApiClientCreate) -> tuple[ApiClient, str]:
    """The client, its principal and its first secret (returned once, never stored)."""
    require_admin(actor, "add API clients")
    scopes = _checked_scopes(data.scopes)
    institution = _institution(session, data.institution)
    owner = _owner(session, data.owner or actor.id)
    principal = User(
        email=f"api-client-{secrets.token_hex(8)}@{EMAIL_DOMAIN}",
        name=f"API client: {data.name}",
        role=Role.liaison if institution else Role.consortium_staff,
        institution=institution,
        active=False,  # it can never sign in; only its tokens act as it
        password_hash=None,
    )
    session.add(principal)
    session.flush()
    secret, digest = security.new_client_secret()
    client = ApiClient(
        name=data.name,
        owner=owner,
        institution=institution,
        scopes=scopes,
        principal=principal.id,
        secret_hash=digest,
    )
    session.add(client)
    session.flush()
    principal.name = label(client)
    principal.email = f"api-client-{client.id}@{EMAIL_DOMAIN}"
    session.add(principal)
    audit.created(session, client, actor=actor, exclude=SECRET_FIELDS)
    session.commit()
    return client, secret


def update_client(
    *, session: Session, actor: User, client: ApiClient, data: ApiClientUpdate
) -> ApiClient:
    """Name and scopes; fewer scopes take effect at once, even for tokens already issued."""
    require_admin(actor, "change API clients")
    _live(client)
    fields = data.model_dump(exclude_unset=True)
    with audit.change(session, client, actor=actor, touch=None, exclude=SECRET_FIELDS):
        if fields.get("name"):
            client.name = fields["name"]
        if fields.get("scopes"):
            client.scopes = _checked_scopes(fields["scopes"])
    principal = session.get(User, client.principal)
    principal.name = label(client)
    session.add(principal)
    session.commit()
    return client


def rotate_secret(*, session: Session, actor: User, client: ApiClient) -> str:
    """A new secret; the current one keeps working for the overlap period, so the tool can be
    switched over without downtime. An older previous secret stops at once."""
    require_admin(actor, "rotate API client secrets")
    _live(client)
    secret, digest = security.new_client_secret()
    overlap = timedelta(hours=get_settings().client_secret_overlap_hours)
    now = utcnow()
    client.previous_secret_hash = client.secret_hash if overlap else None
    client.previous_secret_expires_at = now + overlap if overlap else None
    client.secret_hash = digest
    client.rotated_at = now
    session.add(client)
    audit.about(
        session,
        client,
        actor=actor,
        action="rotate_secret",
        after={"previous_secret_expires_at": _iso(client.previous_secret_expires_at)},
    )
    session.commit()
    return secret


def revoke(*, session: Session, actor: User, client: ApiClient) -> ApiClient:
    """Immediate: its secrets and every token already issued stop working."""
    require_admin(actor, "revoke API clients")
    _live(client)
    client.revoked_at = utcnow()
    client.previous_secret_hash = None
    client.previous_secret_expires_at = None
    session.add(client)
    audit.about(
        session, client, actor=actor, action="revoke", after={"revoked_at": _iso(client.revoked_at)}
    )
    session.commit()
    return client


SECRET_FIELDS = {"secret_hash", "previous_secret_hash"}


def _live(client: ApiClient) -> None:
    if client.revoked_at is not None:
        raise Invalid("This API client is revoked; add a new one instead.")


def _checked_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        shown = ", ".join(f'"{s}"' for s in unknown)
        raise Invalid(
            f"Unknown scope {shown}.", [FieldError("scopes", f"{shown} is not a scope we offer")]
        )
    return sorted(set(scopes))


def _institution(session: Session, code: str | None) -> str | None:
    if not code:
        return None
    code = code.strip().upper()
    if session.get(Institution, code) is None:
        raise Invalid(
            f"No institution has the code {code}.",
            [FieldError("institution", "is not a known institution")],
        )
    return code


def _owner(session: Session, user_id: int) -> int:
    owner = session.get(User, user_id)
    if owner is None or not owner.active or not owner.is_staff:
        raise Invalid(
            "The owner must be an active consortium staff member.",
            [FieldError("owner", "must be an active consortium staff member")],
        )
    return owner.id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- the client-credentials grant -------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: security.ClientClaims


def issue_token(
    *,
    session: Session,
    client_id: str,
    client_secret: str,
    scope: str | None,
    address: str | None,
) -> IssuedToken:
    """RFC 6749 §4.4: a token for the client's scopes (or the requested subset of them).

    Wrong credentials are throttled like password sign-ins (`app.services.auth.reserve`): per
    client and per address (the same address counter sign-ins use), 429 + Retry-After."""
    settings = get_settings()
    number = client_id.strip()
    keys = [
        (f"address:{address or 'unknown'}", settings.login_max_failures_per_address),
        (f"client:{number[:100]}", settings.login_max_failures_per_account),
    ]
    for key, free in keys:
        auth.reserve(session, key, free, THROTTLED)
    client = session.get(ApiClient, int(number)) if _is_id(number) else None
    now = utcnow()
    valid = (
        client is not None
        and client.revoked_at is None
        and _secret_matches(client, client_secret, now)
    )
    if not valid:
        session.commit()
        raise NotAuthenticated(BAD_CLIENT)
    for key, _ in keys:
        auth.succeeded(session, key)
    granted = _granted(client, scope)
    token, claims = security.create_client_token(client.id, granted)
    client.last_used_at = now
    session.add(client)
    session.commit()
    return IssuedToken(token, claims)


class InvalidScope(Invalid):
    """RFC 6749 §5.2 `invalid_scope`."""

    status = 400
    title = "Invalid scope"


def _granted(client: ApiClient, scope: str | None) -> list[str]:
    if not scope:
        return list(client.scopes)
    requested = scope.split()
    extra = [s for s in requested if s not in client.scopes]
    if extra:
        shown = ", ".join(f'"{s}"' for s in extra)
        raise InvalidScope(
            f"This client was not granted {shown}.", [FieldError("scope", f"{shown} not granted")]
        )
    return sorted(set(requested))


def _secret_matches(client: ApiClient, secret: str, now: datetime) -> bool:
    if security.client_secret_valid(secret, client.secret_hash):
        return True
    overlap = client.previous_secret_expires_at
    return (
        overlap is not None
        and overlap > now
        and security.client_secret_valid(secret, client.previous_secret_hash)
    )


def _is_id(text: str) -> bool:
    return bool(re.fullmatch(r"[1-9]\d{0,17}", text)) and int(text) <= MAX_ID


# --- requests made with a client's token ------------------------------------------------------


@dataclass(frozen=True)
class ClientPrincipal:
    """Who a client token acts as: its principal user and the scopes in force (the token's,
    less any the client has since lost)."""

    user: User
    client_id: int
    scopes: frozenset[str]
    last_used_at: datetime | None


def authenticate(*, session: Session, token: str) -> ClientPrincipal | None:
    """The client behind a token, or None when it is not a client's token, or the client is
    revoked or its principal tampered with. One indexed statement."""
    claims = security.decode_client_token(token)
    if claims is None:
        return None
    row = session.exec(
        select(User, ApiClient.scopes, ApiClient.last_used_at)
        .join(ApiClient, ApiClient.principal == User.id)
        .where(
            ApiClient.id == claims.client_id,
            col(ApiClient.revoked_at).is_(None),
            col(User.active).is_(False),
            # the principal is still what the client was made as (see `create_client`)
            or_(
                and_(User.role == Role.liaison, User.institution == ApiClient.institution),
                and_(
                    User.role == Role.consortium_staff,
                    col(User.institution).is_(None),
                    col(ApiClient.institution).is_(None),
                ),
            ),
        )
    ).first()
    if row is None:
        return None
    user, scopes, last_used_at = row
    return ClientPrincipal(user, claims.client_id, claims.scopes & set(scopes), last_used_at)


def seen(session: Session, found: ClientPrincipal) -> None:
    """Notes the client's use at most once a minute, in its own short transaction."""
    now = utcnow()
    if found.last_used_at is not None and now - found.last_used_at < TOUCH_EVERY:
        return
    session.commit()
    session.execute(
        update(ApiClient).where(ApiClient.id == found.client_id).values(last_used_at=now)
    )
    session.commit()
