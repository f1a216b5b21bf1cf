"""Sign-in, tokens, CSRF and throttling."""

import base64
import json
import time
from datetime import timedelta

import pytest
from jose import jwt
from sqlalchemy import func, select

from app.core import security
from app.core.config import get_settings
from app.core.db import utcnow
from app.models.institution import Institution
from app.models.user import Role
from tests.factories import PASSWORD


def _token_for(make, role=Role.consortium_admin):
    user = make.user(role)
    response_headers = make.headers(user)
    return user, response_headers["Authorization"].split()[1]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_password_grant_issues_a_bearer_token_that_identifies_the_user(client, make):
    user = make.user(Role.liaison)
    response = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().access_token_minutes * 60
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
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
    user, token = _token_for(make)
    user.active = False
    db.add(user)
    db.commit()
    assert (
        client.post("/auth/token", data={"username": user.email, "password": PASSWORD}).status_code
        == 401
    )
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def _bad_tokens(user_id: int) -> dict[str, str]:
    secret = get_settings().secret_key.get_secret_value()
    now = int(time.time())
    good = {
        "sub": str(user_id),
        "jti": "j1",
        "iat": now,
        "exp": now + 600,
        "aud": security.AUDIENCE,
    }
    valid = jwt.encode(good, secret, algorithm="HS256")
    head, _, sig = valid.split(".")
    return {
        "expired": jwt.encode({**good, "iat": now - 7200, "exp": now - 3600}, secret, "HS256"),
        "tampered": f"{head}.{_b64({**good, 'sub': '999999'})}.{sig}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.",
        "other secret": jwt.encode(good, "x" * 40, algorithm="HS256"),
        "HS512": jwt.encode(good, secret, algorithm="HS512"),
        "wrong audience": jwt.encode({**good, "aud": "someone-else"}, secret, "HS256"),
        "no exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, secret, "HS256"),
        "no iat": jwt.encode({k: v for k, v in good.items() if k != "iat"}, secret, "HS256"),
        "no sub": jwt.encode({k: v for k, v in good.items() if k != "sub"}, secret, "HS256"),
        "no aud": jwt.encode({k: v for k, v in good.items() if k != "aud"}, secret, "HS256"),
        "garbage": "not-a-jwt",
    }


@pytest.mark.parametrize("case", list(_bad_tokens(1)))
def test_bad_tokens_get_401_with_www_authenticate(client, make, case):
    user = make.user(Role.consortium_admin)
    token = _bad_tokens(user.id)[case]
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, case
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["content-type"] == "application/problem+json"


def test_a_well_formed_token_for_the_same_user_works(client, make):
    """The control for the bad-token table: only the defect makes those fail."""
    user = make.user(Role.consortium_admin)
    token, _ = security.create_access_token(str(user.id))
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_revoked_token_is_refused(client, make):
    _, token = _token_for(make)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert client.get("/auth/me", headers=headers).status_code == 401


def test_login_page_sets_an_httponly_lax_cookie_and_redirects(client, make):
    user = make.user(Role.liaison)
    response = client.post(
        "/login",
        data={"username": user.email, "password": PASSWORD, "next": "/institutions"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/institutions"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{security.COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in tests; https sets it
    assert client.get("/auth/me").json()["id"] == user.id


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil", "evil"])
def test_login_never_redirects_off_site(client, make, target):
    user = make.user(Role.liaison)
    response = client.post(
        "/login",
        data={"username": user.email, "password": PASSWORD, "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_failed_login_page_keeps_the_email_and_says_why(client, make):
    user = make.user(Role.liaison)
    response = client.post("/login", data={"username": user.email, "password": "wrong-password"})
    assert response.status_code == 200
    assert "not correct" in response.text
    assert f'value="{user.email}"' in response.text
    assert security.COOKIE_NAME not in response.headers.get("set-cookie", "")


def _sign_in_with_cookie(client, user) -> str:
    client.post("/login", data={"username": user.email, "password": PASSWORD})
    page = client.get("/institutions", headers={"Accept": "text/html"})
    marker = f'name="{security.CSRF_FIELD}" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


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


def test_logout_revokes_the_cookie_token(client, make):
    user = make.user(Role.liaison)
    csrf = _sign_in_with_cookie(client, user)
    token = client.cookies.get(security.COOKIE_NAME)
    without = client.post("/logout", data={}, follow_redirects=False)
    assert without.status_code == 403
    response = client.post("/logout", data={security.CSRF_FIELD: csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert 'portal_token=""' in response.headers["set-cookie"]
    replay = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert replay.status_code == 401


def test_repeated_failures_for_one_account_are_throttled(client, make, monkeypatch):
    monkeypatch.setattr(get_settings(), "login_max_failures_per_account", 3)
    user = make.user(Role.liaison)
    for _ in range(3):
        bad = client.post("/auth/token", data={"username": user.email, "password": "wrong-pass"})
        assert bad.status_code == 401
    throttled = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["retry-after"])
    assert 0 < retry_after <= get_settings().login_failure_window_seconds
    page = client.post("/login", data={"username": user.email, "password": PASSWORD})
    assert page.status_code == 429
    assert "retry-after" in page.headers


def test_repeated_failures_from_one_address_are_throttled(client, make, monkeypatch):
    monkeypatch.setattr(get_settings(), "login_max_failures_per_address", 4)
    for n in range(4):
        client.post(
            "/auth/token", data={"username": f"guess{n}@test.example.edu", "password": "x" * 12}
        )
    user = make.user(Role.liaison)
    response = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 429


def test_failures_outside_the_window_do_not_count(client, make, db, monkeypatch):
    from app.models.auth import LoginFailure

    monkeypatch.setattr(get_settings(), "login_max_failures_per_account", 2)
    user = make.user(Role.liaison)
    old = utcnow() - timedelta(seconds=get_settings().login_failure_window_seconds + 5)
    db.add_all([LoginFailure(key=f"account:{user.email}", at=old) for _ in range(5)])
    db.commit()
    response = client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 200
    remaining = db.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.key == f"account:{user.email}")
    )
    assert remaining == 0  # a success clears the account's failures


def test_the_secret_is_required_in_production(monkeypatch):
    from pydantic import ValidationError

    from app.core.config import Settings

    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="PORTAL_SECRET_KEY must be set"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(environment="production", secret_key="short")


def test_a_browser_session_past_half_its_life_gets_a_fresh_cookie(client, make, monkeypatch):
    user = make.user(Role.liaison)
    client.post("/login", data={"username": user.email, "password": PASSWORD})
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
