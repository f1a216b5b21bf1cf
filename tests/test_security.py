"""Issue 10: security headers, production defaults, secrets kept out of logs."""

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_session
from app.core.logging import JsonFormatter
from app.core.middleware import CSP, loggable_path
from app.main import create_app
from app.models.user import Role
from app.web.render import TEMPLATES_DIR as TEMPLATES


@pytest.fixture
def production(monkeypatch, connection):
    """A client of the portal as configured for production."""

    def build(**env: str) -> TestClient:
        monkeypatch.setenv("PORTAL_ENVIRONMENT", "production")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        app = create_app()

        def session():
            with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
                yield s

        app.dependency_overrides[get_session] = session
        return TestClient(app, base_url="https://portal.example.org")

    yield build
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/status", {"Accept": "text/html"}),
        ("/status", {}),
        ("/login", {}),
        ("/no-such-page", {"Accept": "text/html"}),
        ("/institutions", {}),  # a 401 problem
    ],
    ids=["page", "json", "login", "404-page", "401-problem"],
)
def test_every_response_carries_the_security_headers(client, path, headers):
    response = client.get(path, headers=headers)
    assert response.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "server" not in response.headers
    assert "strict-transport-security" not in response.headers  # development: plain http


def test_templates_have_no_inline_script_or_style():
    """The CSP forbids them: anything inline would silently stop working in the browser."""
    for template in TEMPLATES.rglob("*.html"):
        body = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), template
        assert "<style" not in body and " style=" not in body, template
        assert not re.search(r"\son[a-z]+=", body), template


def test_pages_have_no_inline_script_or_style(client, make):
    _, headers = make.signed_in(Role.consortium_staff)
    for path in ("/", "/status", "/tickets", "/institutions", "/maintenance", "/login"):
        body = client.get(path, headers={**headers, "Accept": "text/html"}).text
        assert "<script>" not in body and "<script type" not in body, path
        assert "<style" not in body, path
        assert " style=" not in body, path
        assert " onclick=" not in body and " onload=" not in body, path


def test_production_sends_hsts_and_keeps_the_api_documents_for_signed_in_people(production, make):
    client = production()
    response = client.get("/status")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    for path in ("/openapi.json", "/docs"):
        refused = client.get(path)
        assert refused.status_code == 401, path
    _, headers = make.signed_in(Role.library_staff)
    document = client.get("/openapi.json", headers=headers)
    assert document.status_code == 200
    assert "/tickets" in document.json()["paths"]
    assert client.get("/docs", headers=headers).status_code == 200


def test_production_may_publish_the_api_documents(production):
    client = production(PORTAL_PUBLIC_API_DOCS="1")
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/invitations/abc123SECRET", "/invitations/[redacted]"),
        ("/password-reset/abc123SECRET", "/password-reset/[redacted]"),
        ("/tickets/2026-00001", "/tickets/2026-00001"),
    ],
)
def test_secret_tokens_in_paths_are_redacted_from_the_access_log(client, caplog, path, logged):
    assert loggable_path(path) == logged
    with caplog.at_level(logging.INFO, logger="app.access"):
        client.get(path, headers={"Accept": "text/html"})
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "SECRET" not in text
    assert logged in text


def test_the_base_url_must_be_absolute(monkeypatch):
    from app.core.config import Settings

    monkeypatch.setenv("PORTAL_BASE_URL", "portal.example.org")
    with pytest.raises(ValueError, match="PORTAL_BASE_URL"):
        Settings()
    monkeypatch.setenv("PORTAL_BASE_URL", "https://portal.example.org/")
    assert Settings().base_url == "https://portal.example.org"
