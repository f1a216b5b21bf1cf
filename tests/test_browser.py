"""The portal in a real browser: live search, forms, roles, sign-out, accessibility, layout.

Runs the system Chromium against `live_server` (its own database, loaded with the demo data).
"""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import sign_in

pytestmark = pytest.mark.browser

STAFF = "staff@consortium.example.org"
LIAISON = "liaison@uiu.example.edu"
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
SHOTS = Path("/tmp/shots")  # noqa: S108  (screenshots for a human to look at, not secrets)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def result_count(page: Page) -> int:
    """The number in "N institutions" above the results table."""
    return int(page.locator("#result-count").inner_text().split()[0])


def mark_document(page: Page) -> None:
    """A marker on `window`: it survives htmx swaps but not a page load."""
    page.evaluate("window.__sameDocument = true")


def same_document(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_live_search_narrows_in_place_and_the_url_follows(live_server: str, page: Page):
    sign_in(page, live_server, LIAISON)
    page.goto(f"{live_server}/institutions")
    everyone = result_count(page)
    assert everyone >= 89
    mark_document(page)
    count = page.locator("#result-count")
    count.evaluate("(el) => { el.dataset.marked = 'yes'; }")

    page.locator("#f-q").press_sequentially("Champaign", delay=20)
    expect(page).to_have_url(f"{live_server}/institutions?q=Champaign")
    expect(count).not_to_have_text(f"{everyone} institutions")
    narrowed = result_count(page)
    assert 0 < narrowed < everyone
    expect(page.locator("#results tbody tr")).to_have_count(narrowed)
    expect(page.locator("#results")).to_contain_text("University of Illinois at Urbana-Champaign")
    assert same_document(page), "typing in the search box reloaded the page"
    # The count is announced by the same live region, not by a new element that replaced it.
    expect(count).to_have_attribute("data-marked", "yes")

    page.reload()
    expect(page.locator("#f-q")).to_have_value("Champaign")
    assert result_count(page) == narrowed

    page.get_by_role("link", name="University of Illinois at Urbana-Champaign").click()
    expect(page).to_have_url(f"{live_server}/institutions/UIU")
    expect(page.get_by_role("heading", level=1)).to_contain_text("UIU")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/institutions\?.*q=Champaign"))
    expect(page.locator("#f-q")).to_have_value("Champaign")
    expect(page.locator("#results")).to_contain_text("University of Illinois at Urbana-Champaign")
    assert result_count(page) == narrowed


def test_staff_create_with_field_errors_then_edit_and_see_history(live_server: str, page: Page):
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/institutions")
    page.get_by_role("link", name="Add an institution").click()
    expect(page).to_have_url(f"{live_server}/institutions/new")
    mark_document(page)

    # A malformed code: 422, the message beside the field, the alert in #flash, nothing saved.
    page.fill("#f-code", "x!")
    page.fill("#f-name", "Prairie Test College (browser test)")
    page.get_by_role("button", name="Add institution").click()
    expect(page.locator("#error-code")).not_to_be_empty()
    expect(page.locator("#flash[role=alert]")).to_contain_text("Invalid request")
    expect(page.locator("#f-code")).to_have_attribute("aria-invalid", "true")
    assert page.request.get(f"{live_server}/institutions/X!").status == 404

    # A code that is taken: 409, the message beside the field.
    page.fill("#f-code", "UIU")
    page.get_by_role("button", name="Add institution").click()
    expect(page.locator("#error-code")).to_have_text("is already taken")
    expect(page.locator("#flash[role=alert]")).to_contain_text("already exists")
    uiu = page.request.get(f"{live_server}/institutions/UIU").json()
    assert uiu["name"] == "University of Illinois at Urbana-Champaign"
    assert same_document(page)

    # A good code: the detail page replaces the form, the URL follows, the old alert goes.
    page.fill("#f-code", "PTC")
    page.fill("#f-city", "Peoria")
    page.get_by_role("button", name="Add institution").click()
    expect(page).to_have_url(f"{live_server}/institutions/PTC")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Prairie Test College")
    expect(page).to_have_title(re.compile(r"^Prairie Test College"))
    expect(page.locator("#main")).to_be_focused()
    expect(page.locator("#flash")).to_be_empty()
    assert page.request.get(f"{live_server}/institutions/PTC").json()["alma_code"] == (
        "01CARLI_PTC"
    )

    page.locator(".page-head").get_by_role("link", name="Edit", exact=True).click()
    expect(page).to_have_url(f"{live_server}/institutions/PTC/edit")
    page.fill("#f-city", "Bloomington")
    page.select_option("#f-status", "joining")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(f"{live_server}/institutions/PTC")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Bloomington")
    expect(facts).to_contain_text("Joining")
    history = page.locator("section[aria-labelledby=history-heading]")
    expect(history.locator("table tbody tr")).to_have_count(2)
    expect(history).to_contain_text("Peoria → Bloomington")
    saved = page.request.get(f"{live_server}/institutions/PTC").json()
    assert (saved["city"], saved["status"]) == ("Bloomington", "joining")


def test_htmx_errors_show_in_the_alert_region(live_server: str, page: Page):
    """A 404 from htmx: the page stays, the problem shows in #flash (role=alert) and stays there
    while background requests succeed."""
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/institutions/UIU")
    page.wait_for_load_state("networkidle")
    mark_document(page)
    page.evaluate("""htmx.ajax("GET", "/institutions/NOPE", {target: "#main"})""")
    alert = page.locator("#flash[role=alert]")
    expect(alert).to_contain_text("No institution has the code NOPE")
    expect(page.get_by_role("heading", level=1)).to_contain_text("UIU")

    history = "section[aria-labelledby=history-heading] > div"
    page.evaluate(
        "(target) => htmx.ajax('GET', '/audit?entity_type=institution&entity_id=UIU', {target})",
        history,
    )
    expect(page.locator(history)).to_contain_text("Institution UIU")  # the entry, in words
    expect(alert).to_contain_text("No institution has the code NOPE")
    assert same_document(page)


def test_a_library_user_sees_no_edit_controls_and_is_refused_the_form(live_server: str, page: Page):
    sign_in(page, live_server, LIAISON)
    page.goto(f"{live_server}/institutions")
    expect(page.locator("#results tbody tr").first).to_be_visible()
    expect(page.get_by_role("link", name="Add an institution")).to_have_count(0)
    page.goto(f"{live_server}/institutions/UIU")
    expect(page.get_by_role("heading", level=1)).to_contain_text("UIU")
    expect(page.locator(".page-head").get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.locator("#history-heading")).to_have_count(0)

    response = page.goto(f"{live_server}/institutions/new")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")
    response = page.goto(f"{live_server}/institutions/UIU/edit")
    assert response is not None and response.status == 403


def test_sign_out_revokes_the_old_cookie(live_server: str, page: Page):
    sign_in(page, live_server, LIAISON)
    cookies = page.context.cookies()
    assert cookies, "signing in set no cookie"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/login")
    # The session cookie is gone; the device cookie (OWASP) and the sign-in form's stay.
    assert [c["name"] for c in page.context.cookies() if c["path"] == "/"] == []

    page.context.add_cookies(cookies)
    response = page.goto(f"{live_server}/institutions")
    assert response is not None
    expect(page).to_have_url(re.compile(r"/login\?next=/institutions$"))
    me = page.request.get(f"{live_server}/auth/me", headers={"Accept": "application/json"})
    assert me.status == 401


def axe_violations(page: Page) -> list[dict]:
    """Serious and critical axe-core findings for WCAG 2.2 AA on the page as it is now."""
    # Evaluated through the DevTools protocol: the portal's CSP refuses inline scripts.
    page.evaluate(AXE.read_text())
    results = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_AA,
    )
    assert len(results["passes"]) > 10, "axe-core checked next to nothing"
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/login"),
        (STAFF, "/"),
        (STAFF, "/institutions"),
        (STAFF, "/institutions/UIU"),
        (STAFF, "/institutions/new"),
        (STAFF, "/institutions/UIU/edit"),
        (LIAISON, "/institutions/new"),
    ],
)
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_pages_have_no_serious_accessibility_violations(
    live_server: str, page: Page, who: str | None, path: str, viewport: dict
):
    page.set_viewport_size(viewport)
    if who:
        sign_in(page, live_server, who)
    page.goto(f"{live_server}{path}")
    page.wait_for_load_state("networkidle")
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=2)


def test_form_errors_are_accessible(live_server: str, page: Page):
    """The form after a failed save (alert + field messages) passes axe too."""
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/institutions/new")
    page.fill("#f-code", "x")
    page.fill("#f-name", "Accessible Errors College (browser test)")
    page.get_by_role("button", name="Add institution").click()
    expect(page.locator("#error-code")).not_to_be_empty()
    expect(page.locator("#flash[role=alert]")).not_to_be_empty()
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=2)


@pytest.mark.parametrize(("width", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_pages_fit_the_screen(live_server: str, page: Page, width: str, viewport: dict):
    """No page scrolls sideways; screenshots go to /tmp/shots for a human look."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server}/login")
    page.screenshot(path=SHOTS / f"login-{width}.png", full_page=True)
    sign_in(page, live_server, STAFF)
    for name, path in [
        ("home", "/"),
        ("institutions", "/institutions?q=Illinois"),
        ("detail", "/institutions/UIU"),
        ("form", "/institutions/new"),
    ]:
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SHOTS / f"{name}-{width}.png", full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width} width"
