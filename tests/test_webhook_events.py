"""Webhook events from the portal's services (issue 15): each change queues a delivery for every
subscribed webhook in its own transaction, with the resource as the API answers it.

The subscriptions are rows written straight to the database (the webhooks slice tests its own
pages and API); every change goes through the real API. A delivery's payload is compared with
what `GET` answers afterwards: for a ticket, what its library's liaison sees.
"""

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from app.core.db import utcnow
from app.models.webhook import Webhook, WebhookDelivery
from app.services.tickets import workflow
from app.services.webhooks import EVENT_TYPES
from tests.factories import World

MAINTENANCE = {
    "title": "Alma monthly release",
    "starts_at": "2027-06-05T23:00:00-05:00",
    "ends_at": "2027-06-06T03:30:00-05:00",
    "services": ["alma", "primo_ve"],
    "impact": "outage",
}
INCIDENT = {"title": "Primo VE searches time out", "services": ["primo_ve"], "body": "Looking."}
REPORT = {"subject": "Holds fail", "description": "All of them.", "category": "fulfillment"}
PDF = b"%PDF-1.7\n% signed statistics form\n"


def hook(db: Session, *events: str, institution: str | None = None, active: bool = True):
    """A subscription to `events` (default: all of them), bound to `institution` if given."""
    row = Webhook(
        name=f"Hook {institution or 'all'}",
        url="https://hooks.example.org/portal",
        secret="whsec_dGVzdA==",
        events=list(events or EVENT_TYPES),
        institution=institution,
        active=active,
    )
    db.add(row)
    db.commit()
    return row


def queued(db: Session, webhook: Webhook, event: str | None = None) -> list[tuple[str, dict]]:
    """(event, payload) of the webhook's deliveries, oldest first."""
    stmt = select(WebhookDelivery.event, WebhookDelivery.payload).where(
        WebhookDelivery.webhook_id == webhook.id
    )
    if event is not None:
        stmt = stmt.where(WebhookDelivery.event == event)
    return [tuple(r) for r in db.exec(stmt.order_by(col(WebhookDelivery.id))).all()]


def payloads(db: Session, webhook: Webhook, event: str) -> list[dict]:
    return [payload for _, payload in queued(db, webhook, event)]


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def h(world: World) -> dict[str, dict[str, str]]:
    own, other = world.own, world.other
    return {
        "staff": world.headers(world.staff),
        "liaison": world.headers(own.liaison),
        "library": world.headers(own.library_staff),
        "other": world.headers(other.liaison),
    }


# --- tickets ----------------------------------------------------------------------------------


def test_filing_a_ticket_sends_it_as_its_library_sees_it(client, db, world, h):
    everything = hook(db, "ticket.created")
    filed = ok(client.post("/tickets", json=REPORT, headers=h["library"]), 201)
    [(event, payload)] = queued(db, everything)
    assert event == "ticket.created"
    assert payload == ok(client.get(f"/tickets/{filed['number']}", headers=h["liaison"]))
    assert payload["institution"] == world.own.code and "patron_data_matches" not in payload


def test_an_edit_a_status_change_and_an_assignment_send_ticket_updated(client, db, world, h):
    webhook = hook(db, "ticket.updated", "ticket.created")
    number = world.own.ticket.number
    tag = client.get(f"/tickets/{number}", headers=h["staff"]).headers["etag"]
    change = {"status": "open", "assignee": world.staff.id, "priority": "high"}
    ok(client.patch(f"/tickets/{number}", json=change, headers={**h["staff"], "If-Match": tag}))
    [(event, payload)] = queued(db, webhook)
    assert event == "ticket.updated"
    assert payload == ok(client.get(f"/tickets/{number}", headers=h["liaison"]))
    assert (payload["status"], payload["assignee"], payload["priority"]) == (
        "open",
        world.staff.id,
        "high",
    )


def test_a_change_that_changes_nothing_sends_nothing(client, db, world, h):
    webhook = hook(db)
    number = world.own.ticket.number
    same = {"subject": world.own.ticket.subject}
    ok(client.patch(f"/tickets/{number}", json=same, headers=h["staff"]))
    assert queued(db, webhook) == []
    ok(client.patch(f"/tickets/{number}", json={"subject": "Changed"}, headers=h["staff"]))
    assert [e for e, _ in queued(db, webhook)] == ["ticket.updated"]


def test_the_payload_leaves_out_what_only_staff_see(client, db, world, h):
    """The legal hold is staff's; setting it alone is no event, and a later event says false."""
    webhook = hook(db, "ticket.updated")
    number = world.own.ticket.number
    ok(client.patch(f"/tickets/{number}", json={"legal_hold": True}, headers=h["staff"]))
    assert queued(db, webhook) == []
    ok(client.patch(f"/tickets/{number}", json={"priority": "low"}, headers=h["staff"]))
    assert ok(client.get(f"/tickets/{number}", headers=h["staff"]))["legal_hold"] is True
    [payload] = payloads(db, webhook, "ticket.updated")
    assert payload["legal_hold"] is False
    assert payload == ok(client.get(f"/tickets/{number}", headers=h["liaison"]))


def test_a_public_reply_is_sent_and_an_internal_note_never(client, db, world, h):
    webhook = hook(db)
    number = world.own.ticket.number
    path = f"/tickets/{number}/comments"
    note = {"body": "The patron is Jane Roe, card 21234000123456.", "internal": True}
    ok(client.post(path, json=note, headers=h["staff"]), 201)
    assert queued(db, webhook) == [], "an internal note left the portal"
    reply = ok(client.post(path, json={"body": "We are looking into it."}, headers=h["staff"]), 201)
    [(event, payload)] = queued(db, webhook)
    assert event == "ticket.commented"
    listed = ok(client.get(path, headers=h["liaison"]))["data"]
    assert payload == listed[-1] and payload["id"] == reply["id"]
    assert payload["ticket"] == number and payload["internal"] is False
    assert "Jane Roe" not in str(queued(db, webhook))


def test_a_reason_given_with_a_status_change_is_a_reply_too(client, db, world, h):
    webhook = hook(db, "ticket.commented", "ticket.updated")
    number = world.own.ticket.number
    change = {"status": "closed", "reason": "Filed twice by mistake."}
    ok(client.patch(f"/tickets/{number}", json=change, headers=h["liaison"]))
    events = [event for event, _ in queued(db, webhook)]
    assert events == ["ticket.commented", "ticket.updated"]
    [reply] = payloads(db, webhook, "ticket.commented")
    assert reply["body"] == "Filed twice by mistake." and reply["ticket"] == number


def test_a_webhook_bound_to_a_library_gets_only_that_librarys_tickets(client, db, world, h):
    own = hook(db, "ticket.created", "ticket.commented", institution=world.own.code)
    other = hook(db, "ticket.created", "ticket.commented", institution=world.other.code)
    unbound = hook(db, "ticket.created", "ticket.commented")
    number = ok(client.post("/tickets", json=REPORT, headers=h["library"]), 201)["number"]
    reply = {"body": "Thanks, looking."}
    ok(client.post(f"/tickets/{number}/comments", json=reply, headers=h["staff"]), 201)
    expected = ["ticket.created", "ticket.commented"]
    assert [e for e, _ in queued(db, own)] == expected
    assert [e for e, _ in queued(db, unbound)] == expected
    assert queued(db, other) == []


def test_inactive_and_unsubscribed_webhooks_get_nothing(client, db, world, h):
    asleep = hook(db, active=False)
    elsewhere = hook(db, "maintenance.announced")
    awake = hook(db, "ticket.created")
    ok(client.post("/tickets", json=REPORT, headers=h["library"]), 201)
    assert queued(db, asleep) == [] and queued(db, elsewhere) == []
    assert len(queued(db, awake)) == 1


@pytest.mark.parametrize(
    ("who", "change", "status"),
    [
        ("staff", {"priority": "high"}, 412),  # a stale If-Match
        ("library", {"priority": "high"}, 403),  # staff's field
        ("staff", {"assignee": 999_999}, 422),  # not a staff member
        ("staff", {"status": "closed"}, 422),  # closing a new report needs a reason
        # refused after its reason was written (and queued): the rollback takes both back
        ("library", {"status": "pending_vendor", "reason": "Waiting on Ex Libris."}, 403),
    ],
)
def test_a_refused_change_queues_nothing(client, db, world, h, who, change, status):
    webhook = hook(db)
    number = world.own.ticket.number
    headers = {**h[who], "If-Match": '"0.0"' if status == 412 else "*"}
    assert client.patch(f"/tickets/{number}", json=change, headers=headers).status_code == status
    assert queued(db, webhook) == []
    fine = {"status": "open"} if who == "staff" else {"description": "More detail."}
    ok(client.patch(f"/tickets/{number}", json=fine, headers=h[who]))
    assert [e for e, _ in queued(db, webhook)] == ["ticket.updated"]


def test_the_bulk_change_sends_one_event_per_ticket_changed(client, db, world, h, make):
    webhook = hook(db, "ticket.updated")
    second = make.ticket(world.own.library_staff, subject="Second problem")
    first = world.own.ticket.number
    fresh = client.get(f"/tickets/{first}", headers=h["staff"]).headers["etag"]
    body = {"tickets": [f"{first}|{fresh}", f'{second.number}|"0.0"'], "status": "open"}
    assert client.post("/tickets/bulk", json=body, headers=h["staff"]).status_code == 200
    [payload] = payloads(db, webhook, "ticket.updated")
    assert payload["number"] == first and payload["status"] == "open"


def test_merging_updates_both_tickets(client, db, world, h, make):
    webhook = hook(db, "ticket.updated")
    duplicate = make.ticket(world.own.library_staff, subject="The same problem")
    survivor = world.own.ticket.number
    merge = {"into": survivor}
    ok(client.post(f"/tickets/{duplicate.number}/merge", json=merge, headers=h["staff"]))
    closed, kept = payloads(db, webhook, "ticket.updated")
    assert closed == ok(client.get(f"/tickets/{duplicate.number}", headers=h["liaison"]))
    assert closed["merged_into"] == survivor and closed["status"] == "closed"
    assert kept == ok(client.get(f"/tickets/{survivor}", headers=h["liaison"]))


def test_the_automatic_close_updates_the_ticket(client, db, world, h):
    webhook = hook(db, "ticket.updated")
    ticket = world.own.ticket
    ticket.status, ticket.resolved_at = "resolved", utcnow() - timedelta(days=60)
    db.add(ticket)
    db.commit()
    assert workflow.close_resolved(session=db) == [ticket.number]
    db.commit()
    [payload] = payloads(db, webhook, "ticket.updated")
    assert payload["status"] == "closed"
    assert payload == ok(client.get(f"/tickets/{ticket.number}", headers=h["liaison"]))


# --- maintenance and incidents ----------------------------------------------------------------


def test_maintenance_is_announced_changed_and_cancelled(client, db, world, h):
    events = ("maintenance.announced", "maintenance.changed", "maintenance.cancelled")
    bound = hook(db, *events, institution=world.other.code)
    created = ok(client.post("/maintenance", json=MAINTENANCE, headers=h["staff"]), 201)
    path = f"/maintenance/{created['id']}"
    [announced] = payloads(db, bound, "maintenance.announced")
    assert announced == ok(client.get(path)) and announced["status"] == "scheduled"
    ok(client.patch(path, json={"title": "Alma release (moved)"}, headers=h["staff"]))
    [changed] = payloads(db, bound, "maintenance.changed")
    assert changed == ok(client.get(path)) and changed["title"] == "Alma release (moved)"
    ok(client.delete(path, headers=h["staff"]))
    [cancelled] = payloads(db, bound, "maintenance.cancelled")
    assert cancelled == ok(client.get(path)) and cancelled["status"] == "cancelled"


def test_a_series_announces_each_window_and_a_refused_one_nothing(client, db, world, h):
    webhook = hook(db, "maintenance.announced")
    series = {**MAINTENANCE, "rrule": "FREQ=WEEKLY;COUNT=3"}
    created = ok(client.post("/maintenance", json=series, headers=h["staff"]), 201)
    assert [p["id"] for p in payloads(db, webhook, "maintenance.announced")] == created["windows"]
    backwards = {**MAINTENANCE, "ends_at": "2027-06-05T22:00:00-05:00"}
    assert client.post("/maintenance", json=backwards, headers=h["staff"]).status_code == 422
    assert len(queued(db, webhook)) == 3


def test_an_incident_is_created_updated_and_resolved(client, db, world, h):
    webhook = hook(db, "incident.created", "incident.updated", "incident.resolved")
    incident = ok(client.post("/incidents", json=INCIDENT, headers=h["staff"]), 201)
    path = f"/incidents/{incident['id']}"
    [created] = payloads(db, webhook, "incident.created")
    assert created == ok(client.get(path))
    found = {"status": "identified", "body": "A certificate expired."}
    ok(client.post(f"{path}/updates", json=found, headers=h["staff"]), 201)
    [updated] = payloads(db, webhook, "incident.updated")
    assert updated == ok(client.get(path)) and updated["status"] == "identified"
    over = {"status": "resolved", "body": "Renewed."}
    ok(client.post(f"{path}/updates", json=over, headers=h["staff"]), 201)
    [resolved] = payloads(db, webhook, "incident.resolved")
    assert resolved == ok(client.get(path)) and resolved["status"] == "resolved"
    ok(client.patch(path, json={"title": "Primo VE certificate expired"}, headers=h["staff"]))
    assert [e for e, _ in queued(db, webhook)][-1] == "incident.updated"
    assert payloads(db, webhook, "incident.updated")[-1] == ok(client.get(path))


# --- the directory ----------------------------------------------------------------------------


def test_institutions_added_and_changed(client, db, world, h):
    webhook = hook(db, "directory.changed", institution=world.other.code)
    new = {"code": "NEW", "name": "New College"}
    ok(client.post("/institutions", json=new, headers=h["staff"]), 201)
    ok(client.patch("/institutions/NEW", json={"city": "Peoria"}, headers=h["staff"]))
    ok(client.patch("/institutions/NEW", json={"city": "Peoria"}, headers=h["staff"]))  # no change
    added, changed = payloads(db, webhook, "directory.changed")
    assert added["institution"]["code"] == "NEW" and added["institution"]["city"] is None
    assert changed == {"institution": ok(client.get("/institutions/NEW", headers=h["staff"]))}
    taken = {"code": "NEW", "name": "Again"}
    assert client.post("/institutions", json=taken, headers=h["staff"]).status_code == 409
    assert len(queued(db, webhook)) == 2


def test_appointing_a_liaison_changes_both_people(client, db, world, h, make):
    webhook = hook(db, "directory.changed")
    old = make.liaison(world.own.code, roles=("liaison",), name="Lee Leaving")
    body = {"name": "Nova New", "email": "nova@own.example.edu", "roles": ["liaison"]}
    body["institution"] = world.own.code
    new = ok(client.post("/liaisons", json=body, headers=h["staff"]), 201)
    people = {p["liaison"]["id"]: p["liaison"] for p in payloads(db, webhook, "directory.changed")}
    assert set(people) == {old.id, new["id"]}
    assert people[new["id"]] == ok(client.get(f"/liaisons/{new['id']}", headers=h["staff"]))
    assert people[old.id] == ok(client.get(f"/liaisons/{old.id}", headers=h["staff"]))
    assert people[old.id]["roles"] == [] and people[new["id"]]["roles"] == ["liaison"]


def test_a_persons_edit_and_end_are_directory_changes(client, db, world, h):
    webhook = hook(db, "directory.changed")
    person = world.own.contact.id
    path = f"/liaisons/{person}"
    ok(client.patch(path, json={"title": "Head of Access Services"}, headers=h["staff"]))
    edited = payloads(db, webhook, "directory.changed")[-1]["liaison"]
    assert edited["title"] == "Head of Access Services"
    ok(client.delete(path, headers=h["staff"]))
    ended = payloads(db, webhook, "directory.changed")[-1]
    assert ended == {"liaison": ok(client.get(path, headers=h["staff"]))}
    assert ended["liaison"]["active"] is False


def test_an_approved_change_request_is_a_directory_change_and_a_rejected_one_not(
    client, db, world, h, make
):
    webhook = hook(db, "directory.changed")
    turned_down = make.directory_change(world.own.director)
    reject = {"reason": "Not one of ours."}
    ok(client.post(f"/directory-changes/{turned_down.id}/reject", json=reject, headers=h["staff"]))
    assert queued(db, webhook) == []
    change = world.own.change.id
    approved = ok(client.post(f"/directory-changes/{change}/approve", headers=h["staff"]))
    [payload] = payloads(db, webhook, "directory.changed")
    assert payload["liaison"]["id"] == approved["liaison_id"]
    assert payload["liaison"]["name"] == "Quinn Proposed"


def test_an_import_sends_its_people_and_a_dry_run_nothing(client, db, world, h):
    webhook = hook(db, "directory.changed")
    content = b"name,email,institution,roles\nIma Port,ima@own.example.edu,OWN,billing\n"
    files = {"file": ("people.csv", content, "text/csv")}
    ok(client.post("/liaisons/import", files=files, headers=h["staff"]))
    assert queued(db, webhook) == []
    ok(client.post("/liaisons/import?dry_run=false", files=files, headers=h["staff"]))
    [payload] = payloads(db, webhook, "directory.changed")
    assert payload["liaison"]["email"] == "ima@own.example.edu"
    assert payload["liaison"]["roles"] == ["billing"]


# --- announcements and duties -----------------------------------------------------------------


def test_an_announcement_is_sent_now_and_a_scheduled_one_later(client, db, world, h, make):
    webhook = hook(db, "announcement.sent", institution=world.other.code)
    make.mailing_list("test-liaisons", roles=("liaison",))
    make.liaison(world.own.code, roles=("liaison",))
    now = {"subject": "Alma release notes", "body": "Read them.", "lists": ["test-liaisons"]}
    later = {**now, "send_at": "2027-01-04T09:00:00-06:00"}
    ok(client.post("/announcements", json=later, headers=h["staff"]), 201)
    assert queued(db, webhook) == []
    sent = ok(client.post("/announcements", json=now, headers=h["staff"]), 201)
    [payload] = payloads(db, webhook, "announcement.sent")
    assert payload == ok(client.get(f"/announcements/{sent['id']}", headers=h["liaison"]))
    assert payload["status"] == "sent" and payload["lists"] == ["test-liaisons"]


def test_a_completed_task_goes_to_its_library_and_unbound_webhooks_only(client, db, world, h):
    own = hook(db, "task.completed", institution=world.own.code)
    other = hook(db, "task.completed", institution=world.other.code)
    unbound = hook(db, "task.completed")
    task = world.make.task_of(world.duty, world.own.code)
    done = {"state": "done", "note": "Sent the report."}
    ok(client.patch(f"/tasks/{task.id}", json=done, headers=h["liaison"]))
    ok(client.patch(f"/tasks/{task.id}", json=done, headers=h["liaison"]))  # again: no change
    [payload] = payloads(db, own, "task.completed")
    assert payload == ok(client.get(f"/tasks/{task.id}", headers=h["liaison"]))
    assert payload["state"] == "done" and payload["note"] == "Sent the report."
    assert payloads(db, unbound, "task.completed") == [payload]
    assert queued(db, other) == []
    ok(client.patch(f"/tasks/{task.id}", json={"state": "open"}, headers=h["staff"]))
    assert len(queued(db, own)) == 1, "reopening is no completion"


def test_a_task_completed_with_a_file_counts_the_file(client, db, world, h, tmp_path, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "task_attachment_dir", tmp_path)
    webhook = hook(db, "task.completed")
    task = world.make.task_of(world.duty, world.own.code)
    files = {"file": ("stats form.pdf", PDF, "application/octet-stream")}
    ok(client.post(f"/tasks/{task.id}/completion", files=files, headers=h["liaison"]))
    [payload] = payloads(db, webhook, "task.completed")
    assert payload["attachments"] == 1
    assert payload == ok(client.get(f"/tasks/{task.id}", headers=h["liaison"]))


def test_a_task_not_applicable_is_completed_too(client, db, world, h):
    webhook = hook(db, "task.completed")
    task = world.make.task_of(world.duty, world.own.code)
    skip = {"state": "not_applicable", "reason": "We have no branch libraries."}
    ok(client.patch(f"/tasks/{task.id}", json=skip, headers=h["liaison"]))
    [payload] = payloads(db, webhook, "task.completed")
    assert payload["state"] == "not_applicable" and payload["completed_at"] is not None
    assert date.fromisoformat(payload["due_on"]) == task.due_on


def test_every_event_type_is_one_this_file_exercises():
    """A new event type needs its publish call and a test here."""
    source = Path(__file__).read_text()
    assert [e for e in EVENT_TYPES if f'"{e}"' not in source] == []
