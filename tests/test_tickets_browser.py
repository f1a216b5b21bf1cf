"""A ticket's life in a real browser: a library files it, staff reply and add an internal note,
the library sees the reply and never the note."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import sign_in

pytestmark = pytest.mark.browser

LIAISON = "liaison@uiu.example.edu"
STAFF = "staff@consortium.example.org"


def test_file_reply_and_internal_note(live_server: str, page: Page, browser):
    sign_in(page, live_server, LIAISON)
    page.goto(f"{live_server}/tickets/new")
    page.fill("#f-subject", "Course reserves list shows the wrong term")
    page.select_option("#f-category", "fulfillment")
    description = page.locator("#f-description")
    description.fill("The list for patron 21234000123456 shows last term.")
    expect(page.locator("#patron-warning")).to_contain_text("patron data")
    description.fill("Every reserves list shows the fall term instead of spring.")
    expect(page.locator("#patron-warning")).not_to_contain_text("patron data")
    page.get_by_role("button", name="File the report").click()
    expect(page).to_have_url(re.compile(r"/tickets/\d{4}-\d{5}$"))
    # The confirmation first: the number, what happens next, the way to the ticket.
    expect(page.locator("h1")).to_contain_text(re.compile(r"Report \d{4}-\d{5} filed"))
    expect(page.locator("main")).to_contain_text("What happens next")
    page.get_by_role("link", name=re.compile(r"Open ticket")).click()
    expect(page.locator("h1")).to_contain_text("Course reserves list shows the wrong term")
    ticket_url = page.url

    staff_context = browser.new_context()
    staff = staff_context.new_page()
    try:
        sign_in(staff, live_server, STAFF)
        staff.goto(ticket_url)
        staff.evaluate("window.__sameDocument = true")
        staff.fill("#f-body", "We changed the course term; please check again.")
        staff.get_by_role("button", name="Send").click()
        expect(staff.locator("#timeline")).to_contain_text("please check again")
        staff.fill("#f-body", "Internal: the term rollover job ran late here.")
        staff.check("#f-internal")
        staff.get_by_role("button", name="Send").click()
        expect(staff.locator("#timeline")).to_contain_text("rollover job ran late")
        expect(staff.locator("#f-body")).to_have_value("")
        # The sidebar came back with the reply (status open, a fresh ETag): no 412 now.
        expect(staff.locator("#ticket-side")).to_contain_text("Sam Support")
        staff.select_option("#f-status", "pending_library")
        staff.get_by_role("button", name="Save").click()
        expect(staff.locator(".page-head .badge")).to_have_text(
            re.compile("Pending library|Waiting for the library")  # the display name
        )
        expect(staff.locator("#flash")).not_to_contain_text("Precondition")
        assert staff.evaluate("window.__sameDocument === true"), "a reply reloaded the page"
    finally:
        staff_context.close()

    page.goto(ticket_url)
    expect(page.locator("#timeline")).to_contain_text("please check again")
    expect(page.locator("body")).not_to_contain_text("rollover job ran late")
    expect(page.locator("body")).not_to_contain_text("Internal note")
