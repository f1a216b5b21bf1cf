"""Demo data for saved replies: a few the support team would really keep (fictitious)."""

from sqlmodel import Session, select

from app.models.canned_reply import CannedReply
from app.models.user import User

REPLIES = {
    "Looking into it": (
        "Dear {requester name},\n\n"
        "Thank you for reporting this. We are looking into ticket {ticket number} for {library} "
        "and will write again as soon as we know more.\n\n{my name}\nI-Share support (demo)"
    ),
    "Password reset done": (
        "Dear {requester name},\n\n"
        "The password has been reset as asked in {ticket number}. Please sign in again and "
        "tell us if it still fails.\n\n{my name}"
    ),
    "Opened a vendor case": (
        "Dear {requester name},\n\n"
        "We have opened a case with Ex Libris about “{ticket subject}” and will pass on their "
        "answer. No action is needed from {library} for now.\n\n{my name}"
    ),
}


def load(session: Session, admin: User) -> dict[str, int]:
    """Adds the replies that are missing; returns how many it added."""
    existing = set(session.exec(select(CannedReply.name)))
    added = 0
    for name, body in REPLIES.items():
        if name not in existing:
            session.add(CannedReply(name=name, body=body, created_by=admin.id))
            added += 1
    session.commit()
    return {"saved replies": added} if added else {}
