"""The filing form and the patron-data check that warns before a report or reply is sent."""

from fastapi import APIRouter, Request

from app.models.ticket import (
    PatronCheck,
    TicketCategory,
    TicketEnvironment,
    TicketPriority,
    TicketProduct,
)
from app.services import status, tickets
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html

router = APIRouter(include_in_schema=False)

# The questions a good report answers; the form starts with them in the description box.
REPORT_TEMPLATE = """What happened?

What did you expect instead?

Who is affected (one patron, one desk, the whole library)?

Steps to reproduce, and what you already tried:
"""


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
        sees_patron_data=tickets.sees_patron_data(user),
    )


@router.post("/tickets/check")
def check_patron_data(request: Request, session: SessionDep, user: CurrentUser, data: PatronCheck):
    """A warning fragment (empty when nothing looks like patron data)."""
    findings = tickets.find_patron_data(
        session=session, texts=[data.subject, data.description, data.body]
    )
    return html(request, "tickets/_warning.html", findings=findings)
