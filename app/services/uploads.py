"""Checks every uploaded file passes, wherever it is attached (tickets, duty tasks).

The type is read from the content (magic bytes), never from the name or the client's claim;
a stored name cannot pose as a path, reverse itself or open as a page or script; files live on
disk under a random key, so nothing a person typed ever becomes a path.
"""

import unicodedata
import uuid
from pathlib import Path
from typing import BinaryIO

from app.core.errors import FieldError, Invalid

SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]
ACCEPTED = "PDF, PNG, JPEG, GIF and plain-text files"


def sniff(content: bytes) -> str | None:
    """The media type the bytes are, or None for a type we do not accept."""
    for magic, media_type in SIGNATURES:
        if content.startswith(magic):
            return media_type
    head = content[:8192]
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the edge is still text
            return None
    return "text/plain"


# Names a browser or the desktop would open as a page, a script or a program.
ACTIVE = {
    *("html", "htm", "xhtml", "shtml", "mht", "mhtml", "svg", "svgz", "xml", "xsl", "xslt"),
    *("hta", "js", "mjs", "jse", "vbs", "vbe", "wsf", "wsh", "ps1", "bat", "cmd", "com"),
    *("exe", "scr", "pif", "msi", "jar", "lnk", "reg", "url", "swf", "php", "asp", "aspx"),
}


def safe_filename(name: str) -> str:
    """A readable name that is only a name: the last part of any path (either slash), no
    control, format or bidirectional characters (U+202E turns `gnp.html` into `lmth.png`), no
    leading dots, and `.txt` after an extension that would run or render."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c for c in name if unicodedata.category(c)[0] not in "CZ" or c == " ")
    name = " ".join(name.split()).lstrip(". ")
    if not name.strip("."):
        return "attachment"
    stem, dot, extension = name.rpartition(".")
    if not (dot and stem and len(extension) <= 16):
        stem, extension = name, ""
    if len(name) > 190:  # room for the `.txt` below within the column's 200
        name = stem[: 189 - len(extension)].rstrip() + (f".{extension}" if extension else "")
    if extension.lower() in ACTIVE:
        name = f"{name}.txt"
    return name


def human_size(size: int) -> str:
    """`10 MB`, `512 KB`: a limit as people say it."""
    if size >= 2**20:
        return f"{size / 2**20:.0f} MB"
    return f"{max(size // 2**10, 1)} KB"


def read_checked(stream: BinaryIO, limit: int) -> tuple[bytes, str]:
    """The file's bytes and sniffed type, or a plain-words error on the `file` field. Reads at
    most one byte more than the limit, so an oversized upload is refused unread."""
    content = stream.read(limit + 1)
    if len(content) > limit:
        raise Invalid(
            f"The file is larger than {human_size(limit)}.",
            [FieldError("file", f"is larger than {human_size(limit)}")],
        )
    if not content:
        raise Invalid("The file is empty.", [FieldError("file", "is empty")])
    media_type = sniff(content)
    if media_type is None:
        raise Invalid(
            f"Only {ACCEPTED} can be attached.",
            [FieldError("file", f"is not a file we accept ({ACCEPTED} only)")],
        )
    return content, media_type


def store(folder: Path, content: bytes) -> str:
    """Writes the bytes under a new random key in `folder`; returns the key."""
    key = uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    (folder / key).write_bytes(content)
    return key
