"""The directory in a real browser: a liaison hands over the seat, staff approve, history shows.

Runs the system Chromium against `live_server` (its own database, loaded with the demo data).
"""

import json
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from app.demo import DEMO_PASSWORD
from tests.live_server import sign_in
from tests.test_browser import DESKTOP, PHONE, axe_violations

pytestmark = pytest.mark.browser

STAFF = "staff@consortium.example.org"
LIAISON = "liaison@isu.example.edu"  # Kim, ISU's demo liaison (also its e-resources contact)


def test_liaison_hands_over_the_seat_staff_approve_history_shows(
    live_server: str, page: Page, browser: Browser
):
    sign_in(page, live_server, LIAISON)
    page.goto(f"{live_server}/institutions/ISU")
    contacts = page.locator("#contacts")
    expect(contacts.locator("table.current")).to_contain_text("Kim Liaison (demo)")
    contacts.get_by_role("link", name="Request a new contact or hand-over").click()
    expect(page).to_have_url(re.compile(r"/directory-changes/new\?kind=add"))

    page.fill("#f-liaison\\.name", "Harper Handover")
    page.fill("#f-liaison\\.email", "harper.handover@isu.example.edu")
    page.fill("#f-liaison\\.title", "Head of Collections")
    page.get_by_label("Liaison", exact=True).check()
    page.fill("#f-note", "Kim moves to e-resources only.")
    page.get_by_role("button", name="Send the request").click()
    expect(page).to_have_url(re.compile(r"/directory-changes/\d+$"))
    expect(page.locator(".change-status")).to_contain_text("Waiting for review")
    request_path = page.url.removeprefix(live_server)

    staff_context = browser.new_context(viewport={"width": 1280, "height": 900})
    staff = staff_context.new_page()
    staff.set_default_timeout(10_000)
    try:
        sign_in(staff, live_server, STAFF)
        staff.goto(f"{live_server}/directory-changes?status=pending")
        expect(staff.locator(".queue-counts")).to_contain_text("Waiting for review")
        staff.locator(f'a[href="{request_path}"]').first.click()
        expect(staff.get_by_role("heading", level=1)).to_contain_text("Harper Handover")
        staff.get_by_role("button", name="Approve and apply").click()
        expect(staff.locator(".change-status")).to_contain_text("Approved")

        staff.goto(f"{live_server}/institutions/ISU")
        current = staff.locator("#contacts table.current")
        history = staff.locator("#contacts table.history")
        harper = current.locator("tr", has_text="Harper Handover")
        expect(harper).to_contain_text("Liaison")
        kim_now = current.locator("tr", has_text="Kim Liaison (demo)")
        expect(kim_now).to_contain_text("E-resources since")
        expect(kim_now).not_to_contain_text("Liaison,")
        expect(history.locator("tr", has_text="Kim Liaison (demo)")).to_contain_text("Liaison")
        people = staff.request.get(f"{live_server}/liaisons?institution=ISU&role=liaison").json()
        assert [p["name"] for p in people["data"]] == ["Harper Handover"]
    finally:
        _restore_kim(staff, live_server)
        staff_context.close()


def _restore_kim(staff: Page, base_url: str) -> None:
    """Gives the seat back so the shared live server's demo accounts stay as they were."""
    token = staff.request.post(
        f"{base_url}/auth/token", form={"username": STAFF, "password": DEMO_PASSWORD}
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    kim = staff.request.get(
        f"{base_url}/liaisons?institution=ISU&q=Kim%20Liaison", headers=bearer
    ).json()["data"][0]
    staff.request.patch(
        f"{base_url}/liaisons/{kim['id']}",
        data={"roles": ["liaison", "e_resources"]},
        headers=bearer,
    )


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (STAFF, "/liaisons?role=fulfillment"),
        (STAFF, "/institutions/ISU/liaisons"),
        (STAFF, "/directory-changes"),
        (STAFF, "/directory-changes/1"),
        (STAFF, "/reports/directory-gaps"),
        (STAFF, "/liaisons/new"),
        (STAFF, "/liaisons/import"),
        (STAFF, "/institutions"),
        (STAFF, "/invitations"),
        (STAFF, "/audit"),
        (LIAISON, "/directory-changes/new?kind=add&institution=ISU"),
    ],
)
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_directory_pages_are_accessible_and_fit_the_screen(
    live_server: str, page: Page, who: str, path: str, viewport: dict
):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, who)
    page.goto(f"{live_server}{path}")
    page.wait_for_load_state("networkidle")
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=2)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
