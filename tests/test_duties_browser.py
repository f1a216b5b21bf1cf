"""A duty in a real browser: a liaison marks their library's task done with the signed form
attached, downloads it back, and the consortium's completion board shows both; the pages are
axe-core clean."""

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.demo import DEMO_PASSWORD
from app.services import duties
from tests.live_server import sign_in
from tests.test_browser import axe_violations

pytestmark = pytest.mark.browser

LIAISON = "liaison@uiu.example.edu"
STAFF = "staff@consortium.example.org"
FORM = b"%PDF-1.4\n% the signed statistics form\n"


def _define_duty(base_url: str) -> int:
    """Staff define a duty due in five days through the API: every member gets its task."""
    token = httpx.post(
        f"{base_url}/auth/token", data={"username": STAFF, "password": DEMO_PASSWORD}
    ).json()["access_token"]
    answer = httpx.post(
        f"{base_url}/duties",
        json={
            "title": "Browser check of the loan rules",
            "instructions": "Open *Fulfillment › Terms of Use* and check each rule.",
            "due_on": (duties.today() + timedelta(days=5)).isoformat(),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_a_liaison_marks_a_task_done_and_the_board_shows_it(live_server: str, page: Page, browser):
    duty_id = _define_duty(live_server)
    staff_context = browser.new_context()
    staff = staff_context.new_page()
    try:
        sign_in(staff, live_server, STAFF)
        staff.goto(f"{live_server}/duties/{duty_id}/tasks")
        expect(staff.locator(".board-progress label")).to_have_text("0% finished")
        assert axe_violations(staff) == []

        sign_in(page, live_server, LIAISON)
        page.goto(f"{live_server}/")
        page.get_by_role("link", name="Browser check of the loan rules").click()
        expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
        expect(page.locator(".prose")).to_contain_text("Terms of Use")
        assert axe_violations(page) == []
        page.fill("#f-note", "All rules checked.")
        page.set_input_files(
            "#f-file",
            files=[{"name": "signed form.pdf", "mimeType": "application/pdf", "buffer": FORM}],
        )
        page.get_by_role("button", name="Mark done").click()
        expect(page.locator("#task-state")).to_contain_text("Done")
        expect(page.locator("#task")).to_contain_text("All rules checked.")
        link = page.locator("#task-files a")
        expect(link).to_have_text("signed form.pdf")
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "signed form.pdf"
        assert Path(download.value.path()).read_bytes() == FORM
        assert axe_violations(page) == []

        staff.fill("#f-q", "UIU")
        staff.get_by_role("button", name="Show").click()
        row = staff.locator("#board tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Done")
        expect(row).to_contain_text("All rules checked.")
        expect(row).to_contain_text("1 file attached")

        # At 390 px (a phone) the board's rows are cards and nothing scrolls sideways.
        for shown in (staff, page):
            shown.set_viewport_size({"width": 390, "height": 844})
            shown.reload()
            assert shown.evaluate("document.documentElement.scrollWidth") <= 390
        expect(staff.locator("#board tbody tr").first).to_have_css("display", "block")
        expect(staff.locator(".board-progress label")).not_to_have_text("0% finished")
    finally:
        staff_context.close()
