"""Demo members: the I-Share member list and one clearly fictitious account per role."""

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from app.models.institution import Institution, InstitutionCreate, InstitutionKind
from app.models.user import Role, User, UserBase
from app.services import institutions, users

MEMBERS_CSV = Path(__file__).parent.parent / "data" / "ishare-members.csv"
KINDS = {
    "public university": InstitutionKind.public_university,
    "private college/university": InstitutionKind.private_college,
    "community college": InstitutionKind.community_college,
    "library/cultural institution": InstitutionKind.library_or_museum,
}
# Demo credentials, printed for whoever tries the demo. Not secrets: never use them elsewhere.
DEMO_PASSWORD = "Demo-Portal-2026!"  # noqa: S105


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: Role
    institution: str | None = None


ACCOUNTS = (
    DemoAccount("admin@consortium.example.org", "Ada Admin (demo)", Role.consortium_admin),
    DemoAccount("staff@consortium.example.org", "Sam Support (demo)", Role.consortium_staff),
    DemoAccount("director@uiu.example.edu", "Dana Director (demo)", Role.director, "UIU"),
    DemoAccount("liaison@uiu.example.edu", "Lee Liaison (demo)", Role.liaison, "UIU"),
    DemoAccount("staff@uiu.example.edu", "Robin Reference (demo)", Role.library_staff, "UIU"),
    DemoAccount("liaison@isu.example.edu", "Kim Liaison (demo)", Role.liaison, "ISU"),
)


def member_rows() -> list[dict[str, str]]:
    with MEMBERS_CSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load(session: Session) -> dict[str, int]:
    """Adds what is missing; returns how many institutions and accounts it added."""
    added = {"institutions": 0, "accounts": 0}
    admin_account, *other_accounts = ACCOUNTS
    admin = _find(session, admin_account.email)
    if admin is None:
        admin = _create(session, admin_account, actor=None)
        added["accounts"] += 1
    existing = set(session.exec(select(Institution.code)).all())
    for row in member_rows():
        if row["code"] in existing:
            continue
        data = InstitutionCreate(
            code=row["code"],
            name=row["name"],
            city=row["city"] or None,
            kind=KINDS.get(row["kind"], InstitutionKind.other),
            status="active",
        )
        institutions.create_institution(session=session, actor=admin, data=data)
        added["institutions"] += 1
    for account in other_accounts:
        if _find(session, account.email) is None:
            _create(session, account, actor=admin)
            added["accounts"] += 1
    return added


def admin(session: Session) -> User:
    """The demo's consortium admin, who acts for every demo write."""
    return _find(session, ACCOUNTS[0].email)


def _find(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def _create(session: Session, account: DemoAccount, actor: User | None) -> User:
    data = UserBase(
        email=account.email, name=account.name, role=account.role, institution=account.institution
    )
    return users.create_user(session=session, actor=actor, data=data, password=DEMO_PASSWORD)
