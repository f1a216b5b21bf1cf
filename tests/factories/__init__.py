"""Builders for test data, written straight to the test's session: `make.institution()`, …

Each slice keeps its builders in its own module here; `Factory` mixes them together, and
`make.world()` builds the `World` the route tables run against.
"""

from dataclasses import dataclass

from sqlmodel import Session

from app.models.directory_change import DirectoryChange
from app.models.duty import Duty
from app.models.incident import Incident
from app.models.institution import Institution
from app.models.liaison import Liaison
from app.models.maintenance import Maintenance
from app.models.ticket import Ticket
from app.models.user import Role, User
from tests.factories.communications import CommunicationsBuilders
from tests.factories.core import PASSWORD, CoreBuilders
from tests.factories.directory import DirectoryBuilders
from tests.factories.duties import DutiesBuilders
from tests.factories.maintenance import MaintenanceBuilders
from tests.factories.outbox import OutboxBuilders
from tests.factories.tickets import TicketsBuilders

__all__ = ["PASSWORD", "Factory", "Side", "World"]


@dataclass
class Side:
    """One member library and what it owns: a user per library role, a ticket filed by its
    library staff, a person in its directory and a pending change request from its director."""

    institution: Institution
    library_staff: User
    liaison: User
    director: User
    ticket: Ticket
    contact: Liaison
    change: DirectoryChange

    @property
    def code(self) -> str:
        return self.institution.code

    def user(self, role: Role) -> User:
        return {
            Role.library_staff: self.library_staff,
            Role.liaison: self.liaison,
            Role.director: self.director,
        }[Role(role)]


@dataclass
class World:
    """Two libraries (`own` holds every record the route tables address, `other` is the
    neighbour whose users must not see it), consortium staff and admin, and the public
    records (a maintenance window, an incident)."""

    make: "Factory"
    own: Side
    other: Side
    staff: User
    admin: User
    window: Maintenance
    incident: Incident
    duty: Duty | None = None  # due in five days, with a task for each library

    def user(self, role: Role, *, own: bool = True) -> User:
        """The World's user of `role` (for a library role: at `own`, else at `other`)."""
        if Role(role) is Role.consortium_staff:
            return self.staff
        if Role(role) is Role.consortium_admin:
            return self.admin
        return (self.own if own else self.other).user(role)

    def headers(self, user: User | None) -> dict[str, str]:
        """Bearer headers for `user`; none for the anonymous caller."""
        return self.make.headers(user) if user is not None else {}


class WorldBuilders:
    def side(self: "Factory", code: str) -> Side:
        institution = self.institution(code, name=f"{code.title()} College", city="Urbana")
        users = {role: self.user(role, code) for role in (Role.library_staff, Role.liaison)}
        director = self.user(Role.director, code)
        ticket = self.ticket(
            users[Role.library_staff],
            subject=f"{code} Primo VE shows no availability",
            description=f"Every e-book at {code} shows as unavailable since the release.",
        )
        contact = self.liaison(code, roles=("fulfillment",), name=f"Fran {code.title()}")
        return Side(
            institution=institution,
            library_staff=users[Role.library_staff],
            liaison=users[Role.liaison],
            director=director,
            ticket=ticket,
            contact=contact,
            change=self.directory_change(director),
        )

    def world(self: "Factory") -> World:
        return World(
            make=self,
            own=self.side("OWN"),
            other=self.side("OTH"),
            staff=self.user(Role.consortium_staff, name="Sam Staff"),
            admin=self.user(Role.consortium_admin, name="Ada Admin"),
            window=self.window(title="World maintenance window"),
            incident=self.incident(title="World incident"),
            duty=self.duty(title="World duty"),
        )


@dataclass
class Factory(
    CoreBuilders,
    DirectoryBuilders,
    DutiesBuilders,
    TicketsBuilders,
    MaintenanceBuilders,
    OutboxBuilders,
    CommunicationsBuilders,
    WorldBuilders,
):
    session: Session
