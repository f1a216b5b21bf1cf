"""The member directory: `/liaisons`, `/liaisons/{id}` and `/institutions/{code}/liaisons`.

Besides JSON, page and fragment (render.py), the directory's list and person routes answer
`text/csv` and `text/vcard` (vCard 4.0), chosen by `Accept` or, for plain links, `?format=`:
exports registered in `app.web.views.liaisons`.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from pydantic import BaseModel

from app.core.config import get_settings
from app.core.errors import FieldError, Invalid
from app.core.pagination import Page, page, page_of_list
from app.models.directory import (
    DirectoryConfirmationPublic,
    DirectoryInvitationPublic,
    PendingInvitation,
)
from app.models.liaison import (
    ContactRole,
    ExportFormat,
    Liaison,
    LiaisonCreate,
    LiaisonPublic,
    LiaisonUpdate,
)
from app.services import directory_confirmations, directory_exports, invitations, liaisons
from app.web.deps import (
    CurrentUser,
    IdPath,
    InstitutionDep,
    LiaisonDep,
    Paging,
    SessionDep,
    StaffUser,
)
from app.web.problems import problem_responses
from app.web.render import SharedRoute, shared
from app.web.views import liaisons as views

router = APIRouter(route_class=SharedRoute, tags=["liaisons"])

READ = problem_responses(401, 404, 422)
WRITE = problem_responses(400, 401, 403, 404, 409, 413, 422)
# Documented (and validated) here; the registered exports answer it.
FormatQuery = Annotated[
    ExportFormat | None, Query(alias="format", description="csv or vcard: an export, for links.")
]


@router.get("/liaisons", response_model=Page[LiaisonPublic], responses=READ)
@shared("liaisons/list.html", block="results", context=views.filters, exports=views.DIRECTORY)
def list_liaisons(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
    fmt: FormatQuery = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Name, e-mail, institution.")
    ] = None,
    institution: Annotated[str | None, Query(max_length=8)] = None,
    role: ContactRole | None = None,
    active: Annotated[bool, Query(description="false: former contacts.")] = True,
):
    """The member directory: current contacts by default; every filter also applies to exports."""
    window = liaisons.list_liaisons(
        session=session,
        actor=user,
        page=paging,
        q=q,
        institution=institution,
        role=role,
        active=active,
    )
    return page(window, paging, request, response)


@router.post(
    "/liaisons",
    status_code=status.HTTP_201_CREATED,
    response_model=LiaisonPublic,
    responses=WRITE,
)
@shared("liaisons/detail.html", block="detail", context=views.person, event="liaison-saved")
def create_liaison(data: LiaisonCreate, session: SessionDep, user: CurrentUser, response: Response):
    """Consortium staff add a person; a liaison or director seat changes hands at once."""
    liaison = liaisons.create_liaison(session=session, actor=user, data=data)
    response.headers["Location"] = f"/liaisons/{liaison.id}"
    return _public(session, liaison)


class ImportProblem(BaseModel):
    line: int
    field: str
    reason: str


class ImportRow(BaseModel):
    """What one row does: add, update (the fields that change), unchanged, or error."""

    line: int
    action: str
    name: str
    email: str
    fields: list[str]
    problems: list[str]


class ImportResult(BaseModel):
    dry_run: bool
    valid: bool
    rows: int
    created: int
    updated: int = 0
    unchanged: int = 0
    errors: list[ImportProblem]
    results: list[ImportRow] = []


@router.post(
    "/liaisons/import",
    response_model=ImportResult,
    responses=WRITE,
)
@shared("liaisons/import.html", block="report", event="liaisons-imported")
def import_liaisons(
    file: Annotated[UploadFile, File(description="UTF-8 CSV: name,email,institution,roles,…")],
    session: SessionDep,
    user: StaffUser,
    dry_run: Annotated[bool, Query(description="Check only; the default.")] = True,
):
    """A dry run says per row what the import would do (add, update matched by e-mail,
    unchanged, error); a real run writes every row, or none and answers 422."""
    content = file.file.read(get_settings().max_body_bytes + 1)
    report = directory_exports.import_csv(
        session=session, actor=user, content=content, dry_run=dry_run
    )
    if not dry_run and not report.valid:
        raise Invalid(
            f"Nothing was imported: {len(report.errors)} problem(s) in the file.",
            [FieldError(f"line {e.line}: {e.field}", e.reason) for e in report.errors],
        )
    return report.as_dict()


@router.get("/liaisons/{liaison_id}", response_model=LiaisonPublic, responses=READ)
@shared("liaisons/detail.html", block="detail", context=views.person, exports=views.PERSON)
def read_liaison(liaison: LiaisonDep, session: SessionDep, fmt: FormatQuery = None):
    """One person with every appointment, past ones included."""
    return _public(session, liaison)


@router.patch(
    "/liaisons/{liaison_id}",
    response_model=LiaisonPublic,
    responses=WRITE,
)
@shared("liaisons/detail.html", block="detail", context=views.person, event="liaison-saved")
def update_liaison(
    data: LiaisonUpdate,
    liaison: LiaisonDep,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
):
    """`roles` is the whole set of current roles: added ones start, missing ones end."""
    liaison = liaisons.update_liaison(session=session, actor=user, liaison=liaison, data=data)
    response.headers["Location"] = f"/liaisons/{liaison.id}"
    return _public(session, liaison)


@router.delete(
    "/liaisons/{liaison_id}",
    response_model=LiaisonPublic,
    responses=WRITE,
)
@shared("liaisons/detail.html", block="detail", context=views.person, event="liaison-saved")
def end_liaison(
    liaison: LiaisonDep,
    session: SessionDep,
    user: CurrentUser,
    role: Annotated[list[ContactRole] | None, Query(description="End only these roles.")] = None,
):
    """Ends the person's current appointments (or only `role`); the person and history stay."""
    liaison = liaisons.end_liaison(session=session, actor=user, liaison=liaison, roles=role)
    return _public(session, liaison)


@router.post(
    "/liaisons/{liaison_id}/invitation",
    status_code=status.HTTP_201_CREATED,
    response_model=DirectoryInvitationPublic,
    responses=WRITE,
)
@shared("liaisons/invited.html", block="invitation", event="liaison-invited")
def invite_liaison(liaison: LiaisonDep, session: SessionDep, user: CurrentUser):
    """A single-use sign-up link for the person, shown here and e-mailed to them."""
    return invitations.invite(session=session, actor=user, liaison=liaison)


@router.get("/invitations", response_model=Page[PendingInvitation], responses=READ)
@shared("liaisons/invitations.html", block="results")
def list_invitations(
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """Sign-in invitations not yet accepted (open or expired), newest first."""
    window = invitations.list_pending(session=session, actor=user, page=paging)
    return page(window, paging, request, response)


@router.get(
    "/institutions/{code}/invitations", response_model=Page[PendingInvitation], responses=READ
)
@shared("liaisons/invitations.html", block="results")
def institution_invitations(
    institution: InstitutionDep,
    session: SessionDep,
    user: CurrentUser,
    request: Request,
    response: Response,
    paging: Paging,
):
    """One institution's invitations not yet accepted."""
    window = invitations.list_pending(
        session=session, actor=user, page=paging, institution=institution.code
    )
    return page(window, paging, request, response)


@router.post(
    "/invitations/{invitation_id}/resend",
    status_code=status.HTTP_201_CREATED,
    response_model=DirectoryInvitationPublic,
    responses=WRITE,
)
@shared("liaisons/invited.html", block="invitation", event="invitations-changed")
def resend_invitation(invitation_id: IdPath, session: SessionDep, user: CurrentUser):
    """A new link, e-mailed again; the earlier one stops working."""
    invitation = invitations.get_pending(session=session, actor=user, invitation_id=invitation_id)
    return invitations.resend(session=session, actor=user, invitation=invitation)


@router.delete("/invitations/{invitation_id}", response_model=PendingInvitation, responses=WRITE)
@shared("liaisons/invitations.html", block="row", event="invitations-changed")
def revoke_invitation(invitation_id: IdPath, session: SessionDep, user: CurrentUser):
    """The link stops working at once; the person can be invited again later."""
    invitation = invitations.get_pending(session=session, actor=user, invitation_id=invitation_id)
    return invitations.revoke(session=session, actor=user, invitation=invitation)


class InstitutionDirectory(Page[LiaisonPublic]):
    """An institution's contacts (current first, then former) and its directory's freshness."""

    institution: str
    institution_name: str
    vacant: list[ContactRole]
    confirmed_at: datetime | None
    confirmed_by: int | None


@router.get("/institutions/{code}/liaisons", response_model=InstitutionDirectory, responses=READ)
@shared(
    "liaisons/institution.html",
    block="contacts",
    context=views.person,
    exports=views.INSTITUTION,
)
def institution_liaisons(
    institution: InstitutionDep,
    session: SessionDep,
    request: Request,
    response: Response,
    paging: Paging,
    fmt: FormatQuery = None,
):
    people = liaisons.institution_contacts(session=session, code=institution.code)
    confirmation = directory_confirmations.last_confirmation(session=session, code=institution.code)
    return InstitutionDirectory(
        **page_of_list(people, paging, request, response).model_dump(),
        institution=institution.code,
        institution_name=institution.name,
        vacant=liaisons.vacant_seats(role for p in people for role in p.roles),
        confirmed_at=confirmation.confirmed_at if confirmation else None,
        confirmed_by=confirmation.confirmed_by if confirmation else None,
    )


@router.post(
    "/institutions/{code}/liaisons/confirmation",
    status_code=status.HTTP_201_CREATED,
    response_model=DirectoryConfirmationPublic,
    responses=WRITE,
)
@shared("liaisons/confirmed.html", block="confirmation", event="directory-confirmed")
def confirm_directory(institution: InstitutionDep, session: SessionDep, user: CurrentUser):
    """ "Our entries are correct": the institution's liaison or director, in one click."""
    return directory_confirmations.confirm(session=session, actor=user, code=institution.code)


def _public(session: SessionDep, liaison: Liaison) -> LiaisonPublic:
    return liaisons.publish(session, [liaison])[0]
