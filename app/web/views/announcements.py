"""What announcement pages need beside the data: rendered Markdown, the lists to choose from,
the reader's library's acknowledgement, redistributions, the board."""

from typing import Any

from sqlmodel import Session, select

from app.models.announcement import Acknowledgement, AnnouncementStatus
from app.models.liaison import ContactRole
from app.models.list import ListKind, MailingList
from app.models.user import User
from app.services import announcements, lists, markdown
from app.web.render import View


def listing(view: View) -> dict[str, Any]:
    return {
        "lists": view.session.exec(select(MailingList).order_by(MailingList.name)).all(),
        "statuses": list(AnnouncementStatus),
    }


def detail(view: View) -> dict[str, Any]:
    session, user = view.session, view.user
    announcement = view.params.get("announcement") or announcements.get_announcement(
        session=session, actor=user, announcement_id=view.data.id
    )
    own_ack = None
    if user is not None and user.institution:
        own_ack = session.get(Acknowledgement, (announcement.id, user.institution))
    return {
        "announcement": announcement,
        "public": announcements.publish(session, announcement),
        "body_html": markdown.render(announcement.body),
        "own_ack": own_ack,
        "may_acknowledge": bool(user and user.is_library_lead and user.institution),
        "redistributions": announcements.redistributions(
            session=session, actor=user, announcement=announcement
        ),
        "roles": list(ContactRole),
    }


def board(view: View) -> dict[str, Any]:
    return {"announcement": view.params["announcement"]}


def form(session: Session, user: User | None = None) -> dict[str, Any]:
    """Staff choose from every list; a member from the interest-group lists they are on (their
    post waits for moderation)."""
    every = lists.list_lists(session=session)
    if user is None or user.is_staff:
        return {"lists": every}
    person = lists.person_of(session, user)
    mine = [
        m
        for m in every
        if m.kind == ListKind.interest_group
        and person is not None
        and lists.is_member(session, lists.get_list(session=session, slug=m.slug), person.id)
    ]
    return {"lists": mine}


def home(session: Session, user: User) -> dict[str, Any]:
    """The home page's part: recent announcements and what the library must acknowledge."""
    return {
        "recent_announcements": announcements.recent(session=session, actor=user),
        "open_acknowledgements": (
            announcements.open_acknowledgements(session=session, user=user)
            if user.is_library_lead
            else []
        ),
    }
