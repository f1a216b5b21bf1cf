"""What the account page shows beside the account: plain names for the kinds of notice."""

from typing import Any

from app.services.access import Notice
from app.web.render import View

NOTICE_LABELS = {
    Notice.maintenance: "Scheduled maintenance for my library",
    Notice.incident: "Incidents (outages and their updates)",
}


def page(view: View) -> dict[str, Any]:
    return {"notice_labels": {k.value: NOTICE_LABELS.get(k, k.value) for k in Notice}}
