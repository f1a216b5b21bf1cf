"""Tickets at a million (issue 11): the count stops at a cap and says so, the staff queue sorts
by SLA deadline and pages by cursor through it, and a list costs the same statements whatever
its page size. Timings live in `bench/tickets.py`, never here."""

import pytest

from app.models.user import Role
from app.services.tickets import queries
from tests.conftest import is_postgres


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


def test_the_count_stops_at_the_cap_and_says_so(client, desk, make, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    for n in range(5):
        make.ticket(desk["liaison"], subject=f"Renewal problem {n}")
    staff = desk["h"]["staff"]
    for params in ({}, {"q": "renewal"}):
        body = client.get("/tickets", params={**params, "limit": 2}, headers=staff).json()
        assert body["count"] == 3 and body["count_capped"] is True, params
        following = client.get(body["next"], headers=staff).json()
        assert following["count"] == 3 and following["count_capped"] is True
    exact = client.get("/tickets", params={"q": "renewal problem 4"}, headers=staff).json()
    assert exact["count"] == 1 and exact["count_capped"] is False
    page = client.get("/tickets", headers={**staff, "Accept": "text/html"}).text
    assert "3+ tickets" in page


def test_the_cap_is_documented(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    page = next(s for s in schema.values() if "count_capped" in s.get("properties", {}))
    assert "10,000" in page["properties"]["count_capped"]["description"]


def test_the_staff_queue_in_sla_order_walks_every_ticket_once(client, desk, make):
    liaison, staff = desk["liaison"], desk["h"]["staff"]
    urgent = make.ticket(liaison, priority="system_down")  # due within the hour
    normal = make.ticket(liaison, priority="normal")
    low = make.ticket(liaison, priority="low")
    waiting = make.ticket(liaison)
    done = make.ticket(liaison)
    client.patch(f"/tickets/{waiting.number}", json={"status": "pending_vendor"}, headers=staff)
    client.patch(
        f"/tickets/{done.number}",
        json={"status": "closed", "reason": "Filed twice."},
        headers=staff,
    )
    first = client.get("/tickets", params={"sort": "sla_due_at"}, headers=staff).json()
    order = [t["number"] for t in first["data"]]
    assert order[:3] == [urgent.number, normal.number, low.number]
    assert set(order[3:]) == {waiting.number, done.number}
    seen, url = [], "/tickets?sort=sla_due_at&limit=2"
    while url:
        body = client.get(url, headers=staff).json()
        assert body["count"] == 5
        seen += [t["number"] for t in body["data"]]
        url = body["next"]
    assert seen == order
    for offset in range(5):
        shifted = client.get(
            "/tickets", params={"sort": "sla_due_at", "offset": offset, "limit": 1}, headers=staff
        ).json()
        assert [t["number"] for t in shifted["data"]] == order[offset : offset + 1]
    filtered = client.get(
        "/tickets", params={"sort": "sla_due_at", "view": "open"}, headers=staff
    ).json()
    assert [t["number"] for t in filtered["data"]] == [*order[:3], waiting.number]


def test_a_reply_moves_a_ticket_from_its_response_to_its_resolution_deadline(client, desk, make):
    ticket = make.ticket(desk["liaison"])
    path = f"/tickets/{ticket.number}"
    staff = desk["h"]["staff"]
    before = client.get(path, headers=staff).json()["sla"]
    assert ticket.sla_due_at == ticket.response_due_at
    client.post(f"{path}/comments", json={"body": "Looking at it."}, headers=staff)
    after = client.get(path, headers=staff).json()["sla"]
    assert before["resolution_due_at"] == after["resolution_due_at"]
    from app.models.ticket import Ticket

    row = queries.by_number(session=make.session, number=ticket.number)
    make.session.refresh(row)
    assert isinstance(row, Ticket) and row.sla_due_at == row.resolution_due_at


@pytest.mark.parametrize(
    ("who", "params", "most"),
    [
        ("staff", {}, 2),
        (
            "staff",
            {"sort": "sla_due_at"},
            3,
        ),  # + the waiting and done tail, where a page reaches it
        # + on SQLite, the count first: it chooses how the page is read (queries.WALK_FROM)
        ("staff", {"q": "problem"}, 2 if is_postgres() else 3),
        ("liaison", {"sort": "-updated_at"}, 2),
    ],
)
def test_a_list_costs_the_same_statements_at_every_page_size(
    client, desk, make, counted, who, params, most
):
    """One for the signed-in user and one for the page with its count, its watchers and merge
    targets: never one per row."""
    liaison = desk["liaison"]
    watcher = make.user(Role.library_staff, desk["own"].code)
    tickets = [
        make.ticket(liaison, subject=f"Problem {n}", watchers=[watcher.id]) for n in range(7)
    ]
    staff = desk["h"]["staff"]
    merged = client.post(
        f"/tickets/{tickets[0].number}/merge", json={"into": tickets[1].number}, headers=staff
    )
    assert merged.status_code == 200
    counts = {}
    for limit in (2, 6):
        with counted() as seen:
            response = client.get(
                "/tickets", params={**params, "limit": limit}, headers=desk["h"][who]
            )
        body = response.json()
        assert len(body["data"]) == limit
        assert any(t["watchers"] for t in body["data"])
        counts[limit] = len(seen)
    assert counts[2] >= 2 and max(counts.values()) <= most, counts
    with counted() as seen:
        one = client.get(f"/tickets/{tickets[0].number}", headers=desk["h"][who])
    assert one.json()["merged_into"] == tickets[1].number and len(seen) == 2
