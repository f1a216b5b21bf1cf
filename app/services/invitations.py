"""Sign-in invitations for directory people: a single-use, expiring link e-mailed to them.

Only the token's hash is stored; accepting creates (or re-opens) the person's account, whose
role and institution follow their current appointments. Only the newest link works: issuing
one deletes the person's earlier unused links (one sent to an address since corrected, say),
and accepting one deletes the rest. Someone who already has an account is sent a password
reset link instead, so an invitation never replaces a password silently.
"""

from datetime import timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from app.core import security
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, Invalid, NotFound, PermissionDenied
from app.core.pagination import PageParams, Window, fetch_rows
from app.models.directory import (
    DirectoryInvitation,
    DirectoryInvitationPublic,
    PendingInvitation,
)
from app.models.institution import Institution
from app.models.liaison import ContactRole, Liaison, holds_on
from app.models.user import Role, User
from app.notify.outbox import enqueue
from app.services import audit, auth, liaisons
from app.services.access import is_staff, require_staff

UNKNOWN = "This invitation link is unknown, used or expired; ask the consortium office."


def _digest(token: str) -> str:
    return security.link_digest(token)


def invite(*, session: Session, actor: User, liaison: Liaison) -> DirectoryInvitationPublic:
    """A single-use link, shown to staff and e-mailed through the outbox; for someone with an
    account, a password reset link e-mailed to them only."""
    require_staff(actor, "invite people to sign in")
    person = liaisons.public(liaison)
    if not person.active:
        raise Conflict(f"{liaison.name} holds no current appointment to sign in for.")
    _void_unused(session, [liaison.id])
    existing = _account(session, liaison.email)
    if existing is not None and existing.active and existing.password_hash is not None:
        return _reinvite(session, actor, liaison, existing)
    token, digest = security.new_link_token()
    settings = get_settings()
    invitation = DirectoryInvitation(
        liaison_id=liaison.id,
        token_hash=digest,
        expires_at=utcnow() + timedelta(hours=settings.directory_invitation_hours),
        created_by=actor.id,
    )
    session.add(invitation)
    path = f"/invitations/{token}"
    role = liaisons.account_role(set(person.roles))
    enqueue(
        session,
        to=liaison.email,
        template="directory/invitation",
        context={
            "name": liaison.name,
            "institution": liaison.institution,
            "institution_name": _institution_name(session, liaison.institution),
            "role": ROLE_WORDS[role],
            "url": settings.base_url + path,
            "expires_at": _local(invitation.expires_at),
        },
    )
    audit.record(
        session,
        actor=actor,
        action="invite",
        entity_type="liaison",
        entity_id=str(liaison.id),
        after={"expires_at": invitation.expires_at.isoformat()},
    )
    session.commit()
    return DirectoryInvitationPublic(
        liaison_id=liaison.id, url=path, expires_at=invitation.expires_at
    )


def _reinvite(
    session: Session, actor: User, liaison: Liaison, user: User
) -> DirectoryInvitationPublic:
    """The person signs in as they do; if they forgot their password, the e-mailed link
    lets them choose another. Staff never see that link."""
    reset = auth.issue_reset(
        session,
        user,
        template="account/reinvited",
        minutes=get_settings().directory_invitation_hours * 60,
    )
    audit.record(
        session,
        actor=actor,
        action="invite",
        entity_type="liaison",
        entity_id=str(liaison.id),
        after={"password_reset_for": user.id, "expires_at": reset.expires_at.isoformat()},
    )
    session.commit()
    return DirectoryInvitationPublic(
        liaison_id=liaison.id, url="/login", expires_at=reset.expires_at, password_reset=True
    )


# The sign-in role an invitation offers, as the e-mail says it.
ROLE_WORDS = {
    Role.director: "library director",
    Role.liaison: "liaison",
    Role.library_staff: "library staff",
    Role.consortium_staff: "consortium staff",
    Role.consortium_admin: "consortium administrator",
}


def _institution_name(session: Session, code: str) -> str:
    found = session.get(Institution, code)
    return found.name if found else code


def _account(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def _void_unused(session: Session, liaison_ids: list[int]) -> None:
    session.execute(
        delete(DirectoryInvitation).where(
            DirectoryInvitation.liaison_id.in_(liaison_ids), DirectoryInvitation.used_at.is_(None)
        )
    )


def _local(value) -> str:
    return value.astimezone(get_settings().tz).strftime("%Y-%m-%d %H:%M %Z")


def open_invitation(*, session: Session, token: str) -> tuple[DirectoryInvitation, Liaison]:
    invitation = session.exec(
        select(DirectoryInvitation).where(DirectoryInvitation.token_hash == _digest(token))
    ).first()
    if invitation is None or invitation.used_at is not None or invitation.expires_at < utcnow():
        raise NotFound(UNKNOWN)
    return invitation, liaisons.get_liaison(session=session, liaison_id=invitation.liaison_id)


def accept_invitation(*, session: Session, token: str, password: str) -> User:
    """Creates or re-opens the account; its role and institution follow the appointments.

    An active account that has a password is never taken over here (it signs in, or resets
    its password). The link is used atomically: of two parallel posts, one wins.
    """
    invitation, liaison = open_invitation(session=session, token=token)
    day = liaisons.today()
    roles = {
        ContactRole(a.role) for a in liaison.appointments if holds_on(a.started_on, a.ended_on, day)
    }
    if not roles:
        raise Conflict(f"{liaison.name} no longer holds an appointment.")
    problem = security.password_problem(password, liaison.email)
    if problem:
        raise Invalid(f"The password {problem}.", [FieldError("password", problem)])
    user = _account(session, liaison.email)
    if user is not None and user.is_staff:
        raise Conflict("This e-mail address belongs to a consortium account.")
    if user is not None and user.active and user.password_hash is not None:
        raise Conflict(
            "You already have an account: sign in, or use “Forgot your password?” on the "
            "sign-in page."
        )
    used = session.execute(
        update(DirectoryInvitation)
        .where(DirectoryInvitation.id == invitation.id, DirectoryInvitation.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:
        session.rollback()
        raise NotFound(UNKNOWN)
    if user is None:
        user = User(email=liaison.email.strip().lower(), name=liaison.name, role=Role.library_staff)
    user.role = liaisons.account_role(roles)
    user.institution = liaison.institution
    user.active = True
    user.password_hash = security.hash_password(password)
    session.add(user)
    session.flush()
    auth.revoke_sessions(session, user_id=user.id)
    liaison.account = user.id
    session.add(liaison)
    # Every other link for this person (or another directory entry with the same address).
    same_person = select(Liaison.id).where(
        func.lower(Liaison.email) == liaison.email.strip().lower()
    )
    session.execute(
        delete(DirectoryInvitation).where(
            DirectoryInvitation.liaison_id.in_(same_person), DirectoryInvitation.used_at.is_(None)
        )
    )
    audit.record(
        session,
        actor=user,
        action="accept_invitation",
        entity_type="user",
        entity_id=str(user.id),
        after=audit.snapshot(user, exclude={"password_hash"}),
    )
    session.commit()
    return user


# --- pending invitations: the list, sending again, revoking -----------------------------------


def _require_inviter(actor: User, institution: str | None) -> None:
    """Who may see and manage invitations: whoever may invite (consortium staff); another
    library's invitations do not exist for a library user (404)."""
    if is_staff(actor):
        return
    if institution is not None and actor.institution != institution:
        raise NotFound("No such invitation.")
    raise PermissionDenied("Only consortium staff invite people to sign in.")


def list_pending(
    *, session: Session, actor: User, page: PageParams, institution: str | None = None
) -> Window:
    """Invitations not yet accepted (open or expired), newest first, in one statement."""
    _require_inviter(actor, institution)
    now = utcnow()
    stmt = (
        select(
            DirectoryInvitation.id,
            DirectoryInvitation.liaison_id,
            Liaison.name,
            Liaison.email,
            Liaison.institution,
            DirectoryInvitation.created_at,
            DirectoryInvitation.created_by,
            User.name.label("created_by_name"),
            DirectoryInvitation.expires_at,
        )
        .join(Liaison, Liaison.id == DirectoryInvitation.liaison_id)
        .outerjoin(User, User.id == DirectoryInvitation.created_by)
        .where(DirectoryInvitation.used_at.is_(None))
        .order_by(DirectoryInvitation.created_at.desc(), DirectoryInvitation.id.desc())
    )
    if institution:
        stmt = stmt.where(Liaison.institution == institution)
    return fetch_rows(
        session,
        stmt,
        page,
        lambda row: PendingInvitation.model_construct(
            **row, expired=row["expires_at"] < now, revoked=False
        ),
    )


def get_pending(*, session: Session, actor: User, invitation_id: int) -> DirectoryInvitation:
    """An invitation not yet accepted; 404 for another library's, or once used or revoked."""
    invitation = session.get(DirectoryInvitation, invitation_id)
    person = session.get(Liaison, invitation.liaison_id) if invitation else None
    if invitation is None or person is None or invitation.used_at is not None:
        raise NotFound(f"No pending invitation has the id {invitation_id}.")
    _require_inviter(actor, person.institution)
    return invitation


def resend(
    *, session: Session, actor: User, invitation: DirectoryInvitation
) -> DirectoryInvitationPublic:
    """A new link, e-mailed again; the old one stops working (see `invite`)."""
    liaison = liaisons.get_liaison(session=session, liaison_id=invitation.liaison_id)
    return invite(session=session, actor=actor, liaison=liaison)


def revoke(*, session: Session, actor: User, invitation: DirectoryInvitation) -> PendingInvitation:
    """The link stops working at once (its row goes); the audit trail keeps that it was sent."""
    _require_inviter(actor, None)
    person = session.get(Liaison, invitation.liaison_id)
    creator = session.get(User, invitation.created_by)
    revoked = PendingInvitation(
        id=invitation.id,
        liaison_id=invitation.liaison_id,
        name=person.name,
        email=person.email,
        institution=person.institution,
        created_at=invitation.created_at,
        created_by=invitation.created_by,
        created_by_name=creator.name if creator else None,
        expires_at=invitation.expires_at,
        expired=invitation.expires_at < utcnow(),
        revoked=True,
    )
    audit.record(
        session,
        actor=actor,
        action="revoke_invitation",
        entity_type="liaison",
        entity_id=str(invitation.liaison_id),
        before={"expires_at": invitation.expires_at.isoformat()},
    )
    session.delete(invitation)
    session.commit()
    return revoked
