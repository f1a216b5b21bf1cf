"""Reading an inbound message: who sent it, what it answers, whether a machine sent it, its new
text (quoted history and signature trimmed, HTML turned into plain text) and its files.

Parsed with the standard library's `email` package (`policy.default`); nothing here touches the
database.
"""

import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser

MSG_ID = re.compile(r"<[^<>\s]{1,250}>")
TICKET_TAG = re.compile(r"\[(\d{4}-\d{5})\]")
# RFC 3834 and what common auto-responders send instead.
BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")


@dataclass
class File:
    filename: str
    content: bytes


@dataclass
class Inbound:
    key: str  # the Message-ID, or a hash of the raw bytes
    message_id: str | None
    sender: str  # the From address, lower-cased ("" when there is none)
    subject: str
    references: list[str]  # In-Reply-To first, then References from the newest
    automatic: str | None  # why a machine sent it, in words; None for a person's mail
    text: str
    files: list[File] = field(default_factory=list)
    unreadable: bool = False

    @property
    def ticket_tag(self) -> str | None:
        found = TICKET_TAG.search(self.subject)
        return found.group(1) if found else None


def parse(raw: bytes) -> Inbound:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    message_id = _first_id(_header(message, "Message-ID"))
    key = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    references = _ids(_header(message, "In-Reply-To")) + _ids(_header(message, "References"))[::-1]
    return Inbound(
        key=key,
        message_id=message_id,
        sender=_sender(message),
        subject=" ".join(_header(message, "Subject").split())[:300],
        references=list(dict.fromkeys(references)),
        automatic=_automatic(message),
        text=trim(_body_text(message)),
        files=_files(message),
    )


def unreadable(raw: bytes) -> Inbound:
    """What is known of a message the parser gave up on: only its bytes' hash."""
    key = "sha256:" + hashlib.sha256(raw).hexdigest()
    return Inbound(key, None, "", "", [], None, "", unreadable=True)


def _header(message: EmailMessage, name: str) -> str:
    """A header's value as text; a header too broken to parse counts as absent."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):
        return ""
    return str(value) if value is not None else ""


def _ids(value: str) -> list[str]:
    return MSG_ID.findall(value)


def _first_id(value: str) -> str | None:
    found = _ids(value)
    return found[0] if found else None


def _sender(message: EmailMessage) -> str:
    address = parseaddr(_header(message, "From"))[1].strip().lower()
    return address if "@" in address else ""


def _automatic(message: EmailMessage) -> str | None:
    """Why the message looks machine-sent (so answering or filing it would start a loop)."""
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"it is an automatic message (Auto-Submitted: {auto[:40]})"
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"it is bulk or list mail (Precedence: {precedence})"
    for name in AUTO_HEADERS:
        if _header(message, name):
            return "it is an automatic reply"
    if message.get_content_type() == "multipart/report":
        return "it is a delivery report (a bounce)"
    if _header(message, "Return-Path").strip() == "<>":
        return "it was sent by a mail system, not a person (empty return path)"
    return None


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_type() == "text/html" else content


def _files(message: EmailMessage) -> list[File]:
    files = []
    for part in message.iter_attachments():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            files.append(File(part.get_filename() or "attachment", payload))
    return files


# --- HTML to text -----------------------------------------------------------------------------

SKIPPED = {"script", "style", "head", "title", "blockquote", "template", "noscript"}
BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "table"}
VOID = {"br", "hr", "img", "meta", "link", "input", "wbr", "area", "base", "col", "source"}


class _Text(HTMLParser):
    """Keeps the text only: no markup survives, scripts and styles are dropped unread, and a
    `<blockquote>` (how mail programs quote the message answered) is quoted history."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in SKIPPED and tag not in VOID:
            self.skipping += 1
        elif tag in BLOCKS and not self.skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in BLOCKS and not self.skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(content: str) -> str:
    parser = _Text()
    parser.feed(content)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- trimming ---------------------------------------------------------------------------------

# Where the quoted history or the signature starts: everything from that line on goes.
ATTRIBUTION = re.compile(
    r"^(on|le|am|el|op)\s.{1,300}(wrote|a écrit|schrieb|escribió|schreef)\s?:\s*$", re.I
)
CUT = [
    re.compile(r"^--\s?$"),  # RFC 3676's signature delimiter ("-- ")
    re.compile(r"^-{2,}\s*(original message|forwarded message)\s*-{2,}", re.I),
    re.compile(r"^_{20,}\s*$"),  # Outlook's rule above its "From: … Sent: …" block
    re.compile(r"^sent from my \w+", re.I),
    re.compile(r"^get outlook for \w+", re.I),
]
HEADER_BLOCK = re.compile(r"^\*?(from|von|de)\s?:\*?\s", re.I)
HEADER_NEXT = re.compile(r"^\*?(sent|date|to|gesendet|envoyé|subject)\s?:\*?\s", re.I)


def trim(text: str) -> str:
    """The new part of a reply: up to the first attribution line ("On … wrote:", also split over
    two lines), Outlook header block, "Original Message" rule or signature delimiter, without
    quoted (`>`) lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        bare = line.strip()
        joined = f"{bare} {lines[i + 1].strip()}" if i + 1 < len(lines) else bare
        if any(p.match(line.rstrip("\n")) or p.match(bare) for p in CUT):
            break
        if ATTRIBUTION.match(bare) or (
            bare.lower().startswith(("on ", "le ", "am ")) and ATTRIBUTION.match(joined)
        ):
            break
        following = lines[i + 1 : i + 4]
        if HEADER_BLOCK.match(bare) and any(HEADER_NEXT.match(n.strip()) for n in following):
            break
        if bare.startswith(">"):
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
