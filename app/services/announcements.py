"""Announcements: compose, schedule or send now, deliver through the outbox (one message per
person however many of the lists they are on), the archive and its feeds, acknowledgements per
library with their reminders, and redistribution to a library's own staff.

Delivery happens in the transaction that sends: the announcement becomes `sent` and its
messages are queued together, or neither. Scheduled ones are sent by the `announcements-send`
job; people who chose a daily digest get the `announcements-digest` job's one message a day.
"""

import hmac
from datetime import datetime, timedelta
from enum import StrEnum

from feedgen.feed import FeedGenerator
from sqlalchemy import exists, func, or_
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import committed, utcnow
from app.core.errors import Conflict, FieldError, Invalid, NotFound, PermissionDenied
from app.core.pagination import PageParams, Window, fetch
from app.models.announcement import (
    Acknowledgement,
    AcknowledgementPublic,
    Announcement,
    AnnouncementCreate,
    AnnouncementList,
    AnnouncementPublic,
    AnnouncementStatus,
    AnnouncementUpdate,
    ModerationCreate,
    ModerationDecision,
    Redistribution,
    RedistributionCreate,
    RedistributionPublic,
    Review,
)
from app.models.common import without_unsafe
from app.models.institution import Institution
from app.models.liaison import Appointment, ContactRole, Liaison
from app.models.list import Delivery, ListKind, MailingList
from app.models.user import User
from app.notify.jobs import register_job
from app.notify.outbox import enqueue, enqueue_many
from app.services import access, audit, lists, markdown, webhooks
from app.services.institutions import today

TEMPLATE = "announcements/message"
LEAD_ROLES = (ContactRole.liaison, ContactRole.backup_liaison, ContactRole.director)
REMIND_DAYS = 3
GRACE = timedelta(minutes=1)  # "now" from a form filled a moment ago is not "in the past"


class AnnouncementSort(StrEnum):
    newest = "newest"
    oldest = "oldest"


def url_of(announcement_id: int) -> str:
    return f"{get_settings().portal_url.rstrip('/')}/announcements/{announcement_id}"


# --- reading ------------------------------------------------------------------------------------


def _slugs(session: Session) -> dict[int, str]:
    return dict(session.exec(select(MailingList.id, MailingList.slug)).all())


def public(announcement: Announcement, slugs: dict[int, str]) -> AnnouncementPublic:
    return AnnouncementPublic.model_validate(
        announcement,
        from_attributes=True,
        update={
            "lists": [slugs[link.list_id] for link in announcement.list_links],
            "status": announcement.status,
            "url": f"/announcements/{announcement.id}",
        },
    )


def publish(session: Session, announcement: Announcement) -> AnnouncementPublic:
    return public(announcement, _slugs(session))


def get_announcement(*, session: Session, actor: User, announcement_id: int) -> Announcement:
    """Members see what was sent (and their own posts); staff also what is scheduled,
    cancelled, waiting for moderation or turned down."""
    found = session.get(Announcement, announcement_id)
    hidden = found is not None and found.sent_at is None and not access.is_staff(actor)
    if found is None or (hidden and found.author != actor.id):
        raise NotFound(f"There is no announcement {announcement_id}.")
    return found


def list_announcements(
    *,
    session: Session,
    actor: User,
    list_slug: str | None = None,
    q: str | None = None,
    status: AnnouncementStatus | None = None,
    page: PageParams,
) -> Window:
    """The archive, newest first: sent announcements (staff: every one), searchable."""
    stmt = select(Announcement)
    if not access.is_staff(actor):
        stmt = stmt.where(or_(Announcement.sent_at.is_not(None), Announcement.author == actor.id))
    if status is AnnouncementStatus.sent:
        stmt = stmt.where(Announcement.sent_at.is_not(None))
    elif status is AnnouncementStatus.cancelled:
        stmt = stmt.where(Announcement.cancelled_at.is_not(None))
    elif status is AnnouncementStatus.scheduled:
        stmt = stmt.where(
            Announcement.sent_at.is_(None),
            Announcement.cancelled_at.is_(None),
            Announcement.review.is_(None),
        )
    elif status in (AnnouncementStatus.pending, AnnouncementStatus.rejected):
        stmt = stmt.where(
            Announcement.review == Review(status.value), Announcement.cancelled_at.is_(None)
        )
    if list_slug:
        stmt = stmt.where(
            exists()
            .where(AnnouncementList.announcement_id == Announcement.id)
            .where(AnnouncementList.list_id == MailingList.id)
            .where(MailingList.slug == list_slug)
        )
    if q:
        words = [w for w in q.lower().split() if w][:8]
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            stmt = stmt.where(
                or_(
                    func.lower(Announcement.subject).like(pattern, escape="\\"),
                    func.lower(Announcement.body).like(pattern, escape="\\"),
                )
            )
    stmt = stmt.order_by(Announcement.send_at.desc(), Announcement.id.desc())
    window = fetch(session, stmt, page)
    slugs = _slugs(session)
    window.items = [public(a, slugs) for a in window.items]
    return window


def recent(*, session: Session, actor: User, limit: int = 5) -> list[AnnouncementPublic]:
    return list_announcements(
        session=session, actor=actor, status=AnnouncementStatus.sent, page=PageParams(limit=limit)
    ).items


# --- composing and sending ----------------------------------------------------------------------


def _check_times(send_at: datetime, action_required: bool, acknowledge_by, now: datetime) -> None:
    errors = []
    if send_at < now - GRACE:
        errors.append(FieldError("send_at", "is in the past; choose a later time or send now"))
    if action_required and acknowledge_by is None:
        errors.append(FieldError("acknowledge_by", "give the date libraries must acknowledge by"))
    send_day = send_at.astimezone(get_settings().tz).date()
    if acknowledge_by is not None and acknowledge_by < send_day:
        errors.append(
            FieldError("acknowledge_by", "is before the announcement is sent; choose a later date")
        )
    if errors:
        raise Invalid(
            "The announcement cannot be sent like this: "
            + "; ".join(f"{e.field.replace('_', ' ')} {e.message}" for e in errors)
            + ".",
            errors,
        )


def _require_audience(session: Session, chosen: list[MailingList]) -> None:
    if not any(m.delivery is not Delivery.none for m in lists.members(session, chosen)):
        raise Invalid(
            "No one is on the chosen lists (or everyone on them has turned them off); "
            "choose another list.",
            [FieldError("lists", "no one would receive it")],
        )


def create_announcement(*, session: Session, actor: User, data: AnnouncementCreate) -> Announcement:
    """Staff send or schedule; a member's post to interest-group lists waits for staff."""
    if not access.is_staff(actor):
        return post(session=session, actor=actor, data=data)
    chosen = lists.lists_by_slug(session, data.lists)
    now = utcnow()
    send_at = data.send_at or now
    action = data.action_required or data.acknowledge_by is not None
    _check_times(send_at, action, data.acknowledge_by, now)
    _require_audience(session, chosen)
    announcement = Announcement(
        subject=data.subject,
        body=data.body,
        action_required=action,
        acknowledge_by=data.acknowledge_by,
        send_at=max(send_at, now),
        author=actor.id,
        list_links=[AnnouncementList(list_id=m.id) for m in chosen],
    )
    with committed(session, "The announcement could not be saved; try again."):
        audit.created(session, announcement, actor=actor)
        if announcement.send_at <= now:
            deliver(session, announcement, chosen)
    return announcement


def _names(chosen: list[MailingList]) -> str:
    return ", ".join(m.name for m in chosen)


def post(*, session: Session, actor: User, data: AnnouncementCreate) -> Announcement:
    """A member posts to interest-group lists they are on: the post waits for staff to approve
    it (then it is sent like any announcement) or turn it down. Announcement lists are one-way."""
    chosen = lists.lists_by_slug(session, data.lists)
    one_way = [m for m in chosen if m.kind != ListKind.interest_group]
    if one_way:
        raise PermissionDenied(
            f"{_names(one_way)} only carries announcements from the consortium office; "
            "members may post to interest-group lists."
        )
    person = lists.person_of(session, actor)
    outside = [m for m in chosen if person is None or not lists.is_member(session, m, person.id)]
    if outside:
        raise PermissionDenied(f"Only members of {_names(outside)} may post to it.")
    errors = []
    if data.send_at is not None:
        errors.append(FieldError("send_at", "leave it empty: a post is sent when staff approve it"))
    if data.action_required or data.acknowledge_by is not None:
        errors.append(
            FieldError("acknowledge_by", "only the consortium office asks libraries to acknowledge")
        )
    if errors:
        raise Invalid(
            "Your post cannot be sent like this: "
            + "; ".join(f"{e.field.replace('_', ' ')}: {e.message}" for e in errors)
            + ".",
            errors,
        )
    _require_audience(session, chosen)
    announcement = Announcement(
        subject=data.subject,
        body=data.body,
        send_at=utcnow(),
        author=actor.id,
        review=Review.pending,
        list_links=[AnnouncementList(list_id=m.id) for m in chosen],
    )
    with committed(session, "Your post could not be saved; try again."):
        audit.created(session, announcement, actor=actor, action="post")
    return announcement


def moderate(
    *, session: Session, actor: User, announcement: Announcement, data: ModerationCreate
) -> Announcement:
    """Staff approve a member's post (it is sent now) or turn it down with a reason, which the
    poster is told by e-mail."""
    access.require_staff(actor, "moderate posts")
    if announcement.status is not AnnouncementStatus.pending:
        raise Conflict(
            "Only a post waiting for moderation can be approved or turned down; this one is "
            f"{announcement.status.value}."
        )
    reason = data.reason.strip()
    if data.decision is ModerationDecision.reject and not reason:
        raise Invalid(
            "Say why the post is turned down; the poster reads it.",
            [FieldError("reason", "give the reason the poster will read")],
        )
    chosen = list(
        session.exec(
            select(MailingList).where(
                MailingList.id.in_([link.list_id for link in announcement.list_links])
            )
        ).all()
    )
    poster = session.get(User, announcement.author) if announcement.author else None
    with (
        committed(session, "The post changed meanwhile."),
        audit.change(session, announcement, actor=actor, action=data.decision.value),
    ):
        announcement.reviewed_by, announcement.reviewed_at = actor.id, utcnow()
        if data.decision is ModerationDecision.approve:
            announcement.review = Review.approved
            announcement.send_at = utcnow()
            deliver(session, announcement, chosen)
        else:
            announcement.review, announcement.review_reason = Review.rejected, reason
            if poster is not None:
                enqueue(
                    session,
                    to=poster.email,
                    template="announcements/rejected",
                    context={
                        "name": without_unsafe(poster.name),
                        "subject": without_unsafe(announcement.subject),
                        "lists": without_unsafe(_names(chosen)),
                        "reason": without_unsafe(reason),
                        "url": url_of(announcement.id),
                    },
                )
    return announcement


def update_announcement(
    *, session: Session, actor: User, announcement: Announcement, data: AnnouncementUpdate
) -> Announcement:
    access.require_staff(actor, "edit announcements")
    if announcement.status is not AnnouncementStatus.scheduled:
        raise Conflict(
            "Only a scheduled announcement can change; this one was already "
            f"{announcement.status.value}."
        )
    values = data.model_dump(exclude_unset=True)
    chosen = lists.lists_by_slug(session, values.pop("lists")) if data.lists else None
    send_at = data.send_at or announcement.send_at
    ack = values.get("acknowledge_by", announcement.acknowledge_by)
    action = values.get("action_required", announcement.action_required) or ack is not None
    _check_times(send_at, bool(action), ack, utcnow())
    if chosen is not None:
        _require_audience(session, chosen)
    with (
        committed(session, "The announcement changed meanwhile."),
        audit.change(session, announcement, actor=actor),
    ):
        for name, value in values.items():
            if value is not None or name == "acknowledge_by":
                setattr(announcement, name, value)
        announcement.action_required = bool(action)
        if chosen is not None:
            announcement.list_links = [AnnouncementList(list_id=m.id) for m in chosen]
    return announcement


def cancel_announcement(
    *, session: Session, actor: User, announcement: Announcement
) -> Announcement:
    access.require_staff(actor, "cancel announcements")
    if announcement.sent_at is not None:
        raise Conflict("This announcement was already sent; it stays in the archive.")
    if announcement.cancelled_at is None:
        with (
            committed(session, "The announcement changed meanwhile."),
            audit.change(session, announcement, actor=actor, action="cancel"),
        ):
            announcement.cancelled_at = utcnow()
    return announcement


def _context(announcement: Announcement) -> dict:
    base = get_settings().portal_url.rstrip("/")
    return {
        "id": announcement.id,
        "subject": without_unsafe(announcement.subject),
        "body_text": without_unsafe(announcement.body),
        "body_html": str(markdown.render(announcement.body)),
        "url": url_of(announcement.id),
        "action_required": announcement.action_required,
        "acknowledge_by": (
            announcement.acknowledge_by.strftime("%A, %B %-d, %Y")
            if announcement.acknowledge_by
            else None
        ),
        "preferences_url": f"{base}/lists/preferences",
    }


def _lead_ids(session: Session, liaison_ids: list[int]) -> set[int]:
    """Those of `liaison_ids` who today are a director or liaison of their own library (they
    may acknowledge for it)."""
    if not liaison_ids:
        return set()
    day = today()
    return set(
        session.exec(
            select(Appointment.liaison_id)
            .join(Liaison, Liaison.id == Appointment.liaison_id)
            .where(
                Appointment.institution == Liaison.institution,
                Appointment.role.in_(LEAD_ROLES),
                Appointment.started_on <= day,
                or_(Appointment.ended_on.is_(None), Appointment.ended_on > day),
            )
        ).all()
    ) & set(liaison_ids)


def deliver(session: Session, announcement: Announcement, chosen: list[MailingList]) -> int:
    """Queues one message per person on any of `chosen` who gets each message; marks the
    announcement sent. Returns how many were queued (in the caller's transaction).

    The rows go in as one batch (`enqueue_many`: a multi-row INSERT), not one statement per
    person (bench/announcements.py counts them). When the
    announcement asks for acknowledgement, each library lead's message carries their own signed
    one-click link."""
    people = [m for m in lists.members(session, chosen) if m.delivery is Delivery.each]
    by_id = {m.id: m for m in chosen}
    common = _context(announcement)
    asks = announcement.action_required
    leads = _lead_ids(session, [p.liaison for p in people]) if asks else set()
    headers = {m.id: lists.list_id_header(m) for m in chosen}
    seen: set[str] = set()
    messages = []
    for person in people:
        address = person.email.lower()
        if address in seen:
            continue
        seen.add(address)
        home = by_id[person.list_id]
        messages.append(
            dict(
                to=person.email,
                template=TEMPLATE,
                context={
                    **common,
                    "name": without_unsafe(person.name),
                    "list_name": without_unsafe(home.name),
                    "required": home.required,
                    "acknowledge_url": acknowledge_url(announcement.id, person.liaison)
                    if person.liaison in leads
                    else None,
                },
                unsubscribe_url=None
                if home.required
                else lists.unsubscribe_url(home.id, person.liaison),
                list_id=headers[home.id],
            )
        )
    enqueue_many(session, messages)
    announcement.sent_at = utcnow()
    announcement.recipients = len(seen)
    session.add(announcement)
    # Webhooks get it as `GET /announcements/{id}` answers it (a sent one is every member's).
    webhooks.publish(
        session,
        "announcement.sent",
        lambda: public(announcement, {m.id: m.slug for m in chosen}).model_dump(mode="json"),
    )
    return len(seen)


def send_due(session: Session, period: datetime) -> None:
    """The job: sends every scheduled announcement whose time has come."""
    now = utcnow()
    due = session.exec(
        select(Announcement).where(
            Announcement.sent_at.is_(None),
            Announcement.cancelled_at.is_(None),
            Announcement.review.is_(None),  # a member's post waits for staff, not the clock
            Announcement.send_at <= now,
        )
    ).all()
    by_id = {m.id: m for m in session.exec(select(MailingList))}
    for announcement in due:
        deliver(session, announcement, [by_id[link.list_id] for link in announcement.list_links])


def send_digests(session: Session, period: datetime) -> None:
    """The daily job: one message per person who chose a digest, listing the announcements of
    the day before that reached them through no "each message" list."""
    since = period - timedelta(days=1)
    sent = session.exec(
        select(Announcement)
        .where(Announcement.sent_at >= since, Announcement.sent_at < period)
        .order_by(Announcement.sent_at)
    ).all()
    if not sent:
        return
    by_id = {m.id: m for m in session.exec(select(MailingList))}
    digests: dict[str, dict] = {}
    for announcement in sent:
        chosen = [by_id[link.list_id] for link in announcement.list_links]
        for person in lists.members(session, chosen):
            if person.delivery is not Delivery.digest:
                continue
            entry = digests.setdefault(
                person.email, {"name": without_unsafe(person.name), "items": []}
            )
            entry["items"].append(
                {"subject": without_unsafe(announcement.subject), "url": url_of(announcement.id)}
            )
    day = since.astimezone(get_settings().tz).strftime("%A, %B %-d")
    for email, entry in digests.items():
        enqueue(
            session,
            to=email,
            template="announcements/digest",
            context={**entry, "day": day},
            dedupe_key=f"announcements/digest:{period.date().isoformat()}:{email}",
        )


# --- acknowledgements ---------------------------------------------------------------------------


def audience_institutions(session: Session, announcement: Announcement) -> list[Institution]:
    """The libraries an announcement reached: those of the people on its lists."""
    chosen = session.exec(
        select(MailingList).where(
            MailingList.id.in_([link.list_id for link in announcement.list_links])
        )
    ).all()
    codes = {m.institution for m in lists.members(session, list(chosen))}
    codes |= set(
        session.exec(
            select(Acknowledgement.institution).where(
                Acknowledgement.announcement_id == announcement.id
            )
        ).all()
    )
    if not codes:
        return []
    return list(
        session.exec(
            select(Institution).where(Institution.code.in_(codes)).order_by(Institution.name)
        ).all()
    )


def board(*, session: Session, announcement: Announcement) -> list[AcknowledgementPublic]:
    """Every library the announcement reached, acknowledged or not (not yet first)."""
    acks = {
        a.institution: a
        for a in session.exec(
            select(Acknowledgement).where(Acknowledgement.announcement_id == announcement.id)
        )
    }
    rows = [
        AcknowledgementPublic(
            institution=i.code,
            name=i.name,
            acknowledged=i.code in acks,
            acknowledged_at=acks[i.code].acknowledged_at if i.code in acks else None,
            by=acks[i.code].user_id if i.code in acks else None,
        )
        for i in audience_institutions(session, announcement)
    ]
    return sorted(rows, key=lambda r: (r.acknowledged, r.name))


def acknowledge(
    *, session: Session, actor: User, announcement: Announcement, institution: str | None
) -> AcknowledgementPublic:
    """A library's director or liaison (or staff on its behalf) confirms; once is enough."""
    code = (institution or actor.institution or "").upper()
    if not code:
        raise Invalid("Say which library acknowledges.", [FieldError("institution", "is required")])
    access.require_library_lead(actor, code, "acknowledge for the library")
    if not announcement.action_required or announcement.sent_at is None:
        raise Conflict("This announcement asks for no acknowledgement.")
    found = session.get(Institution, code)
    if found is None:
        raise NotFound(f"There is no institution {code}.")
    ack = session.get(Acknowledgement, (announcement.id, code))
    if ack is None:
        ack = Acknowledgement(announcement_id=announcement.id, institution=code, user_id=actor.id)
        with committed(session, "Your library has just acknowledged it."):
            session.add(ack)
            audit.record(
                session,
                actor=actor,
                action="acknowledge",
                entity_type="announcement",
                entity_id=str(announcement.id),
                after={"institution": code},
            )
    return AcknowledgementPublic(
        institution=code,
        name=found.name,
        acknowledged=True,
        acknowledged_at=ack.acknowledged_at,
        by=ack.user_id,
    )


def acknowledge_token(announcement_id: int, liaison_id: int) -> str:
    """`<person>.<signature>`: one person, one announcement; cannot be altered or reused for
    another announcement."""
    return f"{liaison_id}.{lists.sign(f'acknowledge:{announcement_id}:{liaison_id}')}"


def acknowledge_url(announcement_id: int, liaison_id: int) -> str:
    token = acknowledge_token(announcement_id, liaison_id)
    return f"{url_of(announcement_id)}/acknowledge/{token}"


def read_acknowledge_token(
    session: Session, announcement_id: int, token: str
) -> tuple[Announcement, Liaison, Institution]:
    """The announcement, person and library a genuine link names, while that person is still a
    lead of the library and the announcement still asks; anything else is a 404 (no detail)."""
    invalid = NotFound("This acknowledgement link is not valid; sign in to acknowledge.")
    raw, _, signature = token.partition(".")
    if not raw.isdigit() or len(raw) > 10:
        raise invalid
    expected = lists.sign(f"acknowledge:{announcement_id}:{raw}")
    if not hmac.compare_digest(expected, signature):
        raise invalid
    announcement = session.get(Announcement, announcement_id)
    person = session.get(Liaison, int(raw))
    if (
        announcement is None
        or person is None
        or announcement.sent_at is None
        or not announcement.action_required
        or person.id not in _lead_ids(session, [person.id])
    ):
        raise invalid
    return announcement, person, session.get(Institution, person.institution)


def acknowledge_by_link(
    *, session: Session, announcement_id: int, token: str
) -> AcknowledgementPublic:
    """The e-mail's one-click link (POST): the person's library acknowledges; no session."""
    announcement, person, library = read_acknowledge_token(session, announcement_id, token)
    ack = session.get(Acknowledgement, (announcement.id, library.code))
    if ack is None:
        ack = Acknowledgement(
            announcement_id=announcement.id,
            institution=library.code,
            user_id=person.account,
            liaison_id=person.id,
        )
        with committed(session, "Your library has just acknowledged it."):
            session.add(ack)
            audit.record(
                session,
                actor=None,
                action="acknowledge",
                entity_type="announcement",
                entity_id=str(announcement.id),
                after={"institution": library.code, "liaison": person.id, "via": "e-mail link"},
            )
    return AcknowledgementPublic(
        institution=library.code,
        name=library.name,
        acknowledged=True,
        acknowledged_at=ack.acknowledged_at,
        by=ack.user_id,
    )


def open_acknowledgements(*, session: Session, user: User) -> list[AnnouncementPublic]:
    """What the user's library still has to acknowledge (sent, action required, not done)."""
    if not user.institution:
        return []
    done = select(Acknowledgement.announcement_id).where(
        Acknowledgement.institution == user.institution
    )
    rows = session.exec(
        select(Announcement)
        .where(
            Announcement.action_required,
            Announcement.sent_at.is_not(None),
            Announcement.acknowledge_by >= today() - timedelta(days=30),
            Announcement.id.not_in(done),
        )
        .order_by(Announcement.acknowledge_by)
        .limit(10)
    ).all()
    slugs = _slugs(session)
    reached = [
        a for a in rows if user.institution in {i.code for i in audience_institutions(session, a)}
    ]
    return [public(a, slugs) for a in reached]


def leads_of(session: Session, institution: str) -> list[Liaison]:
    day = today()
    return list(
        session.exec(
            select(Liaison)
            .join(Appointment, Appointment.liaison_id == Liaison.id)
            .where(
                Appointment.institution == institution,
                Appointment.role.in_(LEAD_ROLES),
                Appointment.started_on <= day,
                or_(Appointment.ended_on.is_(None), Appointment.ended_on > day),
            )
            .distinct()
        ).all()
    )


def send_reminders(session: Session, period: datetime) -> None:
    """The job: `REMIND_DAYS` before the date, the libraries that have not acknowledged hear
    once more (their directors and liaisons; once per person per announcement)."""
    day = today()
    due = session.exec(
        select(Announcement).where(
            Announcement.action_required,
            Announcement.sent_at.is_not(None),
            Announcement.acknowledge_by >= day,
            Announcement.acknowledge_by <= day + timedelta(days=REMIND_DAYS),
        )
    ).all()
    for announcement in due:
        context = _context(announcement)
        for row in board(session=session, announcement=announcement):
            if row.acknowledged:
                continue
            for person in leads_of(session, row.institution):
                enqueue(
                    session,
                    to=person.email,
                    template="announcements/reminder",
                    context={
                        **context,
                        "name": without_unsafe(person.name),
                        "library": row.name,
                        "acknowledge_url": acknowledge_url(announcement.id, person.id),
                    },
                    dedupe_key=f"announcements/reminder:{announcement.id}:{person.email}",
                )


# --- redistribution ----------------------------------------------------------------------------


def redistribute(
    *, session: Session, actor: User, announcement: Announcement, data: RedistributionCreate
) -> RedistributionPublic:
    """A library's director or liaison (or staff on its behalf) forwards it to the library's
    own people, chosen by role; another library's people do not exist for you (404)."""
    code = (data.institution or actor.institution or "").upper()
    if not code:
        raise Invalid(
            "Say which library's staff to send it to.",
            [FieldError("institution", "is required")],
        )
    access.require_library_lead(actor, code, "pass an announcement on to the library's staff")
    if announcement.sent_at is None:
        raise Conflict("Only a sent announcement can be passed on.")
    day = today()
    people = session.exec(
        select(Liaison)
        .join(Appointment, Appointment.liaison_id == Liaison.id)
        .where(
            Appointment.institution == code,
            Appointment.role.in_([r.value for r in data.roles]),
            Appointment.started_on <= day,
            or_(Appointment.ended_on.is_(None), Appointment.ended_on > day),
            func.lower(Liaison.email) != actor.email.lower(),
        )
        .distinct()
    ).all()
    if not people:
        raise Invalid(
            "No one at your library holds those roles in the directory; choose other roles.",
            [FieldError("roles", "no one at your library holds them")],
        )
    context = {
        **_context(announcement),
        "note": without_unsafe(data.note),
        "sender": without_unsafe(actor.name),
    }
    for person in people:
        enqueue(
            session,
            to=person.email,
            template="announcements/redistributed",
            context={**context, "name": without_unsafe(person.name)},
            reply_to=actor.email,
        )
    row = Redistribution(
        announcement_id=announcement.id,
        institution=code,
        user_id=actor.id,
        roles=[r.value for r in data.roles],
        note=data.note,
        recipients=len(people),
    )
    with committed(session, "Could not record the redistribution; try again."):
        audit.created(session, row, actor=actor, action="redistribute")
    return redistribution_public(row)


def redistribution_public(row: Redistribution) -> RedistributionPublic:
    return RedistributionPublic(
        id=row.id,
        announcement=row.announcement_id,
        institution=row.institution,
        roles=row.roles,
        note=row.note,
        recipients=row.recipients,
        by=row.user_id,
        created_at=row.created_at,
    )


def redistributions(
    *, session: Session, actor: User, announcement: Announcement
) -> list[RedistributionPublic]:
    """Staff see every library's; a library sees its own."""
    stmt = select(Redistribution).where(Redistribution.announcement_id == announcement.id)
    if not access.is_staff(actor):
        stmt = stmt.where(Redistribution.institution == (actor.institution or ""))
    return [redistribution_public(r) for r in session.exec(stmt.order_by(Redistribution.id))]


# --- the feed -----------------------------------------------------------------------------------


def atom(*, session: Session, mailing_list: MailingList, base_url: str) -> bytes:
    """RFC 4287: the list's 50 newest sent announcements."""
    rows = session.exec(
        select(Announcement)
        .join(AnnouncementList, AnnouncementList.announcement_id == Announcement.id)
        .where(AnnouncementList.list_id == mailing_list.id, Announcement.sent_at.is_not(None))
        .order_by(Announcement.sent_at.desc())
        .limit(50)
    ).all()
    host = base_url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    feed = FeedGenerator()
    feed.id(f"tag:{host},2026:lists/{mailing_list.slug}")
    feed.title(without_unsafe(f"{get_settings().consortium_name}: {mailing_list.name}"))
    feed.author({"name": get_settings().consortium_name})
    feed.link(href=f"{base_url}/lists/{mailing_list.slug}/feed.atom", rel="self")
    feed.link(href=f"{base_url}/announcements?list={mailing_list.slug}", rel="alternate")
    feed.language("en")
    feed.updated(rows[0].sent_at if rows else mailing_list.created_at)
    for a in reversed(rows):
        entry = feed.add_entry()
        entry.id(f"tag:{host},2026:announcements/{a.id}")
        entry.title(without_unsafe(a.subject))
        entry.link(href=f"{base_url}/announcements/{a.id}", rel="alternate")
        entry.content(str(markdown.render(without_unsafe(a.body))), type="html")
        entry.published(a.sent_at)
        entry.updated(a.updated_at if a.updated_at > a.sent_at else a.sent_at)
    return feed.atom_str(pretty=True)


register_job("announcements-send", every=timedelta(minutes=1), fn=send_due)
register_job("announcements-digest", every=timedelta(days=1), fn=send_digests)
register_job("announcements-reminders", every=timedelta(hours=1), fn=send_reminders)
