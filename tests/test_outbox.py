"""The outbox's service API (enqueue, retry, discard) and the admin pages over it."""

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.models.audit import AuditEntry
from app.models.outbox import OutboxMessage, OutboxState
from app.models.user import Role
from app.notify.mail import RenderError, SmtpConfig, render
from app.notify.outbox import enqueue
from app.notify.worker import Worker

HTML = {"Accept": "text/html"}
HTMX = {"HX-Request": "true"}


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(OutboxMessage))


def test_rollback_of_the_causing_transaction_leaves_no_row(db):
    before = _count(db)
    enqueue(db, to="a@test.example.edu", template="outbox/test", context={"name": "A", "note": ""})
    db.flush()
    assert _count(db) == before + 1  # in the transaction ...
    db.rollback()
    assert _count(db) == before  # ... and gone with it


def test_enqueue_adds_to_the_callers_transaction_without_committing(db):
    message = enqueue(db, to="a@test.example.edu", template="outbox/test.html", context={})
    assert message in db.new  # not flushed, not committed: the caller commits
    assert message.recipients == ["a@test.example.edu"]
    assert message.template == "outbox/test"
    assert message.state == OutboxState.pending
    assert message.message_id.startswith("<") and message.message_id.endswith(">")


def test_a_dedupe_key_is_enqueued_once(db):
    first = enqueue(
        db, to="a@test.example.edu", template="outbox/test", context={}, dedupe_key="k1"
    )
    again = enqueue(
        db, to="b@test.example.edu", template="outbox/test", context={}, dedupe_key="k1"
    )
    other = enqueue(
        db, to="a@test.example.edu", template="outbox/test", context={}, dedupe_key="k2"
    )
    db.commit()
    assert again is first
    assert other is not first
    assert db.scalar(select(func.count()).where(OutboxMessage.dedupe_key == "k1")) == 1


def test_render_gives_three_parts_and_reports_template_errors():
    rendered = render("outbox/test", {"name": "Ann & Bo", "note": "<b>hi</b>"})
    assert rendered.subject == "Test message from the Liaison Portal"
    assert "Ann & Bo" in rendered.text
    assert "Ann &amp; Bo" in rendered.html and "&lt;b&gt;hi&lt;/b&gt;" in rendered.html
    assert "<title>Test message from the Liaison Portal</title>" in rendered.html  # the layout
    with pytest.raises(RenderError, match="undefined"):
        render("outbox/test", {})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", ("mail.example.org", 25, False, False, None, None)),
        (
            "smtp://u%40x:p%3Aw@mail.example.org:587?starttls=1",
            ("mail.example.org", 587, False, True, "u@x", "p:w"),
        ),
        ("smtps://u:p@mail.example.org", ("mail.example.org", 465, True, False, "u", "p")),
    ],
)
def test_smtp_url(url, expected):
    c = SmtpConfig.from_url(url, timeout=7)
    assert (c.host, c.port, c.implicit_tls, c.starttls, c.username, c.password) == expected
    assert c.timeout == 7
    with pytest.raises(ValueError):
        SmtpConfig.from_url("http://mail.example.org", timeout=7)


# --- the admin pages ----------------------------------------------------------------------------


@pytest.fixture
def kept(make, connection, db) -> OutboxMessage:
    """A message the worker rendered and kept (no SMTP server), as in the demo."""
    message = make.outbox_message(
        to="liaison@test.example.edu", context={"name": "Pat", "note": "Zebra."}
    )
    worker = Worker(connection)
    worker.sender = None
    worker.drain_once()
    db.refresh(message)
    assert message.state == OutboxState.sent
    return message


@pytest.mark.parametrize(
    "role", [Role.consortium_staff, Role.director, Role.liaison, Role.library_staff]
)
@pytest.mark.parametrize("path", ["/admin", "/admin/mail", "/admin/mail/{id}"])
def test_admin_pages_are_for_consortium_admins_only(client, make, kept, role, path):
    _, headers = make.signed_in(role)
    response = client.get(path.format(id=kept.id), headers={**headers, **HTML})
    assert response.status_code == 403
    assert "Zebra" not in response.text


def test_admin_pages_need_sign_in(client, kept):
    response = client.get("/admin/mail", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert client.get(f"/admin/mail/{kept.id}").status_code == 401


def test_sent_mail_page_lists_and_shows_rendered_mail(client, make, kept):
    _, headers = make.signed_in(Role.consortium_admin)
    listing = client.get("/admin/mail", headers={**headers, **HTML})
    assert listing.status_code == 200
    assert "Test message from the Liaison Portal" in listing.text
    assert "liaison@test.example.edu" in listing.text
    assert "Kept here (no mail server configured)" in listing.text
    fragment = client.get("/admin/mail", headers={**headers, **HTMX})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and f"/admin/mail/{kept.id}" in fragment.text

    shown = client.get(f"/admin/mail/{kept.id}", headers={**headers, **HTML})
    assert shown.status_code == 200
    assert "Zebra." in shown.text  # the plain-text part
    assert 'sandbox=""' in shown.text and "&lt;p&gt;Hello Pat,&lt;/p&gt;" in shown.text  # HTML
    assert kept.message_id.strip("<>") in shown.text
    assert client.get("/admin/mail/999999", headers={**headers, **HTML}).status_code == 404


def test_admin_overview_counts_and_lists_failures(client, make, db):
    _, headers = make.signed_in(Role.consortium_admin)
    dead = make.outbox_message()
    dead.state, dead.last_error, dead.attempts = OutboxState.dead, "SMTPDataError: 554 no", 8
    make.outbox_message()  # pending
    db.add(dead)
    db.commit()
    page = client.get("/admin", headers={**headers, **HTML})
    assert page.status_code == 200
    assert 'data-state="dead">1<' in page.text
    assert "SMTPDataError: 554 no" in page.text
    assert f'hx-post="/admin/outbox/{dead.id}/retry"' in page.text


@pytest.mark.parametrize(("action", "audited"), [("retry", "retry"), ("discard", "discard")])
def test_retry_and_discard_are_audited(client, make, db, action, audited):
    admin, headers = make.signed_in(Role.consortium_admin)
    message = make.outbox_message()
    message.state, message.attempts, message.last_error = OutboxState.dead, 8, "boom"
    db.add(message)
    db.commit()
    message_id = message.id

    response = client.post(f"/admin/outbox/{message_id}/{action}", headers={**headers, **HTMX})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "outbox-changed"
    assert "boom" not in response.text  # no longer among the failures

    db.expire_all()
    row = db.get(OutboxMessage, message_id)
    if action == "retry":
        assert (row.state, row.attempts) == (OutboxState.pending, 0)
    else:
        assert row is None
    entry = db.exec(
        select(AuditEntry).where(
            AuditEntry.entity_type == "outbox_message", AuditEntry.entity_id == str(message_id)
        )
    ).one()
    assert (entry.action, entry.actor) == (audited, admin.id)
    assert entry.before["state"] == "dead"


def test_only_failed_or_dead_messages_can_be_retried_or_discarded(client, make, kept):
    _, headers = make.signed_in(Role.consortium_admin)
    for action in ("retry", "discard"):
        response = client.post(f"/admin/outbox/{kept.id}/{action}", headers=headers)
        assert response.status_code == 409
    _, staff = make.signed_in(Role.consortium_staff)
    assert client.post(f"/admin/outbox/{kept.id}/retry", headers=staff).status_code == 403


# --- renamed templates ----------------------------------------------------------------------------

WINDOW_CONTEXT = {  # what a maintenance notice carried before the templates were merged
    "name": "Pat",
    "window": {
        "id": 7,
        "title": "Alma quarterly release",
        "description": "Read-only for two hours.",
        "services": ["alma"],
        "impact": "outage",
    },
    "when": "Sat 2027-06-05 23:00 – 01:00 CDT",
    "url": "https://portal.example.org/maintenance/7",
    "changed": [],
    "occurrences": [],
}


@pytest.mark.parametrize(
    ("old", "opening"),
    [
        ("maintenance/announced", "Scheduled maintenance"),
        ("maintenance/reminder", "Reminder: maintenance"),
        ("maintenance/changed", "Maintenance changed"),
        ("maintenance/started", "Maintenance started"),
        ("maintenance/ended", "Maintenance ended"),
        ("maintenance/cancelled", "Maintenance cancelled"),
    ],
)
def test_a_message_queued_under_an_old_maintenance_template_still_renders(old, opening):
    rendered = render(old, WINDOW_CONTEXT)  # no `kind`: the old name says which
    assert (
        rendered.subject == f"{opening}: Alma quarterly release (Sat 2027-06-05 23:00 – 01:00 CDT)"
    )
    assert "Hello Pat," in rendered.text and "Alma quarterly release" in rendered.html


def test_a_message_queued_under_the_old_incident_template_still_renders():
    context = {
        "name": "Pat",
        "status": "identified",
        "body": "The vendor found the cause.",
        "url": "https://portal.example.org/incidents/3",
        "incident": {"title": "Primo VE slow", "services": ["primo_ve"], "impact": "degraded"},
    }
    rendered = render("maintenance/incident", context)
    assert rendered.subject == "Incident identified: Primo VE slow"
    assert "The vendor found the cause." in rendered.text


def test_the_worker_delivers_a_row_queued_under_an_old_template(make, connection, db):
    message = make.outbox_message(template="maintenance/cancelled", context=WINDOW_CONTEXT)
    worker = Worker(connection)
    worker.sender = None
    worker.drain_once()
    db.refresh(message)
    assert message.state == OutboxState.sent
    assert message.subject.startswith("Maintenance cancelled: Alma quarterly release")
