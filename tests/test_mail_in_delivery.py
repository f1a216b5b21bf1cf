"""How mail reaches the portal (issue 15): `portal mail-in` reading a message on standard input
(run as the MTA runs it, in a process of its own) and the IMAP poller against a real IMAP
server on 127.0.0.1 (a small IMAP4rev1 responder: LOGIN, SELECT, UID SEARCH/FETCH/STORE)."""

import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from app.core import migrations
from app.models.inbound_mail import InboundMail, InboundOutcome
from app.models.institution import Institution
from app.models.ticket import TicketComment, TicketCreate
from app.models.user import Role, User
from app.notify import imap
from app.services import mail_in, tickets
from tests.factories import World
from tests.test_mail_in import message, replies, sent_about

# --- portal mail-in ---------------------------------------------------------------------------


def mail_in_cli(raw: bytes, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTAL_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "mail-in"],
        input=raw,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def portal_db(tmp_path_factory) -> Iterator[tuple[str, str, str, str]]:
    """A database of its own (the command commits): a library, its liaison and a ticket; gives
    the URL, the liaison's address, the Message-ID of the ticket's filing notice and its
    number."""
    url = f"sqlite:///{tmp_path_factory.mktemp('mail-in') / 'portal.db'}"
    migrations.upgrade(url)
    engine = create_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        session.add(Institution(code="MLI", name="Mail College", alma_code="01CARLI_MLI"))
        user = User(
            email="liaison@mail.example.edu",
            name="Lee Liaison",
            role=Role.liaison,
            institution="MLI",
            password_hash="x",
        )
        session.add(user)
        session.commit()
        data = TicketCreate(
            subject="Holds do not trap", description="Nothing traps.", category="fulfillment"
        )
        ticket = tickets.create_ticket(session=session, actor=user, data=data)
        ours = sent_about(session, ticket)
    engine.dispose()
    yield url, user.email, ours, ticket.number


def count(url: str, model) -> int:
    engine = create_engine(url)
    with Session(engine) as session:
        n = len(session.exec(select(model)).all())
    engine.dispose()
    return n


def test_mail_in_reads_stdin_and_says_what_it_did(portal_db):
    url, sender, ours, number = portal_db
    raw = message(sender, body="Trapping works again, thanks.", in_reply_to=ours)
    first = mail_in_cli(raw, url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.decode().strip() == (
        f"Accepted: Added as a reply to ticket {number} by Lee Liaison."
    )
    again = mail_in_cli(raw, url)
    assert again.returncode == 0
    assert again.stdout.decode().startswith("Already received")
    assert count(url, TicketComment) == 1


def test_mail_in_refuses_an_unknown_sender_with_exit_0(portal_db):
    url, *_ = portal_db
    result = mail_in_cli(message("stranger@elsewhere.example.com"), url)
    assert result.returncode == 0  # handled: the MTA must not retry or bounce it
    assert result.stdout.decode().startswith("Refused: stranger@elsewhere.example.com is not")


def test_mail_in_asks_the_mta_to_retry_when_the_database_is_down():
    raw = message("liaison@mail.example.edu")
    result = mail_in_cli(raw, "postgresql+psycopg://postgres@127.0.0.1:9/none")
    assert result.returncode == 75  # EX_TEMPFAIL
    assert result.stderr.decode().startswith("Not processed, try again later")


# --- the IMAP poller --------------------------------------------------------------------------


@dataclass
class Mailbox:
    user: str = "portal"
    password: str = "s3cret pass"
    messages: list[dict] = field(default_factory=list)  # {"uid", "raw", "seen"}

    def add(self, raw: bytes) -> None:
        self.messages.append({"uid": len(self.messages) + 1, "raw": raw, "seen": False})

    def unseen(self) -> list[int]:
        return [m["uid"] for m in self.messages if not m["seen"]]


class ImapHandler(socketserver.StreamRequestHandler):
    """Just enough IMAP4rev1 (RFC 3501) for the poller, one command per line."""

    mailbox: Mailbox

    def send(self, line: str | bytes) -> None:
        self.wfile.write((line.encode() if isinstance(line, str) else line) + b"\r\n")

    def handle(self) -> None:
        box = self.server.mailbox  # type: ignore[attr-defined]
        self.send("* OK IMAP4rev1 test server ready")
        authed = False
        while line := self.rfile.readline():
            tag, command, *rest = line.decode().rstrip("\r\n").split(" ", 2)
            args = rest[0] if rest else ""
            command = command.upper()
            if command == "UID":
                command, _, args = args.partition(" ")
                command = f"UID {command.upper()}"
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            elif command == "LOGIN":
                user, password = [p.strip('"').replace('\\"', '"') for p in args.split(" ", 1)]
                if (user, password) != (box.user, box.password):
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
                    continue
                authed = True
            elif command == "LOGOUT":
                self.send("* BYE logging out")
                self.send(f"{tag} OK LOGOUT completed")
                return
            elif not authed:
                self.send(f"{tag} BAD not authenticated")
                continue
            elif command == "SELECT":
                self.send(f"* {len(box.messages)} EXISTS")
                self.send(f"{tag} OK [READ-WRITE] SELECT completed")
                continue
            elif command == "UID SEARCH":
                self.send("* SEARCH " + " ".join(map(str, box.unseen())))
            elif command == "UID FETCH":
                uid = int(args.split(" ", 1)[0])
                found = next(m for m in box.messages if m["uid"] == uid)
                raw = found["raw"]
                self.send(
                    f"* {uid} FETCH (UID {uid} BODY[] {{{len(raw)}}}".encode()
                    + b"\r\n"
                    + raw
                    + b")"
                )
            elif command == "UID STORE":
                uid = int(args.split(" ", 1)[0])
                next(m for m in box.messages if m["uid"] == uid)["seen"] = True
                self.send(f"* {uid} FETCH (UID {uid} FLAGS (\\Seen))")
            else:
                self.send(f"{tag} BAD unknown command")
                continue
            self.send(f"{tag} OK {command} completed")


@pytest.fixture
def imap_server() -> Iterator[tuple[Mailbox, str]]:
    box = Mailbox()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), ImapHandler)
    server.daemon_threads = True
    server.mailbox = box  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield box, f"imap://{box.user}:s3cret%20pass@127.0.0.1:{port}/INBOX"
    server.shutdown()
    server.server_close()


def test_the_poller_handles_unread_mail_and_marks_it_read(db, world: World, imap_server):
    box, url = imap_server
    ticket = world.own.ticket
    box.add(message(world.own.liaison.email, in_reply_to=sent_about(db, ticket)))
    box.add(message("stranger@elsewhere.example.com"))
    box.add(message(world.own.director.email, headers={"Auto-Submitted": "auto-replied"}))
    outcomes = imap.poll(session=db, url=url)
    assert [o.outcome for o in outcomes] == [
        InboundOutcome.replied,
        InboundOutcome.rejected,
        InboundOutcome.ignored,
    ]
    assert box.unseen() == []
    assert [c.author for c in replies(db, ticket)] == [world.own.liaison.id]
    assert imap.poll(session=db, url=url) == []  # nothing unread: nothing fetched


def test_a_message_handled_but_not_marked_read_is_not_handled_twice(db, world: World, imap_server):
    box, url = imap_server
    raw = message(world.own.liaison.email, in_reply_to=sent_about(db, world.own.ticket))
    box.add(raw)
    mail_in.receive(session=db, raw=raw)  # as if the last poll stopped before marking it
    [outcome] = imap.poll(session=db, url=url)
    assert outcome.duplicate
    assert box.unseen() == []
    assert len(replies(db, world.own.ticket)) == 1


def test_a_message_that_could_not_be_handled_stays_unread(
    db, world: World, imap_server, monkeypatch
):
    box, url = imap_server
    box.add(message(world.own.liaison.email))

    def down(**_):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(mail_in, "receive", down)
    with pytest.raises(ConnectionError):
        imap.poll(session=db, url=url)
    assert box.unseen() == [1]
    assert db.exec(select(InboundMail)).all() == []


def test_a_wrong_password_is_an_error(db, imap_server):
    _, url = imap_server
    with pytest.raises(imap.imaplib.IMAP4.error):
        imap.poll(session=db, url=url.replace("s3cret%20pass", "wrong"))


def test_the_imap_url_is_read_as_documented():
    config = imap.ImapConfig.from_url("imaps://help%40x.edu:p%2Fw@mail.x.edu/Support%20Inbox")
    assert (config.host, config.port, config.tls, config.username, config.password) == (
        "mail.x.edu",
        993,
        True,
        "help@x.edu",
        "p/w",
    )
    assert config.mailbox == "Support Inbox"
    with pytest.raises(ValueError, match="imaps://user:password@host/INBOX"):
        imap.ImapConfig.from_url("https://mail.x.edu/")
