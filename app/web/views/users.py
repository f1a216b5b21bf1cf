"""What account administration pages show beside the accounts: role and institution choices."""

from typing import Any

from sqlmodel import Session, select

from app.models.institution import Institution
from app.models.user import Role
from app.web.render import View


def listing(view: View) -> dict[str, Any]:
    return {"roles": list(Role)}


def detail(view: View) -> dict[str, Any]:
    return form(view.session)


def form(session: Session) -> dict[str, Any]:
    institutions = session.exec(
        select(Institution.code, Institution.name).order_by(Institution.name)
    )
    return {"roles": list(Role), "institutions": [{"code": c, "name": n} for c, n in institutions]}
