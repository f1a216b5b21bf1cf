"""The member directory's pages beside the data (role choices, what the reader may request),
and its file exports: CSV and vCard of the same routes, chosen by `?format=` or `Accept`."""

from collections.abc import Callable
from typing import Any

from fastapi import Response

from app.core.config import get_settings
from app.models.liaison import ContactRole, LiaisonPublic
from app.services import access, audit, directory_exports, liaisons
from app.web.render import EXPORT_MEDIA, Export, View

ROLES = list(ContactRole)


def filters(_: View) -> dict[str, Any]:
    return {"roles": ROLES}


def person(view: View) -> dict[str, Any]:
    """A person's page, or an institution's contacts: may the reader speak for that library?
    A person's linked sign-in account is named, not numbered."""
    account = getattr(view.data, "account", None)
    return {
        "may_request": access.may_request_directory_changes(view.user, view.data.institution),
        "account_name": audit.user_names(view.session, {account}).get(account) if account else None,
    }


def _exports(
    people: Callable[[View], list[LiaisonPublic]], name: Callable[[View], str]
) -> dict[str, Export]:
    def csv(view: View) -> Response:
        body = directory_exports.to_csv(people(view))
        return _file(body, EXPORT_MEDIA["csv"], f"{name(view)}.csv")

    def vcard(view: View) -> Response:
        body = directory_exports.to_vcard(people(view), get_settings().consortium_name)
        return _file(body, EXPORT_MEDIA["vcard"], f"{name(view)}.vcf")

    return {"csv": csv, "vcard": vcard}


def _file(body: str, media: str, filename: str) -> Response:
    return Response(
        body,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _matching(view: View) -> list[LiaisonPublic]:
    """Every person the list's filters match (an export is the whole answer, not one page)."""
    filters = {k: view.params[k] for k in ("q", "institution", "role", "active")}
    return liaisons.export_liaisons(session=view.session, actor=view.user, **filters)


DIRECTORY = _exports(_matching, lambda _: "liaisons")
PERSON = _exports(
    lambda view: liaisons.publish(view.session, [view.params["liaison"]]),
    lambda view: f"liaison-{view.params['liaison'].id}",
)
INSTITUTION = _exports(
    lambda view: liaisons.institution_contacts(
        session=view.session, code=view.params["institution"].code
    ),
    lambda view: f"liaisons-{view.params['institution'].code}",
)
