"""Accepting a sign-in invitation: the person sets a password (no one is signed in here)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from app.core.errors import DomainError, NotFound
from app.services import invitations, liaisons
from app.web.deps import SessionDep
from app.web.render import html

router = APIRouter(include_in_schema=False)


@router.get("/invitations/{token}")
def invitation(request: Request, session: SessionDep, token: str):
    _, person = invitations.open_invitation(session=session, token=token)
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
    """The unguessable single-use token is the credential."""
    try:
        invitations.accept_invitation(session=session, token=token, password=password)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        _, person = invitations.open_invitation(session=session, token=token)
        return html(
            request,
            "liaisons/invitation.html",
            status_code=exc.status,
            person=liaisons.public(person),
            token=token,
            error=exc.detail,
        )
    return RedirectResponse("/login", status_code=303)
