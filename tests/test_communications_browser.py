"""Communications in a real browser: compose with a live preview, send, find it in the archive,
and the acknowledgement board; axe-core finds no serious or critical violation."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import sign_in
from tests.test_browser import STAFF, axe_violations

pytestmark = pytest.mark.browser
LIAISON = "liaison@uiu.example.edu"


def test_compose_preview_send_archive_and_board(live_server: str, page: Page):
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/announcements/new")
    # Typed at once, while the page's first preview is still on its way: that preview once
    # answered an empty body with an error, whose focus jump took the subject's keystrokes.
    page.fill("#f-subject", "Browser-sent courier notice")
    page.check("input[name=lists][value=ishare-fulfillment]")
    page.locator("#f-body").press_sequentially(
        "Trucks run **Tuesday**. <script>alert(1)</script>", delay=5
    )
    expect(page.locator("#preview strong")).to_have_text("Tuesday")
    assert page.locator("#preview script").count() == 0
    assert axe_violations(page) == []
    expect(page.locator("#f-subject")).to_have_value("Browser-sent courier notice")
    expect(page.locator("#flash")).not_to_contain_text("Invalid request")
    page.click("#compose button[type=submit]")
    # Sending writes a message per member: give a loaded CI machine time before judging.
    expect(page).to_have_url(re.compile(r"/announcements/\d+$"), timeout=20_000)
    expect(page.locator("h1")).to_contain_text("Browser-sent courier notice")
    expect(page.locator("main")).to_contain_text("Sent")
    assert axe_violations(page) == []

    page.goto(f"{live_server}/announcements?q=courier+notice")
    expect(page.locator("#results")).to_contain_text("Browser-sent courier notice")
    assert axe_violations(page) == []

    page.goto(f"{live_server}/announcements?q=rollover")
    page.click("#results a >> nth=0")
    page.click("text=Acknowledgement board")
    expect(page.locator("#board")).to_contain_text("libraries acknowledged")
    expect(page.locator("#board tbody tr").first).to_contain_text("Not yet")
    assert axe_violations(page) == []


def test_a_liaison_acknowledges_from_the_page_and_home_shows_it(live_server: str, page: Page):
    sign_in(page, live_server, LIAISON)
    page.goto(f"{live_server}/")
    expect(page.locator("main")).to_contain_text("Recent announcements")
    assert axe_violations(page) == []
    page.goto(f"{live_server}/announcements?q=rollover")
    page.click("#results a >> nth=0")
    button = page.locator("#acknowledgement button")
    if button.count():  # UIU may be among the half the demo acknowledged already
        button.click()
        expect(page.locator("#acknowledgement")).to_contain_text("Acknowledged")
    else:
        expect(page.locator("#acknowledgement")).to_contain_text("acknowledged on")
    assert axe_violations(page) == []
    page.goto(f"{live_server}/events")
    expect(page.locator("main")).to_contain_text("Annual Meeting")
    assert axe_violations(page) == []
