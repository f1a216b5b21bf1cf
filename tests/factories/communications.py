"""Builders for the communications slice: lists, announcements, events (mixed into `Factory`)."""

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, select

from app.models.announcement import Acknowledgement, Announcement, AnnouncementList
from app.models.event import Event, EventList
from app.models.list import ListKind, MailingList


class CommunicationsBuilders:
    session: Session

    def mailing_list(
        self, slug: str = "test-liaisons", roles: tuple[str, ...] = ("liaison",), **values
    ) -> MailingList:
        """A list (get-or-create by slug) whose rule names `roles`."""
        found = self.session.exec(select(MailingList).where(MailingList.slug == slug)).first()
        if found is not None:
            return found
        values.setdefault("name", slug.replace("-", " ").title())
        values.setdefault("kind", ListKind.announcement)
        mailing_list = MailingList(slug=slug, roles=list(roles), **values)
        self.session.add(mailing_list)
        self.session.commit()
        return mailing_list

    def announcement(
        self,
        lists: tuple[MailingList, ...],
        *,
        sent: bool = True,
        acknowledge_by: date | None = None,
        acknowledged: tuple[str, ...] = (),
        **values,
    ) -> Announcement:
        """An announcement written straight to the database (no messages queued)."""
        now = datetime.now(UTC)
        values.setdefault("subject", "Test announcement")
        values.setdefault("body", "Please read **this**.")
        announcement = Announcement(
            send_at=now if sent else now + timedelta(days=3),
            sent_at=now if sent else None,
            action_required=acknowledge_by is not None,
            acknowledge_by=acknowledge_by,
            list_links=[AnnouncementList(list_id=m.id) for m in lists],
            **values,
        )
        self.session.add(announcement)
        self.session.flush()
        for code in acknowledged:
            self.session.add(Acknowledgement(announcement_id=announcement.id, institution=code))
        self.session.commit()
        return announcement

    def event(
        self, lists: tuple[MailingList, ...], starts_at: datetime | None = None, **values
    ) -> Event:
        starts_at = starts_at or datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
        values.setdefault("title", "Test meeting")
        event = Event(
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            list_links=[EventList(list_id=m.id) for m in lists],
            **values,
        )
        self.session.add(event)
        self.session.commit()
        return event
