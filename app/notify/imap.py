"""Polling the inbound mailbox (`PORTAL_IMAP_URL`) for reply and file by e-mail (issue 15).

`imaps://user:pass@host[:993]/INBOX` (implicit TLS) or `imap://user:pass@host[:143]/INBOX`
(plain, for a local server); credentials are URL-encoded. Each unread message is fetched
without marking it read (`BODY.PEEK[]`), handled by `app.services.mail_in`, and marked `\\Seen`
only once its outcome is recorded: a poll cut short leaves the rest unread for the next one,
and a message handled but not yet marked is recognised by its key and not handled twice.

The poll is a scheduled job (every `PORTAL_IMAP_POLL_SECONDS`) when the URL is set.
"""

import contextlib
import imaplib
import logging
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Self
from urllib.parse import unquote, urlsplit

from sqlmodel import Session

from app.core.config import get_settings
from app.notify.jobs import register_job
from app.services import mail_in

log = logging.getLogger(__name__)


@dataclass
class ImapConfig:
    host: str
    port: int
    tls: bool
    username: str
    password: str
    mailbox: str

    @classmethod
    def from_url(cls, url: str) -> Self:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise ValueError("PORTAL_IMAP_URL must look like imaps://user:password@host/INBOX")
        tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if tls else 143),
            tls=tls,
            username=unquote(parts.username),
            password=unquote(parts.password or ""),
            mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
        )


def poll(*, session: Session, url: str, timeout: float = 60) -> list[mail_in.Outcome]:
    """Handles every unread message in the mailbox; returns what became of each."""
    config = ImapConfig.from_url(url)
    if config.tls:
        context = ssl.create_default_context()
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            config.host, config.port, ssl_context=context, timeout=timeout
        )
    else:
        imap = imaplib.IMAP4(config.host, config.port, timeout=timeout)
    outcomes = []
    try:
        imap.login(config.username, config.password)
        _ok(imap.select(_quoted(config.mailbox)), "select the mailbox")
        found = _ok(imap.uid("SEARCH", "UNSEEN"), "search for unread mail")
        for uid in (found[0] or b"").split():
            fetched = _ok(imap.uid("FETCH", uid, "(BODY.PEEK[])"), "fetch a message")
            raw = next((p[1] for p in fetched if isinstance(p, tuple)), None)
            if raw is None:
                continue
            outcomes.append(mail_in.receive(session=session, raw=raw))
            _ok(imap.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "mark a message read")
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()
    return outcomes


def _ok(answer: tuple[str, list], doing: str) -> list:
    status, data = answer
    if status != "OK":
        raise imaplib.IMAP4.error(f"the mail server would not {doing}: {data!r}")
    return data


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _poll_job(session: Session, period: datetime) -> None:
    session.commit()  # keep the claim; hold no write lock while the mail server answers
    url = get_settings().imap_url
    if url is not None:
        outcomes = poll(session=session, url=url.get_secret_value())
        if outcomes:
            log.info("inbound mail polled", extra={"messages": len(outcomes)})


if get_settings().imap_url is not None and get_settings().imap_url.get_secret_value():
    register_job(
        "inbound-mail-poll",
        every=timedelta(seconds=get_settings().imap_poll_seconds),
        fn=_poll_job,
    )
