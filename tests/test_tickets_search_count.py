"""A search's count (issue 11): each ticket counts once however many of its documents (its text,
its comments) match, exact up to the cap and "capped" above it, and a library user's count never
includes a ticket that only an internal note matches. The cap is made small here."""

from datetime import timedelta

import pytest

from app.core.db import utcnow
from app.models.user import Role
from app.services.tickets import queries


@pytest.fixture
def cap(monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 3)


def counted(client, headers, q: str, **params) -> tuple[int, bool, int]:
    body = client.get("/tickets", params={"q": q, "limit": 2, **params}, headers=headers).json()
    return body["count"], body["count_capped"], len(body["data"])


def test_a_search_counts_each_ticket_once_exact_at_the_cap_capped_above(client, make, cap):
    own = make.institution()
    liaison, staff = make.user(Role.liaison, own.code), make.user(Role.consortium_staff)
    headers = make.headers(staff)
    first = make.ticket(liaison, subject="Renewal fails", description="Renewal fails again.")
    make.comment(first, staff, "Renewal works now.")  # the same ticket, three matching documents
    make.comment(first, staff, "Renewal note.", internal=True)
    make.ticket(liaison, subject="Renewal fails too")
    assert counted(client, headers, "renewal") == (2, False, 2)
    make.ticket(liaison, subject="Renewal once more")
    assert counted(client, headers, "renewal") == (3, False, 2)  # exactly the cap: not capped
    make.ticket(liaison, subject="Renewal and again")
    assert counted(client, headers, "renewal") == (3, True, 2)
    # The staff reply opened the first ticket: with a filter, three are left, exactly the cap.
    assert counted(client, headers, "renewal", status="new") == (3, False, 2)


def test_a_library_users_count_leaves_out_what_only_a_note_matches(client, make, cap):
    own = make.institution()
    liaison, staff = make.user(Role.liaison, own.code), make.user(Role.consortium_staff)
    for n in range(2):
        ticket = make.ticket(liaison, subject=f"Login problem {n}")
        make.comment(ticket, staff, "Checked the kalomi proxy.", internal=True)
    make.comment(ticket, staff, "The kalomi proxy was restarted.")  # public: this one counts
    make.ticket(make.user(Role.liaison, make.institution().code), subject="Kalomi down")
    assert counted(client, make.headers(liaison), "kalomi") == (1, False, 1)
    assert counted(client, make.headers(staff), "kalomi") == (3, False, 2)


@pytest.mark.parametrize("sort", ["-created_at", "updated_at", "sla_due_at", "priority"])
def test_a_search_reads_the_same_pages_walking_the_tickets_or_reading_its_matches(
    client, make, db, monkeypatch, sort
):
    """On SQLite a search with words alone reads its matches, or past `queries.WALK_FROM`
    matching tickets walks the tickets in the sort's order and checks each against them; a
    search with a filter or by a library user always walks. The pages, their order and the
    count are the same every way. Filing times are out of number order here, as after an
    import, so an order by number would show."""
    own = make.institution()
    liaison, staff = make.user(Role.liaison, own.code), make.user(Role.consortium_staff)
    now = utcnow()
    for n, days in enumerate([3, 9, 1, 7, 5, 2, 8]):
        subject = "Loan problem" if n == 4 else f"Renewal problem {n}"
        ticket = make.ticket(liaison, subject=subject, priority="high" if n % 3 else "normal")
        ticket.created_at = now - timedelta(days=days)
        db.add(ticket)
        if n == 4:  # found by a reply only; the staff reply opens it (no longer "new")
            make.comment(ticket, staff, "A renewal that only a reply mentions.")
            opened = ticket.number
    make.ticket(liaison, subject="Something else entirely")
    db.commit()

    def every_page(headers, **params) -> tuple[list[str], int]:
        body = client.get(
            "/tickets", params={"q": "renewal", "limit": 2, "sort": sort, **params}, headers=headers
        ).json()
        seen, count = [t["number"] for t in body["data"]], body["count"]
        while body["next"]:
            body = client.get(body["next"], headers=headers).json()
            seen += [t["number"] for t in body["data"]]
        return seen, count

    staff_headers = make.headers(staff)
    monkeypatch.setattr(queries, "WALK_FROM", 10**9)
    read, count = every_page(staff_headers)
    assert count == 7 and len(set(read)) == 7
    monkeypatch.setattr(queries, "WALK_FROM", 1)
    assert every_page(staff_headers) == (read, 7)
    assert every_page(make.headers(liaison)) == (read, 7)
    assert every_page(staff_headers, status="new") == ([n for n in read if n != opened], 6)
