"""What saved-reply pages show beside the replies: their authors' names and the placeholders
in plain words."""

from typing import Any

from sqlmodel import Session, col, select

from app.models.canned_reply import PLACEHOLDERS
from app.models.user import User
from app.web.render import View


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.name).where(col(User.id).in_(ids))).all())


def listing(view: View) -> dict[str, Any]:
    """One statement for every author on the page."""
    return {"authors": _names(view.session, {r.created_by for r in view.data.data})}


def detail(view: View) -> dict[str, Any]:
    return {
        "authors": _names(view.session, {view.data.created_by}),
        "placeholders": PLACEHOLDERS,
        "deleted": False,
    }


def deleted(view: View) -> dict[str, Any]:
    return {**detail(view), "deleted": True}


def form() -> dict[str, Any]:
    return {"placeholders": PLACEHOLDERS}
