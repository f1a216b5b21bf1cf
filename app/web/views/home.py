"""The dashboard: the reader's own institution and the members at a glance."""

from typing import Any

from sqlmodel import Session

from app.models.user import User
from app.services import institutions
from app.web.views import announcements, duties


def dashboard(session: Session, user: User) -> dict[str, Any]:
    own = (
        institutions.get_institution(session=session, code=user.institution)
        if user.institution
        else None
    )
    return {
        "institution": own,
        "member_counts": institutions.count_by_status(session=session),
        **duties.home(session, user),
        **announcements.home(session, user),
    }
