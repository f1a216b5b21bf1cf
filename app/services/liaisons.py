"""The member directory: people, their dated appointments, and the seat rules.

Reads are open to every member. Direct writes are for consortium staff; a library proposes
changes through `app.services.directory_changes`, whose approval calls the `apply_*` functions
here inside its own transaction. The database enforces the seat rule (`uq_appointment_seat`);
the code ends the previous holder first, so a conflict means someone else won a race (409).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, exists, or_
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from app.core.db import committed
from app.core.errors import Conflict, FieldError, Invalid, NotFound, PermissionDenied
from app.core.pagination import PageParams, Window, construct, fetch_rows
from app.models.institution import Institution
from app.models.liaison import (
    SEATS,
    Appointment,
    AppointmentPublic,
    ContactRole,
    Liaison,
    LiaisonCreate,
    LiaisonPublic,
    LiaisonUpdate,
    current_on,
    holds_on,
    not_over_on,
    upcoming_on,
)
from app.models.user import Role, User
from app.services import audit, webhooks
from app.services.access import Notice, notice_roles
from app.services.institutions import today

EXPORT_LIMIT = 10_000
# What a person's audit entries leave out (`Liaison.roles` is in: the appointments change).
UNAUDITED = {"created_at", "updated_at", "account"}
SEAT_CONFLICT = (
    "Someone else changed this seat or used this e-mail address at the same moment; "
    "reload and try again."
)


# --- reading ----------------------------------------------------------------------------------

# What a list reads of a person: the columns of `LiaisonPublic` that are their own.
PERSON_COLUMNS = (
    Liaison.id,
    Liaison.name,
    Liaison.email,
    Liaison.phone,
    Liaison.title,
    Liaison.institution,
    Institution.name.label("institution_name"),
    Liaison.account,
)
APPOINTMENT_COLUMNS = (
    Appointment.liaison_id,
    Appointment.id,
    Appointment.role,
    Appointment.institution,
    Appointment.started_on,
    Appointment.ended_on,
)
_build_person = construct(LiaisonPublic)
_build_appointment = construct(AppointmentPublic)


def _filtered(
    *,
    q: str | None = None,
    institution: str | None = None,
    role: ContactRole | None = None,
    active: bool = True,
):
    """People matching the directory's filters, as the columns of `LiaisonPublic` that are
    the person's own (with their institution's name). `active=True` lists current and
    upcoming contacts (an appointment starting later is shown with its start); `active=False`
    lists former contacts."""
    held = select(Appointment.id).where(Appointment.liaison_id == Liaison.id)
    current = held.where(not_over_on(today()))
    stmt = select(*PERSON_COLUMNS).outerjoin(Institution, Institution.code == Liaison.institution)
    if active and role:  # driven by ix_appointment_role_current, a covering index
        holders = select(Appointment.liaison_id).where(
            Appointment.role == role, not_over_on(today())
        )
        stmt = stmt.where(Liaison.id.in_(holders))
    elif active:
        stmt = stmt.where(exists(current))
    else:
        stmt = stmt.where(~exists(current))
        if role:
            stmt = stmt.where(exists(held.where(Appointment.role == role)))
    if institution:
        stmt = stmt.where(Liaison.institution == institution.strip().upper())
    if q:
        named = select(Institution.code).where(
            or_(
                Institution.name.icontains(q, autoescape=True),
                Institution.code.icontains(q, autoescape=True),
            )
        )
        stmt = stmt.where(
            or_(
                Liaison.name.icontains(q, autoescape=True),
                Liaison.email.icontains(q, autoescape=True),
                Liaison.institution.in_(named),
            )
        )
    return stmt.order_by(Liaison.institution, Liaison.name, Liaison.id)


def list_liaisons(
    *,
    session: Session,
    actor: User,
    page: PageParams,
    q: str | None = None,
    institution: str | None = None,
    role: ContactRole | None = None,
    active: bool = True,
) -> Window:
    """One page as `LiaisonPublic`, in two statements whatever the page size: the people
    (with the total) and their appointments."""
    stmt = _filtered(q=q, institution=institution, role=role, active=active)
    window = fetch_rows(session, stmt, page)
    window.items = _people(session, window.items)
    return window


def export_liaisons(
    *,
    session: Session,
    actor: User,
    q: str | None = None,
    institution: str | None = None,
    role: ContactRole | None = None,
    active: bool = True,
) -> list[LiaisonPublic]:
    """Every match (not one page): an export is the whole answer to the filters."""
    stmt = _filtered(q=q, institution=institution, role=role, active=active)
    return _people(session, session.execute(stmt.limit(EXPORT_LIMIT)).mappings().all())


def _people(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[LiaisonPublic]:
    """People rows (`PERSON_COLUMNS`) as `LiaisonPublic`, with one statement for all their
    appointments; nothing is validated again (the database checked it)."""
    held: dict[int, list] = {row["id"]: [] for row in rows}
    if held:
        found = session.execute(_APPOINTMENTS_OF, {"ids": list(held)}).mappings()
        for appointment in found:
            held[appointment["liaison_id"]].append(appointment)
    return [_person(row, held[row["id"]]) for row in rows]


# Built once (building a statement costs more than running it): a page's appointments.
_APPOINTMENTS_OF = (
    select(*APPOINTMENT_COLUMNS)
    .where(Appointment.liaison_id.in_(bindparam("ids", expanding=True)))
    .order_by(Appointment.started_on, Appointment.id)
)


def _person(row: Mapping[str, Any], appointments: list[Mapping[str, Any]]) -> LiaisonPublic:
    """`public()` for a row and its appointments (oldest first)."""
    day = today()
    states = [_state(a["started_on"], a["ended_on"], day) for a in appointments]
    return _build_person(
        {
            **row,
            **_summary(appointments, states, lambda a: a["role"], lambda a: a),
            "appointments": [
                _build_appointment({**a, "current": now, "upcoming": later})
                for a, (now, later) in zip(appointments, states, strict=True)
            ],
        }
    )


def _state(started_on: date, ended_on: date | None, day: date) -> tuple[bool, bool]:
    """(current, upcoming) by the one rule in `app.models.liaison`."""
    return holds_on(started_on, ended_on, day), upcoming_on(started_on, ended_on, day)


def _summary(appointments, states, role_of, dates_of) -> dict[str, Any]:
    """A person's `roles`, `active`, `started_on` and `ended_on` from their appointments:
    the roles held today; since when (or, for someone not started yet, when they start)."""
    current = [a for a, (now, _) in zip(appointments, states, strict=True) if now]
    upcoming = [a for a, (_, later) in zip(appointments, states, strict=True) if later]
    ended = [dates_of(a)["ended_on"] for a in appointments if dates_of(a)["ended_on"]]
    return {
        "roles": sorted((ContactRole(role_of(a)) for a in current), key=_role_rank),
        "active": bool(current),
        "started_on": min(
            (dates_of(a)["started_on"] for a in current or upcoming or appointments), default=None
        ),
        "ended_on": None if current or upcoming else max(ended, default=None),
    }


def get_liaison(*, session: Session, liaison_id: int) -> Liaison:
    liaison = session.exec(
        select(Liaison)
        .where(Liaison.id == liaison_id)
        .options(selectinload(Liaison.appointments))
        .execution_options(populate_existing=True)
    ).first()
    if liaison is None:
        raise NotFound(f"No directory entry has the id {liaison_id}.")
    return liaison


def institution_contacts(*, session: Session, code: str) -> list[LiaisonPublic]:
    """Everyone who ever held an appointment at `code`, current contacts first (two
    statements: the people, their appointments)."""
    stmt = (
        select(*PERSON_COLUMNS)
        .outerjoin(Institution, Institution.code == Liaison.institution)
        .where(Liaison.institution == code)
        .order_by(Liaison.name, Liaison.id)
    )
    people = _people(session, session.execute(stmt).mappings().all())
    return sorted(people, key=lambda p: (_standing(p), _seat_rank(p.roles), p.name))


def _standing(person: LiaisonPublic) -> int:
    """Current contacts first, then those starting later, then former ones."""
    if person.active:
        return 0
    return 1 if any(a.upcoming for a in person.appointments) else 2


def is_upcoming(person: LiaisonPublic) -> bool:
    """Not current yet, but appointed from a later date."""
    return _standing(person) == 1


def publish(session: Session, people: list[Liaison]) -> list[LiaisonPublic]:
    """The public shape of many people with one query for their institutions' names."""
    codes = {p.institution for p in people}
    names = (
        dict(
            session.exec(
                select(Institution.code, Institution.name).where(Institution.code.in_(codes))
            ).all()
        )
        if codes
        else {}
    )
    return [public(p, names.get(p.institution)) for p in people]


def public(liaison: Liaison, institution_name: str | None = None) -> LiaisonPublic:
    appointments = sorted(liaison.appointments, key=lambda a: (a.started_on, a.id))
    day = today()
    states = [_state(a.started_on, a.ended_on, day) for a in appointments]
    return LiaisonPublic(
        id=liaison.id,
        name=liaison.name,
        email=liaison.email,
        phone=liaison.phone,
        title=liaison.title,
        institution=liaison.institution,
        institution_name=institution_name,
        **_summary(
            appointments,
            states,
            lambda a: a.role,
            lambda a: {"started_on": a.started_on, "ended_on": a.ended_on},
        ),
        account=liaison.account,
        appointments=[
            AppointmentPublic(
                id=a.id,
                role=a.role,
                institution=a.institution,
                started_on=a.started_on,
                ended_on=a.ended_on,
                current=now,
                upcoming=later,
            )
            for a, (now, later) in zip(appointments, states, strict=True)
        ],
    )


_RANK = {role: rank for rank, role in enumerate(ContactRole)}


def _role_rank(role: ContactRole) -> int:
    return _RANK[ContactRole(role)]


def _seat_rank(roles: list[ContactRole]) -> int:
    return min((_role_rank(r) for r in roles), default=len(ContactRole))


def vacant_seats(held: Iterable[ContactRole]) -> list[ContactRole]:
    """The seats (liaison, director) that none of the `held` current roles fills (an
    appointment starting later fills nothing yet: pass only roles current by `holds_on`)."""
    filled = {ContactRole(r) for r in held}
    return [s for s in SEATS if s not in filled]


# --- permissions ------------------------------------------------------------------------------


def require_editor(actor: User, institution: str) -> None:
    """Staff edit directly; a library's own people change through a request; others are 404."""
    if actor.is_staff:
        return
    if actor.institution != institution:
        raise NotFound("No such directory entry.")
    raise PermissionDenied(
        "Libraries change their directory entries through a change request (/directory-changes)."
    )


# --- writing: the public service functions commit --------------------------------------------


def create_liaison(*, session: Session, actor: User, data: LiaisonCreate) -> Liaison:
    require_editor(actor, data.institution.upper())
    with committed(session, SEAT_CONFLICT):
        liaison = apply_create(session=session, actor=actor, data=data)
    return get_liaison(session=session, liaison_id=liaison.id)


def update_liaison(
    *, session: Session, actor: User, liaison: Liaison, data: LiaisonUpdate
) -> Liaison:
    require_editor(actor, liaison.institution)
    with committed(session, SEAT_CONFLICT):
        apply_update(session=session, actor=actor, liaison=liaison, data=data)
    return get_liaison(session=session, liaison_id=liaison.id)


def end_liaison(
    *, session: Session, actor: User, liaison: Liaison, roles: list[ContactRole] | None = None
) -> Liaison:
    require_editor(actor, liaison.institution)
    with committed(session, SEAT_CONFLICT):
        apply_end(session=session, actor=actor, liaison=liaison, roles=roles)
    return get_liaison(session=session, liaison_id=liaison.id)


# --- writing: the building blocks (no commit), shared with change requests and imports --------


def apply_create(
    *, session: Session, actor: User | None, data: LiaisonCreate, started_on: date | None = None
) -> Liaison:
    code = data.institution.strip().upper()
    institution = session.get(Institution, code)
    if institution is None:
        raise Invalid(
            f"No institution has the code {code}.",
            [FieldError("institution", "is not a known institution code")],
        )
    email = free_email(session, data.email)
    liaison = Liaison(
        name=data.name, email=email, phone=data.phone, title=data.title, institution=code
    )
    liaison.appointments = []
    session.add(liaison)
    session.flush()
    start = data.started_on or started_on or today()
    for role in data.roles:
        _appoint(session, actor, liaison, ContactRole(role), start)
    audit.created(session, liaison, actor=actor, exclude=UNAUDITED)
    _publish(session, liaison, institution.name)
    return liaison


def apply_update(
    *, session: Session, actor: User | None, liaison: Liaison, data: LiaisonUpdate
) -> None:
    values = data.model_dump(exclude_unset=True)
    roles = values.pop("roles", None)
    start = values.pop("started_on", None) or today()
    if "email" in values:
        values["email"] = free_email(session, values["email"], liaison.id)
    with audit.change(session, liaison, actor=actor, exclude=UNAUDITED) as changed:
        for key, value in values.items():
            setattr(liaison, key, value)
        if roles is not None:
            wanted = {ContactRole(r) for r in roles}
            held = {ContactRole(a.role) for a in _current(liaison)}
            _end(session, liaison, held - wanted, start)
            for role in sorted(wanted - held, key=_role_rank):
                _appoint(session, actor, liaison, role, start)
    _sync_account(session, liaison)
    if changed:
        _publish(session, liaison)


def apply_end(
    *,
    session: Session,
    actor: User | None,
    liaison: Liaison,
    roles: list[ContactRole] | None = None,
) -> None:
    """Ends the given current roles (all when None) today; history is kept."""
    held = {ContactRole(a.role) for a in _current(liaison)}
    targets = held if roles is None else {ContactRole(r) for r in roles}
    missing = targets - held
    if missing:
        raise Invalid(
            f"{liaison.name} does not currently hold: {', '.join(sorted(missing))}.",
            [FieldError("roles", "names a role the person does not hold")],
        )
    if not targets:
        raise Conflict(f"{liaison.name} holds no current appointment.")
    with audit.change(session, liaison, actor=actor, action="end", exclude=UNAUDITED):
        _end(session, liaison, targets, today())
    _sync_account(session, liaison)
    _publish(session, liaison)


def _publish(session: Session, liaison: Liaison, institution_name: str | None = None) -> None:
    """`directory.changed` for webhooks, in this transaction: `{"liaison": …}` as
    `GET /liaisons/{id}` answers it (the directory is every member's to see)."""

    def payload() -> dict:
        name = institution_name or session.get(Institution, liaison.institution).name
        session.flush()  # new appointments get their ids
        return {"liaison": public(liaison, name).model_dump(mode="json")}

    webhooks.publish(session, "directory.changed", payload)


def _current(liaison: Liaison) -> list[Appointment]:
    return [a for a in liaison.appointments if a.ended_on is None]


def _appoint(
    session: Session, actor: User | None, liaison: Liaison, role: ContactRole, start: date
) -> None:
    """A new appointment; for a seat, the previous holder's appointment ends the same day."""
    if role in SEATS:
        holders = session.exec(
            select(Appointment).where(
                Appointment.institution == liaison.institution,
                Appointment.role == role,
                Appointment.ended_on.is_(None),
                Appointment.liaison_id != liaison.id,
            )
        ).all()
        for holder in holders:
            _close(holder, start)
            session.add(holder)
            audit.record(
                session,
                actor=actor,
                action="end",
                entity_type="liaison",
                entity_id=str(holder.liaison_id),
                before={"roles": [role.value]},
                after={"ended": role.value, "ended_on": holder.ended_on.isoformat()},
            )
            _sync_account(session, session.get(Liaison, holder.liaison_id))
        session.flush()  # the old holder's row ends before the new one is inserted
        for holder in holders:  # their entry changed too
            _publish(session, get_liaison(session=session, liaison_id=holder.liaison_id))
    appointment = Appointment(
        liaison_id=liaison.id, institution=liaison.institution, role=role, started_on=start
    )
    liaison.appointments.append(appointment)
    session.add(appointment)


def _end(session: Session, liaison: Liaison, roles: set[ContactRole], on: date) -> None:
    """Ends the roles on `on`; one not started by then is cancelled (it ends as it starts,
    so it is never current)."""
    for appointment in _current(liaison):
        if ContactRole(appointment.role) in roles:
            _close(appointment, max(on, appointment.started_on))
            session.add(appointment)


def _close(appointment: Appointment, on: date) -> None:
    if on < appointment.started_on:
        raise Invalid(
            f"An appointment cannot end ({on}) before it starts ({appointment.started_on}).",
            [FieldError("ended_on", "must not be before started_on")],
        )
    appointment.ended_on = on


def free_email(session: Session, email: str, own_id: int | None = None) -> str:
    email = str(email).strip().lower()
    taken = session.exec(select(Liaison.id).where(Liaison.email == email)).first()
    if taken is not None and taken != own_id:
        raise Conflict(
            f"The directory already lists {email}.", [FieldError("email", "is already listed")]
        )
    return email


def account_role(roles: set[ContactRole]) -> Role:
    """The sign-in role a directory person's appointments give them."""
    if ContactRole.director in roles:
        return Role.director
    if roles & {ContactRole.liaison, ContactRole.backup_liaison}:
        return Role.liaison
    return Role.library_staff


def _sync_account(session: Session, liaison: Liaison | None) -> None:
    """The linked account follows the appointments; the last one ending closes its access."""
    if liaison is None or not liaison.account:
        return
    user = session.get(User, liaison.account)
    if user is None or user.is_staff:
        return
    session.flush()
    roles = set(
        session.exec(
            select(Appointment.role).where(
                Appointment.liaison_id == liaison.id, Appointment.ended_on.is_(None)
            )
        ).all()
    )
    before = audit.snapshot(user, exclude={"password_hash"})
    if roles:
        user.role = account_role(roles)
        user.institution = liaison.institution
    else:
        user.active = False
    old, new = audit.changes(before, audit.snapshot(user, exclude={"password_hash"}))
    if new:
        session.add(user)
        audit.record(
            session,
            actor=None,
            action="update",
            entity_type="user",
            entity_id=str(user.id),
            before=old,
            after=new,
        )


def library_contacts(
    session: Session, kind: Notice, institutions: list[str] | None = None
) -> list[Liaison]:
    """Who hears of a notice of `kind` for their library: the people holding one of its roles
    (`access.notice_roles`) today at `institutions` (default: every member), one row each."""
    stmt = (
        select(Liaison)
        .join(Appointment, Appointment.liaison_id == Liaison.id)
        .where(current_on(today()), Appointment.role.in_(notice_roles(kind)))
        .distinct()
        .order_by(Liaison.id)
    )
    if institutions:
        stmt = stmt.where(Appointment.institution.in_(institutions))
    return list(session.exec(stmt).all())
