"""The inbound-mail page (issue 15): what came in to the portal's address and what became of
it, refused mail first. Consortium staff only (the service checks)."""

from typing import Literal

from fastapi import APIRouter, Request, Response

from app.core.pagination import page
from app.models.inbound_mail import InboundOutcome
from app.services import mail_in
from app.web.deps import CurrentUser, Paging, SessionDep
from app.web.render import Representation, html, representation

router = APIRouter(include_in_schema=False)

Show = Literal["refused", "ignored", "accepted", "all"]
SHOWN: dict[str, list[InboundOutcome] | None] = {
    "refused": [InboundOutcome.rejected],
    "ignored": [InboundOutcome.ignored],
    "accepted": [InboundOutcome.replied, InboundOutcome.filed],
    "all": None,
}


@router.get("/inbound-mail")
def inbound_mail(
    request: Request, session: SessionDep, user: CurrentUser, params: Paging, show: Show = "refused"
):
    window = mail_in.list_mail(session=session, actor=user, outcomes=SHOWN[show], page=params)
    data = page(window, params, request, Response())
    fragment = representation(request) is Representation.fragment
    return html(
        request, "inbound_mail/index.html", block="mail" if fragment else None, data=data, show=show
    )
