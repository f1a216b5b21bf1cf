"""User accounts."""

from sqlmodel import Session, select

from app.core import security
from app.core.errors import Conflict, FieldError, Invalid
from app.models.institution import Institution
from app.models.user import Role, User, UserBase
from app.services import audit


def create_user(*, session: Session, actor: User | None, data: UserBase, password: str) -> User:
    """`actor` is None only for the command line, which runs as the operator."""
    email = data.email.strip().lower()
    role = Role(data.role)
    if role.is_consortium and data.institution:
        raise Invalid(
            "Consortium roles belong to no institution.",
            [FieldError("institution", "must be empty for a consortium role")],
        )
    if not role.is_consortium:
        if not data.institution:
            raise Invalid(
                f"A {role} belongs to an institution.", [FieldError("institution", "is required")]
            )
        if session.get(Institution, data.institution) is None:
            raise Invalid(
                f"No institution has the code {data.institution}.",
                [FieldError("institution", "is not a known institution code")],
            )
    problem = security.password_problem(password, email)
    if problem:
        raise Invalid(f"The password {problem}.", [FieldError("password", problem)])
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(
            f"A user with the e-mail {email} exists.", [FieldError("email", "is already taken")]
        )
    user = User(
        email=email,
        name=data.name,
        role=role,
        institution=data.institution,
        password_hash=security.hash_password(password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type="user",
        entity_id=str(user.id),
        after=audit.snapshot(user, exclude={"password_hash"}),
    )
    session.commit()
    return user
