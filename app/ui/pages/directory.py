"""Directory forms: add or edit a person, import, request a change, accept an invitation."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse

from app.core.errors import DomainError, NotFound, PermissionDenied
from app.models.directory_change import ChangeKind
from app.models.liaison import ContactRole
from app.models.user import Role
from app.services import access, directory, liaisons
from app.web.deps import CurrentUser, IdPath, SessionDep
from app.web.render import html

router = APIRouter(include_in_schema=False)
ROLES = list(ContactRole)


@router.get("/liaisons/new")
def new_liaison(
    request: Request,
    user: CurrentUser,
    institution: Annotated[str | None, Query(max_length=8)] = None,
):
    access.require_staff(user, "add directory entries")
    return html(request, "liaisons/form.html", person=None, institution=institution, roles=ROLES)


@router.get("/liaisons/import")
def import_form(request: Request, user: CurrentUser):
    access.require_staff(user, "import directory entries")
    return html(request, "liaisons/import.html", data=None)


@router.get("/liaisons/{liaison_id}/edit")
def edit_liaison(request: Request, session: SessionDep, user: CurrentUser, liaison_id: IdPath):
    person = liaisons.get_liaison(session=session, liaison_id=liaison_id)
    liaisons.require_editor(user, person.institution)
    return html(request, "liaisons/form.html", person=liaisons.public(person), roles=ROLES)


@router.get("/directory-changes/new")
def new_change(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    kind: ChangeKind = ChangeKind.add,
    liaison_id: int | None = None,
    institution: Annotated[str | None, Query(max_length=8)] = None,
):
    """The library's form; the API decides again when it is sent."""
    person = None
    if kind is not ChangeKind.add:
        if liaison_id is None:
            raise NotFound("Say whose entry to change.")
        person = liaisons.public(liaisons.get_liaison(session=session, liaison_id=liaison_id))
        institution = person.institution
    institution = (institution or user.institution or "").upper()
    if not access.is_staff(user):
        if institution != user.institution:
            raise NotFound(f"No institution {institution} among yours.")
        if Role(user.role) not in (Role.director, Role.liaison):
            raise PermissionDenied("Only a library's director or liaison may request changes.")
    return html(
        request,
        "directory_changes/form.html",
        kind=kind.value,
        person=person,
        institution=institution,
        roles=ROLES,
    )


@router.get("/invitations/{token}")
def invitation(request: Request, session: SessionDep, token: str):
    _, person = directory.open_invitation(session=session, token=token)
    return html(
        request,
        "liaisons/invitation.html",
        person=liaisons.publish(session, [person])[0],
        token=token,
    )


@router.post("/invitations/{token}")
def accept_invitation(
    request: Request,
    session: SessionDep,
    token: str,
    password: Annotated[str, Form(max_length=256)],
):
    """No one is signed in here: the unguessable single-use token is the credential."""
    try:
        directory.accept_invitation(session=session, token=token, password=password)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        _, person = directory.open_invitation(session=session, token=token)
        return html(
            request,
            "liaisons/invitation.html",
            status_code=exc.status,
            person=liaisons.public(person),
            token=token,
            error=exc.detail,
        )
    return RedirectResponse("/login", status_code=303)
