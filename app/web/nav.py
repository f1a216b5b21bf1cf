"""The one top navigation, the same on every page; an area shows only to roles that may use it.

A new area (tickets, status, announcements, duties, admin) adds its line to `AREAS`.
"""

from dataclasses import dataclass

from fastapi import Request

from app.models.user import Role, User

MEMBERS = frozenset(Role)


@dataclass(frozen=True)
class Area:
    label: str
    href: str
    roles: frozenset[Role] | None  # None: everyone, signed in or not


AREAS = (
    Area("Home", "/", MEMBERS),
    Area("Directory", "/institutions", MEMBERS),
    Area("People", "/liaisons", MEMBERS),
    Area("Tickets", "/tickets", MEMBERS),
    Area("Announcements", "/announcements", MEMBERS),
    Area("Events", "/events", MEMBERS),
    Area("Duties", "/duties", MEMBERS),
    Area("Status", "/status", None),
    Area("Admin", "/admin", frozenset({Role.consortium_admin})),
    Area("Accounts", "/users", frozenset({Role.consortium_admin})),
)


def navigation(request: Request, user: User | None) -> list[dict]:
    current = request.url.path
    role = Role(user.role) if user else None
    return [
        {
            "label": area.label,
            "href": area.href,
            "current": current == area.href or (area.href != "/" and current.startswith(area.href)),
        }
        for area in AREAS
        if area.roles is None or role in area.roles
    ]
