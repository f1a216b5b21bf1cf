"""The filing form and the patron-data check that warns before a report or reply is sent."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints, field_validator

from app.models.common import MAX_ID, FormInput
from app.models.ticket import (
    REPORT_TEMPLATE,
    PatronCheck,
    TicketCategory,
    TicketEnvironment,
    TicketPriority,
    TicketProduct,
    TicketStatus,
)
from app.services import status, tickets
from app.services.tickets import bulk
from app.web.deps import CurrentUser, SessionDep
from app.web.render import html

router = APIRouter(include_in_schema=False)


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
    findings = tickets.find_patron_data(
        session=session, texts=[data.subject, data.description, data.body]
    )
    return html(request, "tickets/_warning.html", findings=findings)


class BulkChange(FormInput):
    """The queue's bulk bar: the ticked tickets as `number|ETag` (the ETag the list showed),
    whom to assign them to (`nobody` unassigns) and/or the status to give them."""

    tickets: list[Annotated[str, StringConstraints(max_length=80)]] = Field(
        default_factory=list, max_length=200
    )
    assignee: Literal["nobody"] | Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    status: TicketStatus | None = None
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("tickets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """json-enc sends one ticked box as a string, several as a list."""
        return [value] if isinstance(value, str) else value


@router.post("/tickets/bulk")
def bulk_change(request: Request, session: SessionDep, user: CurrentUser, data: BulkChange):
    """Staff: each ticked ticket changed on its own; the answer says what was done and what
    was skipped, and the list reloads (`tickets-changed`)."""
    chosen = dict(item.partition("|")[::2] for item in data.tickets)
    result = bulk.bulk_update(
        session=session,
        actor=user,
        tickets=chosen,
        assignee=data.assignee if isinstance(data.assignee, int) else None,
        unassign=data.assignee == "nobody",
        status=data.status,
        reason=data.reason,
    )
    headers = {"HX-Trigger": "tickets-changed"} if result.done else None
    return html(request, "tickets/_list_bulk.html", result=result, headers=headers)
