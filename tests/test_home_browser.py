"""The home page in a real browser: every widget loads on its own, the staff charts draw, the
widgets stack on a phone, and the page is axe-core clean once loaded."""

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import sign_in
from tests.test_browser import DESKTOP, LIAISON, PHONE, SHOTS, STAFF, axe_violations

pytestmark = pytest.mark.browser


def _loaded(page: Page) -> None:
    """Waits until no widget is a placeholder any more (each swaps itself in when loaded)."""
    widgets = page.locator(".home-grid > .widget")
    expect(widgets.first).to_be_visible()
    expect(page.locator(".home-grid > [aria-busy='true']")).to_have_count(0, timeout=20_000)
    expect(page.locator(".widget-loading")).to_have_count(0)


def _overflow(page: Page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.parametrize(("width", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_staff_home_loads_its_widgets_and_charts(live_server: str, page: Page, width, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/")
    _loaded(page)
    expect(page.locator("#w-tickets h2")).to_have_text("Ticket queues")
    expect(page.locator("#w-tickets")).to_contain_text("Unassigned")
    expect(page.locator("#w-directory")).to_contain_text("waiting for approval")
    chart = page.locator("#w-activity svg[role='img']")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() > 0  # the demo has tickets in recent weeks
    expect(page.locator("#w-sla table")).to_be_attached()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"home-staff-{width}.png", full_page=True)
    assert _overflow(page) <= 0
    assert axe_violations(page) == []


@pytest.mark.parametrize(("width", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_liaison_home_loads_and_stacks_on_a_phone(live_server: str, page: Page, width, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, LIAISON)
    page.goto(f"{live_server}/")
    _loaded(page)
    expect(page.locator("#w-waiting h2")).to_have_text("Waiting for your answer")
    expect(page.locator("#w-tickets h2")).to_have_text("Your library's tickets")
    expect(page.locator("#w-maintenance")).to_be_visible()
    expect(page.locator("#w-directory")).to_contain_text("waiting for approval")
    expect(page.locator("#w-attention")).to_have_count(0)
    first = page.locator("#w-waiting").bounding_box()
    second = page.locator("#w-tickets").bounding_box()
    assert first and second
    if width == "phone":  # one column: the second widget sits below the first
        assert second["y"] >= first["y"] + first["height"] and second["x"] == first["x"]
        assert first["width"] <= PHONE["width"]
    page.screenshot(path=SHOTS / f"home-liaison-{width}.png", full_page=True)
    assert _overflow(page) <= 0
    assert axe_violations(page) == []
    page.locator("#w-tickets a", has_text="Open tickets of your library").click()
    expect(page).to_have_url(f"{live_server}/tickets?view=open")
