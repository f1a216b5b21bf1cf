"""API clients (issue 15): the client-credentials grant, scopes on every route, what a bound
client sees, secrets (once, hashed, rotated with overlap, revoked at once), last use, audit."""

import base64
import logging
from datetime import timedelta

import pytest
from jose import jwt
from sqlmodel import select

from app.core import security
from app.core.config import get_settings
from app.core.db import utcnow
from app.models.api_client import ApiClient, ApiClientCreate
from app.models.audit import AuditEntry
from app.models.outbox import OutboxMessage
from app.models.user import Role, User
from app.services import api_clients
from tests.routes import BY_ID, OK, PERSONAL, ROUTES, Caller, call, undone

EVERY_SCOPE = sorted(api_clients.SCOPES)


def _client(db, admin, scopes=("tickets:read",), institution=None, name="Reports sync"):
    data = ApiClientCreate(name=name, scopes=list(scopes), institution=institution)
    return api_clients.create_client(session=db, actor=admin, data=data)


def _token_response(http, client_id, secret, **form):
    data = {"grant_type": "client_credentials", "client_id": str(client_id)}
    return http.post("/auth/token", data={**data, "client_secret": secret, **form})


def _bearer(http, client, secret, **form) -> dict[str, str]:
    response = _token_response(http, client.id, secret, **form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def admin(make):
    return make.user(Role.consortium_admin, name="Ada Admin")


# --- the token endpoint --------------------------------------------------------------------


def test_a_token_carries_the_pinned_claims(client, db, admin):
    found, secret = _client(db, admin, scopes=("tickets:read", "maintenance:read"))
    response = _token_response(client, found.id, secret)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().client_token_minutes * 60 == 900
    token = body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    key = get_settings().secret_key.get_secret_value()
    claims = jwt.decode(token, key, algorithms=["HS256"], audience=security.AUDIENCE)
    assert claims["sub"] == f"client:{found.id}"
    assert claims["scope"] == "maintenance:read tickets:read"
    assert claims["aud"] == security.AUDIENCE
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - utcnow().timestamp()) < 60


def test_http_basic_and_a_narrower_scope(client, db, admin):
    found, secret = _client(db, admin, scopes=("tickets:read", "maintenance:read"))
    basic = base64.b64encode(f"{found.id}:{secret}".encode()).decode()
    response = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "maintenance:read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    claims = jwt.get_unverified_claims(response.json()["access_token"])
    assert claims["scope"] == "maintenance:read"
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert client.get("/maintenance", headers=headers).status_code == 200
    assert client.get("/tickets", headers=headers).status_code == 403  # not in this token


def test_asking_for_a_scope_the_client_lacks_is_invalid_scope(client, db, admin):
    found, secret = _client(db, admin)
    response = _token_response(client, found.id, secret, scope="tickets:write")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert "tickets:write" in response.json()["detail"]


def test_a_wrong_secret_is_401_invalid_client_and_throttled(client, db, admin):
    found, secret = _client(db, admin)
    wrong = _token_response(client, found.id, "not-the-secret")
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.json()["status"] == 401 and wrong.json()["detail"]
    assert "www-authenticate" in wrong.headers
    statuses = [_token_response(client, found.id, "not-the-secret").status_code for _ in range(6)]
    assert statuses[-1] == 429, statuses
    throttled = _token_response(client, found.id, secret)  # even the right one waits now
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1


def test_an_unknown_client_and_basic_with_a_wrong_secret_are_401(client, db, admin):
    assert _token_response(client, 999999, "whatever").json()["error"] == "invalid_client"
    assert _token_response(client, "not-a-number", "whatever").status_code == 401
    found, _ = _client(db, admin)
    basic = base64.b64encode(f"{found.id}:wrong".encode()).decode()
    response = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")


def test_the_password_grant_still_wants_its_fields(client):
    response = client.post("/auth/token", data={"username": "someone@example.edu"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["password"]


def test_a_client_token_does_not_work_as_a_cookie(client, db, admin):
    found, secret = _client(db, admin)
    token = _token_response(client, found.id, secret).json()["access_token"]
    client.cookies.set(security.COOKIE_NAME, token)
    try:
        assert client.get("/tickets").status_code == 401
    finally:
        client.cookies.clear()


def _signed(payload: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key or get_settings().secret_key.get_secret_value(), algorithm)


def test_forged_or_stale_client_tokens_are_refused(client, db, admin):
    found, _ = _client(db, admin)
    now = int(utcnow().timestamp())
    claims = {"sub": f"client:{found.id}", "scope": "tickets:read", "aud": security.AUDIENCE}
    good = _signed({**claims, "iat": now, "exp": now + 60})
    assert client.get("/tickets", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    forged = [
        _signed({**claims, "iat": now, "exp": now + 60}, key="another secret" * 4),
        _signed({**claims, "iat": now - 120, "exp": now - 60}),
        _signed({**claims, "iat": now, "exp": now + 60, "aud": "someone-else"}),
        _signed({**claims, "exp": now + 60}),  # no iat
        _signed({**claims, "iat": now, "exp": now + 60}, algorithm="HS512"),
        header + "." + good.split(".")[1] + ".",
    ]
    for token in forged:
        response = client.get("/tickets", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


def test_a_tampered_principal_stops_the_client(client, db, admin, make):
    """An administrator promoting (or reactivating) a client's principal through `/users`
    does not give the client more: its tokens stop working."""
    found, secret = _client(db, admin)
    headers = _bearer(client, found, secret)
    principal = db.get(User, found.principal)
    principal.role = Role.consortium_admin
    db.add(principal)
    db.commit()
    assert client.get("/tickets", headers=headers).status_code == 401
    bound, secret = _client(db, admin, institution=make.institution("BND").code)
    headers = _bearer(client, bound, secret)
    assert client.get("/tickets", headers=headers).status_code == 200
    principal = db.get(User, bound.principal)
    principal.institution = make.institution("ELS").code
    db.add(principal)
    db.commit()
    assert client.get("/tickets", headers=headers).status_code == 401


def test_a_clients_principal_is_not_a_persons_account(client, db, admin, make):
    """The row a client acts through is managed on the client's page: `/users` neither lists
    it nor opens it."""
    found, _ = _client(db, admin)
    headers = make.headers(admin)
    listed = client.get("/users", params={"limit": 200}, headers=headers).json()["data"]
    assert found.principal not in {u["id"] for u in listed}
    assert admin.id in {u["id"] for u in listed}
    assert client.get(f"/users/{found.principal}", headers=headers).status_code == 404


# --- every route checks its scope ----------------------------------------------------------


def _grantable(route) -> bool:
    return api_clients.resource_of(route.path) not in api_clients.NOT_GRANTABLE


def _as_client(world, scopes, institution=None):
    """Bearer headers for a new client with `scopes` (made in the World's session)."""
    found, _ = _client(world.make.session, world.admin, scopes, institution, name="Table")
    token, _ = security.create_client_token(found.id, list(found.scopes))
    return found, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_scope_table(client, connection, db, world, subtests, route):
    """Every shared route × a client without its scope (403 naming it), and with it: an
    unbound client answers as consortium staff would, a bound one as its library's liaison."""
    scope = api_clients.scope_for(route.path, route.method)
    assert scope is not None
    with subtests.test("without"), undone(connection, db):
        _, headers = _as_client(world, [s for s in EVERY_SCOPE if s != scope] or ["status:read"])
        response = call(client, world, route, {"Accept": "application/json", **headers})
        assert response.status_code == 403, response.text
        assert scope in response.json()["detail"]
    if not _grantable(route):
        assert scope not in api_clients.SCOPES
        return
    cases = {"unbound": (None, Caller("x", Role.consortium_staff)), "bound": ("OWN", None)}
    for name, (institution, caller) in cases.items():
        with subtests.test(name), undone(connection, db):
            _, headers = _as_client(world, [scope], institution=institution)
            response = call(client, world, route, {"Accept": "application/json", **headers})
            if caller is not None:
                assert response.status_code == route.status_for(caller), response.text
            else:  # a liaison of OWN; a person's own choice (PERSONAL) is not the client's
                expected = route.status_for(Caller("x", Role.liaison))
                expected = 404 if route.access is PERSONAL else expected
                assert response.status_code == expected, response.text


def test_an_unbound_client_never_administers(client, world):
    _, headers = _as_client(world, EVERY_SCOPE)
    assert client.get("/api-clients", headers=headers).status_code == 403
    assert client.get("/users", headers=headers).status_code == 403
    assert client.get("/auth/me", headers=headers).status_code == 200
    logout = client.post("/auth/logout", headers=headers)  # it has no sign-in to end
    assert logout.status_code == 403 and "auth:write" in logout.json()["detail"]
    invite = client.post(f"/liaisons/{world.own.contact.id}/invitation", headers=headers)
    assert invite.status_code == 403 and "invitations:write" in invite.json()["detail"]


# --- a bound client sees what its library sees ---------------------------------------------


def test_a_bound_client_sees_its_library_and_never_more(client, world):
    make = world.make
    make.comment(world.own.ticket, world.staff, body="Internal: vendor case 0042", internal=True)
    make.comment(world.own.ticket, world.staff, body="We are looking into it.")
    _, headers = _as_client(world, ["tickets:read"], institution=world.own.code)
    own = client.get(f"/tickets/{world.own.ticket.number}", headers=headers)
    assert own.status_code == 200
    other = client.get(f"/tickets/{world.other.ticket.number}", headers=headers)
    assert other.status_code == 404
    listed = {t["number"] for t in client.get("/tickets", headers=headers).json()["data"]}
    assert world.own.ticket.number in listed and world.other.ticket.number not in listed
    comments = client.get(f"/tickets/{world.own.ticket.number}/comments", headers=headers)
    bodies = [c["body"] for c in comments.json()["data"]]
    assert "We are looking into it." in bodies
    assert not any("Internal" in b for b in bodies)
    assert (
        "Internal: vendor case"
        not in client.get(f"/tickets/{world.own.ticket.number}", headers=headers).text
    )


def test_actions_are_audited_as_the_client(client, world):
    found, headers = _as_client(world, ["tickets:write"], institution=world.own.code)
    response = client.post(
        "/tickets",
        json={
            "subject": "Nightly export missing",
            "description": "The nightly export did not arrive.",
            "category": "analytics_reports",
            "institution": world.own.code,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    entry = world.make.session.exec(
        select(AuditEntry).where(
            AuditEntry.entity_type == "ticket", AuditEntry.entity_id == response.json()["number"]
        )
    ).first()
    assert entry.actor_name == f"API client: Table (#{found.id})"
    person = world.make.session.get(User, entry.actor)
    assert person.active is False and person.password_hash is None  # nobody can sign in as it


def test_a_client_that_files_a_ticket_is_sent_no_mail(client, world):
    """Its principal's address is in a domain that is never delivered: mailing it could only
    end as a dead message on the admin's page."""
    _, headers = _as_client(world, ["tickets:write"], institution=world.own.code)
    filed = client.post(
        "/tickets",
        json={
            "subject": "Nightly export missing",
            "description": "The nightly export did not arrive.",
            "category": "analytics_reports",
            "institution": world.own.code,
        },
        headers=headers,
    )
    assert filed.status_code == 201, filed.text
    reply = {"body": "We are looking into it.", "internal": False}
    number = filed.json()["number"]
    staff = world.headers(world.staff)
    watched = {"watchers": [world.own.liaison.id]}
    assert client.patch(f"/tickets/{number}", json=watched, headers=staff).status_code == 200
    assert client.post(f"/tickets/{number}/comments", json=reply, headers=staff).status_code == 201
    sent_to = [
        address
        for message in world.make.session.exec(select(OutboxMessage)).all()
        for address in message.recipients
        if message.context.get("number") == number
    ]
    assert sent_to, "the ticket's other people are still told"
    assert not [a for a in sent_to if a.endswith("@" + api_clients.EMAIL_DOMAIN)]


# --- secrets: once, hashed, rotated, revoked ------------------------------------------------


def test_create_shows_the_secret_once_and_stores_only_its_digest(client, make, db):
    _, headers = make.signed_in(Role.consortium_admin)
    body = {"name": "Reports sync", "scopes": "tickets:read", "institution": ""}
    created = client.post("/api-clients", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    secret = created.json()["client_secret"]
    assert len(secret) >= 43
    found = db.get(ApiClient, created.json()["id"])
    assert secret not in (found.secret_hash, found.previous_secret_hash)
    assert found.secret_hash == security.client_secret_digest(secret)
    again = client.get(created.headers["location"], headers=headers)
    assert "client_secret" not in again.json() and secret not in again.text
    listed = client.get("/api-clients", headers=headers).text
    assert secret not in listed
    assert _token_response(client, created.json()["client_id"], secret).status_code == 200


def test_unknown_scopes_are_refused_in_plain_words(client, make):
    _, headers = make.signed_in(Role.consortium_admin)
    body = {"name": "Sync", "scopes": ["tickets:read", "users:write"]}
    response = client.post("/api-clients", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scopes"
    assert "users:write" in response.json()["detail"]


def test_a_revoked_client_is_refused_at_once(client, db, admin, make):
    found, secret = _client(db, admin)
    headers = _bearer(client, found, secret)
    assert client.get("/tickets", headers=headers).status_code == 200
    _, admin_headers = make.signed_in(Role.consortium_admin)
    revoked = client.delete(f"/api-clients/{found.id}", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert client.get("/tickets", headers=headers).status_code == 401
    assert _token_response(client, found.id, secret).status_code == 401


def test_rotation_keeps_the_old_secret_for_the_overlap(client, db, admin, make):
    found, old = _client(db, admin)
    _, admin_headers = make.signed_in(Role.consortium_admin)
    rotated = client.post(f"/api-clients/{found.id}/rotation", headers=admin_headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert new != old
    assert _token_response(client, found.id, new).status_code == 200
    assert _token_response(client, found.id, old).status_code == 200  # within the overlap
    db.refresh(found)
    found.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
    db.add(found)
    db.commit()
    assert _token_response(client, found.id, old).status_code == 401
    assert _token_response(client, found.id, new).status_code == 200


def test_taking_a_scope_away_stops_tokens_already_issued(client, db, admin, make):
    found, secret = _client(db, admin, scopes=("tickets:read", "maintenance:read"))
    headers = _bearer(client, found, secret)
    _, admin_headers = make.signed_in(Role.consortium_admin)
    body = {"scopes": ["maintenance:read"]}
    changed = client.patch(f"/api-clients/{found.id}", json=body, headers=admin_headers)
    assert changed.status_code == 200, changed.text
    assert client.get("/maintenance", headers=headers).status_code == 200
    assert client.get("/tickets", headers=headers).status_code == 403


def test_last_use_is_written_at_most_once_a_minute(client, db, admin, counted):
    found, secret = _client(db, admin)
    headers = _bearer(client, found, secret)
    db.refresh(found)
    first = found.last_used_at
    assert first is not None  # the token request counts as use
    with counted() as seen:
        assert client.get("/tickets", headers=headers).status_code == 200
    assert not [s for s in seen if s.lstrip().upper().startswith("UPDATE API_CLIENT")]
    found.last_used_at = utcnow() - timedelta(minutes=2)
    db.add(found)
    db.commit()
    assert client.get("/tickets", headers=headers).status_code == 200
    db.refresh(found)
    assert found.last_used_at > utcnow() - timedelta(seconds=30)


def test_secrets_never_reach_the_logs(client, make, caplog):
    caplog.set_level(logging.DEBUG)
    _, headers = make.signed_in(Role.consortium_admin)
    created = client.post(
        "/api-clients", json={"name": "Logged", "scopes": ["status:read"]}, headers=headers
    )
    secret = created.json()["client_secret"]
    token = _token_response(client, created.json()["id"], secret).json()["access_token"]
    client.get("/status", headers={"Authorization": f"Bearer {token}"})
    _token_response(client, created.json()["id"], secret + "x")
    assert caplog.records  # something was logged, and none of it is a secret
    assert secret not in caplog.text and token not in caplog.text


# --- pages ------------------------------------------------------------------------------------


def test_admin_pages(client, make, world):
    admin_headers = {**world.headers(world.admin), "Accept": "text/html"}
    form = client.get("/api-clients/new", headers=admin_headers)
    assert form.status_code == 200
    assert 'value="tickets:read"' in form.text and "Problem reports" in form.text
    created = client.post(
        "/api-clients",
        json={"name": "Sync", "scopes": "tickets:read", "institution": world.own.code},
        headers={**admin_headers, "HX-Request": "true"},
    )
    assert created.status_code == 200  # htmx: the client's page, its secret shown once
    assert "Copy the secret now" in created.text
    listing = client.get("/api-clients", headers=admin_headers)
    assert "Sync" in listing.text and "Ada Admin" in listing.text and "Never" in listing.text
    assert "Read problem reports, their comments and attachments" in listing.text
    detail = client.get(created.headers["location"], headers=admin_headers).text
    assert "Copy the secret now" not in detail
    assert 'class="danger"' in detail and "hx-confirm" in detail
    assert "Read problem reports" in detail
    staff_headers = {**world.headers(world.staff), "Accept": "text/html"}
    assert client.get("/api-clients/new", headers=staff_headers).status_code == 403


def test_only_admins_see_the_nav_entry(client, world):
    for user, shown in ((world.admin, True), (world.staff, False)):
        page = client.get("/", headers={**world.headers(user), "Accept": "text/html"}).text
        assert ('href="/api-clients"' in page) is shown


# --- the OpenAPI document -------------------------------------------------------------------


def test_openapi_declares_the_scheme_and_each_operations_scope(app):
    schema = app.openapi()
    scheme = schema["components"]["securitySchemes"]["ClientCredentials"]
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/auth/token"
    assert (
        flow["scopes"]["tickets:write"] == "Change problem reports, their comments and attachments"
    )
    assert "OAuth2PasswordBearer" in schema["components"]["securitySchemes"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            scope = api_clients.scope_for(path, method)
            if scope is None:
                assert path in api_clients.OPEN_PATHS
                continue
            assert {"ClientCredentials": [scope]} in operation["security"], (method, path)
    public = schema["paths"]["/maintenance.ics"]["get"]["security"]
    assert public[0] in ({}, {"OAuth2PasswordBearer": []})


def test_documenting_scopes_changes_nothing_but_security():
    from fastapi.openapi.utils import get_openapi

    from app.api.api_clients import document_scopes
    from app.main import create_app

    app = create_app()
    plain = get_openapi(title="t", version="1", routes=app.routes)
    documented = document_scopes(get_openapi(title="t", version="1", routes=app.routes))
    for item in (*plain["paths"].values(), *documented["paths"].values()):
        for operation in item.values():
            operation.pop("security", None)
    documented["components"]["securitySchemes"].pop("ClientCredentials")
    assert documented == plain


def test_every_resource_is_grantable_or_deliberately_not():
    """A new top-level resource needs a line in `api_clients.RESOURCES` (plain words for the
    scope) or in `NOT_GRANTABLE`."""
    from app.main import ROUTERS

    resources = {
        api_clients.resource_of(route.path)
        for router in ROUTERS
        for route in router.routes
        if getattr(route, "include_in_schema", False)
    }
    known = set(api_clients.RESOURCES) | api_clients.NOT_GRANTABLE | {"healthz", "readyz"}
    assert resources - known == set()


def test_route_table_entries_for_clients_are_admin_only():
    for name in ("list", "create", "read", "update", "rotate", "revoke"):
        route = BY_ID[f"api_clients.{name}"]
        assert route.access.admin == OK and route.access.staff == 403
