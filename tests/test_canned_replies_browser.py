"""Saved replies in a real browser: staff add one (an unknown placeholder is refused in plain
words first), open a ticket, insert it from the reply box filled in for that ticket, edit it
and send; the comment shows the edited text. Pages are axe-core clean."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import sign_in
from tests.test_browser import axe_violations

pytestmark = pytest.mark.browser

STAFF = "staff@consortium.example.org"


def test_staff_insert_a_saved_reply_edit_it_and_send(live_server: str, page: Page):
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/canned-replies")
    expect(page.locator("main")).to_contain_text("Looking into it")  # the demo's own
    assert axe_violations(page) == []
    page.get_by_role("link", name="Add a saved reply").click()
    page.fill("#f-name", "Fixed for you")
    page.fill("#f-body", "Dear {customer},\nticket {ticket number} for {library} is fixed.")
    page.get_by_role("button", name="Add the reply").click()
    expect(page.locator("#error-body")).to_contain_text("We cannot fill {customer}")
    assert axe_violations(page) == []
    page.fill("#f-body", "Dear {requester name},\nticket {ticket number} for {library} is fixed.")
    page.get_by_role("button", name="Add the reply").click()
    expect(page.get_by_role("heading", name="Fixed for you")).to_be_visible()
    assert axe_violations(page) == []

    page.goto(f"{live_server}/tickets")
    page.locator("td.number a").first.click()
    expect(page).to_have_url(re.compile(r"/tickets/\d{4}-\d{5}$"))
    number = page.url.rsplit("/", 1)[1]
    picker = page.get_by_label("Insert a saved reply")
    expect(picker).to_be_visible()  # loaded after the page
    assert axe_violations(page) == []
    box = page.locator("#f-body")
    box.fill("Good news.")
    picker.select_option(label="Fixed for you")
    page.get_by_role("button", name="Insert").click()
    expect(box).to_have_value(
        re.compile(rf"^Good news\.\n\nDear [^{{}}\n]+,\nticket {number} for [^{{}}\n]+ is fixed\.$")
    )
    expect(box).to_be_focused()
    expect(page.locator("#timeline")).not_to_contain_text("is fixed")  # nothing was sent
    box.press("Control+End")
    box.press_sequentially(" Tell us if it comes back.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#timeline")).to_contain_text("is fixed. Tell us if it comes back.")
    expect(page.locator("#timeline")).to_contain_text("Good news.")
    expect(box).to_have_value("")
