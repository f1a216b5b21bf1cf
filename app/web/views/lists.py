"""What list pages need beside the data: the member CSV, the form choices, feed links."""

import csv
import io
from typing import Any

from fastapi import Response

from app.core.config import get_settings
from app.models.institution import InstitutionKind
from app.models.liaison import ContactRole
from app.models.list import Delivery, ListKind
from app.services import lists
from app.web.render import View


def base_url() -> str:
    return get_settings().base_url.rstrip("/")


def listing(view: View) -> dict[str, Any]:
    return {}


def detail(view: View) -> dict[str, Any]:
    return {"feed_key": lists.feed_key(view.user.id) if view.user else None}


def form() -> dict[str, Any]:
    return {
        "roles": list(ContactRole),
        "kinds": list(InstitutionKind),
        "list_kinds": list(ListKind),
    }


def members(view: View) -> dict[str, Any]:
    return {"mailing_list": view.params["mailing_list"]}


def members_csv(view: View) -> Response:
    """Everyone on the list (all pages), one row each, for a spreadsheet."""
    mailing_list = view.params["mailing_list"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "institution", "source", "delivery"])
    for m in lists.members(view.session, [mailing_list]):
        writer.writerow([_cell(m.name), m.email, m.institution, m.source.value, m.delivery.value])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{mailing_list.slug}-members.csv"'},
    )


def _cell(text: str) -> str:
    """No spreadsheet formula from a name (CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def preferences(session, user) -> dict[str, Any]:
    return {
        "preferences": lists.preferences(session=session, user=user),
        "deliveries": list(Delivery),
        "in_directory": lists.person_of(session, user) is not None,
    }
