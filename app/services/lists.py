"""Mailing lists: who is on them (the directory's current appointments, plus changes by hand),
how each member wants them, and the signed links that let a person leave one without signing in.

Membership is computed, never copied: a person appointed liaison today is on every list whose
rule names the liaison role from the day the appointment starts, and off it the day it ends.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import committed, utcnow
from app.core.errors import Conflict, FieldError, Invalid, NotFound
from app.models.institution import Institution
from app.models.liaison import Appointment, Liaison
from app.models.list import (
    Delivery,
    MailingList,
    MailingListCreate,
    MailingListPublic,
    MailingListUpdate,
    MemberPublic,
    MemberSource,
    PreferencePublic,
    Subscription,
)
from app.models.user import User
from app.services import access, audit
from app.services.institutions import today

RANK = {Delivery.each: 0, Delivery.digest: 1, Delivery.none: 2}  # on two lists, the first wins


@dataclass
class Member:
    liaison: int
    name: str
    email: str
    institution: str
    source: MemberSource
    delivery: Delivery
    list_id: int | None = None  # the list that brings them the message (List-Id, unsubscribe)

    def public(self) -> MemberPublic:
        return MemberPublic(**{k: v for k, v in self.__dict__.items() if k != "list_id"})


# --- reading ------------------------------------------------------------------------------------


def get_list(*, session: Session, slug: str) -> MailingList:
    found = session.exec(select(MailingList).where(MailingList.slug == slug)).first()
    if found is None:
        raise NotFound(f"There is no list called {slug}.")
    return found


def lists_by_slug(
    session: Session, slugs: Iterable[str], field: str = "lists"
) -> list[MailingList]:
    """The lists `slugs` name, in that order; every unknown one is a 422 naming it."""
    wanted = list(dict.fromkeys(slugs))
    found = {
        m.slug: m for m in session.exec(select(MailingList).where(MailingList.slug.in_(wanted)))
    }
    missing = [s for s in wanted if s not in found]
    if missing:
        raise Invalid(
            f"There is no list called {', '.join(missing)}.",
            [FieldError(field, f"unknown list: {', '.join(missing)}")],
        )
    return [found[s] for s in wanted]


def list_lists(*, session: Session) -> list[MailingListPublic]:
    """Every list, by name, with today's member count: three statements however many lists."""
    rows = list(session.exec(select(MailingList).order_by(MailingList.name)).all())
    counts = member_counts(session, rows)
    return [MailingListPublic.model_validate(m, update={"members": counts[m.id]}) for m in rows]


def public(session: Session, mailing_list: MailingList) -> MailingListPublic:
    return MailingListPublic.model_validate(
        mailing_list, update={"members": len(members(session, [mailing_list]))}
    )


def member_counts(session: Session, lists: list[MailingList]) -> dict[int, int]:
    """How many people are on each list today, by the same rule as `members`: everyone whose
    current appointment has one of the list's roles (at a library of one of its kinds, when
    it names kinds), and everyone added by hand. Reads today's appointments and the manual
    subscriptions once, for every list at a time."""
    day = today()
    held = session.exec(
        select(Appointment.liaison_id, Appointment.role, Institution.kind)
        .join(Institution, Institution.code == Appointment.institution)
        .where(
            Appointment.started_on <= day,
            or_(Appointment.ended_on.is_(None), Appointment.ended_on > day),
        )
    ).all()
    manual: dict[int, set[int]] = {}
    for list_id, liaison_id in session.exec(
        select(Subscription.list_id, Subscription.liaison_id).where(
            Subscription.list_id.in_([m.id for m in lists]), Subscription.manual.is_(True)
        )
    ):
        manual.setdefault(list_id, set()).add(liaison_id)
    counts = {}
    for m in lists:
        roles, kinds = set(m.roles or ()), set(m.institution_kinds or ())
        derived = {
            person for person, role, kind in held if role in roles and (not kinds or kind in kinds)
        }
        counts[m.id] = len(derived | manual.get(m.id, set()))
    return counts


def _derived(session: Session, mailing_list: MailingList):
    """People whose current appointment puts them on the list by its rule (a select of ids)."""
    day = today()
    stmt = (
        select(Appointment.liaison_id)
        .where(
            Appointment.role.in_(mailing_list.roles),
            Appointment.started_on <= day,
            or_(Appointment.ended_on.is_(None), Appointment.ended_on > day),
        )
        .distinct()
    )
    if mailing_list.institution_kinds:
        stmt = stmt.join(Institution, Institution.code == Appointment.institution).where(
            Institution.kind.in_(mailing_list.institution_kinds)
        )
    return stmt


def members(session: Session, lists: list[MailingList]) -> list[Member]:
    """Everyone on any of `lists` today, once each (by person), with their delivery choice on
    the first list they are on (a person on "each" anywhere gets each message)."""
    if not lists:
        return []
    found: dict[int, Member] = {}
    ids = [m.id for m in lists]
    subs = {
        (s.list_id, s.liaison_id): s
        for s in session.exec(select(Subscription).where(Subscription.list_id.in_(ids)))
    }
    for mailing_list in lists:
        derived = (
            set(session.exec(_derived(session, mailing_list)).all())
            if mailing_list.roles
            else set()
        )
        manual = {
            lid for (list_id, lid), s in subs.items() if list_id == mailing_list.id and s.manual
        }
        people = derived | manual
        if not people:
            continue
        rows = session.exec(select(Liaison).where(Liaison.id.in_(people))).all()
        for person in rows:
            sub = subs.get((mailing_list.id, person.id))
            delivery = sub.delivery if sub else Delivery.each
            known = found.get(person.id)
            if known is not None and RANK[known.delivery] <= RANK[delivery]:
                continue
            found[person.id] = Member(
                liaison=person.id,
                name=person.name,
                email=person.email,
                institution=person.institution,
                source=MemberSource.directory if person.id in derived else MemberSource.manual,
                delivery=delivery,
                list_id=mailing_list.id,
            )
    return sorted(found.values(), key=lambda m: (m.institution, m.name.lower(), m.liaison))


def is_member(session: Session, mailing_list: MailingList, liaison_id: int) -> bool:
    if mailing_list.roles:
        stmt = _derived(session, mailing_list).where(Appointment.liaison_id == liaison_id)
        if session.exec(stmt).first() is not None:
            return True
    sub = session.get(Subscription, (mailing_list.id, liaison_id))
    return bool(sub and sub.manual)


# --- writing (staff) ----------------------------------------------------------------------------


def create_list(*, session: Session, actor: User, data: MailingListCreate) -> MailingList:
    access.require_staff(actor, "create lists")
    mailing_list = MailingList.model_validate(data)
    with committed(
        session,
        f"A list called {data.slug} already exists.",
        [FieldError("slug", "is taken")],
    ):
        audit.created(session, mailing_list, actor=actor)
    return mailing_list


def update_list(
    *, session: Session, actor: User, mailing_list: MailingList, data: MailingListUpdate
) -> MailingList:
    access.require_staff(actor, "edit lists")
    values = data.model_dump(exclude_unset=True)
    with (
        committed(session, "The list changed meanwhile."),
        audit.change(session, mailing_list, actor=actor),
    ):
        for name, value in values.items():
            if value is None and name in ("name", "kind", "required"):
                continue
            setattr(
                mailing_list,
                name,
                [str(v) for v in value] if isinstance(value, list) else value,
            )
    return mailing_list


def _subscription(session: Session, mailing_list: MailingList, liaison_id: int) -> Subscription:
    found = session.get(Subscription, (mailing_list.id, liaison_id))
    return found or Subscription(list_id=mailing_list.id, liaison_id=liaison_id)


def _record(
    session: Session,
    actor: User | None,
    action: str,
    mailing_list: MailingList,
    person: Liaison,
    delivery: Delivery,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="list",
        entity_id=mailing_list.slug,
        after={"liaison": person.id, "email": person.email, "delivery": delivery.value},
    )


def subscribe(
    *, session: Session, actor: User, mailing_list: MailingList, liaison_id: int
) -> Member:
    """Adds a person by hand (staff), whatever the list's rule says; audited."""
    access.require_staff(actor, "add people to lists")
    person = session.get(Liaison, liaison_id)
    if person is None:
        raise Invalid(
            f"There is no person {liaison_id} in the directory.",
            [FieldError("liaison", "no such person")],
        )
    sub = _subscription(session, mailing_list, liaison_id)
    sub.manual, sub.delivery, sub.updated_at = True, Delivery.each, utcnow()
    with committed(session, "The subscription changed meanwhile."):
        session.add(sub)
        _record(session, actor, "subscribe", mailing_list, person, sub.delivery)
    return next(m for m in members(session, [mailing_list]) if m.liaison == liaison_id)


def unsubscribe(
    *, session: Session, actor: User | None, mailing_list: MailingList, liaison_id: int
) -> Member:
    """Takes a person off the list (staff by hand, or the person's one-click link): the rule
    may still name them, so they stay known with delivery "nothing"; audited."""
    if actor is not None:
        access.require_staff(actor, "remove people from lists")
    person = session.get(Liaison, liaison_id)
    if person is None or not is_member(session, mailing_list, liaison_id):
        raise NotFound(f"That person is not on {mailing_list.name}.")
    if mailing_list.required:
        raise Conflict(
            f"{mailing_list.name} is required for everyone in its audience: no one can leave it."
        )
    sub = _subscription(session, mailing_list, liaison_id)
    sub.manual, sub.delivery, sub.updated_at = False, Delivery.none, utcnow()
    with committed(session, "The subscription changed meanwhile."):
        session.add(sub)
        _record(session, actor, "unsubscribe", mailing_list, person, sub.delivery)
    return Member(
        liaison=person.id,
        name=person.name,
        email=person.email,
        institution=person.institution,
        source=MemberSource.manual,
        delivery=Delivery.none,
    )


# --- a person's own choices ---------------------------------------------------------------------


def person_of(session: Session, user: User) -> Liaison | None:
    """The directory entry of a signed-in user (their account link, else the same e-mail)."""
    found = session.exec(select(Liaison).where(Liaison.account == user.id)).first()
    return (
        found
        or session.exec(
            select(Liaison).where(func.lower(Liaison.email) == user.email.lower())
        ).first()
    )


def preferences(*, session: Session, user: User) -> list[PreferencePublic]:
    """Every list the user is on, with how they get it."""
    person = person_of(session, user)
    if person is None:
        return []
    answer = []
    for mailing_list in session.exec(select(MailingList).order_by(MailingList.name)):
        sub = session.get(Subscription, (mailing_list.id, person.id))
        member = is_member(session, mailing_list, person.id)
        if not member:
            continue
        answer.append(
            PreferencePublic(
                list=mailing_list.slug,
                name=mailing_list.name,
                required=mailing_list.required,
                member=True,
                delivery=sub.delivery if sub else Delivery.each,
            )
        )
    return answer


def set_preference(
    *, session: Session, actor: User, mailing_list: MailingList, delivery: Delivery
) -> PreferencePublic:
    person = person_of(session, actor)
    if person is None or not is_member(session, mailing_list, person.id):
        raise NotFound(f"You are not on {mailing_list.name}.")
    if mailing_list.required and delivery is Delivery.none:
        raise Invalid(
            f"{mailing_list.name} is required for everyone in its audience, so it cannot be "
            "turned off; choose each message or a daily digest.",
            [FieldError("delivery", "a required list cannot be turned off")],
        )
    sub = _subscription(session, mailing_list, person.id)
    sub.delivery, sub.updated_at = delivery, utcnow()
    with committed(session, "Your choice changed meanwhile."):
        session.add(sub)
        _record(session, actor, "preference", mailing_list, person, delivery)
    return PreferencePublic(
        list=mailing_list.slug,
        name=mailing_list.name,
        required=mailing_list.required,
        member=True,
        delivery=delivery,
    )


# --- signed links -------------------------------------------------------------------------------


def sign(message: str) -> str:
    """A short HMAC of `message` under the portal's secret (for links sent by e-mail)."""
    key = get_settings().secret_key.get_secret_value().encode()
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


_sign = sign


def unsubscribe_token(list_id: int, liaison_id: int) -> str:
    """`<list>.<person>.<signature>`: names one person on one list, and cannot be altered."""
    return f"{list_id}.{liaison_id}.{_sign(f'unsubscribe:{list_id}:{liaison_id}')}"


def unsubscribe_url(list_id: int, liaison_id: int) -> str:
    base = get_settings().portal_url.rstrip("/")
    return f"{base}/unsubscribe/{unsubscribe_token(list_id, liaison_id)}"


def read_unsubscribe_token(session: Session, token: str) -> tuple[MailingList, Liaison]:
    """The list and person a genuine link names; anything else is a 404 (no detail why)."""
    parts = token.split(".")
    invalid = NotFound("This unsubscribe link is not valid; sign in to change your lists.")
    if len(parts) != 3 or not all(p.isdigit() for p in parts[:2]) or len(parts[0]) > 10:
        raise invalid
    list_id, liaison_id = int(parts[0]), int(parts[1])
    expected = _sign(f"unsubscribe:{list_id}:{liaison_id}")
    if not hmac.compare_digest(expected, parts[2]):
        raise invalid
    mailing_list, person = session.get(MailingList, list_id), session.get(Liaison, liaison_id)
    if mailing_list is None or person is None:
        raise invalid
    return mailing_list, person


def one_click_unsubscribe(*, session: Session, token: str) -> tuple[MailingList, Liaison]:
    """RFC 8058: the link alone takes its person off its list (again: no harm)."""
    mailing_list, person = read_unsubscribe_token(session, token)
    sub = session.get(Subscription, (mailing_list.id, person.id))
    if sub is not None and sub.delivery is Delivery.none and not sub.manual:
        return mailing_list, person
    if mailing_list.required:
        raise Conflict(
            f"{mailing_list.name} is required for everyone in its audience: no one can leave it."
        )
    unsubscribe(session=session, actor=None, mailing_list=mailing_list, liaison_id=person.id)
    return mailing_list, person


def feed_key(user_id: int) -> str:
    """A personal key for calendar and feed readers, which cannot sign in."""
    return f"{user_id}.{_sign(f'feed:{user_id}')}"


def user_for_feed_key(session: Session, key: str | None) -> User | None:
    if not key or "." not in key:
        return None
    raw, signature = key.split(".", 1)
    if (
        not raw.isdigit()
        or len(raw) > 10
        or not hmac.compare_digest(_sign(f"feed:{raw}"), signature)
    ):
        return None
    user = session.get(User, int(raw))
    return user if user is not None and user.active else None


def list_id_header(mailing_list: MailingList) -> str:
    """RFC 2919 `List-Id`: the list's name and a stable id under the portal's host."""
    host = get_settings().portal_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    name = mailing_list.name.replace('"', "").replace("<", "").replace(">", "")
    return f'"{name}" <{mailing_list.slug}.{host or "liaison-portal.invalid"}>'
