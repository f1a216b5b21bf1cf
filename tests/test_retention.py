"""Retention (issue 15): a period per ticket category; the dry run says exactly what the purge
does; a legal hold stops it; a period under the minimum is refused and writes nothing; the
audit records counts, never text; a purged ticket keeps its number, dates and category and
says "purged" in plain words; search forgets its words. On SQLite and PostgreSQL alike."""

import re
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.audit import AuditEntry
from app.models.outbox import OutboxMessage
from app.models.retention import RetentionPolicy
from app.models.ticket import Ticket, TicketAttachment, TicketComment, TicketStatus
from app.notify.jobs import registered
from app.services import retention
from app.services.tickets import attachments

HTML = {"Accept": "text/html"}
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def ticket_files(tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "ticket_attachment_dir", tmp_path)
    return tmp_path


def count(db: Session, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def set_policies(db: Session, **days: int) -> None:
    for scope, d in days.items():
        db.add(RetentionPolicy(scope=scope, days=d))
    db.commit()


@pytest.fixture
def closed(make, world, db):
    """`closed(days_ago, ...)`: a ticket of the own library with a unique word in its subject,
    a reply, an internal note and a file, closed `days_ago` days after it was resolved."""

    def build(days_ago: int, *, word: str, category="fulfillment", patron=False, hold=False):
        ticket = make.ticket(
            world.own.liaison,
            subject=f"Loans vanish {word}subject",
            description=f"Patron records lost, see {word}description.",
            category=category,
            contains_patron_data=patron,
        )
        make.comment(ticket, world.own.liaison, body=f"Reply about {word}reply")
        make.comment(ticket, world.staff, body=f"Note on {word}note", internal=True)
        attachments.add_attachment(
            session=db,
            actor=world.own.liaison,
            ticket=ticket,
            filename=f"{word}.txt",
            stream=BytesIO(f"log of {word}file\n".encode()),
        )
        ticket = db.get(Ticket, ticket.id)
        ticket.status = TicketStatus.closed
        ticket.resolved_at = utcnow() - timedelta(days=days_ago)
        ticket.legal_hold = hold
        db.add(ticket)
        db.commit()
        return ticket

    return build


def _found(client, world, word: str) -> list[str]:
    answer = client.get(f"/tickets?q={word}", headers=world.headers(world.staff))
    assert answer.status_code == 200, answer.text
    return [t["number"] for t in answer.json()["data"]]


# --- the dry run and the purge ----------------------------------------------------------------


def test_the_dry_run_matches_the_real_run_and_a_second_run_does_nothing(
    closed, db, world, ticket_files
):
    set_policies(db, default=3 * 365, patron_data=90, cataloging=400)
    old = closed(4 * 365, word="oldfulfil")  # past the default
    patron = closed(100, word="patronold", category="delivery", patron=True)  # past 90
    cataloging = closed(401, word="catalog", category="cataloging")  # past its own 400
    kept = [
        closed(60, word="patronyoung", patron=True),  # under 90
        closed(100, word="plainyoung"),  # under the default
        closed(399, word="catalogyoung", category="cataloging"),
    ]
    held = closed(5 * 365, word="heldone", hold=True)
    dry = retention.report(session=db, actor=world.admin)
    assert dry.dry_run and (dry.tickets, dry.comments, dry.attachments, dry.held) == (3, 6, 3, 1)
    by_category = {c.category: (c.tickets, c.patron_data, c.days) for c in dry.categories}
    assert by_category == {
        "cataloging": (1, 0, 400),
        "delivery": (1, 1, 3 * 365),
        "fulfillment": (1, 0, 3 * 365),
    }
    assert count(db, Ticket, Ticket.purged_at.is_not(None)) == 0  # the dry run wrote nothing

    done = retention.purge(session=db, batch_size=2)  # two batches
    assert not done.dry_run
    assert done.model_dump(exclude={"dry_run"}) == dry.model_dump(exclude={"dry_run", "as_of"}) | {
        "as_of": done.as_of
    }
    db.expire_all()
    purged = {t.id for t in db.exec(select(Ticket).where(Ticket.purged_at.is_not(None)))}
    assert purged == {old.id, patron.id, cataloging.id}
    for ticket in [*kept, held]:
        assert count(db, TicketComment, TicketComment.ticket_id == ticket.id) == 2
    assert count(db, TicketComment, TicketComment.ticket_id.in_(purged)) == 0
    assert count(db, TicketAttachment, TicketAttachment.ticket_id.in_(purged)) == 0
    assert len(list(ticket_files.iterdir())) == 4  # the files of the kept and held tickets

    again = retention.purge(session=db)
    assert (again.tickets, again.comments, again.attachments) == (0, 0, 0)
    assert retention.report(session=db, actor=world.admin).tickets == 0


def test_purging_runs_in_bounded_batches_and_goes_on_next_time(closed, db):
    set_policies(db, default=365)
    for n in range(3):
        closed(400, word=f"batch{n}")
    first = retention.purge(session=db, batch_size=1, max_batches=2)
    assert first.tickets == 2
    assert retention.report(session=db, actor=None).tickets == 1
    assert retention.purge(session=db, batch_size=1, max_batches=2).tickets == 1


def test_open_resolved_and_unpolicied_tickets_are_never_touched(closed, db, make, world):
    open_ticket = make.ticket(world.own.liaison, subject="Still open and old")
    open_ticket.created_at = utcnow() - timedelta(days=4000)
    db.add(open_ticket)
    resolved = closed(4000, word="resolvedonly")
    resolved.status = TicketStatus.resolved
    db.add(resolved)
    db.commit()
    closed(4000, word="nopolicy", category="project")
    set_policies(db, fulfillment=365)  # no default: other categories are kept forever
    assert retention.purge(session=db).tickets == 0


def test_the_purge_is_a_registered_scheduled_job():
    assert "retention-purge" in {job.name for job in registered()}


# --- legal hold -------------------------------------------------------------------------------


def test_a_legal_hold_stops_the_purge_and_only_staff_set_it(client, closed, db, world):
    set_policies(db, default=365)
    ticket = closed(400, word="holdme")
    path = f"/tickets/{ticket.number}"
    refused = client.patch(
        path, json={"legal_hold": True}, headers=world.headers(world.own.liaison)
    )
    assert refused.status_code == 403
    held = client.patch(path, json={"legal_hold": True}, headers=world.headers(world.staff))
    assert held.status_code == 200, held.text  # a closed ticket takes a hold
    assert held.json()["legal_hold"] is True
    entry = db.exec(
        select(AuditEntry).where(
            AuditEntry.action == "legal_hold", AuditEntry.entity_id == ticket.number
        )
    ).one()
    assert entry.actor == world.staff.id
    report = retention.report(session=db, actor=None)
    assert (report.tickets, report.held) == (0, 1)
    assert retention.purge(session=db).tickets == 0
    assert _found(client, world, "holdmereply") == [ticket.number]
    page = client.get(path, headers={**world.headers(world.staff), **HTML})
    assert "On legal hold." in page.text and "Lift the legal hold" in page.text
    library = client.get(path, headers=world.headers(world.own.liaison)).json()
    assert library["legal_hold"] is False  # a staff matter
    library_page = client.get(path, headers={**world.headers(world.own.liaison), **HTML})
    assert "legal hold" not in library_page.text

    lifted = client.patch(path, json={"legal_hold": False}, headers=world.headers(world.staff))
    assert lifted.json()["legal_hold"] is False
    assert retention.purge(session=db).tickets == 1


# --- policies ---------------------------------------------------------------------------------


def test_admins_set_policies_and_a_period_under_the_minimum_writes_nothing(client, db, world):
    admin = world.headers(world.admin)
    saved = client.put("/retention", json={"patron_data": 90, "default": 1095}, headers=admin)
    assert saved.status_code == 200, saved.text
    days = {p["scope"]: p["days"] for p in saved.json()["policies"]}
    assert days["patron_data"] == 90 and days["default"] == 1095 and days["fulfillment"] is None
    entries = count(db, AuditEntry)
    refused = client.put(
        "/retention",
        json={"patron_data": 10, "default": 1095, "delivery": 29, "cataloging": 30},
        headers=admin,
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert "at least 30 days" in problem["detail"] and "Nothing was changed" in problem["detail"]
    assert {e["field"] for e in problem["errors"]} == {"patron_data", "delivery"}
    assert all("minimum" in e["message"] for e in problem["errors"])
    assert count(db, AuditEntry) == entries
    assert {p.scope: p.days for p in db.exec(select(RetentionPolicy))} == {
        "patron_data": 90,
        "default": 1095,
    }
    fragment = client.put("/retention", json={"patron_data": "10"}, headers={**admin, **HX})
    assert "at least 30 days" in fragment.text and 'id="error-patron_data"' in fragment.text
    words = client.put("/retention", json={"default": "three years"}, headers=admin)
    assert words.status_code == 422
    assert words.json()["errors"][0]["message"].startswith("Enter a whole number of days")
    cleared = client.put("/retention", json={"patron_data": 120}, headers=admin).json()
    assert {p["scope"]: p["days"] for p in cleared["policies"]}["default"] is None


def test_the_minimum_is_a_setting(client, world, monkeypatch):
    monkeypatch.setattr(get_settings(), "retention_minimum_days", 365)
    answer = client.put("/retention", json={"default": 300}, headers=world.headers(world.admin))
    assert answer.status_code == 422 and "at least 365 days" in answer.json()["detail"]
    assert (
        client.get("/retention", headers=world.headers(world.admin)).json()["minimum_days"] == 365
    )


def test_retention_is_for_administrators_only(client, world):
    for who in (world.staff, world.own.director):
        assert client.get("/retention", headers=world.headers(who)).status_code == 403
        assert client.get("/retention/report", headers=world.headers(who)).status_code == 403
        assert client.put("/retention", json={}, headers=world.headers(who)).status_code == 403
    page = client.get("/retention", headers={**world.headers(world.admin), **HTML})
    assert page.status_code == 200 and "Tickets with patron data" in page.text
    visible = re.sub(r"<[^>]+>", " ", page.text)  # words on the page, not attributes
    assert "Access and sign-in" in visible
    assert not {"patron_data", "access_login", "default"} & set(visible.split())


# --- what stays, what goes --------------------------------------------------------------------


def test_a_purged_ticket_keeps_number_dates_and_category_and_says_purged(client, closed, db, world):
    set_policies(db, default=365)
    ticket = closed(400, word="gone")
    before = client.get(f"/tickets/{ticket.number}", headers=world.headers(world.staff)).json()
    retention.purge(session=db)
    after = client.get(f"/tickets/{ticket.number}", headers=world.headers(world.staff)).json()
    for kept in ("number", "created_at", "resolved_at", "category", "status", "institution"):
        assert after[kept] == before[kept], kept
    assert after["purged_at"] is not None and after["subject"] == "Purged ticket"
    assert "gone" not in str(after)
    assert "purged" in after["description"]
    assert (
        client.get(f"/tickets/{ticket.number}/comments", headers=world.headers(world.staff)).json()[
            "data"
        ]
        == []
    )
    page = client.get(
        f"/tickets/{ticket.number}", headers={**world.headers(world.own.liaison), **HTML}
    )
    assert page.status_code == 200
    assert "Purged." in page.text and "retention policy" in page.text
    assert "gonereply" not in page.text and "gone.txt" not in page.text


def test_the_audit_records_counts_never_the_text_and_the_mail_goes_too(closed, db):
    set_policies(db, default=365)
    ticket = closed(400, word="secretword", patron=True)
    db.add(
        OutboxMessage(
            recipients=["someone@uiu.example.edu"],
            template="tickets/status.html",
            context={"subject": "Loans vanish secretwordsubject"},
            dedupe_key=f"ticket:{ticket.id}:status:someone@uiu.example.edu",
            message_id="<retention-test@portal.invalid>",
            subject="Loans vanish secretwordsubject",
            body_text="secretwordreply",
        )
    )
    db.commit()
    mails = OutboxMessage.dedupe_key.startswith(f"ticket:{ticket.id}:")
    sent = count(db, OutboxMessage, mails)
    retention.purge(session=db)
    entry = db.exec(
        select(AuditEntry).where(
            AuditEntry.action == "purge", AuditEntry.entity_id == ticket.number
        )
    ).one()
    assert entry.actor is None  # the portal itself
    assert entry.after == {
        "comments": 2,
        "attachments": 1,
        "emails": sent,
        "category": "fulfillment",
        "patron_data": True,
    }
    assert count(db, OutboxMessage, mails) == 0
    every = " ".join(str((e.before, e.after)) for e in db.exec(select(AuditEntry)))
    assert "secretword" not in every


def test_search_no_longer_finds_purged_words(client, closed, db, world):
    set_policies(db, default=365)
    ticket = closed(400, word="ocelot")
    young = closed(10, word="ocelotyoung")
    for word in ("ocelotsubject", "ocelotdescription", "ocelotreply", "ocelotnote"):
        assert _found(client, world, word) == [ticket.number], word
    retention.purge(session=db)
    for word in ("ocelotsubject", "ocelotdescription", "ocelotreply", "ocelotnote"):
        assert _found(client, world, word) == [], word
    assert _found(client, world, "ocelotyoungreply") == [young.number]


# --- in a real browser ------------------------------------------------------------------------


@pytest.mark.browser
def test_in_a_browser_admins_set_periods_and_staff_put_a_ticket_on_hold(live_server, page):
    """The policy form refuses a short period beside its field, saves a good one, reads well at
    390 px; staff put a ticket on legal hold from its page. The pages are axe-core clean."""
    import httpx
    from playwright.sync_api import expect

    from app.demo import DEMO_PASSWORD
    from tests.live_server import sign_in
    from tests.test_browser import axe_violations

    sign_in(page, live_server, "admin@consortium.example.org")
    try:
        _policy_form_and_hold(live_server, page, expect, axe_violations, sign_in)
    finally:  # the live server's scheduler must not purge what other browser tests use
        admin = httpx.post(
            f"{live_server}/auth/token",
            data={"username": "admin@consortium.example.org", "password": DEMO_PASSWORD},
        ).json()["access_token"]
        httpx.put(f"{live_server}/retention", json={}, headers={"Authorization": f"Bearer {admin}"})


def _policy_form_and_hold(live_server, page, expect, axe_violations, sign_in) -> None:
    import httpx

    from app.demo import DEMO_PASSWORD

    page.goto(f"{live_server}/retention")
    page.fill("#f-patron_data", "7")
    page.fill("#f-default", "1095")
    page.get_by_role("button", name="Save the periods").click()
    expect(page.locator("#error-patron_data")).to_contain_text("at least 30 days")
    page.fill("#f-patron_data", "90")
    page.get_by_role("button", name="Save the periods").click()
    expect(page.locator("#error-patron_data")).to_have_text("")
    expect(page.locator("#f-patron_data")).to_have_value("90")
    expect(page.locator("#policies")).to_contain_text("about 3 years")
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(f"{live_server}/retention/report")
    expect(page.locator(".retention-summary")).to_be_visible()
    assert axe_violations(page) == []

    token = httpx.post(
        f"{live_server}/auth/token",
        data={"username": "staff@consortium.example.org", "password": DEMO_PASSWORD},
    ).json()["access_token"]
    number = httpx.get(
        f"{live_server}/tickets?limit=1", headers={"Authorization": f"Bearer {token}"}
    ).json()["data"][0]["number"]
    page.context.clear_cookies()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server, "staff@consortium.example.org")
    page.goto(f"{live_server}/tickets/{number}")
    page.get_by_role("button", name="Put on legal hold").click()
    expect(page.locator(".retention-hold")).to_contain_text("On legal hold.")
    expect(page.get_by_role("button", name="Lift the legal hold")).to_be_visible()
