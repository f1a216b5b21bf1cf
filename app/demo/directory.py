"""Demo data for the directory: clearly fictitious people at every active member.

Most members get a director and a liaison, some get functional contacts; a few have a vacant
seat, some confirmed their entries recently and others long ago (or never), and one library has
a pending change request, so the gaps report and the approval queue show something real. The
demo accounts of `app.demo.members` are linked to their people.
"""

import zlib
from datetime import date, timedelta

from sqlmodel import Session, select

from app.core.db import utcnow
from app.models.directory import DirectoryConfirmation
from app.models.directory_change import ChangeKind, DirectoryChange
from app.models.institution import Institution, InstitutionStatus
from app.models.liaison import SEATS, ContactRole, Liaison, LiaisonCreate
from app.models.user import User
from app.services import liaisons
from app.services.institutions import today

FIRST = (
    "Avery", "Blair", "Casey", "Devon", "Emery", "Finley", "Gray", "Harper", "Indy", "Jules",
    "Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Tatum",
)  # fmt: skip
LAST = (
    "Sampleton", "Examplar", "Demoson", "Fictive", "Placeholder", "Mockridge", "Testwood",
    "Dummett", "Pretendo", "Madeup",
)  # fmt: skip
TITLES = {
    ContactRole.director: "Library Director",
    ContactRole.liaison: "Head of Technical Services",
    ContactRole.backup_liaison: "Systems Librarian",
    ContactRole.fulfillment: "Access Services Manager",
    ContactRole.resource_sharing: "Interlibrary Loan Coordinator",
    ContactRole.e_resources: "Electronic Resources Librarian",
}
# The demo accounts' people: (institution, e-mail, roles).
LINKED = (
    ("UIU", "director@uiu.example.edu", (ContactRole.director,)),
    ("UIU", "liaison@uiu.example.edu", (ContactRole.liaison,)),
    ("UIU", "staff@uiu.example.edu", (ContactRole.fulfillment,)),
    ("ISU", "liaison@isu.example.edu", (ContactRole.liaison, ContactRole.e_resources)),
)
PENDING_FROM = "liaison@isu.example.edu"


def load(session: Session, admin: User) -> dict[str, int]:
    """Adds people to members that have none; returns what it added, by kind."""
    added = {"people": 0, "directory_confirmations": 0, "directory_changes": 0}
    staffed = set(session.exec(select(Liaison.institution)).all())
    codes = session.exec(
        select(Institution.code)
        .where(Institution.status == InstitutionStatus.active)
        .order_by(Institution.code)
    ).all()
    accounts = {u.email: u for u in session.exec(select(User)).all()}
    start = today() - timedelta(days=400)
    for i, code in enumerate(codes):
        if code in staffed:
            continue
        linked = [(email, roles) for c, email, roles in LINKED if c == code]
        taken = {r for _, roles in linked for r in roles}
        for email, roles in linked:
            user = accounts.get(email)
            if user is None:
                continue
            person = _add(session, admin, code, user.name, email, roles, start)
            person.account = user.id
            added["people"] += 1
        for n, role in enumerate(_roles_for(i, taken)):
            first, last = FIRST[(i + 7 * n) % len(FIRST)], LAST[(3 * i + n) % len(LAST)]
            email = f"{first}.{last}.{n}@{code.lower()}.example.edu".lower()
            _add(session, admin, code, f"{first} {last}", email, (role,), start)
            added["people"] += 1
        age = (30, 250, None)[i % 3]
        if age is not None:
            session.add(
                DirectoryConfirmation(
                    institution=code,
                    confirmed_by=admin.id,
                    confirmed_at=utcnow() - timedelta(days=age),
                )
            )
            added["directory_confirmations"] += 1
    requester = accounts.get(PENDING_FROM)
    if requester is not None and session.exec(select(DirectoryChange.id)).first() is None:
        session.add(
            DirectoryChange(
                kind=ChangeKind.add,
                institution=requester.institution,
                requester=requester.id,
                liaison={
                    "name": "Rowan Exampleby",
                    "email": "rowan.exampleby@isu.example.edu",
                    "title": "Resource Sharing Assistant",
                    "institution": requester.institution,
                    "roles": [ContactRole.resource_sharing.value],
                },
                note="Rowan takes over interlibrary loan from next month (demo request).",
            )
        )
        added["directory_changes"] += 1
    session.commit()
    return {kind: n for kind, n in added.items() if n}


def _roles_for(i: int, taken: set[ContactRole]) -> list[ContactRole]:
    """Both seats for most members, a few vacancies, functional contacts here and there."""
    roles = []
    if i % 13 != 6:
        roles.append(ContactRole.director)
    if i % 17 != 3:
        roles.append(ContactRole.liaison)
    if i % 4 == 0:
        roles.append(ContactRole.backup_liaison)
    if i % 3 == 0:
        roles.append(ContactRole.fulfillment)
    if i % 5 == 2:
        roles.append(ContactRole.resource_sharing)
    if i % 7 == 1:
        roles.append(ContactRole.e_resources)
    if taken:  # a member with demo accounts: no vacancy, and no one doubling their roles
        roles = [r for r in roles if r not in taken]
        roles += [s for s in SEATS if s not in taken and s not in roles]
    return roles


def _add(
    session: Session,
    admin: User,
    code: str,
    name: str,
    email: str,
    roles: tuple[ContactRole, ...],
    start: date,
) -> Liaison:
    data = LiaisonCreate(
        name=name,
        email=email,
        institution=code,
        roles=list(roles),
        title=TITLES.get(roles[0]),
        phone=f"+1-217-555-01{zlib.crc32(email.encode()) % 100:02d}",  # fictional numbers
        started_on=start,
    )
    return liaisons.apply_create(session=session, actor=admin, data=data)
