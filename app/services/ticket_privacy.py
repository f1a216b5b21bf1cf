"""Patron data: what looks like it (so the writer is warned before sending) and redaction.

Illinois' Library Records Confidentiality Act makes patron records confidential; reports about
circulation problems often paste them anyway. The checks are heuristics that warn, never block.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.config import get_settings
from app.models.user import User

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str


@lru_cache
def _patterns(patterns: tuple[str, ...]) -> list[re.Pattern]:
    return [re.compile(p) for p in patterns]


def find_patron_data(*, session: Session, texts: list[str | None]) -> list[Finding]:
    """E-mail addresses that are not a portal user's, and barcode- or ID-like runs."""
    text = "\n".join(t for t in texts if t)
    findings: list[Finding] = []
    emails = {m.group(0) for m in EMAIL.finditer(text)}
    if emails:
        known = set(
            session.exec(
                select(func.lower(User.email)).where(
                    func.lower(User.email).in_([e.lower() for e in emails])
                )
            ).all()
        )
        findings += [Finding("e-mail address", e) for e in sorted(emails) if e.lower() not in known]
    for pattern in _patterns(tuple(get_settings().ticket_patron_patterns)):
        for match in pattern.finditer(text):
            findings.append(Finding("barcode or ID number", match.group(0)))
    unique = {(f.kind, f.text): f for f in findings}
    return list(unique.values())


def redact_text(value: str, passage: str) -> tuple[str, int]:
    """The value with every occurrence of the passage replaced, and how many there were."""
    count = value.count(passage)
    return (value.replace(passage, "[redacted]"), count) if count else (value, 0)
