"""What incident pages need beside the incidents: filter, update and form choices."""

from typing import Any

from sqlmodel import Session

from app.models.incident import Incident, IncidentStatus
from app.models.service import Impact
from app.services.incidents import linked_tickets
from app.services.service_catalogue import list_services, service_names
from app.web.render import View


def listing(view: View) -> dict[str, Any]:
    return {"statuses": list(IncidentStatus), "names": service_names(view.session)}


def detail(view: View) -> dict[str, Any]:
    """The choices of the staff's update form, and (staff) the linked tickets still open that
    resolving may resolve too."""
    context: dict[str, Any] = {
        "statuses": list(IncidentStatus),
        "impacts": list(Impact),
        "names": service_names(view.session),
        "open_tickets": [],
    }
    if view.user is not None and view.user.is_staff and view.data.status != "resolved":
        incident = view.session.get(Incident, view.data.id)
        context["open_tickets"] = [
            t
            for t in linked_tickets(view.session, incident)
            if t.status not in ("resolved", "closed")
        ]
    return context


def form(session: Session, incident: Incident | None = None) -> dict[str, Any]:
    """The form that opens an incident, or (with `incident`) corrects its title and services."""
    return {
        "incident": incident,
        "services": list_services(session=session),
        "impacts": list(Impact),
        "statuses": list(IncidentStatus),
    }
