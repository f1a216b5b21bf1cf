"""Builders for the directory slice (mixed into `Factory`)."""

import itertools
from datetime import date

from sqlmodel import Session

from app.models.directory_change import ChangeKind, DirectoryChange
from app.models.liaison import Appointment, ContactRole, Liaison
from app.models.user import User

_counter = itertools.count(1)


class DirectoryBuilders:
    session: Session

    def liaison(
        self,
        institution: str | None = None,
        roles: tuple[str, ...] = ("fulfillment",),
        *,
        started_on: date = date(2024, 1, 1),
        ended_on: date | None = None,
        **values,
    ) -> Liaison:
        """A person with one appointment per role (ended when `ended_on` is given)."""
        n = next(_counter)
        institution = institution or self.institution().code
        values.setdefault("name", f"Pat Person{n}")
        values.setdefault("email", f"person{n}@dir.example.edu")
        liaison = Liaison(institution=institution, **values)
        self.session.add(liaison)
        self.session.flush()
        for role in roles:
            self.session.add(
                Appointment(
                    liaison_id=liaison.id,
                    institution=institution,
                    role=ContactRole(role),
                    started_on=started_on,
                    ended_on=ended_on,
                )
            )
        self.session.commit()
        return liaison

    def directory_change(
        self, requester: User, kind: str = "add", liaison: dict | None = None, **values
    ) -> DirectoryChange:
        change = DirectoryChange(
            kind=ChangeKind(kind),
            institution=values.pop("institution", requester.institution),
            requester=requester.id,
            liaison=liaison
            or {
                "name": "Quinn Proposed",
                "email": f"q{next(_counter)}@x.example.edu",
                "roles": ["fulfillment"],
            },
            **values,
        )
        self.session.add(change)
        self.session.commit()
        return change
