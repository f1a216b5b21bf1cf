"""A search's count (issue 11): each ticket counts once however many of its documents (its text,
its comments) match, exact up to the cap and "capped" above it, and a library user's count never
includes a ticket that only an internal note matches. The cap is made small here."""

import pytest

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
