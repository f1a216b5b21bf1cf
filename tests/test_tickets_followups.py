"""Issue 12's ticket follow-ups, end to end: reopening and auto-closing, the reason for closing
a new report, who hears of a library's reply, watchers, replies to merged tickets, patron-data
matches in the API, plain form errors, the "report filed" confirmation, "we are affected
too", words instead of codes, and a reply posted as a whole page."""

from datetime import timedelta

import pytest
from sqlmodel import select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.audit import AuditEntry
from app.models.incident import IncidentStatus, IncidentTicket
from app.models.outbox import OutboxMessage
from app.models.ticket import REPORT_TEMPLATE, Ticket, TicketComment, TicketEvent
from app.models.user import Role
from app.notify.jobs import registered
from app.services import tickets

HTML = {"Accept": "text/html"}
HX = {"HX-Request": "true"}
BARCODE = "21234000123456"


@pytest.fixture
def desk(make):
    """One library (a liaison, the requester, a colleague), a neighbour, consortium staff, and a
    ticket filed by the requester and assigned to the staff member."""
    own, other = make.institution(), make.institution()
    people = {
        "staff": make.user(Role.consortium_staff, name="Sam Staff"),
        "staff2": make.user(Role.consortium_staff, name="Kim Staff"),
        "liaison": make.user(Role.liaison, own.code),
        "requester": make.user(Role.library_staff, own.code),
        "colleague": make.user(Role.library_staff, own.code, name="Cole League"),
        "outsider": make.user(Role.library_staff, other.code),
    }
    ticket = make.ticket(people["requester"])
    h = {who: make.headers(user) for who, user in people.items()}
    path = f"/tickets/{ticket.number}"
    return {"ticket": ticket, "h": h, "path": path, **people}


def mails(db, template: str) -> list[OutboxMessage]:
    return list(db.exec(select(OutboxMessage).where(OutboxMessage.template == template)))


def status_of(client, desk) -> str:
    return client.get(desk["path"], headers=desk["h"]["staff"]).json()["status"]


# --- B2: reopening, auto-closing, the reason for closing a new report ------------------------


def test_a_library_reply_reopens_a_resolved_ticket(client, desk, db):
    h, path = desk["h"], desk["path"]
    assert client.patch(path, json={"status": "resolved"}, headers=h["staff"]).status_code == 200
    reply = client.post(f"{path}/comments", json={"body": "Still broken."}, headers=h["requester"])
    assert reply.status_code == 201
    assert status_of(client, desk) == "open"
    moves = [
        e.data
        for e in db.exec(select(TicketEvent).where(TicketEvent.ticket_id == desk["ticket"].id))
        if e.kind == "status"
    ]
    assert moves[-1] == {"from": "resolved", "to": "open"}


def test_a_staff_reply_leaves_a_resolved_ticket_resolved(client, desk):
    h, path = desk["h"], desk["path"]
    client.patch(path, json={"status": "resolved"}, headers=h["staff"])
    client.post(f"{path}/comments", json={"body": "Glad it works."}, headers=h["staff"])
    assert status_of(client, desk) == "resolved"


def test_resolved_tickets_close_themselves_after_the_configured_days(
    client, desk, db, make, monkeypatch
):
    monkeypatch.setattr(get_settings(), "ticket_auto_close_days", 3)
    h, path = desk["h"], desk["path"]
    client.patch(path, json={"status": "resolved"}, headers=h["staff"])
    recent = make.ticket(desk["requester"])
    client.patch(f"/tickets/{recent.number}", json={"status": "resolved"}, headers=h["staff"])
    later = utcnow() + timedelta(days=3, minutes=1)
    old = db.get(Ticket, desk["ticket"].id)
    old.resolved_at = utcnow() - timedelta(days=3, minutes=1)
    db.add(old)
    db.commit()

    assert tickets.close_resolved(session=db, now=utcnow()) == [desk["ticket"].number]
    db.commit()
    assert status_of(client, desk) == "closed"
    told = [m for m in mails(db, "tickets/status") if m.context["status"] == "closed"]
    assert [m.recipients[0] for m in told] == [desk["requester"].email]
    assert client.get(f"/tickets/{recent.number}", headers=h["staff"]).json()["status"] == (
        "resolved"
    )
    assert tickets.close_resolved(session=db, now=utcnow()) == []  # idempotent
    entry = db.exec(
        select(AuditEntry)
        .where(AuditEntry.entity_id == desk["ticket"].number, AuditEntry.action == "update")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry.actor is None and entry.after["status"] == "closed"  # the portal itself
    page = client.get(path, headers={**h["requester"], **HTML}).text
    assert "The portal closed the ticket" in page and "3 days" in page
    assert tickets.close_resolved(session=db, now=later) == [recent.number]
    assert "tickets-auto-close" in {job.name for job in registered()}


def test_closing_a_new_report_needs_a_reason_kept_as_a_reply(client, desk, db):
    h, path = desk["h"], desk["path"]
    refused = client.patch(path, json={"status": "closed"}, headers=h["requester"])
    assert refused.status_code == 422
    errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert errors == {"reason": "Say in a sentence why you are closing it"}
    assert status_of(client, desk) == "new"
    body = {"status": "closed", "reason": "We found the setting ourselves."}
    assert client.patch(path, json=body, headers=h["requester"]).status_code == 200
    assert status_of(client, desk) == "closed"
    comments = client.get(f"{path}/comments", headers=h["staff"]).json()["data"]
    assert [c["body"] for c in comments] == ["We found the setting ourselves."]


def test_an_open_ticket_closes_without_a_reason(client, desk):
    h, path = desk["h"], desk["path"]
    client.patch(path, json={"status": "open"}, headers=h["staff"])
    assert client.patch(path, json={"status": "closed"}, headers=h["staff"]).status_code == 200


# --- B4: the assignee hears of a library's reply; watchers -------------------------------------


def test_a_library_reply_is_mailed_to_the_assigned_staff_member(client, desk, db):
    h, path = desk["h"], desk["path"]
    client.patch(path, json={"assignee": desk["staff"].id}, headers=h["staff2"])
    client.post(f"{path}/comments", json={"body": "More detail."}, headers=h["requester"])
    assert desk["staff"].email in {m.recipients[0] for m in mails(db, "tickets/reply")}


def test_the_assignee_is_not_mailed_about_their_own_reply(client, desk, db):
    h, path = desk["h"], desk["path"]
    client.patch(path, json={"assignee": desk["staff"].id}, headers=h["staff"])
    client.post(f"{path}/comments", json={"body": "Try now."}, headers=h["staff"])
    assert desk["staff"].email not in {m.recipients[0] for m in mails(db, "tickets/reply")}


def test_a_liaison_edits_watchers_as_the_form_sends_them(client, desk):
    h, path = desk["h"], desk["path"]
    colleague = desk["colleague"].id
    # One ticked box arrives as one value beside the form's "none" marker.
    added = client.patch(path, json={"watchers": ["none", str(colleague)]}, headers=h["liaison"])
    assert added.status_code == 200 and added.json()["watchers"] == [colleague]
    cleared = client.patch(path, json={"watchers": "none"}, headers=h["liaison"])
    assert cleared.status_code == 200 and cleared.json()["watchers"] == []


def test_people_of_another_library_may_not_watch(client, desk):
    h, path = desk["h"], desk["path"]
    refused = client.patch(path, json={"watchers": [desk["outsider"].id]}, headers=h["liaison"])
    assert refused.status_code == 422
    assert "watchers" in {e["field"] for e in refused.json()["errors"]}


def test_library_staff_may_only_add_themselves(client, desk):
    h, path = desk["h"], desk["path"]
    me = client.patch(path, json={"watchers": [desk["requester"].id]}, headers=h["requester"])
    assert me.status_code == 200
    other = [desk["requester"].id, desk["colleague"].id]
    assert client.patch(path, json={"watchers": other}, headers=h["requester"]).status_code == 403


def test_the_ticket_page_offers_watchers_to_choose(client, desk):
    page = client.get(desk["path"], headers={**desk["h"]["liaison"], **HTML}).text
    assert 'name="watchers" value="none"' in page
    assert "Cole League" in page and "Update watchers" in page


# --- B7: replies to a merged ticket ----------------------------------------------------------


def test_a_reply_to_a_merged_ticket_joins_the_surviving_one(client, desk, make, db):
    h = desk["h"]
    survivor = make.ticket(desk["liaison"], subject="The original report")
    duplicate = desk["ticket"]
    merge = {"into": survivor.number}
    assert client.post(f"{desk['path']}/merge", json=merge, headers=h["staff"]).status_code == 200
    reply = client.post(
        f"{desk['path']}/comments", json={"body": "Any news?"}, headers=h["requester"]
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["ticket"] == survivor.number and reply.json()["via"] == duplicate.number
    assert reply.headers["location"] == f"/tickets/{survivor.number}/comments"
    comment = db.exec(select(TicketComment).where(TicketComment.body == "Any news?")).one()
    assert comment.ticket_id == survivor.id
    told = mails(db, "tickets/redirected")
    assert [m.recipients[0] for m in told] == [desk["requester"].email]
    assert told[0].context["merged"] == duplicate.number
    page = client.get(f"/tickets/{survivor.number}", headers={**h["requester"], **HTML}).text
    assert f'sent to <a href="/tickets/{duplicate.number}">' in page


# --- B9: patron data in the API, and the filer keeps seeing a flagged ticket ------------------


def test_the_api_says_what_looked_like_patron_data(client, desk):
    h = desk["h"]
    body = {
        "subject": "Patron cannot renew",
        "description": f"Patron {BARCODE} gets an error when renewing.",
        "category": "fulfillment",
    }
    created = client.post("/tickets", json=body, headers=h["requester"])
    assert created.status_code == 201
    matches = created.json()["patron_data_matches"]
    assert [(m["kind"], m["text"]) for m in matches] == [("barcode", BARCODE)]
    assert "barcode" in matches[0]["description"]
    clean = client.post("/tickets", json={**body, "description": "No data."}, headers=h["liaison"])
    assert clean.json()["patron_data_matches"] == []
    path = created.headers["location"]
    reply = {"body": "Write to jane.patron@gmail.example.com please."}
    comment = client.post(f"{path}/comments", json=reply, headers=h["requester"]).json()
    assert [m["kind"] for m in comment["patron_data_matches"]] == ["email"]
    patched = client.patch(path, json={"description": f"Card {BARCODE}"}, headers=h["staff"])
    assert patched.json()["patron_data_matches"][0]["text"] == BARCODE


def test_the_filer_keeps_seeing_a_ticket_flagged_as_patron_data(client, desk, make):
    h = desk["h"]
    flagged = make.ticket(desk["requester"], contains_patron_data=True)
    assert client.get(f"/tickets/{flagged.number}", headers=h["requester"]).status_code == 200
    listed = client.get("/tickets", headers=h["requester"]).json()["data"]
    assert flagged.number in {t["number"] for t in listed}
    assert client.get(f"/tickets/{flagged.number}", headers=h["colleague"]).status_code == 404


def test_a_watcher_without_the_right_does_not_see_a_flagged_ticket(client, desk, make):
    flagged = make.ticket(
        desk["requester"], contains_patron_data=True, watchers=[desk["colleague"].id]
    )
    response = client.get(f"/tickets/{flagged.number}", headers=desk["h"]["colleague"])
    assert response.status_code == 404


# --- forms: every error at once, in plain words ----------------------------------------------

UNPLAIN = ("Field required", "Input should", "String should", "pattern", "valid string")


def test_every_filing_error_at_once_in_plain_words(client, desk):
    response = client.post("/tickets", json={"subject": "x"}, headers=desk["h"]["requester"])
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"subject", "description", "category"}
    assert errors["subject"].startswith("Enter a subject of at least 5 characters")
    for message in errors.values():
        assert not any(word in message for word in UNPLAIN), message


def test_an_unanswered_question_template_is_refused(client, desk, db):
    body = {"subject": "Primo is broken", "description": REPORT_TEMPLATE, "category": "other"}
    response = client.post("/tickets", json=body, headers=desk["h"]["requester"])
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "description" and "Answer the questions" in error["message"]
    partly = REPORT_TEMPLATE.replace("What happened?\n", "What happened?\nSearch fails.\n")
    response = client.post(
        "/tickets", json={**body, "description": partly}, headers=desk["h"]["requester"]
    )
    [error] = response.json()["errors"]
    assert "“What did you expect instead?”" in error["message"]
    answered = "\n".join(f"{q}\nAn answer." for q in REPORT_TEMPLATE.split("\n\n"))
    ok = client.post(
        "/tickets", json={**body, "description": answered}, headers=desk["h"]["requester"]
    )
    assert ok.status_code == 201, ok.text


def test_form_errors_land_beside_their_fields(client, desk):
    headers = {**desk["h"]["requester"], **HX}
    response = client.post("/tickets", json={"subject": "x", "category": "other"}, headers=headers)
    assert response.status_code == 422
    assert 'id="error-subject"' in response.text and 'id="error-description"' in response.text
    assert "Enter a subject of at least 5 characters" in response.text


def test_an_empty_reply_is_refused_in_plain_words(client, desk):
    response = client.post(
        f"{desk['path']}/comments", json={"body": ""}, headers=desk["h"]["requester"]
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"].startswith("Write your reply first")


# --- the "report filed" confirmation ---------------------------------------------------------


def test_filing_from_the_form_confirms_with_the_number(client, desk, db):
    body = {"subject": "Fines do not post", "description": "Since Monday.", "category": "other"}
    response = client.post("/tickets", json=body, headers={**desk["h"]["requester"], **HX})
    assert response.status_code == 200
    number = response.headers["location"].rsplit("/", 1)[1]
    assert f"Report <code>{number}</code> filed" in response.text
    assert "What happens next" in response.text
    assert f'href="/tickets/{number}"' in response.text
    assert "<html" not in response.text
    to_filer = [m for m in mails(db, "tickets/filed") if m.recipients == [desk["requester"].email]]
    [mail] = [m for m in to_filer if m.context["number"] == number]
    from app.notify.mail import render

    assert number in render(mail.template, mail.context).subject


# --- C9: "we are affected too" -----------------------------------------------------------------


def test_we_are_affected_too_files_a_ticket_linked_to_the_incident(client, desk, make, db):
    incident = make.incident(title="Primo VE searches time out")
    form = client.get("/tickets/new", headers={**desk["h"]["requester"], **HTML}).text
    assert "We are affected too" in form and f'name="incident" value="{incident.id}"' in form
    body = {
        "incident": str(incident.id),
        "subject": "Affected by: Primo VE searches time out",
        "description": "We are affected by the current incident too.",
        "category": "other",
    }
    response = client.post("/tickets", json=body, headers={**desk["h"]["requester"], **HX})
    assert response.status_code == 200, response.text
    number = response.headers["location"].rsplit("/", 1)[1]
    ticket = db.exec(select(Ticket).where(Ticket.number == number)).one()
    link = db.get(IncidentTicket, (incident.id, ticket.id))
    assert link is not None and link.institution == ticket.institution
    public = client.get(f"/incidents/{incident.id}", headers=desk["h"]["staff"]).json()
    assert public["reports"] == 1


def test_an_incident_that_is_over_takes_no_me_too(client, desk, make, db):
    over = make.incident(title="Old outage", status=IncidentStatus.resolved)
    body = {"incident": over.id, "subject": "Affected too", "description": "x", "category": "other"}
    response = client.post("/tickets", json=body, headers=desk["h"]["requester"])
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"incident"}


# --- words, not codes; destructive actions ask first -----------------------------------------


def test_the_timeline_speaks_in_words(client, desk, make):
    h, path = desk["h"], desk["path"]
    client.patch(path, json={"vendor_case": "06512345"}, headers=h["staff"])
    page = client.get(path, headers={**h["staff"], **HTML}).text
    assert "changed the vendor case number" in page and "changed vendor_case" not in page


def test_attachment_sizes_read_as_bytes_kb_or_mb(client, desk):
    files = {"file": ("notes.txt", b"tiny file", "text/plain")}
    client.post(f"{desk['path']}/attachments", files=files, headers=desk["h"]["requester"])
    page = client.get(desk["path"], headers={**desk["h"]["staff"], **HTML}).text
    assert "9 bytes" in page and "0.0 KB" not in page


def test_destructive_actions_are_marked_and_ask_first(client, desk):
    page = client.get(desk["path"], headers={**desk["h"]["staff"], **HTML}).text
    for action in ("/merge", "/redact"):
        form = page[page.index(f'hx-post="{desk["path"]}{action}"') :].split("</form>")[0]
        assert "hx-confirm=" in form and 'class="danger"' in form


# --- a reply posted as a whole page ----------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        HTML,
        {"HX-Request": "true", "HX-Boosted": "true", "Accept": "text/html"},
        {"HX-Request": "true", "HX-History-Restore-Request": "true", "Accept": "text/html"},
    ],
    ids=["plain", "boosted", "history-restore"],
)
def test_a_reply_posted_as_a_page_shows_the_ticket_page(client, desk, headers):
    response = client.post(
        f"{desk['path']}/comments",
        json={"body": "Posted without htmx."},
        headers={**desk["h"]["requester"], **headers},
    )
    assert response.status_code == 200
    assert response.text.lstrip().lower().startswith("<!doctype html>")
    assert desk["ticket"].subject in response.text and "Posted without htmx." in response.text
    assert "<h1>Comments</h1>" not in response.text


# --- in a real browser: errors beside their fields, then the confirmation ---------------------


@pytest.mark.browser
def test_the_form_shows_every_error_beside_its_field_then_confirms(live_server, page):
    import re

    from playwright.sync_api import expect

    from tests.live_server import sign_in

    sign_in(page, live_server, "liaison@uiu.example.edu")
    page.goto(f"{live_server}/tickets/new")
    page.fill("#f-subject", "x")
    page.get_by_role("button", name="File the report").click()
    expect(page.locator("#error-subject")).to_have_text(
        re.compile("Enter a subject of at least 5 characters")
    )
    expect(page.locator("#error-description")).to_contain_text("Answer the questions")
    page.fill("#f-subject", "Holds shelf report is empty")
    page.fill("#f-description", "The holds shelf report lists nothing since Monday.")
    page.get_by_role("button", name="File the report").click()
    expect(page.locator("h1")).to_contain_text(re.compile(r"Report \d{4}-\d{5} filed"))
    expect(page.locator("#error-subject")).to_have_count(0)
