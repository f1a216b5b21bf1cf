"""What directory change request pages show beside the data: filter and form choices."""

from typing import Any

from app.models.directory_change import ChangeKind, ChangeStatus
from app.web.render import View


def filters(_: View) -> dict[str, Any]:
    return {"statuses": list(ChangeStatus), "kinds": list(ChangeKind)}
