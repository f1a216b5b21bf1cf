"""The one top navigation, the same on every page; an area shows only to people who may use it.

A new area adds its line to `AREAS`, with who may see it (the same answers as
`app.services.access`, never a role name compared in a template). An area with a `count` gets a
badge loaded after the page (`/nav/counts/<name>`, staff only): the page itself runs no query
for it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from app.models.user import User
from app.services import access

Who = Callable[[User | None], bool]


def everyone(user: User | None) -> bool:
    return True


def members(user: User | None) -> bool:
    return user is not None


def staff(user: User | None) -> bool:
    return access.is_staff(user)


def admins(user: User | None) -> bool:
    return user is not None and user.is_admin


@dataclass(frozen=True)
class Area:
    label: str
    href: str
    who: Who
    count: str | None = None  # a badge (`/nav/counts/<count>`), shown to staff only


AREAS = (
    Area("Home", "/", members),
    Area("Directory", "/institutions", members),
    Area("People", "/liaisons", members),
    Area("Tickets", "/tickets", members),
    Area("Saved replies", "/canned-replies", staff),
    Area("Announcements", "/announcements", members),
    Area("Events", "/events", members),
    Area("Duties", "/duties", members),
    Area("Status", "/status", everyone),
    Area("Maintenance", "/maintenance", everyone),
    Area("Incidents", "/incidents", everyone),
    Area(
        "Change requests",
        "/directory-changes",
        access.may_request_directory_changes,
        count="directory-changes",
    ),
    Area("Inbound mail", "/inbound-mail", staff),
    Area("Audit", "/audit", staff),
    Area("Admin", "/admin", admins),
    Area("Accounts", "/users", admins),
    Area("API clients", "/api-clients", admins),
    Area("Webhooks", "/webhooks", admins),
)


def navigation(request: Request, user: User | None) -> list[dict]:
    current = request.url.path
    return [
        {
            "label": area.label,
            "href": area.href,
            "current": current == area.href or (area.href != "/" and current.startswith(area.href)),
            "count": area.count if area.count and staff(user) else None,
        }
        for area in AREAS
        if area.who(user)
    ]
