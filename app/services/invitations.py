"""Sign-in invitations for directory people: a single-use, expiring link e-mailed to them.

Only the token's hash is stored; accepting creates (or re-opens) the person's account, whose
role and institution follow their current appointments.
"""

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, select

from app.core import security
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, Invalid, NotFound
from app.models.directory import DirectoryInvitation, DirectoryInvitationPublic
from app.models.liaison import ContactRole, Liaison
from app.models.user import Role, User
from app.notify.outbox import enqueue
from app.services import audit, liaisons
from app.services.access import require_staff


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(*, session: Session, actor: User, liaison: Liaison) -> DirectoryInvitationPublic:
    """A single-use link, shown to staff and e-mailed through the outbox."""
    require_staff(actor, "invite people to sign in")
    person = liaisons.public(liaison)
    if not person.active:
        raise Conflict(f"{liaison.name} holds no current appointment to sign in for.")
    token = secrets.token_urlsafe(32)
    settings = get_settings()
    invitation = DirectoryInvitation(
        liaison_id=liaison.id,
        token_hash=_digest(token),
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
            "role": role.value.replace("_", " "),
            "url": settings.portal_url.rstrip("/") + path,
            "expires_at": invitation.expires_at.astimezone(settings.tz).strftime(
                "%Y-%m-%d %H:%M %Z"
            ),
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


def open_invitation(*, session: Session, token: str) -> tuple[DirectoryInvitation, Liaison]:
    invitation = session.exec(
        select(DirectoryInvitation).where(DirectoryInvitation.token_hash == _digest(token))
    ).first()
    if invitation is None or invitation.used_at is not None or invitation.expires_at < utcnow():
        raise NotFound(
            "This invitation link is unknown, used or expired; ask the consortium office."
        )
    return invitation, liaisons.get_liaison(session=session, liaison_id=invitation.liaison_id)


def accept_invitation(*, session: Session, token: str, password: str) -> User:
    """Creates or re-opens the account; its role and institution follow the appointments."""
    invitation, liaison = open_invitation(session=session, token=token)
    roles = {ContactRole(a.role) for a in liaison.appointments if a.ended_on is None}
    if not roles:
        raise Conflict(f"{liaison.name} no longer holds an appointment.")
    problem = security.password_problem(password, liaison.email)
    if problem:
        raise Invalid(f"The password {problem}.", [FieldError("password", problem)])
    user = session.exec(select(User).where(User.email == liaison.email)).first()
    if user is not None and user.is_staff:
        raise Conflict("This e-mail address belongs to a consortium account.")
    if user is None:
        user = User(email=liaison.email, name=liaison.name, role=Role.library_staff)
    user.role = liaisons.account_role(roles)
    user.institution = liaison.institution
    user.active = True
    user.password_hash = security.hash_password(password)
    session.add(user)
    session.flush()
    liaison.account = user.id
    invitation.used_at = utcnow()
    session.add_all([liaison, invitation])
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
