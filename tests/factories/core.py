"""Builders for the core: institutions, users and their credentials."""

import itertools

from sqlmodel import Session

from app.core import security
from app.models.institution import Institution, InstitutionStatus
from app.models.user import Role, User
from app.services import auth

PASSWORD = "Correct-Horse-Battery-9"
_PASSWORD_HASH = security.hash_password(PASSWORD)  # Argon2 is slow on purpose: hash once
_counter = itertools.count(1)


class CoreBuilders:
    session: Session

    def institution(self, code: str | None = None, **values) -> Institution:
        n = next(_counter)
        code = code or f"T{n:04d}"
        values.setdefault("name", f"Test College {n}")
        values.setdefault("status", InstitutionStatus.active)
        institution = Institution(code=code, alma_code=f"01CARLI_{code}", **values)
        self.session.add(institution)
        self.session.commit()
        return institution

    def user(
        self, role: Role = Role.library_staff, institution: str | None = None, **values
    ) -> User:
        n = next(_counter)
        if not Role(role).is_consortium and institution is None:
            institution = self.institution().code
        values.setdefault("email", f"user{n}@test.example.edu")
        values.setdefault("name", f"Test Person {n}")
        user = User(role=role, institution=institution, password_hash=_PASSWORD_HASH, **values)
        self.session.add(user)
        self.session.commit()
        return user

    def token(self, user: User) -> str:
        """A bearer token of a new sign-in (session) of `user`."""
        token, _ = auth.start_session(self.session, user, auth.Client(user_agent="tests"))
        self.session.commit()
        return token

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def signed_in(self, role: Role = Role.consortium_admin, institution: str | None = None):
        """A user of `role` and the headers that authenticate as them."""
        user = self.user(role, institution)
        return user, self.headers(user)
