"""The library's form for a directory change request (the API decides again when it is sent)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.core.errors import NotFound
from app.models.directory_change import ChangeKind
from app.services import access, liaisons
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html
from app.web.views.liaisons import ROLES

router = APIRouter(include_in_schema=False)


@router.get("/directory-changes/new")
def new_change(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    kind: ChangeKind = ChangeKind.add,
    liaison_id: int | None = None,
    institution: Annotated[str | None, Query(max_length=8)] = None,
):
    person = None
    if kind is not ChangeKind.add:
        if liaison_id is None:
            raise NotFound("Say whose entry to change.")
        person = liaisons.public(liaisons.get_liaison(session=session, liaison_id=liaison_id))
        institution = person.institution
    institution = (institution or user.institution or "").upper()
    access.require_library_lead(user, institution, "request changes")
    return html(
        request,
        "directory_changes/form.html",
        kind=kind.value,
        person=person,
        institution=institution,
        roles=ROLES,
    )
