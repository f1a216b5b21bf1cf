"""The home page: each role's widgets, their counts (equal to the lists they link to), who may
load which widget, and a fixed number of SQL statements per widget whatever the data."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from app.core.config import get_settings
from app.models.directory import DirectoryConfirmation
from app.models.liaison import ContactRole
from app.models.outbox import OutboxState
from app.models.ticket import Ticket, TicketPriority, TicketStatus
from app.models.user import Role
from app.services import home as service
from app.services.tickets import sla
from app.web import charts
from app.web.views import home as views

HX = {"HX-Request": "true"}
PAGE = {"Accept": "text/html"}
COUNT_LINK = re.compile(r'<a href="([^"]+)"[^>]*><strong>(\d+)</strong>\s*([^<]+)</a>')


def widget(client, world, user, name: str, headers: dict | None = None):
    return client.get(f"/home/{name}", headers={**world.headers(user), **(headers or HX)})


def counts(html: str) -> dict[str, tuple[int, str]]:
    """Each count link of a widget: its words → (count, href)."""
    return {words.strip(): (int(n), unescape(href)) for href, n, words in COUNT_LINK.findall(html)}


def set_ticket(db, ticket: Ticket, **values) -> Ticket:
    for name, value in values.items():
        setattr(ticket, name, value)
    ticket.sla_due_at = sla.next_due(ticket)
    db.add(ticket)
    db.commit()
    return ticket


@pytest.fixture
def busy(world, make, db):
    """Staff queues with one ticket each: system down (unassigned), breaching, mine, waiting."""
    down = make.ticket(world.own.library_staff, priority=TicketPriority.system_down)
    late = make.ticket(world.other.library_staff, subject="Late reply")
    set_ticket(db, late, response_due_at=datetime.now(UTC) - timedelta(hours=1))
    mine = make.ticket(world.own.liaison, subject="Assigned one")
    set_ticket(db, mine, assignee=world.staff.id, status=TicketStatus.open)
    set_ticket(db, world.own.ticket, status=TicketStatus.pending_library)
    return {"down": down, "late": late, "mine": mine}


# --- the page and who gets which widget -----------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "present", "absent"),
    [
        (Role.consortium_staff, ["attention", "tickets", "directory", "activity", "sla"], ["mail"]),
        (Role.consortium_admin, ["attention", "mail", "incidents", "duties"], ["waiting"]),
        (Role.director, ["waiting", "tickets", "directory", "duties"], ["attention", "mail"]),
        (Role.liaison, ["waiting", "maintenance", "directory"], ["activity", "incidents"]),
        (Role.library_staff, ["waiting", "tickets", "maintenance"], ["directory", "duties"]),
    ],
)
def test_each_role_gets_its_widgets_as_placeholders(client, world, role, present, absent):
    page = client.get("/", headers={**world.headers(world.user(role)), **PAGE})
    assert page.status_code == 200
    for name in present:
        assert f'hx-get="/home/{name}" hx-trigger="load"' in page.text, name
        assert widget(client, world, world.user(role), name).status_code == 200, name
    assert "Loading…" in page.text
    for name in absent:
        assert f'hx-get="/home/{name}"' not in page.text, name
        assert widget(client, world, world.user(role), name).status_code == 404, name


def test_widgets_need_a_sign_in_and_unknown_ones_are_404(client, world):
    assert client.get("/home/tickets", headers=HX).status_code == 401
    assert client.get("/", headers=PAGE, follow_redirects=False).status_code == 303
    assert widget(client, world, world.staff, "nonsense").status_code == 404


def test_a_widget_opens_as_a_plain_page_too(client, world):
    page = widget(client, world, world.own.liaison, "tickets", PAGE)
    assert page.status_code == 200
    assert "<!doctype html>" in page.text and 'id="w-tickets"' in page.text
    fragment = widget(client, world, world.own.liaison, "tickets")
    assert "<!doctype html>" not in fragment.text and 'id="w-tickets"' in fragment.text


# --- tickets: counts agree with the lists they link to --------------------------------------------


def assert_links_agree(client, headers: dict, found: dict[str, tuple[int, str]]) -> None:
    for words, (count, href) in found.items():
        assert href.startswith("/tickets"), href
        listed = client.get(href, headers=headers)
        assert listed.status_code == 200, (href, listed.text)
        assert listed.json()["count"] == count, (words, href)


def test_staff_queues_count_and_link_to_the_filtered_lists(client, world, busy):
    html = widget(client, world, world.staff, "tickets").text
    found = counts(html)
    assert found["System down"] == (1, "/tickets?view=open&priority=system_down")
    assert found["Breaching their response or resolution time"] == (1, "/tickets?view=breaching")
    assert found["Assigned to you"] == (1, "/tickets?view=mine")
    # Every ticket but the one assigned is unassigned (the World's two and the busy ones).
    assert found["Unassigned"][1] == "/tickets?view=unassigned" and found["Unassigned"][0] >= 3
    # The system down comes before every other queue.
    assert next(iter(found)) == "System down"
    # Its first reply is due within the hour, around the clock: about to breach.
    assert found["Due within 4 business hours"] == (1, "/tickets?view=due_soon")
    assert_links_agree(client, world.headers(world.staff), found)


def test_needs_attention_lists_a_system_down_first(client, world, make, db, busy):
    soon = make.ticket(world.own.library_staff, subject="Nearly late")
    set_ticket(db, soon, response_due_at=datetime.now(UTC) + timedelta(minutes=30))
    html = widget(client, world, world.staff, "attention").text
    assert busy["down"].number in html and busy["late"].number in html and soon.number in html
    # The system down first, then by the next deadline: the late one before the nearly late.
    assert html.index(busy["down"].number) < html.index(busy["late"].number)
    assert html.index(busy["late"].number) < html.index(soon.number)
    assert "late by" in html and "due in" in html
    assert "System down" in html
    assert busy["mine"].number not in html  # on time and not down


def test_needs_attention_says_so_when_nothing_is_urgent(client, world):
    html = widget(client, world, world.staff, "attention").text
    assert "No system is down and no ticket is breaching" in html


@pytest.mark.parametrize("role", [Role.director, Role.liaison, Role.library_staff])
def test_a_library_sees_what_waits_for_its_answer(client, world, busy, role):
    user = world.user(role)
    found = counts(widget(client, world, user, "tickets").text)
    assert found["Waiting for your answer"] == (
        1,
        "/tickets?status=pending_library&sort=updated_at",
    )
    assert_links_agree(client, world.headers(user), found)
    waiting = widget(client, world, user, "waiting").text
    assert world.own.ticket.number in waiting and "waiting for your answer" in waiting


@pytest.mark.parametrize("role", [Role.director, Role.liaison, Role.library_staff])
def test_another_library_does_not_see_this_librarys_counts(client, world, busy, role):
    user = world.user(role, own=False)
    found = counts(widget(client, world, user, "tickets").text)
    assert found["Waiting for your answer"][0] == 0
    opened = next(v for k, v in found.items() if k != "Waiting for your answer")
    # The neighbour's open tickets: its own World ticket and the late one, never OWN's.
    assert opened[0] == 2
    assert_links_agree(client, world.headers(user), found)
    waiting = widget(client, world, user, "waiting").text
    assert world.own.ticket.number not in waiting
    assert "No tickets are waiting for your answer." in waiting


def test_library_staff_count_only_their_own_tickets(client, world, make):
    colleague = make.user(Role.library_staff, world.own.code)
    make.ticket(colleague, subject="Someone else's")
    found = counts(widget(client, world, world.own.library_staff, "tickets").text)
    assert found["Your open tickets"][0] == 1
    lead = counts(widget(client, world, world.own.liaison, "tickets").text)
    assert lead["Open tickets of your library"][0] == 2


# --- directory, maintenance, incidents, mail ------------------------------------------------------


def test_staff_directory_widget_counts_gaps_and_requests(client, world):
    found = counts(widget(client, world, world.staff, "directory").text)
    assert found["change requests waiting for approval"] == (2, "/directory-changes?status=pending")
    vacant = found["members have a vacant liaison or director seat"]
    assert vacant[1] == "/reports/directory-gaps" and vacant[0] >= 2  # OWN and OTH at least
    gaps = client.get("/reports/directory-gaps?limit=200", headers=world.headers(world.staff))
    listed = [g for g in gaps.json()["data"] if g["vacant"]]
    assert vacant[0] == len(listed)


def test_a_librarys_directory_widget_shows_its_own_seats_and_confirmation(client, world, make):
    make.liaison(world.own.code, roles=(ContactRole.liaison.value,), name="Lee Liaison")
    html = widget(client, world, world.own.director, "directory").text
    found = counts(html)
    assert found["change request waiting for approval"] == (1, "/directory-changes?status=pending")
    listed = client.get(
        "/directory-changes?status=pending", headers=world.headers(world.own.director)
    )
    assert listed.json()["count"] == 1
    assert "Vacant seat: Director" in html and "Confirmation overdue" in html
    client.post(
        f"/institutions/{world.own.code}/liaisons/confirmation",
        headers=world.headers(world.own.director),
    )
    again = widget(client, world, world.own.director, "directory").text
    assert "Confirmation overdue" not in again and "Entries confirmed" in again
    # The neighbour still has both seats empty, and its own request only.
    other = widget(client, world, world.other.director, "directory").text
    assert "Director and Liaison" in other or "Liaison and Director" in other
    assert counts(other)["change request waiting for approval"][0] == 1


def test_a_confirmation_is_due_a_month_before_it_goes_stale(client, world, db):
    days = get_settings().directory_confirm_days
    db.add(
        DirectoryConfirmation(
            institution=world.own.code,
            confirmed_by=world.own.liaison.id,
            confirmed_at=datetime.now(UTC) - timedelta(days=days - 10),
        )
    )
    db.commit()
    html = widget(client, world, world.own.liaison, "directory").text
    assert "Confirmation due by" in html and "in 9 days" in html
    assert service.confirmation_due(None)[1] == "overdue"


def test_maintenance_shows_what_affects_the_library(client, world, make):
    soon = datetime.now(UTC) + timedelta(days=2)
    make.window(soon, title="Everyone's Alma upgrade")
    make.window(soon, title="Own network work", institutions=(world.own.code,))
    make.window(soon, title="Other's network work", institutions=(world.other.code,))
    make.window(datetime.now(UTC) - timedelta(minutes=30), title="Primo tuning", hours=2)
    own = widget(client, world, world.own.liaison, "maintenance").text
    assert "Own network work" in own and "Everyone&#39;s Alma upgrade" in own
    assert "Other&#39;s network work" not in own and "Happening now" in own
    ((count, href),) = counts(own).values()
    assert count == 3 and f"institution={world.own.code}" in href
    assert client.get(href, headers={"Accept": "application/json"}).json()["count"] == count
    staff = counts(widget(client, world, world.staff, "maintenance").text)
    ((count, href),) = staff.values()
    assert count == 4 and "institution" not in href
    assert client.get(href).json()["count"] == 4


def test_nothing_planned_is_said_in_words(client, world):
    html = widget(client, world, world.own.library_staff, "maintenance").text
    assert "No maintenance is planned for the next 7 days." in html


def test_open_incidents_for_staff(client, world, make):
    html = widget(client, world, world.staff, "incidents").text
    assert "World incident" in html and f'href="/incidents/{world.incident.id}"' in html


def test_undelivered_mail_is_for_admins_only(client, world, make, db):
    message = make.outbox_message()
    message.state = OutboxState.dead
    db.add(message)
    db.commit()
    found = counts(widget(client, world, world.admin, "mail").text)
    assert found["given up"] == (1, "/admin") and found["failed, to be tried again"][0] == 0
    assert found["webhook events given up"] == (0, "/webhooks")
    assert widget(client, world, world.staff, "mail").status_code == 404
    assert (
        'hx-get="/home/mail"'
        not in client.get("/", headers={**world.headers(world.staff), **PAGE}).text
    )


def test_duties_and_announcements_keep_their_home(client, world):
    liaison = widget(client, world, world.own.liaison, "duties").text
    assert "Duties due" in liaison and "World duty" in liaison
    staff = widget(client, world, world.staff, "duties").text
    assert "Open duties" in staff and "0% of 2" in staff
    news = widget(client, world, world.own.library_staff, "announcements").text
    assert "Recent announcements" in news and "No announcements yet." in news


# --- charts ---------------------------------------------------------------------------------------


def test_the_activity_chart_is_an_accessible_svg_with_its_numbers(client, world, busy, db):
    resolved = set_ticket(
        db, busy["mine"], status=TicketStatus.resolved, resolved_at=datetime.now(UTC)
    )
    html = widget(client, world, world.staff, "activity").text
    assert '<svg class="bar-chart"' in html and 'role="img"' in html
    assert '<title id="chart-activity-title">Tickets opened and resolved per week</title>' in html
    assert "style=" not in html
    weeks = service.weekly_activity(session=db, actor=world.staff)
    assert len(weeks) == 12 and weeks[-1].opened == 5 and weeks[-1].resolved == 1
    assert "5 tickets opened, 1 resolved" in html
    assert re.search(r"<td>5</td><td>1</td></tr>\s*</tbody>", html)
    assert resolved.number  # the resolved ticket is this week's


def test_the_sla_chart_counts_tickets_that_met_both_targets(client, world, busy, db):
    now = datetime.now(UTC)
    set_ticket(db, busy["mine"], status=TicketStatus.resolved, resolved_at=now)
    set_ticket(db, busy["late"], status=TicketStatus.resolved, resolved_at=now)
    months = service.monthly_sla(session=db, actor=world.staff)
    assert len(months) == 6 and (months[-1].resolved, months[-1].met) == (2, 1)
    assert months[-1].percent == 50 and months[0].percent is None
    for ticket in (busy["mine"], busy["late"]):  # the SQL rule is the API's rule
        met = not (sla.sla(ticket).response_breached or sla.sla(ticket).resolution_breached)
        assert met == (ticket is busy["mine"])
    html = widget(client, world, world.staff, "sla").text
    assert "1 of 2 resolved tickets met both" in html and "<td>50%</td>" in html
    assert "<td>—</td>" in html  # a month without resolved tickets is no 0%


def test_charts_are_for_staff(client, world):
    for name in ("activity", "sla"):
        assert widget(client, world, world.own.liaison, name).status_code == 404


def test_weeks_start_on_monday_and_months_cross_the_new_year():
    now = datetime(2026, 2, 4, 18, tzinfo=UTC)  # a Wednesday, noon in Chicago
    weeks = service.week_starts(3, now)
    assert [d.isoformat() for d in weeks] == ["2026-01-19", "2026-01-26", "2026-02-02"]
    months = service.month_starts(3, now)
    assert [d.isoformat() for d in months] == ["2025-12-01", "2026-01-01", "2026-02-01"]
    late = datetime(2026, 3, 1, 3, tzinfo=UTC)  # still February 28 in Chicago
    assert service.month_starts(1, late)[0].isoformat() == "2026-02-01"


def test_bar_chart_geometry_stays_inside_the_plot():
    chart = charts.bar_chart(
        id="c",
        title="t",
        description="d",
        labels=["a", "b", "c"],
        series=[charts.Series("One", "s1", [0, 7, None]), charts.Series("Two", "s2", [3, 1, 2])],
    )
    assert len(chart.bars) == 5 and chart.ticks[-1].label == "8"
    for bar in chart.bars:
        assert bar.x >= charts.LEFT and bar.x + bar.width <= charts.WIDTH - charts.RIGHT
        assert bar.y >= charts.TOP and bar.y + bar.height == pytest.approx(chart.baseline, abs=0.2)
    assert chart.rows[2] == ("c", ["—", "2"])


# --- one fixed number of statements per widget ----------------------------------------------------


def _more(make, world, db, n: int) -> None:
    """`n` more of everything a widget lists or counts."""
    for i in range(n):
        t = make.ticket(world.own.library_staff, priority=TicketPriority.system_down)
        set_ticket(db, t, status=TicketStatus.pending_library if i % 2 else TicketStatus.open)
        make.window(datetime.now(UTC) + timedelta(days=1, hours=i), institutions=(world.own.code,))
        make.incident(title=f"Incident {i}")
        make.institution()
        make.directory_change(world.own.director)


@pytest.mark.parametrize("role", [Role.consortium_admin, Role.liaison, Role.library_staff])
def test_widget_statement_counts_do_not_grow_with_the_rows(client, world, make, db, counted, role):
    user = world.user(role)
    names = [w.name for w in views.widgets_for(user)]
    headers = {**world.headers(user), **HX}

    def measure() -> dict[str, int]:
        found = {}
        for name in names:
            with counted() as seen:
                assert client.get(f"/home/{name}", headers=headers).status_code == 200
            found[name] = len(seen)
        return found

    _more(make, world, db, 1)  # one of each: a list with rows reads its details once
    few = measure()
    _more(make, world, db, 6)
    many = measure()
    assert many == few
    # Signing in costs a couple of statements; a widget itself a handful at most.
    assert max(many.values()) <= 8, many


# --- the institution page links to the library's tickets and maintenance --------------------------


@pytest.mark.parametrize(
    ("role", "own", "sees_tickets"),
    [
        (Role.consortium_staff, True, True),
        (Role.liaison, True, True),
        (Role.library_staff, True, True),
        (Role.liaison, False, False),
    ],
)
def test_the_institution_page_links_to_its_tickets_and_maintenance(
    client, world, role, own, sees_tickets
):
    user = world.user(role, own=own)
    page = client.get(f"/institutions/{world.own.code}", headers={**world.headers(user), **PAGE})
    assert f'href="/maintenance?institution={world.own.code}"' in page.text
    assert (f'href="/tickets?institution={world.own.code}"' in page.text) is sees_tickets


def test_undelivered_webhook_events_for_admins(client, world, db):
    from app.models.webhook import WebhookDelivery
    from tests.routes import webhook

    hook = webhook(world)
    delivery = db.get(WebhookDelivery, hook["delivery_id"])
    delivery.state = OutboxState.dead
    db.add(delivery)
    db.commit()
    found = counts(widget(client, world, world.admin, "mail").text)
    assert found["webhook events given up"] == (1, "/webhooks")
    assert found["webhook events failed, to be tried again"][0] == 0


def test_refused_mail_this_week_needs_staff_attention(client, world, db):
    from app.models.inbound_mail import InboundMail, InboundOutcome

    def received(key: str, days_ago: int) -> InboundMail:
        return InboundMail(
            message_key=key,
            sender="stranger@example.net",
            subject="Hello",
            outcome=InboundOutcome.rejected,
            reason="We do not know this sender.",
            received_at=datetime.now(UTC) - timedelta(days=days_ago),
        )

    assert "refused" not in widget(client, world, world.staff, "attention").text
    db.add_all([received("<a@x>", 1), received("<b@x>", 2), received("<old@x>", 9)])
    db.commit()
    found = counts(widget(client, world, world.staff, "attention").text)
    assert found["e-mails to the portal refused in the last 7 days"] == (2, "/inbound-mail")
