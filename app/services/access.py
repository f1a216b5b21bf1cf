"""Who may do what: the role checks every service shares."""

from app.core.errors import PermissionDenied
from app.models.user import Role, User

CONSORTIUM = (Role.consortium_admin, Role.consortium_staff)


def require_role(actor: User, *roles: Role, action: str = "do this") -> None:
    if Role(actor.role) not in roles:
        raise PermissionDenied(f"Your role ({actor.role}) may not {action}.")


def require_staff(actor: User, action: str = "do this") -> None:
    require_role(actor, *CONSORTIUM, action=action)


def is_staff(actor: User | None) -> bool:
    return actor is not None and Role(actor.role) in CONSORTIUM
