"""A webhook in a real browser: an administrator adds one (an address inside our network is
refused until explicitly allowed), copies the signing secret (shown once), sends a test event
that a local receiver gets signed, reads the delivery log, and deletes the webhook after a
confirmation; the pages are axe-core clean and fit a phone."""

import base64
import hashlib
import hmac
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.core.db import build_engine
from app.notify.webhooks import WebhookWorker
from tests.live_server import sign_in
from tests.test_browser import axe_violations
from tests.test_webhooks_delivery import Receiver

pytestmark = pytest.mark.browser

ADMIN = "admin@consortium.example.org"


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.stop()


def _drain(tmp_path_factory: pytest.TempPathFactory) -> int:
    """The worker, on the live server's database (what `portal worker` does)."""
    [database] = Path(tmp_path_factory.getbasetemp()).glob("live[0-9]*/live.db")
    engine = build_engine(f"sqlite:///{database}")
    worker = WebhookWorker(engine, name="browser-test")
    try:
        return worker.drain_once()
    finally:
        worker.close()
        engine.dispose()


def test_an_admin_adds_tests_and_deletes_a_webhook(
    live_server: str, page: Page, receiver: Receiver, tmp_path_factory
):
    sign_in(page, live_server, ADMIN)
    page.goto(f"{live_server}/webhooks")
    assert axe_violations(page) == []
    page.get_by_role("link", name="Add a webhook").click()
    expect(page).to_have_url(re.compile(r"/webhooks/new$"))
    page.fill("#f-name", "Browser receiver")
    page.fill("#f-url", receiver.url)
    page.get_by_role("checkbox", name="A problem report is filed").check()
    page.get_by_role("checkbox", name="An incident is resolved").check()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Add the webhook").click()
    expect(page.locator("#error-url")).to_contain_text("inside our own network")
    page.select_option("#f-allow_private", "true")
    page.get_by_role("button", name="Add the webhook").click()
    expect(page.get_by_role("heading", name="Copy the signing secret now")).to_be_visible()
    secret = page.locator("code.secret").inner_text()
    assert secret.startswith("whsec_")
    expect(page).to_have_url(re.compile(r"/webhooks/\d+$"))
    webhook_url = page.url
    assert axe_violations(page) == []

    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator("#test-result")).to_contain_text("A test event is queued")
    assert _drain(tmp_path_factory) == 1
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{mac}"

    page.goto(webhook_url)
    expect(page.locator("code.secret")).to_have_count(0)  # never shown again
    log = page.locator("#deliveries")
    expect(log).to_contain_text("Test event")
    expect(log).to_contain_text("Delivered")
    expect(log).to_contain_text("200")
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete the webhook").click()
    expect(page).to_have_url(re.compile(r"/webhooks$"))
    expect(page.locator("#results")).not_to_contain_text("Browser receiver")
