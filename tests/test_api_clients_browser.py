"""An API client in a real browser: an administrator adds one with scopes chosen in plain
words, copies its secret (shown once), the tool gets a token with it, and revoking (after a
confirmation) stops the tool at once; the pages are axe-core clean."""

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.live_server import sign_in
from tests.test_browser import axe_violations

pytestmark = pytest.mark.browser

ADMIN = "admin@consortium.example.org"


def _token_status(base_url: str, client_id: str, secret: str) -> int:
    form = {"grant_type": "client_credentials"}
    return httpx.post(f"{base_url}/auth/token", data=form, auth=(client_id, secret)).status_code


def test_an_admin_adds_uses_and_revokes_a_client(live_server: str, page: Page):
    sign_in(page, live_server, ADMIN)
    page.goto(f"{live_server}/api-clients")
    assert axe_violations(page) == []
    page.get_by_role("link", name="Add an API client").click()
    expect(page).to_have_url(re.compile(r"/api-clients/new$"))
    page.fill("#f-name", "Browser reports sync")
    page.get_by_role(
        "checkbox", name="Read problem reports, their comments and attachments"
    ).check()
    page.get_by_role("checkbox", name="Read scheduled maintenance").check()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Add the client").click()
    expect(page.get_by_role("heading", name="Copy the secret now")).to_be_visible()
    client_id = page.locator(".secret-once dd code").first.inner_text()
    secret = page.locator("code.secret").inner_text()
    assert len(secret) >= 43
    assert _token_status(live_server, client_id, secret) == 200
    assert axe_violations(page) == []

    page.goto(f"{live_server}/api-clients/{client_id}")
    expect(page.locator("code.secret")).to_have_count(0)  # never shown again
    expect(page.locator("#api-client-main")).to_contain_text("Read scheduled maintenance")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke the client").click()
    expect(page.locator("#api-client-main")).to_contain_text("Revoked")
    assert _token_status(live_server, client_id, secret) == 401
