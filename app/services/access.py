"""Who may do what: the one capability module that services, pages and templates ask.

Pages and templates read the same answers through `User.is_staff`, `User.is_admin` and
`User.is_library_lead`; nothing else compares role names.
"""

from enum import StrEnum

from app.core.errors import NotFound, PermissionDenied
from app.models.liaison import ContactRole
from app.models.user import STAFF_ROLES, Role, User

CONSORTIUM = STAFF_ROLES  # for queries: `User.role.in_(CONSORTIUM)`


class Notice(StrEnum):
    """Kinds of notice the portal sends to a library's contacts."""

    maintenance = "maintenance"
    incident = "incident"


# The directory roles that hear of each kind of notice for their library.
NOTICE_ROLES: dict[Notice, tuple[ContactRole, ...]] = {
    Notice.maintenance: (ContactRole.liaison, ContactRole.backup_liaison, ContactRole.director),
    Notice.incident: (ContactRole.liaison, ContactRole.backup_liaison, ContactRole.director),
}


def is_staff(actor: User | None) -> bool:
    return actor is not None and actor.is_staff


def is_library_lead(actor: User | None) -> bool:
    """A director or liaison: sees all their library's tickets and speaks for it."""
    return actor is not None and actor.is_library_lead


def require_role(actor: User, *roles: Role, action: str = "do this") -> None:
    if Role(actor.role) not in roles:
        raise PermissionDenied(
            f"Your role ({Role(actor.role).name.replace('_', ' ')}) may not {action}."
        )


def require_staff(actor: User, action: str = "do this") -> None:
    if not is_staff(actor):
        raise PermissionDenied(f"Only consortium staff may {action}.")


def require_admin(actor: User, action: str = "do this") -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"Only a consortium administrator may {action}.")


def require_library_lead(actor: User, institution: str, action: str) -> None:
    """Staff, or the director or liaison of `institution`; another library's record is 404."""
    if is_staff(actor):
        return
    if actor.institution != institution:
        raise NotFound(f"No institution {institution} among yours.")
    if not actor.is_library_lead:
        raise PermissionDenied(f"Only a library's director or liaison may {action}.")


def may_request_directory_changes(actor: User | None, institution: str | None = None) -> bool:
    """Directory change requests: staff, or the library's own director or liaison."""
    if actor is None:
        return False
    if actor.is_staff:
        return True
    return actor.is_library_lead and institution in (None, actor.institution)


def notice_roles(kind: Notice) -> tuple[ContactRole, ...]:
    return NOTICE_ROLES[kind]
