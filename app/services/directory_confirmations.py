"""An institution's directory freshness ("our entries are correct") and the gaps report."""

from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.models.directory import DirectoryConfirmation, DirectoryGap
from app.models.duty import DutyAction
from app.models.institution import Institution, InstitutionStatus
from app.models.liaison import SEATS, Appointment, ContactRole, current_on, not_over_on
from app.models.user import User
from app.services import audit, duties
from app.services.access import require_library_lead, require_staff
from app.services.institutions import today
from app.services.liaisons import vacant_seats


def confirm(*, session: Session, actor: User, code: str) -> DirectoryConfirmation:
    """One click: "our entries are correct", by the institution's director or liaison (or staff)."""
    require_library_lead(actor, code, "confirm the directory")
    confirmation = DirectoryConfirmation(institution=code, confirmed_by=actor.id)
    session.add(confirmation)
    audit.record(
        session,
        actor=actor,
        action="confirm",
        entity_type="institution",
        entity_id=code,
        after={"directory_confirmed_at": confirmation.confirmed_at.isoformat()},
    )
    # The yearly confirmation is also a duty: confirming completes the library's open task.
    duties.complete_for_action(
        session=session, actor=actor, institution=code, action=DutyAction.directory_confirmation
    )
    session.commit()
    return confirmation


def last_confirmation(*, session: Session, code: str) -> DirectoryConfirmation | None:
    return session.exec(
        select(DirectoryConfirmation)
        .where(DirectoryConfirmation.institution == code)
        .order_by(DirectoryConfirmation.confirmed_at.desc())
    ).first()


def gaps(*, session: Session, actor: User, now: datetime | None = None) -> list[DirectoryGap]:
    """Active institutions with an empty liaison or director seat (one filled only from a
    later date is empty today), or a stale confirmation."""
    require_staff(actor, "see the directory gaps")
    cutoff = (now or utcnow()) - timedelta(days=get_settings().directory_confirm_days)
    day = today()
    members = session.exec(
        select(Institution.code, Institution.name)
        .where(Institution.status == InstitutionStatus.active)
        .order_by(Institution.name)
    ).all()
    held: dict[str, set[ContactRole]] = {}
    for code, role in session.exec(
        select(Appointment.institution, Appointment.role).where(
            current_on(day), Appointment.role.in_(SEATS)
        )
    ).all():
        held.setdefault(code, set()).add(ContactRole(role))
    later: dict[tuple[str, str], date] = {}
    for code, role, starts in session.exec(
        select(Appointment.institution, Appointment.role, func.min(Appointment.started_on))
        .where(Appointment.role.in_(SEATS), Appointment.started_on > day, not_over_on(day))
        .group_by(Appointment.institution, Appointment.role)
    ).all():
        later[(code, ContactRole(role).value)] = starts
    confirmed = dict(
        session.exec(
            select(
                DirectoryConfirmation.institution, func.max(DirectoryConfirmation.confirmed_at)
            ).group_by(DirectoryConfirmation.institution)
        ).all()
    )
    result = []
    for code, name in members:
        vacant = [s.value for s in vacant_seats(held.get(code, ()))]
        at = confirmed.get(code)
        if at is not None and at.tzinfo is None:  # an aggregate bypasses the column type
            at = at.replace(tzinfo=cutoff.tzinfo)
        stale = at is None or at < cutoff
        if vacant or stale:
            result.append(
                DirectoryGap(
                    institution=code,
                    name=name,
                    vacant=vacant,
                    confirmed_at=at,
                    stale=stale,
                    filled_from={s: later[(code, s)] for s in vacant if (code, s) in later},
                )
            )
    return result
