"""The staff triage queue (issue 12): staff pages open on the open tickets while JSON keeps its
documented default, the priority order pages by cursor, `breaching` leaves paused clocks out,
`due_soon`, bulk assign and status through the workflow (audited, If-Match-safe), search by
ticket number and safe highlighting."""

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from app.core.db import utcnow
from app.models.audit import AuditEntry
from app.models.ticket import Ticket
from app.models.user import Role
from app.services.tickets import queries, search

HTML = {"Accept": "text/html"}


@pytest.fixture
def desk(make):
    own = make.institution()
    staff, liaison = make.user(Role.consortium_staff), make.user(Role.liaison, own.code)
    return {
        "own": own,
        "staff": staff,
        "liaison": liaison,
        "h": {"staff": make.headers(staff), "liaison": make.headers(liaison)},
    }


def _set(make, ticket: Ticket, **values) -> Ticket:
    """Puts a ticket in a state directly (a clock run out, a status) without the workflow."""
    for key, value in values.items():
        setattr(ticket, key, value)
    make.session.add(ticket)
    make.session.commit()
    return ticket


def _numbers(body: dict) -> list[str]:
    return [t["number"] for t in body["data"]]


# --- the default queue ------------------------------------------------------------------------


def test_staff_pages_open_on_open_tickets_and_json_keeps_all(client, desk, make):
    running = make.ticket(desk["liaison"], subject="Still broken")
    done = _set(make, make.ticket(desk["liaison"], subject="Long fixed"), status="closed")
    staff = desk["h"]["staff"]

    body = client.get("/tickets", headers=staff).json()
    assert {running.number, done.number} <= set(_numbers(body)), "JSON must keep `all`"

    page = client.get("/tickets", headers={**staff, **HTML}).text
    assert running.number in page and done.number not in page
    assert 'href="/tickets?view=all"' in page and "Show all tickets" in page
    assert '<option value="open" selected>' in page

    fragment = client.get("/tickets", headers={**staff, "HX-Request": "true"}).text
    assert running.number in fragment and done.number not in fragment

    everything = client.get("/tickets?view=all", headers={**staff, **HTML}).text
    assert running.number in everything and done.number in everything
    by_status = client.get("/tickets?status=closed", headers={**staff, **HTML}).text
    assert done.number in by_status and running.number not in by_status

    library = client.get("/tickets", headers={**desk["h"]["liaison"], **HTML}).text
    assert running.number in library and done.number in library, "libraries see all theirs"


def test_the_json_contract_still_documents_all_as_the_default(client):
    schema = client.get("/openapi.json").json()
    params = schema["paths"]["/tickets"]["get"]["parameters"]
    view = next(p for p in params if p["name"] == "view")
    assert view["schema"].get("default") == "all"
    assert "due_soon" in str(schema["components"]["schemas"]["TicketView"])


# --- the priority order -----------------------------------------------------------------------


def test_priority_order_pages_by_cursor_without_gaps_or_repeats(client, desk, make):
    liaison, staff = desk["liaison"], desk["h"]["staff"]
    filed = [
        make.ticket(liaison, priority=p)
        for p in ("low", "normal", "system_down", "high", "normal", "system_down", "high", "low")
    ]
    rank = {"system_down": 0, "high": 1, "normal": 2, "low": 3}
    expected = [t.number for t in sorted(filed, key=lambda t: (rank[t.priority], t.id))]

    first = client.get("/tickets", params={"sort": "priority"}, headers=staff).json()
    assert _numbers(first) == expected
    assert first["data"][0]["priority"] == "system_down"

    for limit in (1, 2, 3):
        seen, url = [], f"/tickets?sort=priority&limit={limit}"
        while url:
            body = client.get(url, headers=staff).json()
            assert body["count"] == len(expected)
            seen += _numbers(body)
            url = body["next"]
        assert seen == expected, limit
    for offset in range(len(expected)):
        shifted = client.get(
            "/tickets", params={"sort": "priority", "offset": offset, "limit": 2}, headers=staff
        ).json()
        assert _numbers(shifted) == expected[offset : offset + 2]

    other = client.get("/tickets?sort=-created_at&limit=1", headers=staff).json()["next"]
    cursor = other.split("cursor=")[1].split("&")[0]
    wrong = client.get("/tickets", params={"sort": "priority", "cursor": cursor}, headers=staff)
    assert wrong.status_code == 422


def test_the_priority_cursor_is_read_strictly():
    good = queries.encode_cursor(queries.TicketSort.priority, utcnow(), 5, 9, False, "high")
    position = queries.decode_cursor(good, queries.TicketSort.priority)
    assert position.priority == "high" and position.last_id == 5
    bad = queries.encode_cursor(queries.TicketSort.priority, utcnow(), 5, 9, False, "urgent")
    with pytest.raises(queries.Invalid):
        queries.decode_cursor(bad, queries.TicketSort.priority)


def test_priority_badges_and_sort_choice_on_the_page(client, desk, make):
    make.ticket(desk["liaison"], priority="system_down", subject="Alma is down")
    page = client.get("/tickets?sort=priority", headers={**desk["h"]["staff"], **HTML}).text
    assert '<span class="prio prio-system_down">System down</span>' in page
    assert '<option value="priority" selected>' in page


@pytest.mark.parametrize("params", [{"sort": "priority"}, {"sort": "priority", "view": "open"}])
def test_the_priority_order_costs_the_same_statements_at_every_page_size(
    client, desk, make, counted, params
):
    for n, priority in enumerate(("low", "high", "normal", "system_down", "high", "low", "normal")):
        make.ticket(desk["liaison"], priority=priority, subject=f"Problem {n}")
    counts = {}
    for limit in (2, 6):
        with counted() as seen:
            body = client.get(
                "/tickets", params={**params, "limit": limit}, headers=desk["h"]["staff"]
            ).json()
        assert len(body["data"]) == limit
        counts[limit] = len(seen)
    assert counts[2] == counts[6] == 2, counts


def test_the_staff_page_costs_the_same_statements_at_every_page_size(client, desk, make, counted):
    for n in range(7):
        make.ticket(desk["liaison"], subject=f"Problem {n}")
    counts = {}
    for limit in (2, 6):
        with counted() as seen:
            page = client.get(f"/tickets?limit={limit}", headers={**desk["h"]["staff"], **HTML})
        assert page.text.count('name="tickets"') == limit
        counts[limit] = len(seen)
    assert counts[2] == counts[6], counts


# --- breaching and due soon -------------------------------------------------------------------


def test_breaching_leaves_out_paused_clocks_and_the_page_says_paused(client, desk, make):
    now = utcnow()
    late = now - timedelta(hours=3)
    running = _set(
        make,
        make.ticket(desk["liaison"], subject="Late and running"),
        response_due_at=late,
        resolution_due_at=late,
        sla_due_at=late,
    )
    waiting = _set(
        make,
        make.ticket(desk["liaison"], subject="Late but waiting"),
        status="pending_vendor",
        response_due_at=late,
        resolution_due_at=late,
        sla_paused_at=now - timedelta(hours=1),
        sla_due_at=None,
    )
    staff = desk["h"]["staff"]
    body = client.get("/tickets", params={"view": "breaching"}, headers=staff).json()
    assert _numbers(body) == [running.number]
    page = client.get("/tickets?view=all", headers={**staff, **HTML}).text
    row = page.split(f"<code>{waiting.number}</code>")[1].split("</tr>")[0]
    assert "Paused" in row and "Breached" not in row
    late_row = page.split(f"<code>{running.number}</code>")[1].split("</tr>")[0]
    assert "Breached" in late_row


def test_due_soon_is_the_next_four_business_hours_of_running_clocks(client, desk, make):
    now = utcnow()
    cutoff = queries.due_soon_cutoff(now)
    assert cutoff >= now + timedelta(hours=4)
    soon = _set(make, make.ticket(desk["liaison"]), sla_due_at=now + (cutoff - now) / 2)
    later = _set(make, make.ticket(desk["liaison"]), sla_due_at=cutoff + timedelta(days=1))
    late = _set(make, make.ticket(desk["liaison"]), sla_due_at=now - timedelta(minutes=5))
    paused = _set(make, make.ticket(desk["liaison"]), status="pending_library", sla_due_at=None)
    body = client.get("/tickets", params={"view": "due_soon"}, headers=desk["h"]["staff"]).json()
    assert _numbers(body) == [soon.number]
    assert not {later.number, late.number, paused.number} & set(_numbers(body))
    page = client.get("/tickets?view=due_soon", headers={**desk["h"]["staff"], **HTML})
    assert page.status_code == 200 and '<option value="due_soon" selected>' in page.text


# --- bulk changes -----------------------------------------------------------------------------


def _rendered_etags(client, headers) -> dict[str, str]:
    """The `number|ETag` values the staff page put on its checkboxes."""
    page = client.get("/tickets?view=all&limit=200", headers={**headers, **HTML}).text
    found = {}
    for chunk in page.split('name="tickets" value="')[1:]:
        value = chunk.split('"', 1)[0].replace("&#34;", '"')
        number, _, tag = value.partition("|")
        found[number] = value
        assert tag.startswith('"'), value
    return found


def test_bulk_assign_changes_each_ticket_through_the_workflow(client, desk, make, db):
    tickets = [make.ticket(desk["liaison"]) for _ in range(3)]
    helper = make.user(Role.consortium_staff, name="Pat Helper")
    staff = desk["h"]["staff"]
    values = _rendered_etags(client, staff)
    chosen = [values[t.number] for t in tickets[:2]]
    response = client.post(
        "/tickets/bulk", json={"tickets": chosen, "assignee": str(helper.id)}, headers=staff
    )
    assert response.status_code == 200, response.text
    assert "Assigned 2 tickets to Pat Helper" in response.text
    assert response.headers["HX-Trigger"] == "tickets-changed"
    for ticket in tickets:
        db.refresh(ticket)
    assert [t.assignee for t in tickets] == [helper.id, helper.id, None]
    audited = db.exec(
        select(AuditEntry.entity_id).where(
            AuditEntry.entity_type == "ticket", AuditEntry.action == "update"
        )
    ).all()
    assert {tickets[0].number, tickets[1].number} <= set(audited)
    events = client.get(f"/tickets/{tickets[0].number}/events", headers=staff).json()["data"]
    assert any(e["kind"] == "assignment" for e in events)


def test_bulk_status_reports_invalid_moves_and_stale_tickets_in_plain_words(client, desk, make, db):
    fine, closed, stale = (make.ticket(desk["liaison"]) for _ in range(3))
    _set(make, closed, status="closed")
    staff = desk["h"]["staff"]
    values = _rendered_etags(client, staff)
    # Someone else changes `stale` after the list was loaded.
    other = make.headers(make.user(Role.consortium_staff))
    assert (
        client.patch(f"/tickets/{stale.number}", json={"vendor_case": "SF-1"}, headers=other)
    ).status_code == 200
    chosen = [values[t.number] for t in (fine, closed, stale)]
    response = client.post(
        "/tickets/bulk", json={"tickets": chosen, "status": "pending_vendor"}, headers=staff
    )
    assert response.status_code == 200, response.text
    text = response.text
    assert "Set 1 ticket to “" in text and "2 skipped" in text
    assert f"{closed.number}</a>:" in text and "cannot be set to" in text
    assert "changed by someone else since you loaded the list" in text
    assert "pending_vendor" not in text.replace('"pending_vendor"', "")
    for ticket in (fine, closed, stale):
        db.refresh(ticket)
    assert (fine.status, closed.status, stale.status) == ("pending_vendor", "closed", "new")
    assert stale.vendor_case == "SF-1", "the other person's change is kept"


def test_bulk_with_one_ticked_box_and_with_none(client, desk, make, db):
    ticket = make.ticket(desk["liaison"])
    staff = desk["h"]["staff"]
    value = _rendered_etags(client, staff)[ticket.number]
    one = client.post("/tickets/bulk", json={"tickets": value, "status": "open"}, headers=staff)
    assert one.status_code == 200 and "Set 1 ticket" in one.text
    none = client.post("/tickets/bulk", json={"status": "open"}, headers=staff)
    assert none.status_code == 422 and "Choose at least one ticket" in none.text
    nothing = client.post("/tickets/bulk", json={"tickets": value}, headers=staff)
    assert nothing.status_code == 422


def test_bulk_refuses_a_library_user_and_an_outsider_assignee(client, desk, make, db):
    ticket = make.ticket(desk["liaison"])
    staff = desk["h"]["staff"]
    value = _rendered_etags(client, staff)[ticket.number]
    for who in ("liaison",):
        refused = client.post(
            "/tickets/bulk", json={"tickets": [value], "status": "closed"}, headers=desk["h"][who]
        )
        assert refused.status_code == 403
    anonymous = client.post("/tickets/bulk", json={"tickets": [value], "status": "closed"})
    assert anonymous.status_code == 401
    outsider = client.post(
        "/tickets/bulk",
        json={"tickets": [value], "assignee": str(desk["liaison"].id)},
        headers=staff,
    )
    assert outsider.status_code == 422
    db.refresh(ticket)
    assert ticket.status == "new" and ticket.assignee is None
    library_page = client.get("/tickets", headers={**desk["h"]["liaison"], **HTML}).text
    assert 'name="tickets"' not in library_page and "/tickets/bulk" not in library_page


# --- search -----------------------------------------------------------------------------------


def test_search_finds_a_ticket_by_its_number(client, desk, make):
    tickets = [make.ticket(desk["liaison"], subject=f"Plain report {n}") for n in range(3)]
    target = tickets[1]
    serial = target.number.split("-")[1]
    staff = desk["h"]["staff"]
    for q in (target.number, serial, str(int(serial)), f"#{int(serial)}"):
        body = client.get("/tickets", params={"q": q}, headers=staff).json()
        assert target.number in _numbers(body), q
        assert tickets[0].number not in _numbers(body), q
    library = client.get("/tickets", params={"q": target.number}, headers=desk["h"]["liaison"])
    assert _numbers(library.json()) == [target.number]
    outsider = make.headers(make.user(Role.liaison, make.institution().code))
    hidden = client.get("/tickets", params={"q": target.number}, headers=outsider).json()
    assert hidden["data"] == [], "a number never reveals another library's ticket"


def test_matches_are_marked_and_a_script_in_a_subject_stays_text(client, desk, make):
    make.ticket(desk["liaison"], subject="<script>alert(1)</script> Renewal fails & <b>loans</b>")
    page = client.get("/tickets?q=renewal", headers={**desk["h"]["staff"], **HTML}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Renewal</mark> fails &amp;" in page
    assert "<script>alert" not in page and "<b>loans" not in page


def test_a_mark_never_lands_inside_an_entity_or_a_tag():
    marked = search.highlight('<a href="x"> & lt amp', "lt amp href")
    assert (
        str(marked)
        == "&lt;a <mark>href</mark>=&#34;x&#34;&gt; &amp; <mark>lt</mark> <mark>amp</mark>"
    )
    assert str(search.highlight("<i>", None)) == "&lt;i&gt;"


@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({"sort": "priority"}, "ix_ticket_priority_created"),
        # Open tickets are the newest few: one range per status and priority (migration 0019).
        ({"sort": "priority", "view": "open"}, "ix_ticket_status_priority_created"),
        ({"view": "due_soon", "sort": "sla_due_at"}, "ix_ticket_sla_due"),
        ({"view": "open", "sort": "sla_due_at"}, "ix_ticket_status_sla_due"),
    ],
)
def test_the_new_queues_read_their_indexes(client, desk, make, connection, params, index):
    """The plan SQLite chooses for each statement of the request (PostgreSQL's plans at a
    million rows are in `bench/tickets.py`): each priority is a range of its index."""
    if connection.dialect.name != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL's depends on its statistics")
    for priority in ("low", "high", "system_down"):
        make.ticket(desk["liaison"], priority=priority)
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM ticket" in statement and "user_account" not in statement:
            seen.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        response = client.get("/tickets", params=params, headers=desk["h"]["staff"])
    finally:
        event.remove(connection, "before_cursor_execute", record)
    assert response.status_code == 200
    plans = [
        " | ".join(row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + s, p))
        for s, p in seen
    ]
    assert any(index in plan for plan in plans), plans
    if params.get("sort") == "priority":
        assert sum(plan.count(index) for plan in plans) >= 4, plans


def test_bulk_closing_new_reports_needs_a_reason_kept_on_each(client, desk, make, db):
    first, second = make.ticket(desk["liaison"]), make.ticket(desk["liaison"])
    staff = desk["h"]["staff"]
    values = _rendered_etags(client, staff)
    chosen = [values[first.number], values[second.number]]
    refused = client.post(
        "/tickets/bulk", json={"tickets": chosen, "status": "closed"}, headers=staff
    )
    assert refused.status_code == 200 and "No ticket was changed" in refused.text
    assert refused.text.count("why you are closing") == 2, refused.text
    values = _rendered_etags(client, staff)
    chosen = [values[first.number], values[second.number]]
    reason = "Duplicates of the Alma outage report."
    closed = client.post(
        "/tickets/bulk",
        json={"tickets": chosen, "status": "closed", "reason": reason},
        headers=staff,
    )
    assert "Set 2 tickets to" in closed.text, closed.text
    for ticket in (first, second):
        db.refresh(ticket)
        assert ticket.status == "closed"
        replies = client.get(f"/tickets/{ticket.number}/comments", headers=staff).json()["data"]
        assert any(reason in c["body"] for c in replies)
