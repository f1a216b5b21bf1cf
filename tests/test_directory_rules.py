"""The directory's rule tables, checked at the service level (the end-to-end tests drive the
same rules through HTTP): the institution lifecycle and the one-holder-per-seat rule."""

from datetime import date
from itertools import product

import pytest
from sqlmodel import select

from app.core.errors import Invalid, PermissionDenied
from app.models.audit import AuditEntry
from app.models.institution import InstitutionStatus, InstitutionUpdate
from app.models.liaison import SEATS, Appointment, ContactRole, LiaisonCreate, LiaisonUpdate
from app.models.user import Role
from app.services import institutions, liaisons

S = InstitutionStatus
# The lifecycle, written out once more by hand: a change to the service's table must show here.
ALLOWED = {
    (S.prospective, S.joining),
    (S.joining, S.active),
    (S.joining, S.prospective),
    (S.active, S.leaving),
    (S.leaving, S.former),
    (S.leaving, S.active),
    (S.former, S.joining),
}
MOVES = [(a, b) for a, b in product(S, S) if a != b]


@pytest.mark.parametrize(
    ("start", "target"), MOVES, ids=[f"{a.value}->{b.value}" for a, b in MOVES]
)
def test_institution_lifecycle_table(make, db, start, target):
    staff = make.user(Role.consortium_staff)
    institution = make.institution(status=start, joined_on=date(2020, 1, 1))
    data = InstitutionUpdate(status=target)
    if (start, target) in ALLOWED:
        institutions.update_institution(session=db, actor=staff, institution=institution, data=data)
        db.refresh(institution)
        assert institution.status == target
    else:
        with pytest.raises(Invalid) as refused:
            institutions.update_institution(
                session=db, actor=staff, institution=institution, data=data
            )
        assert [e.field for e in refused.value.errors] == ["status"]
        db.refresh(institution)
        assert institution.status == start


@pytest.mark.parametrize("status", list(S), ids=lambda s: s.value)
def test_next_statuses_is_the_table(status):
    assert set(institutions.next_statuses(status)) == {b for a, b in ALLOWED if a == status}


def test_joining_sets_joined_on_and_leaving_for_good_sets_left_on(make, db):
    staff = make.user(Role.consortium_staff)
    institution = make.institution(status=S.joining)
    update = institutions.update_institution
    update(
        session=db, actor=staff, institution=institution, data=InstitutionUpdate(status="active")
    )
    assert institution.joined_on == institutions.today() and institution.left_on is None
    for step in ("leaving", "former"):
        data = InstitutionUpdate(status=step)
        update(session=db, actor=staff, institution=institution, data=data)
    assert institution.left_on == institutions.today()


def test_a_status_change_is_audited_under_the_code(make, db):
    staff = make.user(Role.consortium_staff)
    institution = make.institution("RULE", status=S.active)
    db.refresh(institution)  # as a request loads it (the builder's commit expired it)
    data = InstitutionUpdate(status="leaving")
    institutions.update_institution(session=db, actor=staff, institution=institution, data=data)
    entry = db.exec(
        select(AuditEntry).where(
            AuditEntry.entity_type == "institution", AuditEntry.entity_id == "RULE"
        )
    ).one()
    assert (entry.action, entry.before, entry.after) == (
        "update",
        {"status": "active"},
        {"status": "leaving"},
    )


@pytest.mark.parametrize("role", [Role.director, Role.liaison, Role.library_staff])
def test_only_staff_change_an_institution(make, db, role):
    institution = make.institution(status=S.active)
    actor = make.user(role, institution.code)
    with pytest.raises(PermissionDenied):
        institutions.update_institution(
            session=db, actor=actor, institution=institution, data=InstitutionUpdate(city="X")
        )


# --- seats ------------------------------------------------------------------------------------


def _current_holders(db, code: str, role: ContactRole) -> list[int]:
    rows = db.exec(
        select(Appointment.liaison_id).where(
            Appointment.institution == code,
            Appointment.role == role,
            Appointment.ended_on.is_(None),
        )
    )
    return sorted(rows.all())


SEAT_CASES = [(role, role in SEATS) for role in ContactRole]


@pytest.mark.parametrize(
    ("role", "one_holder"),
    SEAT_CASES,
    ids=[f"{r.value}-{'seat' if s else 'shared'}" for r, s in SEAT_CASES],
)
def test_seat_rule_table(make, db, role, one_holder):
    """A seat (liaison, director) changes hands: the new holder's start ends the old one's
    appointment the same day; any other role may have many holders."""
    staff = make.user(Role.consortium_staff)
    institution = make.institution()
    first = make.liaison(institution.code, roles=(role.value,))
    data = LiaisonCreate(
        name="Second Holder",
        email="second@rules.example.edu",
        institution=institution.code,
        roles=[role],
        started_on=date(2025, 3, 1),
    )
    second = liaisons.create_liaison(session=db, actor=staff, data=data)
    holders = _current_holders(db, institution.code, role)
    if one_holder:
        assert holders == [second.id]
        ended = db.exec(select(Appointment).where(Appointment.liaison_id == first.id)).one()
        assert ended.ended_on == date(2025, 3, 1)
    else:
        assert holders == sorted([first.id, second.id])


@pytest.mark.parametrize("seat", SEATS, ids=lambda s: s.value)
def test_taking_a_seat_by_update_moves_it_too(make, db, seat):
    staff = make.user(Role.consortium_staff)
    institution = make.institution()
    holder = make.liaison(institution.code, roles=(seat.value,))
    other = liaisons.get_liaison(
        session=db, liaison_id=make.liaison(institution.code, roles=("fulfillment",)).id
    )
    data = LiaisonUpdate(roles=["fulfillment", seat.value])
    liaisons.update_liaison(session=db, actor=staff, liaison=other, data=data)
    assert _current_holders(db, institution.code, seat) == [other.id]
    assert liaisons.public(liaisons.get_liaison(session=db, liaison_id=holder.id)).active is False


@pytest.mark.parametrize(
    ("held", "vacant"),
    [
        ((), [ContactRole.liaison, ContactRole.director]),
        ((ContactRole.liaison,), [ContactRole.director]),
        ((ContactRole.director, ContactRole.backup_liaison), [ContactRole.liaison]),
        ((ContactRole.liaison, ContactRole.director), []),
        ((ContactRole.backup_liaison, ContactRole.fulfillment), list(SEATS)),
    ],
    ids=["none", "liaison-only", "director-and-backup", "both", "no-seat-roles"],
)
def test_vacant_seats_table(held, vacant):
    assert liaisons.vacant_seats(held) == vacant
