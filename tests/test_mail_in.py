"""Reply and file by e-mail (issue 15): real messages, built with `email.message.EmailMessage`,
through the mail-in service, and the inbound-mail page staff read."""

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlmodel import Session, select

from app.models.audit import AuditEntry
from app.models.inbound_mail import InboundMail, InboundOutcome
from app.models.outbox import OutboxMessage
from app.models.ticket import Ticket, TicketAttachment, TicketComment
from app.models.user import Role, User
from app.services import mail_in
from app.services.mail_in.reading import html_to_text, parse, trim
from tests.factories import Factory, World

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def message(
    sender: str,
    subject: str = "Re: your report",
    body: str = "Thanks, that fixed it for us.",
    *,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
    html: str | None = None,
    files: list[tuple[str, bytes, str]] = (),
    message_id: str | None = None,
) -> bytes:
    """A message as a mail program would send it, as bytes (what an MTA pipes to us)."""
    mail = EmailMessage()
    mail["From"] = f"A Person <{sender}>"
    mail["To"] = "help@portal.example.org"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id or make_msgid(domain="library.example.edu")
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        mail[name] = value
    if body is not None:
        mail.set_content(body)
    if html is not None:
        if body is None:
            mail.set_content(html, subtype="html")
        else:
            mail.add_alternative(html, subtype="html")
    for filename, content, media in files:
        maintype, subtype = media.split("/")
        mail.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return mail.as_bytes()


def sent_about(db: Session, ticket: Ticket) -> str:
    """The Message-ID of an e-mail the portal sent about the ticket (its filing notice)."""
    return db.exec(
        select(OutboxMessage.message_id).where(
            OutboxMessage.dedupe_key.startswith(f"ticket:{ticket.id}:")
        )
    ).first()


def replies(db: Session, ticket: Ticket) -> list[TicketComment]:
    return list(db.exec(select(TicketComment).where(TicketComment.ticket_id == ticket.id)))


def record(db: Session, raw: bytes) -> InboundMail:
    return db.exec(select(InboundMail).where(InboundMail.message_key == parse(raw).key)).one()


def receive(db: Session, raw: bytes) -> mail_in.Outcome:
    return mail_in.receive(session=db, raw=raw)


# --- replies ----------------------------------------------------------------------------------


def test_a_reply_to_a_ticket_e_mail_becomes_a_public_reply_by_the_sender(db, world: World):
    ticket, sender = world.own.ticket, world.own.library_staff
    raw = message(sender.email, in_reply_to=sent_about(db, ticket))
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.replied
    assert outcome.ticket_number == ticket.number
    [comment] = replies(db, ticket)
    assert (comment.author, comment.body, comment.internal) == (
        sender.id,
        "Thanks, that fixed it for us.",
        False,
    )
    assert record(db, raw).reason.startswith(f"Added as a reply to ticket {ticket.number}")
    # The web reply's own side effects: the audit trail and the assignee's/followers' mail.
    assert db.exec(
        select(AuditEntry).where(AuditEntry.action == "comment", AuditEntry.actor == sender.id)
    ).first()


def test_references_and_the_sender_address_in_any_case_match(db, world: World):
    ticket, sender = world.own.ticket, world.own.liaison
    raw = message(sender.email.upper(), references=["<other@x.example>", sent_about(db, ticket)])
    assert receive(db, raw).outcome == InboundOutcome.replied
    assert [c.author for c in replies(db, ticket)] == [sender.id]


def test_the_subject_tag_alone_finds_the_ticket(db, world: World):
    ticket, sender = world.own.ticket, world.own.director
    raw = message(sender.email, subject=f"Re: [{ticket.number}] Primo VE shows no availability")
    assert receive(db, raw).outcome == InboundOutcome.replied
    assert [c.author for c in replies(db, ticket)] == [sender.id]


def test_a_sender_from_another_library_is_refused_and_nothing_is_written(db, world: World):
    ticket, stranger = world.own.ticket, world.other.director
    raw = message(stranger.email, in_reply_to=sent_about(db, ticket))
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.rejected
    assert outcome.reason == f"{stranger.email} may not reply to ticket {ticket.number}."
    assert replies(db, ticket) == []
    assert record(db, raw).ticket_number is None


def test_an_unknown_sender_is_kept_in_the_refused_list_not_a_ticket(db, world: World):
    count = len(db.exec(select(Ticket)).all())
    raw = message("someone@elsewhere.example.com", subject="Please help with our catalogue")
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.rejected
    assert "is not a portal user or a contact in the member directory" in outcome.reason
    row = record(db, raw)
    assert (row.sender, row.subject) == (
        "someone@elsewhere.example.com",
        "Please help with our catalogue",
    )
    assert len(db.exec(select(Ticket)).all()) == count


def test_a_reply_to_a_closed_ticket_is_refused_in_plain_words(db, world: World):
    ticket = world.own.ticket
    ticket.status = "closed"
    db.add(ticket)
    db.commit()
    raw = message(world.own.liaison.email, in_reply_to=sent_about(db, ticket))
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.rejected
    assert outcome.reason == "A closed ticket takes no more comments; file a new one."
    assert replies(db, ticket) == []


def test_a_tag_naming_no_ticket_is_refused(db, world: World):
    raw = message(world.own.liaison.email, subject="Re: [2019-99999] old problem")
    outcome = receive(db, raw)
    assert (outcome.outcome, outcome.reason) == (
        InboundOutcome.rejected,
        "No ticket has the number 2019-99999.",
    )


# --- new reports ------------------------------------------------------------------------------


def test_a_directory_contact_with_an_account_files_a_report_for_their_library(
    db, make: Factory, world: World
):
    person = make.liaison(world.own.code, roles=("systems",), email="sys@own.example.edu")
    user = make.user(Role.library_staff, world.own.code, email="sys@own.example.edu")
    raw = message(person.email, subject="Alma jobs stuck since this morning", body="Jobs hang.")
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.filed
    ticket = db.exec(select(Ticket).where(Ticket.number == outcome.ticket_number)).one()
    assert (ticket.institution, ticket.requester, ticket.subject, ticket.description) == (
        world.own.code,
        user.id,
        "Alma jobs stuck since this morning",
        "Jobs hang.",
    )
    assert record(db, raw).reason.startswith(f"Filed as ticket {ticket.number} for OWN")


def test_a_directory_contact_without_an_account_is_refused(db, world: World):
    contact = world.own.contact  # in the directory, no portal account
    outcome = receive(db, message(contact.email, subject="A new problem with holds"))
    assert outcome.outcome == InboundOutcome.rejected
    assert (
        outcome.reason == f"{contact.email} is in the member directory but has no portal account."
    )


def test_a_user_outside_the_directory_cannot_file_by_mail(db, world: World):
    sender = world.own.library_staff  # a portal user, not a directory contact
    outcome = receive(db, message(sender.email, subject="A brand new problem"))
    assert outcome.outcome == InboundOutcome.rejected
    assert "cannot file a new report by e-mail" in outcome.reason


def test_a_former_directory_contact_cannot_file(db, make: Factory, world: World):
    from datetime import date

    make.liaison(world.own.code, email="gone@own.example.edu", ended_on=date(2025, 1, 1))
    make.user(Role.library_staff, world.own.code, email="gone@own.example.edu")
    outcome = receive(db, message("gone@own.example.edu", subject="Still here after all"))
    assert outcome.outcome == InboundOutcome.rejected


# --- machines and loops -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Auto-Submitted": "auto-replied"}, "automatic message"),
        ({"Precedence": "bulk"}, "bulk or list mail"),
        ({"Precedence": "junk"}, "bulk or list mail"),
        ({"X-Autoreply": "yes"}, "automatic reply"),
        ({"Return-Path": "<>"}, "mail system"),
    ],
)
def test_automatic_mail_is_ignored(db, world: World, headers, why):
    ticket = world.own.ticket
    raw = message(world.own.liaison.email, in_reply_to=sent_about(db, ticket), headers=headers)
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.ignored
    assert why in outcome.reason
    assert replies(db, ticket) == []


def test_auto_submitted_no_is_a_person(db, world: World):
    ticket = world.own.ticket
    headers = {"Auto-Submitted": "no"}
    raw = message(world.own.liaison.email, in_reply_to=sent_about(db, ticket), headers=headers)
    assert receive(db, raw).outcome == InboundOutcome.replied


def test_our_own_message_coming_back_is_ignored(db, world: World):
    ticket = world.own.ticket
    ours = sent_about(db, ticket)
    raw = message(world.own.liaison.email, message_id=ours, in_reply_to=ours)
    outcome = receive(db, raw)
    assert (outcome.outcome, outcome.reason) == (
        InboundOutcome.ignored,
        "It is a message the portal sent itself.",
    )
    assert replies(db, ticket) == []


def test_mail_from_the_portal_address_is_ignored(db, world: World):
    raw = message("portal@liaison-portal.invalid", subject=f"[{world.own.ticket.number}] x")
    assert receive(db, raw).outcome == InboundOutcome.ignored


# --- idempotency ------------------------------------------------------------------------------


def test_the_same_message_twice_makes_one_reply(db, world: World):
    ticket = world.own.ticket
    raw = message(world.own.liaison.email, in_reply_to=sent_about(db, ticket))
    first, second = receive(db, raw), receive(db, raw)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.ticket_number == ticket.number
    assert len(replies(db, ticket)) == 1
    assert len(db.exec(select(InboundMail)).all()) == 1


def test_a_message_without_message_id_is_keyed_by_its_bytes(db, world: World):
    raw = message(world.own.liaison.email, subject=f"Re: [{world.own.ticket.number}] x")
    raw = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"Message-ID"))
    receive(db, raw)
    assert receive(db, raw).duplicate
    assert record(db, raw).message_key.startswith("sha256:")
    assert len(replies(db, world.own.ticket)) == 1


def test_a_refused_message_twice_is_recorded_once(db, world: World):
    raw = message("nobody@elsewhere.example.com")
    receive(db, raw)
    assert receive(db, raw).duplicate
    assert len(db.exec(select(InboundMail)).all()) == 1


# --- text: quoted history, signatures, HTML ---------------------------------------------------


QUOTED = """Thanks, the holds work again.

We will watch it for a day.

On Tue, Dec 1, 2026 at 9:14 AM Liaison Portal <portal@liaison-portal.invalid>
wrote:
> Ticket 2026-00001 was updated.
> Open it: http://127.0.0.1:8000/tickets/2026-00001
"""


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (QUOTED, "Thanks, the holds work again.\n\nWe will watch it for a day."),
        ("Fixed now.\n\n-- \nPat Person\nCirculation, Own College\n", "Fixed now."),
        ("Yes.\n\nOn Mon, 30 Nov 2026, Sam wrote:\n> old text\n", "Yes."),
        (
            "Done.\n\n-----Original Message-----\nFrom: Portal\nSent: Monday\nSubject: x\n",
            "Done.",
        ),
        (
            "See below.\n________________________________\nFrom: Portal <p@x>\nSent: Monday\n",
            "See below.",
        ),
        ("Works.\n\nFrom: Liaison Portal <p@x>\nDate: Mon, 30 Nov 2026\nTo: me\n", "Works."),
        ("> quoted first\nMy answer\n> more quoted\nAnd more", "My answer\nAnd more"),
        ("Ok thanks\n\nSent from my iPhone", "Ok thanks"),
    ],
)
def test_quoted_history_and_signatures_are_trimmed(text, kept):
    assert trim(text) == kept


def test_a_trimmed_reply_is_what_the_ticket_gets(db, world: World):
    ticket = world.own.ticket
    raw = message(world.own.liaison.email, body=QUOTED, in_reply_to=sent_about(db, ticket))
    receive(db, raw)
    [comment] = replies(db, ticket)
    assert comment.body == "Thanks, the holds work again.\n\nWe will watch it for a day."


def test_an_html_only_reply_keeps_no_markup(db, world: World):
    ticket = world.own.ticket
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>It works <b>again</b> &amp; thanks!</p><p><a href='javascript:x'>link</a></p>"
        "<blockquote>On Monday the portal wrote: old text</blockquote></body></html>"
    )
    raw = message(world.own.liaison.email, body=None, html=html, in_reply_to=sent_about(db, ticket))
    receive(db, raw)
    [comment] = replies(db, ticket)
    assert comment.body == "It works again & thanks!\n\nlink"


def test_html_to_text_drops_every_tag():
    assert html_to_text("<div>a<br>b<img src=x onerror=alert(1)></div><svg><p>c</p></svg>") == (
        "a\nb\n\nc"
    )


def test_a_reply_that_is_only_quoted_text_is_refused(db, world: World):
    ticket = world.own.ticket
    body = "On Tue, Dec 1, 2026, Portal wrote:\n> everything quoted\n"
    raw = message(world.own.liaison.email, body=body, in_reply_to=sent_about(db, ticket))
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.rejected
    assert "no text of its own" in outcome.reason
    assert replies(db, ticket) == []


# --- attachments ------------------------------------------------------------------------------


def test_attachments_pass_the_upload_checks(db, world: World, tmp_path, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "ticket_attachment_dir", tmp_path)
    monkeypatch.setattr(get_settings(), "ticket_attachment_max_bytes", 1024)
    ticket = world.own.ticket
    files = [
        ("screenshot.pdf", PDF, "application/pdf"),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "application/octet-stream"),
        ("huge.txt", b"x" * 2048, "text/plain"),
    ]
    raw = message(world.own.liaison.email, files=files, in_reply_to=sent_about(db, ticket))
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.replied
    stored = db.exec(select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id)).all()
    assert [(a.filename, a.content_type) for a in stored] == [("screenshot.pdf", "application/pdf")]
    assert "1 file attached" in outcome.reason
    assert "setup.exe.txt was not attached: Only PDF, PNG, JPEG, GIF" in outcome.reason
    assert "huge.txt was not attached: The file is larger than 1 KB" in outcome.reason
    [comment] = replies(db, ticket)
    assert "(setup.exe.txt was not attached: Only PDF" in comment.body  # staff see it too


# --- patron data ------------------------------------------------------------------------------


def test_patron_data_in_a_reply_marks_the_ticket_and_is_recorded(db, world: World):
    ticket = world.own.ticket
    body = "The patron with barcode 21234001234567 (jane.doe@gmail.com) still cannot log in."
    raw = message(world.own.liaison.email, body=body, in_reply_to=sent_about(db, ticket))
    outcome = receive(db, raw)
    assert outcome.outcome == InboundOutcome.replied
    db.refresh(ticket)
    assert ticket.contains_patron_data is True
    row = record(db, raw)
    assert row.patron_data is True
    assert "looked like it held patron data" in row.reason
    assert "21234001234567" not in row.reason  # the record never repeats it


def test_a_report_with_patron_data_is_filed_as_holding_it(db, make: Factory, world: World):
    make.liaison(world.own.code, roles=("systems",), email="sys2@own.example.edu")
    make.user(Role.library_staff, world.own.code, email="sys2@own.example.edu")
    raw = message("sys2@own.example.edu", subject="Fine not waived", body="Patron 21234001234567.")
    outcome = receive(db, raw)
    ticket = db.exec(select(Ticket).where(Ticket.number == outcome.ticket_number)).one()
    assert ticket.contains_patron_data is True


def test_a_plain_reply_does_not_mark_the_ticket(db, world: World):
    ticket = world.own.ticket
    receive(db, message(world.own.liaison.email, in_reply_to=sent_about(db, ticket)))
    db.refresh(ticket)
    assert ticket.contains_patron_data is False


# --- the page ---------------------------------------------------------------------------------


def test_staff_read_refused_mail_in_plain_words(client, db, world: World, make: Factory):
    receive(db, message("someone@elsewhere.example.com", subject="Catalogue <b>help</b>"))
    page = client.get("/inbound-mail", headers=make.headers(world.staff))
    assert page.status_code == 200
    assert "someone@elsewhere.example.com" in page.text
    assert "Catalogue &lt;b&gt;help&lt;/b&gt;" in page.text
    assert "is not a portal user or a contact in the member directory" in page.text
    assert "rejected" not in page.text  # words, never the code


@pytest.mark.parametrize("role", [Role.library_staff, Role.liaison, Role.director])
def test_library_users_may_not_read_the_mail_list(client, world: World, make: Factory, role):
    page = client.get("/inbound-mail", headers=make.headers(world.user(role)))
    assert page.status_code == 403


def test_the_mail_list_needs_a_sign_in(client):
    assert client.get("/inbound-mail", headers={"Accept": "application/json"}).status_code == 401


def test_accepted_mail_is_listed_under_its_own_filter(client, db, world: World, make: Factory):
    ticket = world.own.ticket
    receive(db, message(world.own.liaison.email, in_reply_to=sent_about(db, ticket)))
    receive(db, message("someone@elsewhere.example.com"))
    headers = make.headers(world.staff)
    accepted = client.get("/inbound-mail?show=accepted", headers=headers).text
    assert ticket.number in accepted and "someone@elsewhere" not in accepted
    refused = client.get("/inbound-mail", headers=headers).text
    assert "someone@elsewhere" in refused and f">{ticket.number}<" not in refused


def test_no_user_is_created_by_mail(db, world: World):
    before = len(db.exec(select(User)).all())
    receive(db, message("new.person@elsewhere.example.com"))
    assert len(db.exec(select(User)).all()) == before


def test_ticket_e_mail_names_the_inbound_address_as_reply_to(db, make: Factory, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "mail_in_address", "help@portal.example.org")
    ticket = make.ticket()
    message_row = db.exec(
        select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(f"ticket:{ticket.id}:"))
    ).first()
    assert message_row.reply_to == "help@portal.example.org"


def test_a_message_the_parser_gives_up_on_is_refused_not_retried(db, monkeypatch):
    from app.services.mail_in import reading

    def broken(raw: bytes):
        raise ValueError("malformed MIME structure")

    monkeypatch.setattr(mail_in, "parse", broken)
    raw = b"From: x@y.example\r\nContent-Type: multipart/mixed\r\n\r\n--"
    outcome = receive(db, raw)
    assert (outcome.outcome, outcome.reason) == (
        InboundOutcome.rejected,
        "It could not be read as an e-mail.",
    )
    assert receive(db, raw).duplicate  # recorded: the MTA is not asked to try again
    assert reading.unreadable(raw).key.startswith("sha256:")


def test_a_delivery_racing_another_one_yields_to_the_unique_key(db, world: World, monkeypatch):
    """Two deliveries of one message at once both pass the early "seen before?" check; the
    second's record then meets the first's on the unique key and nothing more is written."""
    ticket = world.own.ticket
    raw = message(world.own.liaison.email, in_reply_to=sent_about(db, ticket))
    db.add(
        InboundMail(
            message_key=parse(raw).key,
            sender=world.own.liaison.email,
            subject="Re: your report",
            outcome=InboundOutcome.replied,
            reason="Being handled.",
        )
    )
    db.commit()  # the other delivery's record
    real_seen, calls = mail_in._seen, []

    def seen(session: Session, key: str) -> bool:
        calls.append(key)
        return len(calls) > 1 and real_seen(session, key)  # the first check: not yet

    monkeypatch.setattr(mail_in, "_seen", seen)
    outcome = receive(db, raw)
    assert outcome.duplicate
    assert len(calls) == 2  # the early check, then the one after the unique key refused
    assert replies(db, ticket) == []
    assert len(db.exec(select(InboundMail)).all()) == 1
