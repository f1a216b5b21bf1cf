"""Tickets: the contract, scoping and internal notes on every read path, workflow, merge,
If-Match, attachments, patron data, search and the representation matrix."""

import re

import pytest
from sqlmodel import select

from app.core.config import get_settings
from app.models.audit import AuditEntry
from app.models.outbox import OutboxMessage
from app.models.ticket import Ticket, TicketComment
from app.models.user import Role

NUMBER = re.compile(r"^\d{4}-\d{5}$")
FIELDS = {
    "number",
    "subject",
    "description",
    "institution",
    "requester",
    "assignee",
    "category",
    "priority",
    "status",
    "product",
    "environment",
    "vendor_case",
    "watchers",
    "contains_patron_data",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "sla",
}
HTML = {"Accept": "text/html"}
HX = {"HX-Request": "true"}
NOTE = "zebracrossing"  # a word only the internal note contains


def report(**values) -> dict:
    return {
        "subject": "Primo VE shows no availability",
        "description": "Since this morning every e-book shows as unavailable.",
        "category": "discovery_primo",
        **values,
    }


@pytest.fixture
def world(make):
    """Two libraries, every role, one ticket filed by library staff at the first."""
    own, other = make.institution(), make.institution()
    people = {
        "admin": make.user(Role.consortium_admin),
        "staff": make.user(Role.consortium_staff),
        "director": make.user(Role.director, own.code),
        "liaison": make.user(Role.liaison, own.code),
        "requester": make.user(Role.library_staff, own.code),
        "watcher": make.user(Role.library_staff, own.code),
        "colleague": make.user(Role.library_staff, own.code),
        "other_liaison": make.user(Role.liaison, other.code),
        "other_staff": make.user(Role.library_staff, other.code),
    }
    ticket = make.ticket(people["requester"], watchers=[people["watcher"].id])
    headers = {who: make.headers(user) for who, user in people.items()}
    return {"own": own, "other": other, "ticket": ticket, "headers": headers, **people}


SEES = {
    "admin": True,
    "staff": True,
    "director": True,
    "liaison": True,
    "requester": True,
    "watcher": True,
    "colleague": False,
    "other_liaison": False,
    "other_staff": False,
}


def test_filing_returns_the_contract_and_gap_free_numbers(client, make):
    user, headers = make.signed_in(Role.library_staff)
    first = client.post("/tickets", json=report(), headers=headers)
    second = client.post("/tickets", json=report(priority="low"), headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body.keys() >= FIELDS
    assert NUMBER.match(body["number"])
    assert first.headers["location"] == f"/tickets/{body['number']}"
    assert body["institution"] == user.institution and body["requester"] == user.id
    assert body["status"] == "new" and body["priority"] == "normal"
    year, n = body["number"].split("-")
    assert second.json()["number"] == f"{year}-{int(n) + 1:05d}"
    assert body["sla"]["response_due_at"] and body["sla"]["response_breached"] is False


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"category": "printer"}, "category"),
        ({"priority": "urgent"}, "priority"),
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"description": "x" * 20_001}, "description"),
        ({"environment": "staging"}, "environment"),
    ],
)
def test_bad_filings_are_refused_and_nothing_is_written(client, make, db, values, field):
    _, headers = make.signed_in(Role.liaison)
    response = client.post("/tickets", json=report(**values), headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert db.exec(select(Ticket)).first() is None


def test_a_five_megabyte_description_is_refused(client, make, db):
    _, headers = make.signed_in(Role.liaison)
    response = client.post("/tickets", json=report(description="x" * 5_000_000), headers=headers)
    assert response.status_code == 413
    assert db.exec(select(Ticket)).first() is None


def test_a_library_cannot_file_for_another_library(client, world):
    headers = _headers(world, "liaison")
    response = client.post(
        "/tickets", json=report(institution=world["other"].code), headers=headers
    )
    assert response.status_code == 404


def test_staff_file_for_a_named_library(client, world):
    headers = _headers(world, "staff")
    assert client.post("/tickets", json=report(), headers=headers).status_code == 422
    response = client.post("/tickets", json=report(institution=world["own"].code), headers=headers)
    assert response.status_code == 201 and response.json()["institution"] == world["own"].code


# --- who sees what, on every read path ------------------------------------------------------


def _headers(world, who):
    return world["headers"][who]


@pytest.mark.parametrize("who", list(SEES))
def test_scoping_matrix_on_every_read_path(client, world, make, who):
    staff = world["staff"]
    ticket = world["ticket"]
    make.comment(ticket, staff, "We are looking at the Primo VE availability.")
    make.comment(ticket, staff, f"Internal: the {NOTE} config was changed.", internal=True)
    headers = _headers(world, who)
    number = ticket.number
    sees, is_staff = SEES[who], who in ("admin", "staff")
    for extra in ({}, HTML, HX):
        for path in (
            f"/tickets/{number}",
            f"/tickets/{number}/comments",
            f"/tickets/{number}/events",
        ):
            response = client.get(path, headers={**headers, **extra})
            assert response.status_code == (200 if sees else 404), (who, path, extra)
            shows_text = path.endswith("/comments") or (path.endswith(number) and extra != {})
            assert (NOTE in response.text) == (sees and is_staff and shows_text), (who, path)
            if sees and not is_staff:
                assert "Internal note" not in response.text, (who, path, extra)
    listing = client.get("/tickets", headers=headers).json()
    assert (number in {t["number"] for t in listing["data"]}) == sees
    found = client.get("/tickets", params={"q": NOTE}, headers=headers).json()
    assert found["count"] == (1 if is_staff else 0), who
    comments = client.get(f"/tickets/{number}/comments", headers=headers)
    events = client.get(f"/tickets/{number}/events", headers=headers)
    if sees:
        assert comments.json()["count"] == (2 if is_staff else 1)
        internal_events = [e for e in events.json()["data"] if e["data"].get("internal")]
        assert len(internal_events) == (1 if is_staff else 0)
    for extra in (HTML, HX):
        page = client.get("/tickets", params={"q": NOTE}, headers={**headers, **extra})
        assert (number in page.text) == is_staff


def test_internal_notes_never_reach_a_library_user_by_email(client, world, make, db):
    ticket = world["ticket"]
    make.comment(ticket, world["staff"], f"The {NOTE} workaround.", internal=True)
    make.comment(ticket, world["staff"], "Please try again now.")
    messages = db.exec(select(OutboxMessage)).all()
    library = {world[w].email for w in ("director", "liaison", "requester", "watcher", "colleague")}
    assert {m.recipients[0] for m in messages} == {world["requester"].email, world["watcher"].email}
    for message in messages:
        assert NOTE not in str(message.context)
        assert set(message.recipients) <= library


def test_patron_data_narrows_to_liaison_director_and_staff(client, world, make):
    ticket = make.ticket(world["requester"], contains_patron_data=True)
    for who in ("colleague", "other_liaison"):
        headers = _headers(world, who)
        assert client.get(f"/tickets/{ticket.number}", headers=headers).status_code == 404
    for who in ("requester", "liaison", "director", "staff"):  # the filer keeps seeing it
        headers = _headers(world, who)
        assert client.get(f"/tickets/{ticket.number}", headers=headers).status_code == 200


def test_a_reply_to_another_librarys_ticket_is_404_and_writes_nothing(client, world, db):
    headers = _headers(world, "other_liaison")
    number = world["ticket"].number
    response = client.post(f"/tickets/{number}/comments", json={"body": "Hi"}, headers=headers)
    assert response.status_code == 404
    assert db.exec(select(TicketComment)).first() is None


def test_only_staff_write_internal_notes(client, world):
    headers = _headers(world, "liaison")
    response = client.post(
        f"/tickets/{world['ticket'].number}/comments",
        json={"body": "psst", "internal": True},
        headers=headers,
    )
    assert response.status_code == 403


# --- workflow ---------------------------------------------------------------------------------


def test_workflow_replies_move_the_ticket_along(client, world, make):
    ticket = world["ticket"]
    staff = _headers(world, "staff")
    library = _headers(world, "requester")
    path = f"/tickets/{ticket.number}"
    reply = client.post(f"{path}/comments", json={"body": "Which e-books?"}, headers=staff)
    assert reply.status_code == 201
    body = client.get(path, headers=staff).json()
    assert body["status"] == "open" and body["first_response_at"]
    assert client.patch(path, json={"status": "pending_library"}, headers=staff).json()["sla"][
        "paused"
    ]
    client.post(f"{path}/comments", json={"body": "All of them."}, headers=library)
    assert client.get(path, headers=staff).json()["status"] == "open"
    events = [e["kind"] for e in client.get(f"{path}/events", headers=library).json()["data"]]
    assert events[0] == "created" and events.count("status") == 3 and "comment" in events


@pytest.mark.parametrize(
    ("who", "steps", "status"),
    [
        ("staff", ["closed", "new"], 422),
        ("staff", ["closed", "open"], 422),
        ("staff", ["new"], 200),  # no change: nothing to refuse
        ("requester", ["pending_vendor"], 403),
        ("requester", ["resolved"], 403),
        ("requester", ["closed"], 200),
    ],
)
def test_transitions_are_validated(client, world, who, steps, status):
    headers = _headers(world, who)
    path = f"/tickets/{world['ticket'].number}"
    reason = {"reason": "Solved it ourselves."}  # closing a new ticket needs one
    for step in steps[:-1]:
        body = {"status": step, **(reason if step == "closed" else {})}
        assert client.patch(path, json=body, headers=headers).status_code == 200
    body = {"status": steps[-1], **(reason if steps[-1] == "closed" else {})}
    response = client.patch(path, json=body, headers=headers)
    assert response.status_code == status, response.text


def test_a_closed_ticket_takes_no_comments(client, world, db):
    headers = _headers(world, "staff")
    path = f"/tickets/{world['ticket'].number}"
    client.patch(path, json={"status": "closed", "reason": "Filed twice."}, headers=headers)
    response = client.post(f"{path}/comments", json={"body": "late"}, headers=headers)
    assert response.status_code == 409
    assert db.exec(select(TicketComment).where(TicketComment.body == "late")).first() is None


def test_library_users_cannot_change_staff_fields(client, world):
    headers = _headers(world, "liaison")
    path = f"/tickets/{world['ticket'].number}"
    for change in ({"assignee": world["staff"].id}, {"priority": "high"}, {"vendor_case": "1"}):
        assert client.patch(path, json=change, headers=headers).status_code == 403


def test_assignment_goes_to_staff_and_mails_the_assignee(client, world, db):
    headers = _headers(world, "admin")
    path = f"/tickets/{world['ticket'].number}"
    bad = client.patch(path, json={"assignee": world["liaison"].id}, headers=headers)
    assert bad.status_code == 422
    good = client.patch(path, json={"assignee": world["staff"].id}, headers=headers)
    assert good.json()["assignee"] == world["staff"].id
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.template == "tickets/assigned")).all()
    assert [m.recipients for m in mail] == [[world["staff"].email]]


def test_urgent_tickets_alert_staff(client, world, make, db):
    make.ticket(world["requester"], priority="system_down")
    mail = db.exec(select(OutboxMessage).where(OutboxMessage.template == "tickets/urgent")).all()
    recipients = {m.recipients[0] for m in mail}
    assert {world["staff"].email, world["admin"].email} <= recipients
    assert world["liaison"].email not in recipients


# --- If-Match ---------------------------------------------------------------------------------


def test_a_stale_if_match_gets_412_and_overwrites_nothing(client, world):
    headers = _headers(world, "staff")
    path = f"/tickets/{world['ticket'].number}"
    etag = client.get(path, headers=headers).headers["etag"]
    first = client.patch(path, json={"vendor_case": "06123"}, headers={**headers, "If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] != etag
    stale = client.patch(path, json={"vendor_case": "99"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert client.get(path, headers=headers).json()["vendor_case"] == "06123"
    fresh = client.patch(
        path, json={"vendor_case": "7"}, headers={**headers, "If-Match": first.headers["etag"]}
    )
    assert fresh.status_code == 200


# --- merge ------------------------------------------------------------------------------------


def test_merge_moves_comments_and_watchers_and_refuses_later_replies(client, world, make):
    survivor = make.ticket(world["liaison"])
    duplicate = world["ticket"]
    make.comment(duplicate, world["requester"], "More detail on the duplicate.")
    staff = _headers(world, "staff")
    library = _headers(world, "requester")
    assert (
        client.post(
            f"/tickets/{duplicate.number}/merge", json={"into": survivor.number}, headers=library
        ).status_code
        == 403
    )
    merged = client.post(
        f"/tickets/{duplicate.number}/merge", json={"into": survivor.number}, headers=staff
    )
    assert merged.status_code == 200 and merged.json()["number"] == survivor.number
    assert {world["requester"].id, world["watcher"].id} <= set(merged.json()["watchers"])
    comments = client.get(f"/tickets/{survivor.number}/comments", headers=staff).json()
    assert "More detail on the duplicate." in [c["body"] for c in comments["data"]]
    old = client.get(f"/tickets/{duplicate.number}", headers=staff).json()
    assert old["status"] == "closed" and old["merged_into"] == survivor.number
    joined = client.post(  # a reply to the duplicate joins the survivor
        f"/tickets/{duplicate.number}/comments", json={"body": "Still broken"}, headers=library
    )
    assert joined.status_code == 201, joined.text
    assert (joined.json()["ticket"], joined.json()["via"]) == (survivor.number, duplicate.number)


def test_tickets_of_different_libraries_are_not_merged(client, world, make):
    elsewhere = make.ticket(world["other_liaison"])
    staff = _headers(world, "staff")
    response = client.post(
        f"/tickets/{world['ticket'].number}/merge", json={"into": elsewhere.number}, headers=staff
    )
    assert response.status_code == 422


# --- attachments ------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def attachment_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "ticket_attachment_dir", tmp_path)
    return tmp_path


def test_attachments_are_checked_stored_on_disk_and_served_as_downloads(
    client, world, attachment_dir
):
    path = f"/tickets/{world['ticket'].number}"
    headers = _headers(world, "requester")
    files = {"file": ("screenshot.txt", PNG, "text/plain")}
    upload = client.post(f"{path}/attachments", files=files, headers=headers)
    assert upload.status_code == 201, upload.text
    [stored] = client.get(f"{path}/attachments", headers=headers).json()["data"]
    assert stored["content_type"] == "image/png"  # by content, not by name or claim
    assert len(list(attachment_dir.iterdir())) == 1
    download = client.get(stored["url"], headers=headers)
    assert download.content == PNG
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    for who in ("colleague", "other_liaison"):
        assert client.get(stored["url"], headers=_headers(world, who)).status_code == 404


@pytest.mark.parametrize(
    ("content", "limit"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00", None),  # a Windows executable, whatever its name
        (b"\x7fELF\x02\x01\x01\x00", None),
        (b"%PDF-1.7 " + b"x" * 2000, 1000),  # over the (configurable) size limit
    ],
)
def test_bad_attachments_are_refused_and_nothing_is_written(
    client, world, attachment_dir, monkeypatch, db, content, limit
):
    if limit:
        monkeypatch.setattr(get_settings(), "ticket_attachment_max_bytes", limit)
    headers = _headers(world, "requester")
    response = client.post(
        f"/tickets/{world['ticket'].number}/attachments",
        files={"file": ("report.pdf", content, "application/pdf")},
        headers=headers,
    )
    assert response.status_code == 422
    assert list(attachment_dir.iterdir()) == []


# --- patron data ------------------------------------------------------------------------------


def test_the_patron_data_check_warns_before_submit(client, world):
    client.cookies.clear()
    headers = {**_headers(world, "requester"), **HX}
    flagged = client.post(
        "/tickets/check",
        json={"description": "Patron jane.doe@gmail.com, barcode 21234000123456, cannot renew"},
        headers=headers,
    )
    assert flagged.status_code == 200
    assert "patron data" in flagged.text and "21234000123456" in flagged.text
    assert "jane.doe@gmail.com" in flagged.text
    colleague = world["colleague"].email
    clean = client.post(
        "/tickets/check", json={"body": f"Ask {colleague} about it."}, headers=headers
    )
    assert "patron data" not in clean.text


def test_redaction_replaces_the_passage_everywhere_and_audits_without_it(client, world, make, db):
    secret = "21234000999888"
    ticket = make.ticket(world["requester"], description=f"Patron {secret} cannot log in.")
    make.comment(ticket, world["staff"], f"Barcode {secret} is blocked.", internal=True)
    make.comment(ticket, world["staff"], f"Unblocked {secret}.")
    staff = _headers(world, "staff")
    assert client.get("/tickets", params={"q": secret}, headers=staff).json()["count"] == 1
    refused = client.post(
        f"/tickets/{ticket.number}/redact",
        json={"text": secret},
        headers=_headers(world, "liaison"),
    )
    assert refused.status_code == 403
    response = client.post(f"/tickets/{ticket.number}/redact", json={"text": secret}, headers=staff)
    assert response.status_code == 200
    assert secret not in response.text and "[redacted]" in response.json()["description"]
    for comment in db.exec(select(TicketComment)).all():
        db.refresh(comment)
        assert secret not in comment.body
    assert client.get("/tickets", params={"q": secret}, headers=staff).json()["count"] == 0
    entries = db.exec(select(AuditEntry).where(AuditEntry.action == "redact")).all()
    assert entries and all(secret not in str(e.after) for e in entries)
    everything = " ".join(str(e.before) + str(e.after) for e in db.exec(select(AuditEntry)))
    assert secret not in everything
    for message in db.exec(select(OutboxMessage)).all():
        assert secret not in str(message.context)


# --- search, filters and pagination -----------------------------------------------------------


def test_full_text_search_with_filters(client, world, make):
    liaison = world["liaison"]
    a = make.ticket(liaison, subject="Fulfillment desk printer", description="Slips misaligned")
    b = make.ticket(liaison, subject="Loans", description="Renewals fail for graduate students")
    make.comment(b, world["staff"], "The renewal policy was misconfigured.")
    staff = _headers(world, "staff")

    def numbers(**params):
        found = client.get("/tickets", params=params, headers=staff).json()
        return {t["number"] for t in found["data"]}

    assert numbers(q="printer") == {a.number}
    assert numbers(q="misalign") == {a.number}  # prefix while typing
    assert numbers(q="misconfigured policy") == {b.number}  # words from a public reply
    assert numbers(q="renewals", status="new") == set()  # b is open after the staff reply
    assert numbers(q="renewals", status="open") == {b.number}
    assert numbers(q='("printer" *', institution=world["own"].code) == {a.number}


def test_keyset_pagination_walks_every_ticket_once(client, world, make):
    for _ in range(4):
        make.ticket(world["liaison"])
    headers = _headers(world, "liaison")
    seen, url, count = [], "/tickets?limit=2", None
    while url:
        response = client.get(url, headers=headers)
        body = response.json()
        count = count or body["count"]
        assert body["count"] == count
        seen += [t["number"] for t in body["data"]]
        url = body["next"]
        if url:
            assert "cursor=" in url and response.headers["link"].endswith('rel="next"')
    assert len(seen) == len(set(seen)) == count == 5
    assert seen == sorted(seen, reverse=True)
    bad = client.get("/tickets?cursor=bm9wZQ", headers=headers)
    assert bad.status_code == 422


def test_staff_queues(client, world, make):
    staff = _headers(world, "staff")
    mine = make.ticket(world["liaison"])
    client.patch(f"/tickets/{mine.number}", json={"assignee": world["staff"].id}, headers=staff)

    def numbers(view):
        found = client.get("/tickets", params={"view": view}, headers=staff).json()
        return {t["number"] for t in found["data"]}

    assert numbers("mine") == {mine.number}
    assert world["ticket"].number in numbers("unassigned") and mine.number not in numbers(
        "unassigned"
    )
    assert numbers("breaching") == set()


def test_pages_for_filing(client, world):
    headers = {**_headers(world, "requester"), **HTML}
    form = client.get("/tickets/new", headers=headers)
    assert form.status_code == 200 and "What did you expect instead?" in form.text
    page = client.get("/tickets", headers=headers)
    assert "Our tickets" in page.text and world["ticket"].number in page.text


def test_every_ticket_email_renders_from_what_the_outbox_holds(client, world, make, db):
    from app.notify.mail import render

    make.ticket(world["requester"], priority="high")
    ticket = world["ticket"]
    make.comment(ticket, world["staff"], "A public reply.")
    staff = _headers(world, "admin")
    path = f"/tickets/{ticket.number}"
    client.patch(path, json={"assignee": world["staff"].id, "status": "resolved"}, headers=staff)
    messages = db.exec(select(OutboxMessage)).all()
    assert {m.template for m in messages} == {
        "tickets/filed",
        "tickets/urgent",
        "tickets/reply",
        "tickets/assigned",
        "tickets/status",
    }
    for message in messages:
        rendered = render(message.template, message.context)
        assert message.context["number"] in rendered.subject
        assert message.context["path"] in rendered.text


def test_the_filing_form_shows_current_maintenance_first(client, world, db):
    from datetime import timedelta

    from app.core.db import utcnow
    from app.models.maintenance import Maintenance

    now = utcnow()
    db.add(
        Maintenance(
            title="Alma quarterly release (test)",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
        )
    )
    db.commit()
    headers = {**_headers(world, "requester"), **HTML}
    form = client.get("/tickets/new", headers=headers).text
    assert "Is this the known problem?" in form
    assert form.index("Alma quarterly release (test)") < form.index("File the report")


def test_attachments_may_be_larger_than_other_bodies(client, world, attachment_dir):
    headers = _headers(world, "requester")
    url = f"/tickets/{world['ticket'].number}/attachments"
    big = b"%PDF-1.7\n" + b"x" * 2_000_000
    response = client.post(
        url, files={"file": ("big.pdf", big, "application/pdf")}, headers=headers
    )
    assert response.status_code == 201, response.text
    over = b"%PDF-1.7\n" + b"x" * 11_000_000
    response = client.post(
        url, files={"file": ("big.pdf", over, "application/pdf")}, headers=headers
    )
    assert response.status_code == 413, response.text
    other = client.post("/tickets", content=b"x" * 2_000_000, headers=headers)
    assert other.status_code == 413


def test_comment_and_event_lists_page_like_every_list(client, world):
    headers = _headers(world, "staff")
    number = world["ticket"].number
    for n in range(3):
        reply = {"body": f"Reply number {n}", "internal": False}
        assert client.post(f"/tickets/{number}/comments", json=reply, headers=headers).is_success
    first = client.get(f"/tickets/{number}/comments?limit=2", headers=headers)
    body = first.json()
    assert len(body["data"]) == 2 and body["count"] >= 3
    assert body["next"] and first.headers["link"] == f'<{body["next"]}>; rel="next"'
    events = client.get(f"/tickets/{number}/events?limit=1", headers=headers).json()
    assert len(events["data"]) == 1 and events["next"]
