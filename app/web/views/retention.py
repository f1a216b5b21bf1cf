"""What the retention pages need beside the data: each scope in words, in the order a person
reads them (the two broad rules first, then the categories)."""

from typing import Any

from app.models.labels import label
from app.models.retention import DEFAULT, PATRON_DATA
from app.models.ticket import TicketCategory
from app.web.render import View


def scope_label(scope: str) -> str:
    if scope == PATRON_DATA:
        return "Tickets with patron data (whatever their category)"
    if scope == DEFAULT:
        return "Every category without its own period"
    return label(scope, TicketCategory)


def years(days: int | None) -> str:
    """`1095` → "about 3 years": the period as people think of it."""
    if days is None:
        return "Kept forever"
    if days >= 365 and days % 365 < 31:
        n = round(days / 365)
        return f"about {n} year{'s' if n != 1 else ''}"
    if days >= 60:
        n = round(days / 30.4)
        return f"about {n} months"
    return f"{days} days"


def index(view: View) -> dict[str, Any]:
    return {"scope_label": scope_label, "years": years}


def report(view: View) -> dict[str, Any]:
    return {"category_label": lambda c: label(c, TicketCategory), "years": years}
