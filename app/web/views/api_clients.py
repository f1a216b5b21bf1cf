"""What API client pages show beside the clients: owners' names, scopes in plain words, and
the choices of the form."""

from typing import Any

from sqlmodel import Session, col, select

from app.models.institution import Institution
from app.models.user import STAFF_ROLES, User
from app.services import api_clients
from app.web.render import View


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.name).where(col(User.id).in_(ids))).all())


def listing(view: View) -> dict[str, Any]:
    """One statement for every owner on the page."""
    return {
        "owners": _names(view.session, {c.owner for c in view.data.data}),
        "scope_words": api_clients.SCOPES,
    }


def detail(view: View) -> dict[str, Any]:
    client = view.data
    return {
        "owners": _names(view.session, {client.owner}),
        "scope_words": api_clients.SCOPES,
        **form(view.session),
    }


def form(session: Session) -> dict[str, Any]:
    """Scopes grouped by what they are about, institutions, and who may own a client."""
    institutions = session.exec(
        select(Institution.code, Institution.name).order_by(Institution.name)
    )
    staff = session.exec(
        select(User.id, User.name)
        .where(col(User.role).in_(STAFF_ROLES), col(User.active).is_(True))
        .order_by(User.name)
    )
    groups = [
        {"about": what, "read": f"{resource}:read", "write": f"{resource}:write"}
        for resource, what in api_clients.RESOURCES.items()
    ]
    return {
        "scope_groups": groups,
        "institutions": [{"code": c, "name": n} for c, n in institutions],
        "staff": [{"id": i, "name": n} for i, n in staff],
    }
