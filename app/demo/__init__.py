"""Demo data: the I-Share member list, clearly fictitious people, and data for each slice.

Idempotent: whatever already exists is left as it is, so a second run changes nothing.
"""

from collections import Counter

from sqlmodel import Session

from app.demo import (
    canned_replies,
    communications,
    directory,
    duties,
    maintenance,
    members,
    tickets,
)
from app.demo.members import ACCOUNTS, DEMO_PASSWORD

__all__ = ["ACCOUNTS", "DEMO_PASSWORD", "load"]


def load(session: Session) -> dict[str, int]:
    """Loads every slice in dependency order; returns how many of each kind it added."""
    added = Counter(members.load(session))
    admin = members.admin(session)
    for slice_ in (directory, maintenance, tickets, duties, communications, canned_replies):
        added.update(slice_.load(session, admin))
    return dict(added)
