"""What incident pages need beside the incidents: filter, update and form choices."""

from typing import Any

from sqlmodel import Session

from app.models.incident import IncidentStatus
from app.models.service import Impact
from app.services.service_catalogue import list_services
from app.web.render import View


def listing(view: View) -> dict[str, Any]:
    return {"statuses": list(IncidentStatus)}


def detail(view: View) -> dict[str, Any]:
    """The choices of the staff's update form."""
    return {"statuses": list(IncidentStatus), "impacts": list(Impact)}


def form(session: Session) -> dict[str, Any]:
    """The form that opens an incident."""
    return {
        "services": list_services(session=session),
        "impacts": list(Impact),
        "statuses": list(IncidentStatus),
    }
