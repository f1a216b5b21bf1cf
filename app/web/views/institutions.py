"""What institution pages show beside the data: filter choices and form choices."""

from typing import Any

from app.core.config import get_settings
from app.models.institution import Institution, InstitutionKind, InstitutionStatus
from app.services import institutions
from app.web.render import View


def filters(_: View) -> dict[str, Any]:
    return {"kinds": list(InstitutionKind), "statuses": list(InstitutionStatus)}


def form(institution: Institution | None) -> dict[str, Any]:
    """A new institution may start in any status; an existing one only where it may go next."""
    if institution is None:
        return {
            "institution": None,
            "kinds": list(InstitutionKind),
            "statuses": list(InstitutionStatus),
            "alma_prefix": get_settings().alma_code_prefix,
        }
    current = InstitutionStatus(institution.status)
    return {
        "institution": institution,
        "kinds": list(InstitutionKind),
        "statuses": [current, *institutions.next_statuses(current)],
    }
