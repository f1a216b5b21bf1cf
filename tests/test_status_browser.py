"""In a real browser: staff schedule a window; the status page and the banner show it; the .ics
lists it. Runs the system Chromium against `live_server` (its own database, with demo data)."""

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.core.config import get_settings
from tests.live_server import sign_in

pytestmark = pytest.mark.browser

STAFF = "staff@consortium.example.org"
LIAISON = "liaison@uiu.example.edu"
TITLE = "Browser-scheduled network work"


def local_input(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


def test_staff_schedule_a_window_that_the_status_page_banner_and_ics_show(
    live_server: str, page: Page
):
    now = datetime.now(get_settings().tz).replace(tzinfo=None, second=0, microsecond=0)
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/maintenance/new")
    page.fill("#f-title", TITLE)
    page.fill("#f-starts_at", local_input(now - timedelta(minutes=5)))
    page.fill("#f-ends_at", local_input(now + timedelta(hours=2)))
    page.get_by_label("Network").check()
    page.select_option("#f-impact", "degraded")
    page.get_by_role("button", name="Schedule").click()

    expect(page.locator("#main h1")).to_contain_text(TITLE)
    expect(page.locator("#main .warnings")).to_contain_text("7 days")  # short notice: a warning
    window_path = page.url.removeprefix(live_server)
    assert window_path.startswith("/maintenance/"), page.url

    page.goto(f"{live_server}/status")
    expect(page.locator("#status-live")).to_contain_text(TITLE)
    network = page.locator(".service-grid li", has_text="Network")
    expect(network).to_contain_text("Maintenance")
    expect(page.locator("#status-banner")).to_contain_text(TITLE)

    ics = page.request.get(f"{live_server}/maintenance.ics?service=network")
    assert ics.ok
    assert f"SUMMARY:{TITLE}" in ics.text().replace("\r\n ", "")

    # A liaison sees the banner on an ordinary page, then staff cancel and it goes away.
    liaison = page.context.browser.new_context()
    other = liaison.new_page()
    sign_in(other, live_server, LIAISON)
    other.goto(f"{live_server}/institutions")
    expect(other.locator("#status-banner")).to_contain_text(TITLE)
    liaison.close()

    page.goto(f"{live_server}{window_path}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel window").click()
    expect(page.locator("#main h1")).to_contain_text("Cancelled")
    page.goto(f"{live_server}/status")
    expect(page.locator("#status-banner")).not_to_contain_text(TITLE)


@pytest.mark.parametrize("path", ["/status", "/maintenance", "/maintenance/calendar"])
def test_status_pages_fit_a_phone(live_server: str, browser, path: str):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server}{path}")
    expect(page.locator("h1")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    context.close()
    assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow}px"
