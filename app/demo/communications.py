"""Demo data for communications: the I-Share lists, a year of announcements, one
action-required notice that half the libraries have acknowledged, the November Annual Meeting
and a liaison webinar. Written straight to the tables (no e-mail is queued for demo data)."""

from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.announcement import Acknowledgement, Announcement, AnnouncementList
from app.models.event import Event, EventKind, EventList
from app.models.institution import Institution, InstitutionStatus
from app.models.list import ListKind, MailingList
from app.models.user import User

NOTE = "\n\n_(Demo data: not a real announcement.)_"

LISTS = [
    (
        "carli-announce",
        "CARLI Announce",
        ListKind.announcement,
        True,
        ("director", "liaison", "backup_liaison"),
        "What every member library must know: releases, deadlines, governance.",
    ),
    (
        "carli-directors",
        "CARLI Directors",
        ListKind.announcement,
        False,
        ("director",),
        "For library directors: governance, budgets, the Annual Meeting.",
    ),
    (
        "ishare-liaisons",
        "I-Share Liaisons",
        ListKind.announcement,
        False,
        ("liaison", "backup_liaison"),
        "Everything an I-Share liaison needs to pass on.",
    ),
    (
        "ishare-fulfillment",
        "I-Share Fulfillment",
        ListKind.interest_group,
        False,
        ("fulfillment", "resource_sharing", "delivery"),
        "Circulation, resource sharing and delivery: questions and answers among members.",
    ),
    (
        "ishare-techservices",
        "I-Share Technical Services",
        ListKind.interest_group,
        False,
        ("cataloging", "acquisitions", "e_resources", "systems"),
        "Cataloging, acquisitions and e-resources in the shared Alma.",
    ),
]

SUBJECTS = [
    ("ishare-liaisons", "Alma {month} release: what changes for circulation desks"),
    ("carli-announce", "Primo VE {month} release notes"),
    ("ishare-fulfillment", "Courier schedule for {month}"),
    ("ishare-techservices", "Authority file load scheduled in {month}"),
    ("carli-directors", "Board of Directors meeting summary, {month}"),
]


def load(session: Session, admin: User) -> dict[str, int]:
    if session.exec(select(MailingList.id).limit(1)).first() is not None:
        return {}
    lists = {}
    for slug, name, kind, required, roles, description in LISTS:
        row = MailingList(
            slug=slug,
            name=name,
            kind=kind,
            required=required,
            roles=list(roles),
            description=description,
        )
        session.add(row)
        lists[slug] = row
    session.flush()
    zone = get_settings().tz
    now = utcnow()
    added = 0
    for months_ago in range(12, 0, -1):
        sent = now - timedelta(days=30 * months_ago + 2)
        month = sent.astimezone(zone).strftime("%B %Y")
        for i, (slug, subject) in enumerate(SUBJECTS):
            if (months_ago + i) % 2:
                continue  # about two or three a month, not every list every month
            at = sent + timedelta(days=i * 3)
            session.add(
                Announcement(
                    subject=subject.format(month=month),
                    body=(
                        f"Colleagues,\n\nHere is the **{month}** update for {lists[slug].name}.\n\n"
                        "- What changes\n- What to tell your staff\n- Whom to ask: "
                        "[the support site](https://www.carli.illinois.edu)" + NOTE
                    ),
                    send_at=at,
                    sent_at=at,
                    author=admin.id,
                    recipients=0,
                    list_links=[AnnouncementList(list_id=lists[slug].id)],
                )
            )
            added += 1
    due = (now + timedelta(days=10)).astimezone(zone).date()
    notice = Announcement(
        subject="Action required: confirm your library's fiscal-year rollover contact",
        body=(
            "Each library must confirm who runs the **fiscal-year rollover** in Alma this year. "
            "Your director or liaison acknowledges below once the directory is right." + NOTE
        ),
        action_required=True,
        acknowledge_by=due,
        send_at=now - timedelta(days=5),
        sent_at=now - timedelta(days=5),
        author=admin.id,
        list_links=[AnnouncementList(list_id=lists["carli-announce"].id)],
    )
    session.add(notice)
    session.flush()
    codes = session.exec(
        select(Institution.code)
        .where(Institution.status == InstitutionStatus.active)
        .order_by(Institution.code)
    ).all()
    for code in codes[::2]:
        session.add(
            Acknowledgement(
                announcement_id=notice.id,
                institution=code,
                user_id=admin.id,
                acknowledged_at=now - timedelta(days=2),
            )
        )
    year = now.astimezone(zone).year
    meeting_day = _nth_weekday(year, 11, 3, 1)  # the first Thursday of November
    if datetime.combine(meeting_day, time(9), zone) < now:
        meeting_day = _nth_weekday(year + 1, 11, 3, 1)
    session.add(
        Event(
            title="CARLI Annual Meeting",
            kind=EventKind.meeting,
            starts_at=datetime.combine(meeting_day, time(9, 30), zone),
            ends_at=datetime.combine(meeting_day, time(15, 0), zone),
            location="I Hotel and Illinois Conference Center, Champaign",
            description="The consortium's yearly meeting of member libraries." + NOTE,
            created_by=admin.id,
            list_links=[
                EventList(list_id=lists[s].id) for s in ("carli-announce", "carli-directors")
            ],
        )
    )
    webinar = (now + timedelta(days=14)).astimezone(zone).date()
    session.add(
        Event(
            title="Liaison webinar: the Alma release and your library",
            kind=EventKind.webinar,
            starts_at=datetime.combine(webinar, time(10), zone),
            ends_at=datetime.combine(webinar, time(11), zone),
            link="https://example.zoom.us/j/0000000000",
            description="An hour with the I-Share team on what the next release changes." + NOTE,
            created_by=admin.id,
            list_links=[EventList(list_id=lists["ishare-liaisons"].id)],
        )
    )
    session.commit()
    return {"lists": len(LISTS), "announcements": added + 1, "events": 2}


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
