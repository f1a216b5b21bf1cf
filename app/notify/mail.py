"""Rendering an outbox row into an e-mail, and sending it over SMTP.

`PORTAL_SMTP_URL`: `smtp://[user:pass@]host[:port][?starttls=1]` (plain or STARTTLS, port 25 or
587) or `smtps://[user:pass@]host[:port]` (implicit TLS, port 465); `?timeout=` overrides
`PORTAL_SMTP_TIMEOUT_SECONDS`. Credentials are URL-encoded.
"""

import smtplib
import ssl
import time
from dataclasses import dataclass
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, nodes
from jinja2.runtime import Context

from app.core.config import get_settings
from app.models import labels
from app.models.outbox import OutboxMessage

TEMPLATES_DIR = Path(__file__).parent / "templates"
BLOCKS = ("subject", "text", "html")
# Templates that were renamed, with what the new one needs beside the old context. Messages
# queued before a deploy still name the old templates; they render with the new ones.
RENAMED: dict[str, tuple[str, dict]] = {
    **{
        f"maintenance/{kind}": ("maintenance/window", {"kind": kind})
        for kind in ("announced", "reminder", "changed", "started", "ended", "cancelled")
    },
    "maintenance/incident": ("incidents/update", {}),
}


class PermanentError(Exception):
    """Retrying cannot help (an invalid address, a message the server refuses outright)."""


class RenderError(Exception):
    """The template is missing, broken, or lacks a variable."""


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=autoescape,  # noqa: S701  (False only for the plain text and subject)
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The same display names as the pages: an e-mail never shows a code.
    env.filters.update(label=labels.label, labels=labels.labels, filesize=labels.filesize)
    return env


# The HTML block is escaped; the subject and the plain text are not (they are not HTML).
_html_env = _environment(autoescape=True)
_text_env = _environment(autoescape=False)


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


def render(template: str, context: dict) -> Rendered:
    settings = get_settings()
    template, added = RENAMED.get(template, (template, {}))
    values = {"consortium_name": settings.consortium_name, "portal_url": settings.portal_url}
    values.update(context)
    values.update(added)
    parts = {}
    try:
        for block in BLOCKS:
            env = _html_env if block == "html" else _text_env
            context = _context_with_parents(env, f"{template}.html", values)
            if block not in context.blocks:
                raise RenderError(f"template {template!r} has no {{% block {block} %}}")
            parts[block] = "".join(context.blocks[block][0](context)).strip()
    except TemplateError as exc:
        raise RenderError(f"template {template!r}: {type(exc).__name__}: {exc}") from exc
    subject = " ".join(parts["subject"].split())  # one line, whatever the template's layout
    return Rendered(subject=subject, text=parts["text"] + "\n", html=parts["html"] + "\n")


def _context_with_parents(env: Environment, name: str, values: dict) -> Context:
    """A render context holding the blocks of the template and of those it extends.

    Jinja only learns a template's parent while rendering it whole; one block rendered alone
    needs the chain up front (as `{% extends %}` would have set it up).
    """
    template = env.get_template(name)
    context = template.new_context(values)
    for parent in _parents(env, name):
        for block, render_fn in env.get_template(parent).blocks.items():
            context.blocks.setdefault(block, []).append(render_fn)
    return context


@lru_cache
def _parents(env: Environment, name: str) -> tuple[str, ...]:
    source = env.loader.get_source(env, name)[0]
    extends = next(env.parse(source).find_all(nodes.Extends), None)
    if extends is None:
        return ()
    if not isinstance(extends.template, nodes.Const):
        raise RenderError(f"{name}: e-mail templates extend a fixed layout name")
    return (extends.template.value, *_parents(env, extends.template.value))


def build(message: OutboxMessage, rendered: Rendered) -> Message:
    """A multipart/alternative (text + HTML) message, mixed when there are attachments.

    Built with the `email.mime` classes (the compat32 policy), not `EmailMessage`: the modern
    policy parses and folds every header through its header registry, which cost about 2 ms of
    CPU per message, most of a worker's time. Non-ASCII headers are encoded explicitly here.
    """
    settings = get_settings()
    for address in message.recipients:
        _check_address(address)
    body = MIMEMultipart("alternative", policy=_POLICY)
    body.attach(_text(rendered.text, "plain"))
    body.attach(_text(rendered.html, "html"))
    email = body
    if message.attachments:
        email = MIMEMultipart("mixed", policy=_POLICY)
        email.attach(body)
        for attachment in message.attachments:
            email.attach(_attachment(attachment))
    email["Subject"] = _header(rendered.subject)
    email["From"] = _address(settings.mail_from)
    email["To"] = ", ".join(message.recipients)
    if message.reply_to:
        email["Reply-To"] = _address(message.reply_to)
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies, please
    if message.list_id:
        email["List-Id"] = _header(message.list_id)  # RFC 2919
    if message.unsubscribe_url:
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    return email


# Long headers (an unsubscribe URL) stay on one line rather than being folded at 78
# characters before their value, which would leave receivers a value with a leading space.
_POLICY = compat32.clone(max_line_length=998)
_QP = Charset("utf-8")
_QP.body_encoding = QP  # readable in the raw message, and safe for long HTML lines


def _text(content: str, subtype: str, params: dict | None = None) -> MIMEText:
    plain = content.isascii() and all(len(line) < 990 for line in content.splitlines())
    part = MIMEText(content, subtype, "us-ascii" if plain else _QP, policy=_POLICY)
    for name, value in (params or {}).items():
        part.set_param(name, value)
    return part


def _attachment(attachment: dict) -> Message:
    media, *params = (p.strip() for p in attachment["content_type"].split(";"))
    maintype, _, subtype = media.partition("/")
    if maintype == "text":
        extra = dict(p.split("=", 1) for p in params if "=" in p)
        part: Message = _text(attachment["content"], subtype, extra)
    else:
        part = MIMEBase(maintype, subtype, policy=_POLICY)
        part.set_payload(attachment["content"].encode())
        encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=attachment["filename"])
    return part


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _address(value: str) -> str:
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8") if name else address


def _check_address(address: str) -> None:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise PermanentError(f"invalid recipient {address!r}: {exc}") from exc


@dataclass
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    timeout: float

    @classmethod
    def from_url(cls, url: str, timeout: float) -> Self:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("PORTAL_SMTP_URL must look like smtp://host:587 or smtps://host:465")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            starttls=not implicit and query.get("starttls", "0").lower() in ("1", "true", "yes"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=float(query.get("timeout", timeout)),
        )


class SmtpSender:
    """One SMTP connection, opened on first use and reused for message after message until
    `close()`. After a pause it is checked (NOOP) before use: servers hang up on idle clients,
    and a send must not fail for that."""

    IDLE_CHECK_SECONDS = 10.0

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None
        self._used = 0.0  # time.monotonic() of the last exchange

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        context = ssl.create_default_context()
        if c.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                c.host, c.port, timeout=c.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            if c.starttls:
                smtp.starttls(context=context)
        if c.username:
            smtp.login(c.username, c.password or "")
        return smtp

    def send(self, email: Message, recipients: list[str]) -> dict:
        """Sends; returns the recipients the server refused (when it accepted the others)."""
        if self._smtp is not None and time.monotonic() - self._used > self.IDLE_CHECK_SECONDS:
            try:
                self._smtp.noop()
            except (OSError, smtplib.SMTPException):
                self.close()
        if self._smtp is None:
            self._smtp = self._connect()
        sender = getaddresses([email["From"]])[0][1]
        try:
            refused = self._smtp.send_message(email, from_addr=sender, to_addrs=recipients)
            self._used = time.monotonic()
            return refused
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise PermanentError(f"refused by the server: {exc}") from exc
        except smtplib.SMTPDataError as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(f"refused by the server: {exc}") from exc
            raise
        except (OSError, smtplib.SMTPException):
            self.close()  # the connection may be half-dead: start afresh next time
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def sender_from_settings() -> SmtpSender | None:
    """None when no SMTP server is configured (unset or empty): mail is only kept ("sent mail")."""
    settings = get_settings()
    url = settings.smtp_url.get_secret_value() if settings.smtp_url else ""
    if not url:
        return None
    return SmtpSender(SmtpConfig.from_url(url, settings.smtp_timeout_seconds))
