"""The filing form and the patron-data check that warns before a report or reply is sent."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from app.models.ticket import (
    MAX_TEXT,
    TicketCategory,
    TicketEnvironment,
    TicketPriority,
    TicketProduct,
)
from app.services import status
from app.services.ticket_privacy import find_patron_data
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html

router = APIRouter(include_in_schema=False)

# The questions a good report answers; the form starts with them in the description box.
REPORT_TEMPLATE = """What happened?

What did you expect instead?

Who is affected (one patron, one desk, the whole library)?

Steps to reproduce, and what you already tried:
"""


class PatronCheck(BaseModel):
    """Whatever text fields the form sends; the rest of the form is ignored."""

    model_config = ConfigDict(extra="ignore")

    subject: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    body: str | None = Field(default=None, max_length=MAX_TEXT)


@router.get("/tickets/new")
def new_ticket(request: Request, session: SessionDep, user: CurrentUser):
    """Shows current maintenance and open incidents first: the problem may be a known one."""
    notices = status.current_notices(session=session, institution=user.institution, days=2)
    return html(
        request,
        "tickets/form.html",
        notices=notices,
        products=list(TicketProduct),
        environments=list(TicketEnvironment),
        categories=list(TicketCategory),
        priorities=list(TicketPriority),
        template_text=REPORT_TEMPLATE,
    )


@router.post("/tickets/check")
def check_patron_data(request: Request, session: SessionDep, user: CurrentUser, data: PatronCheck):
    """A warning fragment (empty when nothing looks like patron data)."""
    findings = find_patron_data(session=session, texts=[data.subject, data.description, data.body])
    return html(request, "tickets/_warning.html", findings=findings)
