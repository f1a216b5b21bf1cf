"""The institution forms: add one, edit one (the API routes save them)."""

from fastapi import APIRouter, Request

from app.services import access
from app.web.deps import CurrentUser, InstitutionDep
from app.web.render import html
from app.web.views import institutions as views

router = APIRouter(include_in_schema=False)


@router.get("/institutions/new")
def new_institution(request: Request, user: CurrentUser):
    access.require_staff(user, "add institutions")
    return html(request, "institutions/form.html", **views.form(None))


@router.get("/institutions/{code}/edit")
def edit_institution(request: Request, user: CurrentUser, institution: InstitutionDep):
    access.require_staff(user, "edit institutions")
    return html(request, "institutions/form.html", **views.form(institution))
