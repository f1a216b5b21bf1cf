"""Sign-in, tokens and sessions, CSRF (login CSRF included) and throttling (issue 10, points
2–5)."""

import base64
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import delete, select
from sqlmodel import Session
from starlette.requests import Request

from app.core import security
from app.core.config import get_settings
from app.core.db import get_session, utcnow
from app.core.middleware import loggable_path
from app.main import create_app
from app.models.audit import AuditEntry
from app.models.auth import LoginThrottle, UserSession
from app.models.institution import Institution
from app.models.user import Role, User
from app.web.deps import client_address
from tests.factories import PASSWORD


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def login(client, email: str, password: str = PASSWORD, **form):
    """Signs in through the form as a browser does: the page first (its CSRF pair), then the
    post."""
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    data = {"username": email, "password": password, "login_csrf": token, **form}
    return client.post("/login", data=data, follow_redirects=False)


def _page_csrf(client) -> str:
    page = client.get("/institutions", headers={"Accept": "text/html"})
    marker = f'name="{security.CSRF_FIELD}" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def _sign_in_with_cookie(client, user) -> str:
    assert login(client, user.email).status_code == 303
    return _page_csrf(client)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- tokens -----------------------------------------------------------------------------------


def test_password_grant_issues_a_bearer_token_that_identifies_the_user(client, make):
    user = make.user(Role.liaison)
    response = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().access_token_minutes * 60
    me = client.get("/auth/me", headers=_bearer(body["access_token"]))
    assert me.json() == {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": "liaison",
        "institution": user.institution,
    }


def test_email_is_case_insensitive(client, make):
    user = make.user(Role.liaison)
    response = client.post(
        "/auth/token", data={"username": user.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(client, make):
    user = make.user(Role.liaison)
    wrong = client.post("/auth/token", data={"username": user.email, "password": "nope-nope-1"})
    unknown = client.post(
        "/auth/token", data={"username": "nobody@test.example.edu", "password": "nope-nope-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


def test_inactive_user_cannot_sign_in_or_use_a_token(client, make, db):
    user = make.user(Role.consortium_admin)
    token = make.token(user)
    user.active = False
    db.add(user)
    db.commit()
    refused = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert refused.status_code == 401
    assert client.get("/auth/me", headers=_bearer(token)).status_code == 401


def _bad_tokens(user_id: int, sid: str) -> dict[str, str]:
    secret = get_settings().secret_key.get_secret_value()
    now = int(time.time())
    good = {
        "sub": str(user_id),
        "jti": "j1",
        "sid": sid,
        "iat": now,
        "exp": now + 600,
        "aud": security.AUDIENCE,
    }
    valid = jwt.encode(good, secret, algorithm="HS256")
    head, _, sig = valid.split(".")

    def without(claim: str) -> str:
        return jwt.encode({k: v for k, v in good.items() if k != claim}, secret, "HS256")

    return {
        "expired": jwt.encode({**good, "iat": now - 7200, "exp": now - 3600}, secret, "HS256"),
        "tampered": f"{head}.{_b64({**good, 'sub': '999999'})}.{sig}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.",
        "other secret": jwt.encode(good, "x" * 40, algorithm="HS256"),
        "HS512": jwt.encode(good, secret, algorithm="HS512"),
        "wrong audience": jwt.encode({**good, "aud": "someone-else"}, secret, "HS256"),
        "no exp": without("exp"),
        "no iat": without("iat"),
        "no sub": without("sub"),
        "no aud": without("aud"),
        "no sid": without("sid"),
        "unknown sid": jwt.encode({**good, "sid": "no-such-session-000"}, secret, "HS256"),
        "another user's sid": jwt.encode({**good, "sub": str(user_id + 1)}, secret, "HS256"),
        "garbage": "not-a-jwt",
    }


def _good_claims(make) -> tuple[User, str]:
    user = make.user(Role.consortium_admin)
    make.user(Role.consortium_admin)  # the next id exists, so "another user's sid" is real
    token = make.token(user)
    return user, security.decode_access_token(token).session_id


@pytest.mark.parametrize("case", list(_bad_tokens(1, "s")))
def test_bad_tokens_get_401_with_www_authenticate(client, make, case):
    user, sid = _good_claims(make)
    token = _bad_tokens(user.id, sid)[case]
    response = client.get("/auth/me", headers=_bearer(token))
    assert response.status_code == 401, case
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["content-type"] == "application/problem+json"


def test_a_well_formed_token_of_a_live_session_works(client, make):
    """The control for the bad-token table: only the defect makes those fail."""
    user, sid = _good_claims(make)
    secret = get_settings().secret_key.get_secret_value()
    now = int(time.time())
    claims = {"sub": str(user.id), "jti": "j1", "sid": sid, "iat": now, "exp": now + 600}
    token = jwt.encode({**claims, "aud": security.AUDIENCE}, secret, "HS256")
    assert client.get("/auth/me", headers=_bearer(token)).status_code == 200


def test_api_logout_ends_the_tokens_sign_in(client, make):
    token = make.token(make.user(Role.consortium_admin))
    assert client.post("/auth/logout", headers=_bearer(token)).status_code == 204
    assert client.get("/auth/me", headers=_bearer(token)).status_code == 401


def test_one_request_authenticates_with_one_statement(client, make, engine):
    """Issue 11 measures per-request cost: a token costs one lookup (the session's "last
    seen" is written at most once a minute)."""
    from sqlalchemy import event

    headers = make.headers(make.user(Role.liaison))
    client.get("/auth/me", headers=headers)  # the first use notes "last seen"
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "user_session" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/auth/me", headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")


# --- browsers: the cookie, CSRF and login CSRF ------------------------------------------------


def test_login_page_sets_an_httponly_lax_cookie_and_redirects(client, make):
    user = make.user(Role.liaison)
    response = login(client, user.email, next="/institutions")
    assert response.status_code == 303
    assert response.headers["location"] == "/institutions"
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{security.COOKIE_NAME}="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Path=/;" in session_cookie
    assert "Secure" not in session_cookie  # plain http in tests; https sets it
    assert client.get("/auth/me").json()["id"] == user.id


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil", "evil"])
def test_login_never_redirects_off_site(client, make, target):
    user = make.user(Role.liaison)
    response = login(client, user.email, next=target)
    assert response.headers["location"] == "/"


def test_failed_login_page_keeps_the_email_and_says_why(client, make):
    user = make.user(Role.liaison)
    response = login(client, user.email, "wrong-password")
    assert response.status_code == 200
    assert "not correct" in response.text
    assert f'value="{user.email}"' in response.text
    assert security.COOKIE_NAME not in client.cookies


def test_login_without_the_forms_csrf_token_is_refused(client, make):
    """Login CSRF: a cross-site form cannot sign the victim in to the attacker's account."""
    user = make.user(Role.liaison)
    bare = client.post(
        "/login", data={"username": user.email, "password": PASSWORD}, follow_redirects=False
    )
    assert bare.status_code == 403
    assert "another site" in bare.text
    assert security.COOKIE_NAME not in client.cookies
    client.get("/login")  # a real nonce cookie, but a token made up by the attacker
    forged = client.post(
        "/login",
        data={"username": user.email, "password": PASSWORD, "login_csrf": "0" * 64},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert security.COOKIE_NAME not in client.cookies


def test_login_from_another_origin_is_refused(client, make):
    user = make.user(Role.liaison)
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    data = {"username": user.email, "password": PASSWORD, "login_csrf": token}
    foreign = client.post(
        "/login", data=data, headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert foreign.status_code == 403
    assert security.COOKIE_NAME not in client.cookies
    token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text).group(1)
    data["login_csrf"] = token
    own = client.post(
        "/login", data=data, headers={"Origin": "http://testserver"}, follow_redirects=False
    )
    assert own.status_code == 303


def test_the_login_forms_cookies_reach_only_the_login_path(client):
    cookie = client.get("/login").headers["set-cookie"]
    assert cookie.startswith(f"{security.LOGIN_CSRF_COOKIE}=")
    assert "Path=/login" in cookie and "HttpOnly" in cookie


def test_cookie_authenticated_write_needs_the_csrf_token(client, make, db):
    user = make.user(Role.consortium_staff)
    csrf = _sign_in_with_cookie(client, user)
    body = {"code": "CSR", "name": "Cross Site"}
    refused = client.post("/institutions", json=body)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert db.get(Institution, "CSR") is None
    wrong = client.post("/institutions", json=body, headers={security.CSRF_HEADER: "0" * 64})
    assert wrong.status_code == 403
    accepted = client.post("/institutions", json=body, headers={security.CSRF_HEADER: csrf})
    assert accepted.status_code == 201


def test_csrf_token_of_another_session_does_not_pass(client, make):
    first = make.user(Role.consortium_staff)
    stolen = _sign_in_with_cookie(client, first)
    second = make.user(Role.consortium_staff)
    client.cookies.clear()
    _sign_in_with_cookie(client, second)
    response = client.post(
        "/institutions", json={"code": "XSS", "name": "x"}, headers={security.CSRF_HEADER: stolen}
    )
    assert response.status_code == 403


def test_bearer_requests_need_no_csrf_token(client, make):
    _, headers = make.signed_in(Role.consortium_staff)
    response = client.post("/institutions", json={"code": "BRR", "name": "Bearer"}, headers=headers)
    assert response.status_code == 201


def test_a_browser_session_past_half_its_life_gets_a_fresh_cookie(client, make, monkeypatch):
    user = make.user(Role.liaison)
    login(client, user.email)
    first = client.cookies.get(security.COOKIE_NAME)
    fresh = client.get("/auth/me")
    assert "set-cookie" not in fresh.headers

    later = utcnow() + timedelta(minutes=get_settings().access_token_minutes * 0.6)
    monkeypatch.setattr(security, "utcnow", lambda: later)
    renewed = client.get("/institutions", headers={"Accept": "text/html"})
    assert renewed.status_code == 200
    assert renewed.headers["set-cookie"].startswith(f"{security.COOKIE_NAME}=")
    assert client.cookies.get(security.COOKIE_NAME) != first
    assert "HttpOnly" in renewed.headers["set-cookie"]


def test_bearer_tokens_are_never_renewed(client, make, monkeypatch):
    _, headers = make.signed_in(Role.liaison)
    later = utcnow() + timedelta(minutes=get_settings().access_token_minutes * 0.6)
    monkeypatch.setattr(security, "utcnow", lambda: later)
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers


def test_logout_ends_every_token_of_the_sign_in_the_one_before_renewal_too(
    client, make, monkeypatch
):
    """Point 4: the cookie token from before renewal used to survive logout."""
    user = make.user(Role.liaison)
    csrf = _sign_in_with_cookie(client, user)
    before_renewal = client.cookies.get(security.COOKIE_NAME)
    later = utcnow() + timedelta(minutes=get_settings().access_token_minutes * 0.6)
    monkeypatch.setattr(security, "utcnow", lambda: later)
    client.get("/auth/me")
    renewed = client.cookies.get(security.COOKIE_NAME)
    assert renewed != before_renewal
    assert client.get("/auth/me", headers=_bearer(before_renewal)).status_code == 200

    without = client.post("/logout", data={}, follow_redirects=False)
    assert without.status_code == 403
    response = client.post("/logout", data={security.CSRF_FIELD: csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert 'portal_token=""' in response.headers["set-cookie"]
    for token in (before_renewal, renewed):
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 401


# --- throttling -------------------------------------------------------------------------------


def test_repeated_failures_for_one_account_are_slowed_down(client, make, monkeypatch):
    monkeypatch.setattr(get_settings(), "login_max_failures_per_account", 3)
    user = make.user(Role.liaison)
    for _ in range(3):
        bad = client.post("/auth/token", data={"username": user.email, "password": "wrong-pass"})
        assert bad.status_code == 401
    throttled = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["retry-after"])
    assert 0 < retry_after <= get_settings().login_delay_seconds
    page = login(client, user.email)
    assert page.status_code == 429
    assert "retry-after" in page.headers
    assert "Wait" in page.text


def test_the_delay_doubles_with_each_failure_after_it(client, make, db, monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "login_max_failures_per_account", 2)
    user = make.user(Role.liaison)
    key = f"account:{user.email}"
    waits = []
    for _ in range(5):
        row = db.get(LoginThrottle, key, populate_existing=True)
        if row is not None:  # the delay has just passed: the next attempt goes through
            row.next_at = time.time() - 1
            db.commit()
        response = client.post("/auth/token", data={"username": user.email, "password": "x" * 12})
        assert response.status_code == 401
        waits.append(db.get(LoginThrottle, key, populate_existing=True).delay)
    base = settings.login_delay_seconds
    assert waits == [0, base, 2 * base, 4 * base, 8 * base]


def test_repeated_failures_from_one_address_are_slowed_down(client, make, monkeypatch):
    monkeypatch.setattr(get_settings(), "login_max_failures_per_address", 4)
    for n in range(4):
        client.post(
            "/auth/token", data={"username": f"guess{n}@test.example.edu", "password": "x" * 12}
        )
    user = make.user(Role.liaison)
    response = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 429


def test_a_quiet_window_starts_the_count_again_and_a_success_clears_it(client, make, db):
    user = make.user(Role.liaison)
    key = f"account:{user.email}"
    long_ago = time.time() - get_settings().login_failure_window_seconds - 5
    db.add(LoginThrottle(key=key, failures=50, delay=600, next_at=long_ago))
    db.commit()
    response = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert db.get(LoginThrottle, key, populate_existing=True) is None


def test_a_known_device_signs_in_while_an_attacker_hammers_the_account(client, make, monkeypatch):
    """Point 3: the right password from a browser that signed in before is never refused
    because of someone else's failures (OWASP device cookies)."""
    monkeypatch.setattr(get_settings(), "login_max_failures_per_account", 3)
    monkeypatch.setattr(get_settings(), "login_delay_seconds", 600)
    admin = make.user(Role.consortium_admin)
    assert login(client, admin.email).status_code == 303
    device = client.cookies.get(security.DEVICE_COOKIE)
    assert device
    client.cookies.clear()

    statuses = Counter(
        client.post(
            "/auth/token", data={"username": admin.email, "password": f"guess-{n:04d}-xx"}
        ).status_code
        for n in range(10)
    )
    assert statuses == {401: 3, 429: 7}
    assert login(client, admin.email).status_code == 429  # an unknown browser waits
    client.cookies.clear()
    client.cookies.set(security.DEVICE_COOKIE, device, path="/login")
    response = login(client, admin.email)
    assert response.status_code == 303
    assert client.get("/auth/me").json()["id"] == admin.id


def test_a_device_cookie_vouches_for_its_own_account_only(client, make):
    first, second = make.user(Role.liaison), make.user(Role.liaison)
    cookie = security.device_cookie_value(first.email)
    assert security.device_for(cookie, first.email)
    assert security.device_for(cookie, second.email) is None
    assert security.device_for(cookie.replace(".", ".0"), first.email) is None


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 4711), "headers": headers})


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "trusted_proxies", "")
    assert client_address(_request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"
    monkeypatch.setattr(settings, "trusted_proxies", "10.0.0.0/8, 192.0.2.1")
    assert client_address(_request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"
    # The nearest hop that is not our own proxy; what the client itself claimed is ignored.
    chain = "1.2.3.4, 203.0.113.9, 10.0.0.7"
    assert client_address(_request("192.0.2.1", chain)) == "203.0.113.9"
    assert client_address(_request("10.1.2.3", "not-an-address")) == "10.1.2.3"
    assert client_address(_request("10.1.2.3")) == "10.1.2.3"


def test_secret_paths_never_reach_the_access_log():
    for path in ("/password-reset/Secret-Token_1", "/invitations/Secret-Token_1"):
        assert "Secret-Token_1" not in loggable_path(path)


# --- parallel guesses, on the real database (not the test's transaction) ----------------------


@pytest.fixture
def live(engine) -> Iterator[tuple[TestClient, User]]:
    """The app on the test database with real commits, and a committed user; all removed
    afterwards."""
    app = create_app()

    def session() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as s:
            yield s

    app.dependency_overrides[get_session] = session
    email = f"parallel-{time.time_ns()}@test.example.edu"
    with Session(engine, expire_on_commit=False) as s:
        user = User(
            email=email,
            name="Pat Parallel",
            role=Role.consortium_admin,
            password_hash=security.hash_password(PASSWORD),
        )
        s.add(user)
        s.commit()
    yield app, user
    with Session(engine) as s:
        s.execute(delete(UserSession).where(UserSession.user_id == user.id))
        s.execute(delete(AuditEntry).where(AuditEntry.actor == user.id))  # its sign-ins
        s.execute(delete(AuditEntry).where(AuditEntry.entity_id == str(user.id)))  # failures
        s.execute(delete(LoginThrottle).where(LoginThrottle.key.like("%:%")))
        s.execute(delete(User).where(User.id == user.id))
        s.commit()


def test_parallel_wrong_passwords_never_exceed_the_limit(live, monkeypatch):
    """Point 2: 23 guesses at once are counted one by one before any is checked; none ends
    in a server error (SQLite used to answer "database is locked")."""
    app, user = live
    limit = get_settings().login_max_failures_per_account
    monkeypatch.setattr(get_settings(), "login_delay_seconds", 600)
    checked = Counter()
    lock = threading.Lock()
    verify = security.verify_password

    def counting(password, password_hash):
        with lock:
            checked["n"] += 1
        return verify(password, password_hash)

    monkeypatch.setattr(security, "verify_password", counting)
    statuses: list[int] = []
    start = threading.Barrier(23)

    def guess(n: int) -> None:
        with TestClient(app, raise_server_exceptions=False) as client:
            start.wait()
            response = client.post(
                "/auth/token", data={"username": user.email, "password": f"wrong-guess-{n:03d}"}
            )
            with lock:
                statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(23)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 23
    assert Counter(statuses) == {401: limit, 429: 23 - limit}
    assert checked["n"] == limit
    with TestClient(app) as client:  # the right password from an unknown client waits too
        right = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
        assert right.status_code == 429


def test_parallel_sign_ins_with_the_right_password_never_fail_on_the_server(live, engine):
    """Each attempt is counted before its check, so more parallel sign-ins of one account than
    its free allowance may be told to retry (429 + Retry-After); none is a server error, and
    every success is a sign-in of its own."""
    app, user = live
    answers: list = []
    lock = threading.Lock()

    def sign_in() -> None:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.post(
                "/auth/token", data={"username": user.email, "password": PASSWORD}
            )
            with lock:
                answers.append((response.status_code, response.headers.get("retry-after")))

    threads = [threading.Thread(target=sign_in) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) <= {200, 429} and statuses[200] >= 1
    assert all(retry for status, retry in answers if status == 429)
    with Session(engine) as s:
        sessions = s.exec(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert len(sessions) == statuses[200]
