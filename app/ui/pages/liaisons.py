"""Directory forms for consortium staff: add or edit a person, import a CSV file."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.services import access, liaisons
from app.web.deps import CurrentUser, LiaisonDep
from app.web.render import html
from app.web.views.liaisons import ROLES

router = APIRouter(include_in_schema=False)


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
def edit_liaison(request: Request, user: CurrentUser, liaison: LiaisonDep):
    liaisons.require_editor(user, liaison.institution)
    return html(request, "liaisons/form.html", person=liaisons.public(liaison), roles=ROLES)
