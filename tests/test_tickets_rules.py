"""The ticket rules as tables, at the service level (the end-to-end checks are in
test_tickets.py): which status moves each role may make, what a status does to the SLA clock,
and when the SLA counts as breached."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.errors import Invalid, PermissionDenied
from app.models.ticket import PROMPTS, REPORT_TEMPLATE, Ticket, TicketStatus, unanswered
from app.models.user import Role, User
from app.services.tickets import sla, workflow

# Every (from, to) pair. `staff` is consortium staff and admins; `library` is a library's
# director, liaison and staff alike. ok: allowed; 422: the workflow has no such move;
# 403: only staff may make it.
TRANSITIONS = """
    from             to               staff  library
    new              new              422    422
    new              open             ok     403
    new              pending_library  ok     403
    new              pending_vendor   ok     403
    new              resolved         ok     403
    new              closed           ok     ok
    open             new              422    422
    open             open             422    422
    open             pending_library  ok     403
    open             pending_vendor   ok     403
    open             resolved         ok     403
    open             closed           ok     ok
    pending_library  new              422    422
    pending_library  open             ok     ok
    pending_library  pending_library  422    422
    pending_library  pending_vendor   ok     403
    pending_library  resolved         ok     403
    pending_library  closed           ok     ok
    pending_vendor   new              422    422
    pending_vendor   open             ok     403
    pending_vendor   pending_library  ok     403
    pending_vendor   pending_vendor   422    422
    pending_vendor   resolved         ok     403
    pending_vendor   closed           ok     ok
    resolved         new              422    422
    resolved         open             ok     ok
    resolved         pending_library  422    422
    resolved         pending_vendor   422    422
    resolved         resolved         422    422
    resolved         closed           ok     ok
    closed           new              422    422
    closed           open             422    422
    closed           pending_library  422    422
    closed           pending_vendor   422    422
    closed           resolved         422    422
    closed           closed           422    422
"""
ROLES = {
    "staff": [Role.consortium_admin, Role.consortium_staff],
    "library": [Role.director, Role.liaison, Role.library_staff],
}
OUTCOME = {"422": Invalid, "403": PermissionDenied}


def table() -> list[tuple[str, str, str, str]]:
    """(from, to, role, outcome) for every role of every column."""
    lines = [line.split() for line in TRANSITIONS.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert len(rows) == len(TicketStatus) ** 2, "the table lists every pair once"
    return [
        (row[0], row[1], role, row[header.index(column)])
        for row in rows
        for column, roles in ROLES.items()
        for role in roles
    ]


def person(role: Role) -> User:
    return User(id=1, email="someone@test.example.edu", name="Someone", role=role, institution="T")


@pytest.mark.parametrize(
    ("current", "target", "role", "outcome"),
    table(),
    ids=[f"{f}->{t}-{r}" for f, t, r, _ in table()],
)
def test_who_may_move_a_ticket_where(current, target, role, outcome):
    actor, current, target = person(role), TicketStatus(current), TicketStatus(target)
    if outcome == "ok":
        workflow.check_transition(actor, current, target)
        assert target in workflow.allowed_moves(actor, current)
    else:
        with pytest.raises(OUTCOME[outcome]):
            workflow.check_transition(actor, current, target)
        assert target not in workflow.allowed_moves(actor, current)


@pytest.mark.parametrize("role", [r for roles in ROLES.values() for r in roles])
@pytest.mark.parametrize("current", list(TicketStatus))
def test_the_status_control_offers_exactly_the_allowed_moves(current, role):
    allowed = [t for f, t, r, o in table() if f == current and r == role and o == "ok"]
    assert workflow.next_statuses(person(role), Ticket(status=current)) == allowed


# --- what a status does to the clock ----------------------------------------------------------

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 09:00 in Chicago, a business day

# (from, to) → (clock paused afterwards, resolved_at set afterwards)
MOVES = [
    ("new", "open", False, False),
    ("new", "pending_library", True, False),
    ("open", "pending_vendor", True, False),
    ("pending_library", "open", False, False),
    ("pending_library", "pending_vendor", True, False),
    ("pending_vendor", "resolved", False, True),
    ("open", "resolved", False, True),
    ("resolved", "open", False, False),
    ("resolved", "closed", False, True),
    ("pending_library", "closed", False, True),
]


def filed(priority: str = "normal", status: str = "new") -> Ticket:
    ticket = Ticket(priority=priority, status="new", created_at=MONDAY)
    sla.start_clock(ticket)
    workflow.move(ticket, TicketStatus(status), MONDAY + timedelta(minutes=30))
    return ticket


@pytest.mark.parametrize(("current", "target", "paused", "resolved"), MOVES)
def test_what_a_status_does_to_the_clock(current, target, paused, resolved):
    ticket = filed(status=current)
    now = MONDAY + timedelta(hours=2)
    workflow.move(ticket, TicketStatus(target), now)
    assert ticket.status == target
    assert (ticket.sla_paused_at is not None) is paused
    assert (ticket.response_due_at is None) is paused  # a paused clock has minutes left, no due
    assert (ticket.resolved_at is not None) is resolved


def test_a_paused_clock_resumes_with_the_minutes_it_had_left():
    ticket = filed()
    due = ticket.resolution_due_at
    workflow.move(ticket, TicketStatus.pending_vendor, MONDAY + timedelta(hours=1))
    workflow.move(ticket, TicketStatus.open, MONDAY + timedelta(hours=3))
    assert ticket.resolution_due_at == due + timedelta(hours=2)  # the wait is not counted


def test_reopening_clears_the_resolution_time_and_keeps_the_first_one_on_closing():
    ticket = filed(status="resolved")
    first = ticket.resolved_at
    workflow.move(ticket, TicketStatus.closed, MONDAY + timedelta(days=1))
    assert ticket.resolved_at == first
    workflow.move(ticket, TicketStatus.open, MONDAY + timedelta(days=2))
    assert ticket.resolved_at is None


# --- when the SLA is breached -----------------------------------------------------------------

T0 = MONDAY
RESPONSE_DUE, RESOLUTION_DUE = T0 + timedelta(hours=1), T0 + timedelta(hours=8)


def at(hours: float | None) -> datetime | None:
    return None if hours is None else T0 + timedelta(hours=hours)


# case, priority, status, first response, resolved, paused since (hours after filing), now →
# response breached, resolution breached, shown paused
BREACHES = [
    ("nothing due yet", "normal", "open", None, None, None, 0.5, False, False, False),
    ("no reply by the due time", "normal", "open", None, None, None, 2, True, False, False),
    ("replied in time", "normal", "open", 0.5, None, None, 2, False, False, False),
    ("replied late", "normal", "open", 1.5, None, None, 2, True, False, False),
    ("resolution overdue", "normal", "open", 0.5, None, None, 9, False, True, False),
    ("resolved in time, seen later", "normal", "resolved", 0.5, 7, None, 99, False, False, False),
    ("resolved late", "normal", "closed", 0.5, 9, None, 99, False, True, False),
    ("resolved without a reply", "normal", "resolved", None, 7, None, 99, True, False, False),
    ("paused while waiting", "normal", "pending_library", None, None, 0.5, 99, False, False, True),
    ("closed is never shown paused", "normal", "closed", 0.5, 2, 1, 99, False, False, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("priority", "status", "reply", "resolved", "paused_at", "now", "late", "overdue", "paused"),
    [case[1:] for case in BREACHES],
    ids=[case[0] for case in BREACHES],
)
def test_when_the_sla_is_breached(
    priority, status, reply, resolved, paused_at, now, late, overdue, paused
):
    waiting = paused_at is not None and not TicketStatus(status).done
    ticket = Ticket(
        priority=priority,
        status=status,
        created_at=T0,
        first_response_at=at(reply),
        resolved_at=at(resolved),
        sla_paused_at=at(paused_at),
        # a running clock has due times; a paused one keeps only the minutes left
        response_due_at=None if waiting else RESPONSE_DUE,
        resolution_due_at=None if waiting else RESOLUTION_DUE,
    )
    shown = sla.sla(ticket, now=at(now))
    assert (shown.response_breached, shown.resolution_breached, shown.paused) == (
        late,
        overdue,
        paused,
    )
    assert shown.around_the_clock is False


@pytest.mark.parametrize(
    ("priority", "around_the_clock"),
    [("low", False), ("normal", False), ("high", False), ("system_down", True)],
)
def test_only_system_down_is_counted_around_the_clock(priority, around_the_clock):
    assert sla.sla(filed(priority), now=MONDAY).around_the_clock is around_the_clock


# --- the filing form's questions, and closing a report nobody worked on -----------------------

ANSWERED = "What happened?\nSearch fails.\n\nWhat did you expect instead?\nResults.\n"


@pytest.mark.parametrize(
    ("description", "missing"),
    [
        ("Search fails for every e-book.", []),
        (REPORT_TEMPLATE, list(PROMPTS)),
        (ANSWERED, []),
        (ANSWERED + "\nWho is affected (one patron, one desk, the whole library)?\n", [PROMPTS[2]]),
        ("What happened?\n\nWhat did you expect instead?\nResults.", ["What happened?"]),
        ("Why does it fail? Nobody knows.", []),  # a question of one's own is not the template
    ],
    ids=["own-words", "template", "answered", "last-unanswered", "first-unanswered", "own-q"],
)
def test_which_template_questions_are_unanswered(description, missing):
    assert unanswered(description) == missing


@pytest.mark.parametrize(
    ("current", "reason", "refused"),
    [("new", None, True), ("new", "Solved it ourselves", False), ("open", None, False)],
)
def test_closing_a_new_report_needs_a_reason(current, reason, refused):
    ticket = Ticket(status=current)
    if refused:
        with pytest.raises(Invalid) as raised:
            workflow._check_reason(ticket, TicketStatus.closed, reason)
        assert [e.field for e in raised.value.errors] == ["reason"]
    else:
        workflow._check_reason(ticket, TicketStatus.closed, reason)
