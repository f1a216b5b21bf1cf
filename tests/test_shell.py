"""The UI shell: display names for every enum, the navigation per role, the favicon, feed
discovery, and the conventions every page relies on (responsive lists, busy buttons,
destructive actions)."""

import importlib
import inspect
import pkgutil
import re
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app.models
from app.models import labels
from app.models.directory_change import ChangeStatus
from app.models.liaison import ContactRole
from app.models.ticket import TicketProduct, TicketStatus
from app.models.user import Role
from app.web.render import env
from tests.factories import Factory, World

HTML = {"Accept": "text/html"}
STATIC = Path(__file__).parent.parent / "app" / "ui" / "static"
TEMPLATES = Path(__file__).parent.parent / "app" / "ui" / "templates"


def model_enums() -> list[type[StrEnum]]:
    found: dict[str, type[StrEnum]] = {}
    for info in pkgutil.iter_modules(app.models.__path__):
        module = importlib.import_module(f"app.models.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            own = obj.__module__ == module.__name__
            if issubclass(obj, StrEnum) and obj is not StrEnum and own:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


# --- display names ------------------------------------------------------------------------------


@pytest.mark.parametrize("enum", model_enums(), ids=lambda e: e.__name__)
def test_every_member_of_every_model_enum_has_a_display_name(enum):
    names = labels.LABELS.get(enum)
    assert names is not None, f"app/models/labels.py has no display names for {enum.__name__}"
    for member in enum:
        name = names.get(member.value)
        assert name, f"{enum.__name__}.{member.name} has no display name"
        assert "_" not in name and name != member.value, f"{enum.__name__}.{member.name}: {name!r}"
        assert labels.label(member) == name


def test_label_reads_enums_and_plain_values_as_words():
    assert labels.label(TicketStatus.pending_library) == "Waiting for the library"
    assert labels.label("pending_library") == "Waiting for the library"
    assert labels.label(TicketProduct.primo_ve) == "Primo VE"
    assert labels.label(ContactRole.backup_liaison) == "Backup liaison"
    assert labels.label(ChangeStatus.pending) == "Waiting for review"
    assert labels.label("never_seen_before") == "Never seen before"
    assert labels.label(None) == ""


def test_labels_join_in_plain_english():
    assert labels.labels(["alma", "primo_ve"]) == "Alma and Primo VE"
    assert labels.labels(["alma", "primo_ve", "network"]) == "Alma, Primo VE and Network"
    assert labels.labels([ContactRole.liaison]) == "Liaison"
    assert labels.labels([]) == ""
    roles = [ContactRole.liaison, ContactRole.backup_liaison]
    assert labels.labels(roles, None) == "Liaison, Backup liaison"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (312, "312 bytes"),
        (1024, "1 KB"),
        (4300, "4.2 KB"),
        (1_363_149, "1.3 MB"),
        (5 * 1024**3, "5 GB"),
        (None, ""),
    ],
)
def test_filesize(size, text):
    assert labels.filesize(size) == text
    assert "0.0" not in labels.filesize(size)


def test_the_filters_are_registered_in_jinja():
    rendered = env.from_string(
        "{{ s|label }} / {{ p|labels }} / {{ r|labels(None) }} / {{ n|filesize }} / "
        "{{ 'body.email'|field_label }}"
    ).render(
        s=TicketStatus.pending_vendor,
        p=["alma", "primo_ve"],
        r=[ContactRole.liaison, ContactRole.backup_liaison],
        n=4300,
    )
    assert rendered == (
        "Waiting for the vendor / Alma and Primo VE / Liaison, Backup liaison / 4.2 KB / Email"
    )


def test_select_options_show_display_names():
    macro = env.get_template("macros.html").module.select
    out = str(macro("status", "Status", list(TicketStatus), "open"))
    assert ">Waiting for the library</option>" in out
    assert 'value="pending_library"' in out


# --- navigation ---------------------------------------------------------------------------------


def nav_links(page: str) -> dict[str, str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert nav, "no main navigation"
    return {
        re.sub(r"<[^>]+>", "", text).strip(): href
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', nav.group(1), re.S)
    }


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (None, {"Status", "Maintenance", "Incidents"}, {"Change requests", "Audit", "Admin"}),
        (
            Role.library_staff,
            {"Tickets", "Maintenance", "Incidents"},
            {"Change requests", "Audit", "Admin", "Accounts"},
        ),
        (Role.liaison, {"Change requests", "Maintenance"}, {"Audit", "Admin", "Accounts"}),
        (Role.director, {"Change requests"}, {"Audit", "Admin"}),
        (Role.consortium_staff, {"Change requests", "Audit", "Incidents"}, {"Admin", "Accounts"}),
        (Role.consortium_admin, {"Change requests", "Audit", "Admin", "Accounts"}, set()),
    ],
)
def test_navigation_shows_each_role_its_areas(
    client: TestClient, world: World, role, shown, hidden
):
    headers = world.headers(world.user(role)) if role else {}
    answer = client.get("/status", headers={**headers, **HTML})
    assert answer.status_code == 200
    links = nav_links(answer.text)
    assert shown <= links.keys(), links
    assert not hidden & links.keys(), links
    badge = 'hx-get="/nav/counts/directory-changes"' in answer.text
    assert badge == (role in (Role.consortium_staff, Role.consortium_admin))


def test_the_pending_change_badge_counts_in_one_query(client: TestClient, world: World, counted):
    headers = world.headers(world.staff)
    client.get("/nav/counts/directory-changes", headers={**headers, **HTML})  # warm up
    with counted() as statements:
        answer = client.get(
            "/nav/counts/directory-changes", headers={**headers, **HTML, "HX-Request": "true"}
        )
    assert answer.status_code == 200
    # two libraries, one pending request each (`World`)
    assert re.sub(r"\s+", " ", answer.text).strip() == (
        '<span class="nav-count">2<span class="visually-hidden"> waiting for review</span></span>'
    )
    assert answer.headers["cache-control"] == "no-store"
    counts = [s for s in statements if "directory_change" in s.lower()]
    assert len(counts) == 1, counts


@pytest.mark.parametrize("role", [None, Role.liaison, Role.director, Role.library_staff])
def test_only_staff_get_the_pending_badge(client: TestClient, world: World, role):
    headers = world.headers(world.user(role)) if role else {}
    answer = client.get(
        "/nav/counts/directory-changes", headers={**headers, **HTML}, follow_redirects=False
    )
    assert answer.status_code in ((303, 401) if role is None else (403,))
    assert "nav-count" not in answer.text


def test_the_current_area_is_marked(client: TestClient, world: World):
    page = client.get("/maintenance", headers={**world.headers(world.staff), **HTML}).text
    assert '<a href="/maintenance" aria-current="page">' in page
    assert page.count('aria-current="page"') == 1


def test_the_navigation_has_a_menu_button_for_phones(client: TestClient, world: World):
    page = client.get("/status", headers={**world.headers(world.staff), **HTML}).text
    assert '<button type="button" class="nav-toggle" aria-expanded="false"' in page
    assert 'aria-controls="nav-links"' in page and 'id="nav-links"' in page


# --- favicon and feeds --------------------------------------------------------------------------


def test_the_favicon_is_linked_and_served(client: TestClient):
    page = client.get("/status", headers=HTML).text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    for url in ("/static/favicon.svg", "/favicon.ico"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].startswith("image/svg+xml")
        assert answer.text.startswith("<svg")


def alternates(page: str) -> dict[str, str]:
    return {
        href: kind
        for kind, href in re.findall(
            r'<link rel="alternate" type="([^"]+)"[^>]*href="([^"]+)"', page
        )
    }


@pytest.mark.parametrize(
    ("page", "kind", "media"),
    [
        ("/status", "application/atom+xml", "application/atom+xml"),
        ("/maintenance", "text/calendar", "text/calendar"),
        ("/events", "text/calendar", "text/calendar"),
    ],
)
def test_pages_advertise_their_feeds(client: TestClient, world: World, page, kind, media):
    headers = world.headers(world.own.liaison)
    html = client.get(page, headers={**headers, **HTML}).text
    found = alternates(html)
    assert kind in found.values(), found
    href = next(h for h, k in found.items() if k == kind)
    answer = client.get(href.replace("&amp;", "&"), headers=headers)
    assert answer.status_code == 200, href
    assert answer.headers["content-type"].startswith(media)


def test_the_announcements_page_advertises_each_lists_feed(
    client: TestClient, make: Factory, world: World
):
    mailing_list = make.mailing_list()
    html = client.get("/announcements", headers={**world.headers(world.own.liaison), **HTML}).text
    hrefs = [h for h, k in alternates(html).items() if k == "application/atom+xml"]
    mine = [h for h in hrefs if h.startswith(f"/lists/{mailing_list.slug}/feed.atom?key=")]
    assert len(mine) == 1, hrefs
    answer = client.get(mine[0].replace("&amp;", "&"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")


def test_a_list_page_advertises_its_atom_feed(client: TestClient, make: Factory, world: World):
    mailing_list = make.mailing_list()
    headers = world.headers(world.own.liaison)
    html = client.get(f"/lists/{mailing_list.slug}", headers={**headers, **HTML}).text
    found = alternates(html)
    href = next(h for h, k in found.items() if k == "application/atom+xml")
    answer = client.get(href.replace("&amp;", "&"))  # the personal key alone, no sign-in
    assert answer.status_code == 200, href
    assert answer.headers["content-type"].startswith("application/atom+xml")


# --- conventions in the static files ------------------------------------------------------------


def test_the_responsive_list_pattern_is_documented_and_styled():
    css = (STATIC / "portal.css").read_text()
    assert "RESPONSIVE LIST PATTERN" in css
    assert "content: attr(data-label)" in css
    assert "details.filters" in css
    js = (STATIC / "portal.js").read_text()
    assert "details[data-filters]" in js
    assert "data-label" in js


def test_checkboxes_are_not_stretched_to_full_width():
    css = (STATIC / "portal.css").read_text()
    for rule in re.findall(r"([^{}]+)\{([^}]*width:\s*100%[^}]*)\}", css):
        selectors = rule[0]
        for selector in selectors.split(","):
            selector = selector.strip()
            if re.fullmatch(r"input", selector):
                pytest.fail(f"every input (checkboxes too) is stretched: {selectors.strip()}")


def test_macros_render_the_responsive_list_and_filters():
    template = env.from_string(
        '{% call list_table(["Name", "Status"], cls="people") %}'
        '<tr><td data-label="Name">Ann</td><td data-label="Status">Active</td></tr>'
        "{% endcall %}"
        '{% call filter_panel(active=1) %}<form class="filters"></form>{% endcall %}'
    )
    out = template.render()
    assert '<table class="list people">' in out
    assert '<th scope="col">Status</th>' in out
    assert '<details class="filters" data-filters open>' in out
    assert "<summary>Filters (1 chosen)</summary>" in out


# --- destructive actions ------------------------------------------------------------------------

SHELL_AREAS = ("announcements", "lists", "events", "users", "account", "admin", "status")


class DangerFinder(HTMLParser):
    """Every `danger` button or link, and whether it (or its form) asks first."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[bool] = []
        self.unconfirmed: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        asks = "hx-confirm" in values or "data-confirm" in values
        if tag == "form":
            self.forms.append(asks)
        elif "danger" in (values.get("class") or "").split():
            in_asking_form = bool(self.forms and self.forms[-1])
            if not asks and not (in_asking_form and values.get("type") == "submit"):
                self.unconfirmed.append(self.get_starttag_text() or tag)

    def handle_endtag(self, tag):
        if tag == "form" and self.forms:
            self.forms.pop()


def unconfirmed_danger(template: Path) -> list[str]:
    finder = DangerFinder()
    finder.feed(template.read_text())
    return finder.unconfirmed


# A page that is itself the confirmation step (reached by a link in an e-mail).
CONFIRMATION_PAGES = {"lists/unsubscribe.html"}


@pytest.mark.parametrize("area", SHELL_AREAS)
def test_destructive_actions_ask_first(area):
    found = {
        str(t.relative_to(TEMPLATES)): unconfirmed_danger(t)
        for t in sorted((TEMPLATES / area).rglob("*.html"))
        if str(t.relative_to(TEMPLATES)) not in CONFIRMATION_PAGES
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_the_danger_finder_notices_a_button_that_does_not_ask(tmp_path):
    page = tmp_path / "t.html"
    page.write_text(
        '<form hx-post="/x"><button type="submit" class="danger">Delete</button></form>'
        '<form hx-post="/y" hx-confirm="Sure?">'
        '<button type="submit" class="danger">Delete</button></form>'
        '<button class="danger" data-confirm="Sure?">Drop</button>'
    )
    assert unconfirmed_danger(page) == ['<button type="submit" class="danger">']
