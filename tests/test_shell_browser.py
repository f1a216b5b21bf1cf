"""The UI shell in Chromium: busy buttons, a clean page load (favicon, no console errors), the
phone menu, and every page of the shell's own areas at 390 px for each role (no sideways
scrolling, no enum values in the text).

`SHELL_WALK_ALL=1` also walks the other areas' pages (a report for their owners).
"""

import os
import re
from functools import cache

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from app.demo import DEMO_PASSWORD
from tests.live_server import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
ADMIN = "admin@consortium.example.org"
STAFF = "staff@consortium.example.org"
DIRECTOR = "director@uiu.example.edu"
LIAISON = "liaison@uiu.example.edu"
LIBRARY_STAFF = "staff@uiu.example.edu"

# Values that must never reach a reader: each is an enum value with an underscore.
RAW = re.compile(
    r"\b(pending_library|pending_vendor|system_down|primo_ve|ishare_catalog|carli_files|"
    r"backup_liaison|e_resources|resource_sharing|consortium_admin|consortium_staff|"
    r"library_staff|interest_group|not_applicable|in_progress|public_university|"
    r"private_college|community_college|library_or_museum|access_login|discovery_primo|"
    r"analytics_reports|directory_confirmation)\b"
)


@cache
def records(base_url: str) -> dict[str, str]:
    """Ids of a few demo records, read through the API as the admin."""
    token = httpx.post(
        f"{base_url}/auth/token", data={"username": ADMIN, "password": DEMO_PASSWORD}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    def first(path: str, key: str = "id") -> str:
        rows = httpx.get(f"{base_url}{path}", headers=auth).json()["data"]
        return str(rows[0][key]) if rows else ""

    return {
        "announcement": first("/announcements"),
        "list": first("/lists", "slug"),
        "event": first("/events"),
        "user": first("/users"),
        "ticket": first("/tickets", "number"),
        "liaison": first("/liaisons"),
        "incident": first("/incidents"),
        "window": first("/maintenance"),
    }


def shell_pages(base_url: str, who: str | None) -> list[str]:
    """The pages of the areas this part owns that `who` may open."""
    if who is None:
        return ["/status", "/services", "/login"]
    ids = records(base_url)
    pages = [
        "/status",
        "/announcements",
        f"/announcements/{ids['announcement']}",
        "/lists",
        f"/lists/{ids['list']}",
        "/lists/preferences",
        "/events",
        f"/events/{ids['event']}",
        "/account",
    ]
    if who in (STAFF, ADMIN):
        pages += ["/announcements/new", "/events/new", f"/lists/{ids['list']}/members"]
    if who == ADMIN:
        pages += ["/users", f"/users/{ids['user']}", "/users/new", "/admin", "/admin/mail"]
    return pages


OTHER_PAGES = {
    None: ["/maintenance", "/incidents"],
    LIAISON: [
        "/",
        "/institutions",
        "/liaisons",
        "/tickets",
        "/tickets/new",
        "/duties",
        "/maintenance",
        "/incidents",
        "/directory-changes",
    ],
    STAFF: [
        "/",
        "/institutions",
        "/liaisons",
        "/tickets",
        "/duties",
        "/maintenance",
        "/maintenance/calendar",
        "/incidents",
        "/directory-changes",
        "/audit",
        "/reports/directory-gaps",
    ],
}


def problems_at_phone_width(page: Page, base_url: str, paths: list[str]) -> list[str]:
    found = []
    for path in paths:
        answer = page.goto(f"{base_url}{path}")
        assert answer is not None and answer.ok, f"{path}: {answer and answer.status}"
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide = page.evaluate(
                """(limit) => Array.from(document.querySelectorAll('body *'))
                  .filter((el) => el.getBoundingClientRect().right > limit + 1)
                  .slice(0, 3).map((el) => el.tagName.toLowerCase()
                    + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : ''))""",
                PHONE["width"],
            )
            found.append(f"{path}: {width}px wide ({', '.join(wide)})")
        raw = sorted(set(RAW.findall(page.inner_text("body"))))
        if raw:
            found.append(f"{path}: shows {', '.join(raw)}")
    return found


@pytest.mark.parametrize("who", [None, LIBRARY_STAFF, LIAISON, DIRECTOR, STAFF, ADMIN])
def test_shell_pages_fit_a_phone_and_speak_words(live_server: str, browser, who):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        if who:
            sign_in(page, live_server, who)
        found = problems_at_phone_width(page, live_server, shell_pages(live_server, who))
    finally:
        context.close()
    assert found == []


@pytest.mark.skipif(not os.environ.get("SHELL_WALK_ALL"), reason="a report for other areas")
@pytest.mark.parametrize("who", list(OTHER_PAGES))
def test_other_areas_at_phone_width(live_server: str, browser, who):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        if who:
            sign_in(page, live_server, who)
        ids = records(live_server)
        details = [
            "/institutions/UIU",
            f"/liaisons/{ids['liaison']}",
            f"/tickets/{ids['ticket']}",
            f"/incidents/{ids['incident']}",
            f"/maintenance/{ids['window']}",
        ]
        paths = OTHER_PAGES[who] + (details if who == STAFF else [])
        found = problems_at_phone_width(page, live_server, paths)
    finally:
        context.close()
    assert found == []


def test_a_page_load_asks_for_nothing_missing_and_logs_no_error(live_server: str, page: Page):
    failures: list[str] = []
    page.on("console", lambda m: m.type == "error" and failures.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: failures.append(f"page error: {e}"))
    page.on("response", lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}"))
    page.goto(f"{live_server}/status")
    page.wait_for_load_state("networkidle")
    sign_in(page, live_server, STAFF)
    for path in ("/", "/announcements", "/events", "/account"):
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
    icon = page.evaluate("fetch('/favicon.ico').then((r) => r.status)")
    assert icon == 200
    assert failures == []


def test_staff_see_the_pending_change_requests_beside_the_link(live_server: str, page: Page):
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server}/status")
    link = page.locator("#nav-links a[href='/directory-changes']")
    expect(link.locator(".nav-count")).to_have_text(re.compile(r"^\d+ waiting for review$"))
    expect(link).to_have_accessible_name(re.compile(r"^Change requests \d+ waiting for review$"))


def test_the_menu_folds_on_a_phone(live_server: str, browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server, ADMIN)
        page.goto(f"{live_server}/status")
        menu = page.get_by_role("button", name="Menu")
        expect(menu).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "false")
        audit = page.locator("#nav-links a[href='/audit']")
        expect(audit).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(audit).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        menu.click()
        expect(audit).to_be_hidden()
    finally:
        context.close()


def test_filters_fold_on_a_phone_and_open_on_a_desktop(live_server: str, browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server, STAFF)
        page.goto(f"{live_server}/maintenance")
        panel = page.locator("details[data-filters]").first
        expect(panel).not_to_have_attribute("open", "")
        page.set_viewport_size({"width": 1280, "height": 900})
        expect(panel).to_have_attribute("open", "")
    finally:
        context.close()


def test_an_htmx_button_is_disabled_while_its_request_runs(live_server: str, page: Page):
    """The answer is held back until the test has seen the button disabled."""
    sign_in(page, live_server, LIAISON)
    page.goto(f"{live_server}/account")
    held: list[Route] = []

    def hold(route: Route) -> None:
        if route.request.method == "PATCH":
            held.append(route)
        else:
            route.continue_()

    page.route("**/account", hold)
    button = page.locator("form[hx-patch='/account'] button[type=submit]")
    expect(button).to_be_enabled()
    button.click()
    page.wait_for_function("document.querySelector('[aria-busy=true]') !== null")
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("aria-busy", "true")
    assert len(held) == 1
    held[0].continue_()
    button = page.locator("form[hx-patch='/account'] button[type=submit]")
    expect(button).to_be_enabled()
    expect(button).not_to_have_attribute("aria-busy", "true")


def test_a_card_labels_each_value_on_a_phone(live_server: str, browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server, ADMIN)
        page.goto(f"{live_server}/users")
        cell = page.locator("table.list tbody tr td[data-label]").nth(1)
        label = cell.get_attribute("data-label")
        assert label
        before = cell.evaluate("(td) => getComputedStyle(td, '::before').content")
        assert before == f'"{label}"'
        assert cell.evaluate("(td) => getComputedStyle(td).display") == "block"
    finally:
        context.close()


def test_a_lone_htmx_button_is_disabled_while_its_request_runs(live_server: str, page: Page):
    sign_in(page, live_server, LIAISON)
    page.goto(f"{live_server}/account")
    held: list[Route] = []
    page.route(
        "**/account",
        lambda route: held.append(route) if route.request.method == "PATCH" else route.continue_(),
    )
    button = page.locator("table.notices button").first
    text = button.inner_text()
    button.click()
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("aria-busy", "true")
    assert len(held) == 1
    held[0].continue_()
    after = page.locator("table.notices button").first
    expect(after).to_be_enabled()
    expect(after).not_to_have_text(text)  # the answer came back and was swapped in
    page.unroute("**/account")
    after.click()  # and back, so the demo account is as it was
    expect(page.locator("table.notices button").first).to_have_text(text)


def test_a_plain_form_with_data_confirm_asks_first(live_server: str, page: Page):
    page.goto(f"{live_server}/status")
    page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('beforeend',
             '<form action="/maintenance" method="get" data-confirm="Really go?">'
             + '<button type="submit" class="danger" id="go">Go</button></form>')"""
    )
    questions: list[str] = []

    def answer(dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss() if len(questions) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.click("#go")
    assert questions == ["Really go?"]
    expect(page).to_have_url(f"{live_server}/status")
    with page.expect_navigation():
        page.click("#go")
    assert questions == ["Really go?", "Really go?"]
    expect(page).to_have_url(re.compile(r"/maintenance\?*$"))


def test_a_checkbox_stays_beside_its_label_on_a_phone(live_server: str, browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server, LIAISON)
        page.goto(f"{live_server}/tickets/new")
        box = page.locator("#f-contains_patron_data").bounding_box()
        label = page.locator("label:has(#f-contains_patron_data)").bounding_box()
        assert box is not None and label is not None
        assert box["width"] < 40  # its own size, not the width of the form
        assert label["width"] > box["width"] + 100  # the words sit beside it, on its line
        assert box["y"] < label["y"] + label["height"] / 2 + box["height"]
    finally:
        context.close()
