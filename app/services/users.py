"""User accounts: administration by consortium admins, and each person's own account.

Rules an administrator cannot break: nobody changes their own role or deactivates themselves,
and the last active consortium admin stays one (409). Deactivation ends every sign-in.
"""

from sqlalchemy import func, or_
from sqlmodel import Session, select

from app.core import security
from app.core.config import get_settings
from app.core.errors import Conflict, FieldError, Invalid, NotFound
from app.core.pagination import PageParams, Window, fetch
from app.models.api_client import ApiClient
from app.models.institution import Institution
from app.models.user import (
    AccountPublic,
    AccountSession,
    AccountUpdate,
    NoticePreference,
    Role,
    User,
    UserAdminPublic,
    UserAdminUpdate,
    UserBase,
)
from app.services import audit, auth
from app.services.access import Notice, require_admin

SECRET_FIELDS = {"password_hash"}


# --- administration ----------------------------------------------------------------------------


# An API client acts through a user row of its own (app/services/api_clients.py); that row is
# managed on the client's page, never as a person's account.
_person = User.id.not_in(select(ApiClient.principal))


def create_user(
    *,
    session: Session,
    actor: User | None,
    data: UserBase,
    password: str | None = None,
    phone: str | None = None,
) -> User:
    """`actor` is None only for the command line, which runs as the operator. Without a
    password the person gets an e-mail with a link to choose one."""
    if actor is not None:
        require_admin(actor, "create accounts")
    email = data.email.strip().lower()
    role = Role(data.role)
    institution = _placement(session, role, data.institution)
    if password is not None:
        problem = security.password_problem(password, email)
        if problem:
            raise Invalid(f"The password {problem}.", [FieldError("password", problem)])
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(
            f"A user with the e-mail {email} exists.", [FieldError("email", "is already taken")]
        )
    user = User(
        email=email,
        name=data.name,
        role=role,
        institution=institution,
        phone=phone,
        password_hash=security.hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    audit.created(session, user, actor=actor, exclude=SECRET_FIELDS)
    if password is None:
        auth.issue_reset(
            session,
            user,
            template="account/welcome",
            minutes=get_settings().directory_invitation_hours * 60,
            context={"role": role.value.replace("_", " ")},
        )
    session.commit()
    return user


def _placement(session: Session, role: Role, institution: str | None) -> str | None:
    """The institution a role belongs to: none for consortium roles, a known one otherwise."""
    if role.is_consortium:
        if institution:
            raise Invalid(
                "Consortium roles belong to no institution.",
                [FieldError("institution", "must be empty for a consortium role")],
            )
        return None
    if not institution:
        label = role.value.replace("_", " ")
        raise Invalid(
            f"A {label} belongs to an institution.", [FieldError("institution", "is required")]
        )
    code = institution.strip().upper()
    if session.get(Institution, code) is None:
        raise Invalid(
            f"No institution has the code {code}.",
            [FieldError("institution", "is not a known institution code")],
        )
    return code


def list_users(
    *,
    session: Session,
    actor: User,
    page: PageParams,
    q: str | None = None,
    role: Role | None = None,
    institution: str | None = None,
    active: bool | None = None,
) -> Window:
    require_admin(actor, "see the list of accounts")
    stmt = select(User).where(_person)
    if q:
        needle = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(User.name).like(needle), User.email.like(needle)))
    if role is not None:
        stmt = stmt.where(User.role == role)
    if institution:
        stmt = stmt.where(User.institution == institution.strip().upper())
    if active is not None:
        stmt = stmt.where(User.active == active)
    window = fetch(session, stmt.order_by(User.name, User.id), page)
    window.items = [public(u) for u in window.items]
    return window


def get_user(*, session: Session, actor: User, user_id: int) -> User:
    require_admin(actor, "see accounts")
    user = session.exec(select(User).where(User.id == user_id, _person)).first()
    if user is None:
        raise NotFound(f"No account has the id {user_id}.")
    return user


def public(user: User) -> UserAdminPublic:
    return UserAdminPublic.model_validate(user, from_attributes=True)


def update_user(*, session: Session, actor: User, user: User, data: UserAdminUpdate) -> User:
    """Name, phone, role and institution, active or not; audited."""
    require_admin(actor, "change accounts")
    fields = data.model_dump(exclude_unset=True)
    role = Role(fields.get("role") or user.role)
    ceases = (role is not Role(user.role) and Role(user.role) is Role.consortium_admin) or (
        fields.get("active") is False and user.active
    )
    if user.id == actor.id:
        if role is not Role(actor.role):
            raise Conflict("Nobody can change their own role; ask another administrator.")
        if fields.get("active") is False:
            raise Conflict("You cannot deactivate your own account; ask another administrator.")
    if ceases and Role(user.role) is Role.consortium_admin and _other_admins(session, user) == 0:
        raise Conflict(
            "This is the last active consortium administrator; make someone else one first."
        )
    if "institution" in fields or "role" in fields:
        wanted = fields.get("institution", None if role.is_consortium else user.institution)
        if role.is_consortium and "institution" not in fields:
            wanted = None
        institution = _placement(session, role, wanted)
    else:
        institution = user.institution
    with audit.change(session, user, actor=actor, exclude=SECRET_FIELDS, touch=None) as change:
        for name in ("name", "phone", "active"):
            if name in fields and fields[name] is not None:
                setattr(user, name, fields[name])
        if "phone" in fields and fields["phone"] is None:
            user.phone = None
        user.role = role
        user.institution = institution
    if change and not user.active:
        auth.revoke_sessions(session, user_id=user.id)
    session.commit()
    return user


def _other_admins(session: Session, user: User) -> int:
    """Active admins besides `user`, with those rows locked (PostgreSQL) so two admins who
    demote each other at once cannot both succeed; SQLite runs one writer at a time."""
    ids = session.exec(
        select(User.id)
        .where(User.role == Role.consortium_admin, User.active, User.id != user.id)
        .order_by(User.id)
        .with_for_update()
    ).all()
    return len(ids)


# --- my account -------------------------------------------------------------------------------


def account(*, session: Session, actor: User, current_session: str | None) -> AccountPublic:
    chosen = {
        p.kind: p.email
        for p in session.exec(select(NoticePreference).where(NoticePreference.user_id == actor.id))
    }
    sessions = [
        AccountSession(
            id=s.id,
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            expires_at=s.expires_at,
            user_agent=s.user_agent,
            address=s.address,
            current=s.id == current_session,
        )
        for s in auth.live_sessions(session, actor.id)
    ]
    return AccountPublic(
        id=actor.id,
        email=actor.email,
        name=actor.name,
        role=actor.role,
        institution=actor.institution,
        phone=actor.phone,
        notices={kind.value: chosen.get(kind.value, True) for kind in Notice},
        sessions=sessions,
    )


def update_account(*, session: Session, actor: User, data: AccountUpdate) -> User:
    """The person's own name, phone and notice choices (role and e-mail are the office's)."""
    fields = data.model_dump(exclude_unset=True)
    notices = fields.pop("notices", None) or {}
    unknown = sorted(set(notices) - {k.value for k in Notice})
    if unknown:
        known = ", ".join(k.value for k in Notice)
        raise Invalid(
            f"There is no kind of notice called {', '.join(unknown)}; the kinds are {known}.",
            [FieldError(f"notices.{k}", "is not a kind of notice") for k in unknown],
        )
    fields = {k: v.strip() or None if isinstance(v, str) else v for k, v in fields.items()}
    if "name" in fields and fields["name"] is None:
        raise Invalid("Your name cannot be empty.", [FieldError("name", "is required")])
    with audit.change(session, actor, actor=actor, exclude=SECRET_FIELDS, touch=None):
        for name, value in fields.items():
            setattr(actor, name, value)
    for kind, wanted in notices.items():
        row = session.get(NoticePreference, (actor.id, kind))
        before = row.email if row else True
        row = row or NoticePreference(user_id=actor.id, kind=kind)
        row.email = wanted
        session.add(row)
        if before != wanted:
            audit.record(
                session,
                actor=actor,
                action="notice_preference",
                entity_type="user",
                entity_id=str(actor.id),
                before={kind: before},
                after={kind: wanted},
            )
    session.commit()
    return actor


def change_password(*, session: Session, actor: User, current: str, new: str) -> None:
    """Needs the current password (slowed down like sign-ins); every sign-in ends."""
    auth.reserve(session, f"account:{actor.email}", get_settings().login_max_failures_per_account)
    if not security.verify_password(current, actor.password_hash):
        raise Invalid(
            "Your current password is not correct.",
            [FieldError("current_password", "is not correct")],
        )
    problem = security.password_problem(new, actor.email)
    if problem:
        raise Invalid(f"The new password {problem}.", [FieldError("new_password", problem)])
    auth.set_password(session, actor, new, actor=actor, action="change_password")
    session.commit()


def revoke_session(*, session: Session, actor: User, session_id: str) -> None:
    """Signs one of the person's own sign-ins out; someone else's does not exist (404)."""
    if not auth.revoke_sessions(session, user_id=actor.id, session_ids=[session_id]):
        raise NotFound("No such sign-in among yours (it may have ended already).")
    session.commit()


def revoke_all_sessions(*, session: Session, actor: User) -> None:
    """Signs the person out everywhere, this browser included."""
    auth.revoke_sessions(session, user_id=actor.id)
    audit.record(
        session,
        actor=actor,
        action="sign_out_everywhere",
        entity_type="user",
        entity_id=str(actor.id),
    )
    session.commit()


def notice_opt_outs(session: Session, kind: Notice, user_ids: list[int] | None = None) -> set[int]:
    """The users who asked not to get `kind` of notice by e-mail (for the notice senders)."""
    stmt = select(NoticePreference.user_id).where(
        NoticePreference.kind == Notice(kind).value, NoticePreference.email.is_(False)
    )
    if user_ids is not None:
        stmt = stmt.where(NoticePreference.user_id.in_(user_ids))
    return set(session.exec(stmt).all())
