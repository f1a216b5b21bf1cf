"""The triage queue in a real browser: on a 390 px phone the list is compact cards with labelled
values and the filters fold away; on a desktop staff tick tickets and assign them at once."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import sign_in
from tests.test_browser import axe_violations

pytestmark = pytest.mark.browser

STAFF = "staff@consortium.example.org"
LIAISON = "liaison@uiu.example.edu"


@pytest.mark.parametrize("who", [STAFF, LIAISON])
def test_the_list_is_compact_labelled_cards_on_a_phone(live_server: str, browser, who):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server, who)
        page.goto(f"{live_server}/tickets?view=all&limit=50")
        rows = page.locator("table.tickets tbody tr")
        expect(rows).to_have_count(50)
        first = rows.first
        label = first.locator("td[data-label=Status]").evaluate(
            "td => getComputedStyle(td, '::before').content"
        )
        assert "Status" in label, label
        assert first.locator("thead").count() == 0
        assert page.locator("table.tickets thead").evaluate("h => h.offsetHeight") <= 1
        box = first.bounding_box()
        assert box is not None and box["width"] <= 390 and box["height"] < 72, box  # 3 lines
        for panel in page.locator("details[data-filters]").all():
            expect(panel).not_to_have_attribute("open", "")  # filters folded behind a summary
        height = page.evaluate("document.documentElement.scrollHeight")
        # It was about 14,000 px: one unlabelled line per value.
        assert height < 4300, f"the page is {height} px tall for 50 tickets"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways ({width} px)"
        assert axe_violations(page) == []
    finally:
        context.close()


def test_staff_tick_tickets_and_assign_them_at_once(live_server: str, page: Page):
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/tickets?view=unassigned&sort=priority")
    rows = page.locator("table.tickets tbody tr")
    expect(rows.first).to_be_visible()
    numbers = [rows.nth(i).locator("td.number code").inner_text() for i in range(2)]
    for i in range(2):
        rows.nth(i).locator("input[name=tickets]").check()
    page.select_option("#f-bulk-assignee", label="Sam Support (demo)")
    button = page.get_by_role("button", name="Apply to ticked tickets")
    page.evaluate("window.__sameDocument = true")
    button.click()
    outcome = page.locator("#bulk-result")
    expect(outcome).to_contain_text(re.compile(r"Assigned 2 tickets to Sam Support \(demo\)"))
    expect(button).to_be_enabled()
    assert axe_violations(page) == []
    # The list reloads: the assigned tickets have left the unassigned queue.
    for number in numbers:
        expect(page.locator("table.tickets")).not_to_contain_text(number)
    assert page.evaluate("window.__sameDocument === true"), "the bulk change reloaded the page"
    page.goto(f"{live_server}/tickets/{numbers[0]}")
    expect(page.locator("#ticket-side")).to_contain_text("Sam Support")


def test_bulk_closing_asks_first(live_server: str, page: Page):
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/tickets?status=open&sort=-created_at")  # worked on: no reason asked
    row = page.locator("table.tickets tbody tr").first
    number = row.locator("td.number code").inner_text()
    row.locator("input[name=tickets]").check()
    page.select_option("#f-bulk-status", "closed")
    questions: list[str] = []

    def dismiss(dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Apply to ticked tickets").click()
    expect(page.locator("#bulk-result")).to_be_empty()
    assert questions and "cannot be reopened" in questions[0], questions
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Apply to ticked tickets").click()
    expect(page.locator("#bulk-result")).to_contain_text("Set 1 ticket to")
    expect(page.locator("table.tickets")).not_to_contain_text(number)
