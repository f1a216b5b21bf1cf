"""Canned replies (issue 15): the team's saved replies with placeholders in plain words, and
the reply box's control that inserts one filled in for the ticket, for editing before sending.

Security first: filling loads the ticket with the caller's own visibility (another library's
ticket is 404, a library role is 403), the filled text is escaped inside the text area, and
inserting sends nothing. Unknown placeholders are refused on save, every error at once."""

import html
import re

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.models.audit import AuditEntry
from app.models.canned_reply import CannedReply, CannedReplyCreate
from app.models.outbox import OutboxMessage
from app.models.ticket import TicketComment
from app.services import canned_replies
from tests.routes import CALLERS, Caller, undone

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}
HX = {"HX-Request": "true"}


def _reply(db, actor, name="Looking into it", body="Dear {requester name}, about {ticket number}."):
    data = CannedReplyCreate(name=name, body=body)
    return canned_replies.create_reply(session=db, actor=actor, data=data)


def _count(db, model, *where) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _textarea(text: str) -> str:
    """What the filled text area holds, as the browser reads it."""
    found = re.search(r"<textarea[^>]*>(.*?)</textarea>", text, re.S)
    assert found is not None, text
    return html.unescape(found.group(1))


# --- who may: the reply box's controls ---------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.id)
def test_only_staff_may_fill_a_reply_and_another_librarys_ticket_is_404(
    client, connection, db, world, caller: Caller
):
    """The ticket is loaded first, with the caller's visibility: the neighbour gets 404 (no
    existence leak), a library role that sees the ticket 403, staff the filled text."""
    reply = _reply(db, world.staff)
    number = world.own.ticket.number
    expected = {None: 401, "other": 404, "own": 403, "staff": 200}
    if caller.role is None:
        want = expected[None]
    elif caller.role.is_consortium:
        want = expected["staff"]
    else:
        want = expected["own" if caller.own else "other"]
    headers = world.headers(caller.user(world))
    with undone(connection, db):
        picker = client.get(f"/tickets/{number}/canned-reply", headers={**headers, **HX})
        filled = client.post(
            f"/tickets/{number}/canned-reply",
            json={"reply": reply.id, "body": ""},
            headers={**headers, **HX},
        )
    assert picker.status_code == want, picker.text
    assert filled.status_code == want, filled.text
    if want == 200:
        assert "Looking into it" in picker.text
        assert _textarea(filled.text) == f"Dear {world.own.library_staff.name}, about {number}."
    else:
        answers = picker.text + filled.text
        assert "Looking into it" not in answers
        assert "Dear" not in answers and world.own.library_staff.name not in answers


def test_library_roles_get_no_saved_reply_control_on_the_ticket_page(client, world):
    number = world.own.ticket.number
    staff_page = client.get(f"/tickets/{number}", headers={**world.headers(world.staff), **HTML})
    lead_page = client.get(
        f"/tickets/{number}", headers={**world.headers(world.own.liaison), **HTML}
    )
    assert f'hx-get="/tickets/{number}/canned-reply"' in staff_page.text
    assert "canned-reply" not in lead_page.text
    assert lead_page.status_code == staff_page.status_code == 200


# --- filling -----------------------------------------------------------------------------------


def test_filling_uses_every_placeholder_and_keeps_the_draft(client, db, world):
    """Case and spacing of a placeholder do not matter; the draft stays first."""
    staff = world.staff
    body = "Dear { Requester Name },\n{TICKET NUMBER} ({ticket subject}) for {library}.\n{my name}"
    reply = _reply(db, staff, name="Everything", body=body)
    ticket = world.own.ticket
    response = client.post(
        f"/tickets/{ticket.number}/canned-reply",
        json={"reply": str(reply.id), "body": "Hello again,  "},  # json-enc sends strings
        headers={**world.headers(staff), **HX},
    )
    assert response.status_code == 200, response.text
    assert _textarea(response.text) == (
        f"Hello again,\n\nDear {world.own.library_staff.name},\n"
        f"{ticket.number} ({ticket.subject}) for Own College.\nSam Staff"
    )
    # The same control as the ticket page's: the patron-data check still runs, and it is focused.
    assert 'hx-post="/tickets/check"' in response.text
    assert "autofocus" in response.text


def test_inserting_sends_nothing(client, db, world):
    reply = _reply(db, world.staff)
    ticket = world.own.ticket
    comments = _count(db, TicketComment, TicketComment.ticket_id == ticket.id)
    mail = _count(db, OutboxMessage)
    response = client.post(
        f"/tickets/{ticket.number}/canned-reply",
        json={"reply": reply.id},
        headers={**world.headers(world.staff), **HX},
    )
    assert response.status_code == 200
    db.expire_all()
    assert _count(db, TicketComment, TicketComment.ticket_id == ticket.id) == comments
    assert _count(db, OutboxMessage) == mail


def test_the_filled_text_is_escaped_inside_the_text_area(client, db, make, world):
    """A requester's name or a subject cannot close the text area and run a script."""
    hostile = '</textarea><script>alert("x")</script>'
    requester = make.user(institution=world.own.code, name=f"Eve {hostile}")
    ticket = make.ticket(requester, subject=f"Subject {hostile}")
    reply = _reply(db, world.staff, body="Dear {requester name}: {ticket subject}")
    response = client.post(
        f"/tickets/{ticket.number}/canned-reply",
        json={"reply": reply.id, "body": hostile},
        headers={**world.headers(world.staff), **HX},
    )
    assert response.status_code == 200
    assert "<script>" not in response.text
    assert response.text.count("</textarea>") == 1
    assert _textarea(response.text) == f"{hostile}\n\nDear Eve {hostile}: Subject {hostile}"


def test_filling_a_reply_that_does_not_exist_is_404(client, world):
    response = client.post(
        f"/tickets/{world.own.ticket.number}/canned-reply",
        json={"reply": 999999},
        headers={**world.headers(world.staff), **JSON},
    )
    assert response.status_code == 404
    assert "No saved reply" in response.json()["detail"]


def test_the_picker_offers_the_teams_replies_by_name_or_says_there_are_none(client, db, world):
    url = f"/tickets/{world.own.ticket.number}/canned-reply"
    headers = {**world.headers(world.staff), **HX}
    empty = client.get(url, headers=headers)
    assert "No saved replies yet" in empty.text
    _reply(db, world.admin, name="Zebra")  # an administrator's reply is the team's too
    _reply(db, world.staff, name="Apple")
    names = re.findall(
        r'<option value="\d+">([^<]+)</option>', client.get(url, headers=headers).text
    )
    assert names == ["Apple", "Zebra"]


# --- the resource --------------------------------------------------------------------------------


def test_create_read_update_delete_with_audit(client, db, world):
    headers = {**world.headers(world.staff), **JSON}
    created = client.post(
        "/canned-replies",
        json={"name": "Vendor case", "body": "We opened a case for {library}."},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "name", "body", "created_by", "created_at", "updated_at"}
    assert body["created_by"] == world.staff.id
    url = created.headers["Location"]
    assert url == f"/canned-replies/{body['id']}"
    assert client.get(url, headers=headers).json()["body"] == "We opened a case for {library}."

    changed = client.patch(url, json={"body": "Case opened for {library}."}, headers=headers)
    assert changed.status_code == 200
    assert changed.json()["name"] == "Vendor case"  # untouched
    assert changed.json()["updated_at"] >= body["updated_at"]

    gone = client.delete(url, headers=headers)
    assert gone.status_code == 200
    assert gone.json()["body"] == "Case opened for {library}."
    assert client.get(url, headers=headers).status_code == 404
    entries = db.exec(
        select(AuditEntry)
        .where(AuditEntry.entity_type == "canned_reply", AuditEntry.entity_id == str(body["id"]))
        .order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert entries[1].before == {"body": "We opened a case for {library}."}
    assert entries[1].after == {"body": "Case opened for {library}."}
    assert entries[2].before["body"] == "Case opened for {library}."
    assert {e.actor for e in entries} == {world.staff.id}


def test_unknown_placeholders_are_refused_with_every_error_at_once(client, db, world):
    response = client.post(
        "/canned-replies",
        json={"name": "", "body": "Hi {customer}, see {Ticket Number} and {case id}, {customer}."},
        headers={**world.headers(world.staff), **JSON},
    )
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"name", "body"}
    assert errors["body"].startswith("We cannot fill {customer} or {case id}. Use {requester name}")
    assert "{ticket number}" in errors["body"]
    assert _count(db, CannedReply) == 0


def test_a_change_to_an_unknown_placeholder_is_refused_and_nothing_changes(client, db, world):
    reply = _reply(db, world.staff)
    response = client.patch(
        f"/canned-replies/{reply.id}",
        json={"body": "Dear {patron barcode}"},
        headers={**world.headers(world.staff), **JSON},
    )
    assert response.status_code == 422
    assert "{patron barcode}" in response.json()["errors"][0]["message"]
    db.expire_all()
    assert db.get(CannedReply, reply.id).body.startswith("Dear {requester name}")


def test_names_are_unique_whatever_their_case(client, db, world):
    _reply(db, world.staff, name="Looking into it")
    other = _reply(db, world.staff, name="Closing")
    headers = {**world.headers(world.admin), **JSON}
    created = client.post(
        "/canned-replies", json={"name": "LOOKING INTO IT", "body": "Hi"}, headers=headers
    )
    renamed = client.patch(
        f"/canned-replies/{other.id}", json={"name": "looking into it"}, headers=headers
    )
    for response in (created, renamed):
        assert response.status_code == 409
        assert response.json()["errors"] == [
            {"field": "name", "message": "Another saved reply has this name"}
        ]
    assert _count(db, CannedReply) == 2


@pytest.mark.parametrize("role", ["library_staff", "liaison", "director"])
def test_library_roles_may_not_see_or_add_saved_replies(client, db, world, role):
    from app.models.user import Role

    reply = _reply(db, world.staff)
    headers = world.headers(world.user(Role(role)))
    assert client.get("/canned-replies", headers=headers).status_code == 403
    assert client.get(f"/canned-replies/{reply.id}", headers=headers).status_code == 403
    assert client.get("/canned-replies/new", headers={**headers, **HTML}).status_code == 403
    assert "Saved replies" not in client.get("/tickets", headers={**headers, **HTML}).text


# --- pages -------------------------------------------------------------------------------------


def test_pages_speak_plainly_and_delete_asks_first(client, db, world):
    reply = _reply(db, world.staff)
    headers = {**world.headers(world.staff), **HTML}
    listing = client.get("/canned-replies", headers=headers)
    assert "Saved replies" in listing.text
    assert f'href="/canned-replies/{reply.id}"' in listing.text
    assert "Sam Staff" in listing.text
    new = client.get("/canned-replies/new", headers=headers)
    assert new.status_code == 200
    assert "{requester name}" in new.text and "The name of the person who filed" in new.text
    page = client.get(f"/canned-replies/{reply.id}", headers=headers)
    button = re.search(r'<button[^>]*hx-delete="[^"]*"[^>]*>', page.text, re.S).group(0)
    assert 'class="danger"' in button
    assert "hx-confirm=" in button and "cannot be undone" in button
    gone = client.delete(
        f"/canned-replies/{reply.id}", headers={**world.headers(world.staff), **HX}
    )
    assert gone.headers["HX-Trigger"] == "canned-reply-deleted"
    assert "was deleted" in gone.text


def test_htmx_form_errors_come_back_beside_each_field(client, world):
    response = client.post(
        "/canned-replies",
        json={"name": "", "body": "{customer}"},
        headers={**world.headers(world.staff), **HX},
    )
    assert response.status_code == 422
    assert 'id="error-name"' in response.text
    assert 'id="error-body"' in response.text and "{customer}" in response.text
