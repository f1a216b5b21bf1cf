"""Scheduling a recurring maintenance window in a real browser, on a desktop and on a phone:
the repeat choices (no RRULE typed), the library picked from a filtered list, the warnings
shown before saving, every error at once beside its field, and the lists at 390 px."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from app.services.institutions import today
from tests.live_server import sign_in
from tests.test_browser import DESKTOP, PHONE, SHOTS, axe_violations

pytestmark = pytest.mark.browser

STAFF = "staff@consortium.example.org"


def _no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_staff_schedule_a_weekly_series_with_the_repeat_choices(
    live_server: str, page: Page, viewport: dict
):
    width = "phone" if viewport == PHONE else "desktop"
    title = f"Browser weekly release ({width})"
    page.set_viewport_size(viewport)
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/maintenance/new")
    _no_sideways_scroll(page)

    # Saving the empty form shows every problem at once, beside its field.
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#error-title")).to_contain_text("Enter a title")
    expect(page.locator("#error-starts_at")).to_contain_text("Enter the start")
    expect(page.locator("#error-services")).to_have_text("Choose at least one service")

    first = today() + timedelta(days=3)  # short notice: the check warns before saving
    page.fill("#f-title", title)
    page.fill("#f-starts_at", f"{first:%Y-%m-%d}T22:00")
    page.fill("#f-ends_at", f"{first:%Y-%m-%d}T23:30")
    page.get_by_label("Alma", exact=True).check()
    expect(page.locator("#form-warnings")).to_contain_text("Short notice")

    page.locator("#f-member-filter").press_sequentially("urbana")  # as a person types it
    members = page.locator("#member-list li:visible")
    expect(members).to_have_count(1)
    members.get_by_role("checkbox").check()

    page.select_option("#f-repeat", "weekly")
    expect(page.locator("#f-repeat_monthday")).to_be_hidden()
    page.get_by_label("Tuesday").check()
    page.get_by_label("Thursday").check()
    page.fill("#f-repeat_count", "10")
    assert page.locator("#f-rrule").is_hidden()  # the raw rule stays folded away
    assert axe_violations(page) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"maintenance-form-{width}.png", full_page=True)

    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#main h1")).to_contain_text(title)
    expect(page.locator("#main")).to_contain_text("Scheduled 10 windows")
    expect(page.locator("#main .warnings")).to_contain_text("Short notice")
    expect(page.locator("#main .facts")).to_contain_text("Alma")
    expect(page.locator("#main .facts")).to_contain_text("UIU")
    expect(page).to_have_url(re.compile(r"/maintenance/\d+$"))
    _no_sideways_scroll(page)

    page.goto(f"{live_server}/maintenance")
    rows = page.locator("table.windows tbody tr", has_text=title)
    expect(rows).to_have_count(10)
    _no_sideways_scroll(page)
    page.screenshot(path=SHOTS / f"maintenance-list-{width}.png", full_page=True)
    page.goto(f"{live_server}/incidents")
    _no_sideways_scroll(page)
