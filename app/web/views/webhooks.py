"""What webhook pages show beside the data: events and states in plain words, libraries'
names, and the choices of the form."""

from typing import Any

from sqlmodel import Session, select

from app.models.institution import Institution
from app.models.labels import WEBHOOK_EVENTS
from app.services import webhooks
from app.web.render import View

# A delivery's state as the log reads it.
STATES = {
    "pending": "Waiting to be sent",
    "sending": "Being sent",
    "sent": "Delivered",
    "failed": "Failed, will retry",
    "dead": "Gave up",
}


def _institutions(session: Session) -> list[dict[str, str]]:
    rows = session.exec(select(Institution.code, Institution.name).order_by(Institution.name))
    return [{"code": c, "name": n} for c, n in rows]


def form(session: Session) -> dict[str, Any]:
    """The event checkboxes (in the catalogue's order) and the libraries to bind to."""
    return {
        "event_choices": [{"value": e, "label": WEBHOOK_EVENTS[e]} for e in webhooks.EVENT_TYPES],
        "event_words": WEBHOOK_EVENTS,
        "institutions": _institutions(session),
    }


def listing(view: View) -> dict[str, Any]:
    return {"event_words": WEBHOOK_EVENTS}


def detail(view: View) -> dict[str, Any]:
    return form(view.session)


def deliveries(view: View) -> dict[str, Any]:
    return {"webhook": view.params["webhook"], "event_words": WEBHOOK_EVENTS, "states": STATES}


def delivery(view: View) -> dict[str, Any]:
    return deliveries(view)
