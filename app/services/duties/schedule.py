"""A duty's rules: its due dates (the RRULE, expanded in one place), the libraries it applies
to, and the checks a definition must pass before anything is written.

Dates here are calendar dates in the consortium's zone: a task is due *on* a day, so a change
of daylight saving time never moves it, and it is overdue once that day has passed locally.
"""

import itertools
from datetime import date, datetime, time

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import FieldError, Invalid
from app.models.duty import AppliesTo, Duty
from app.models.institution import Institution, InstitutionStatus
from app.models.liaison import Appointment, ContactRole, not_over_on
from app.services import recurrence

MAX_OCCURRENCES = 120


def today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(get_settings().tz).date()


def schedule(rule: str | None, first: date) -> list[date]:
    """Every due date: `first` alone, or the rule's occurrences from it.

    The one place a duty's RRULE is expanded, through `app.services.recurrence` (bounded work,
    not only a bounded count)."""
    if not rule:
        return [first]
    found = recurrence.occurrences(
        rule,
        datetime.combine(first, time()),
        limit=MAX_OCCURRENCES,
        zone=get_settings().tz,
        field="rrule",
        noun="occurrence",
    )
    return [moment.date() for moment in found]


def check(session: Session, duty: Duty, changes: dict | None = None) -> list[date]:
    """Every rule a duty must keep, all errors at once (422); the due dates when it does.

    `duty` as it stands (or a new one, not yet added), with the `changes` about to be made."""
    changes = changes or {}
    lead_days = changes.get("lead_days", duty.lead_days)
    responsible = ContactRole(changes.get("responsible", duty.responsible))
    applies_to = AppliesTo(duty.applies_to)
    kinds, codes = duty.kinds, duty.institutions
    errors: list[FieldError] = []
    dates: list[date] = []
    try:
        dates = schedule(duty.rrule, duty.due_on)
    except Invalid as exc:
        errors.extend(exc.errors)
    gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
    if gaps and lead_days >= min(gaps):
        errors.append(
            FieldError(
                "lead_days",
                f"is longer than the time between two due dates ({min(gaps)} days); a task "
                "must open after the previous one is due",
            )
        )
    if applies_to is AppliesTo.kind and not kinds:
        errors.append(FieldError("kinds", "choose at least one kind of institution"))
    if applies_to is AppliesTo.list:
        if not codes:
            errors.append(FieldError("institutions", "choose at least one institution"))
        else:
            known = set(
                session.exec(select(Institution.code).where(Institution.code.in_(codes))).all()
            )
            unknown = sorted(set(codes) - known)
            if unknown:
                errors.append(FieldError("institutions", f"no institution {', '.join(unknown)}"))
    if not errors and responsible not in (ContactRole.liaison, ContactRole.director):
        scope = applicable(session, applies_to, kinds, codes)
        held = session.exec(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.role == responsible,
                not_over_on(today()),  # held now, or by someone whose appointment starts later
                Appointment.institution.in_(scope),
            )
        ).one()
        if not held:
            label = responsible.value.replace("_", " ")
            errors.append(
                FieldError("responsible", f"no institution it applies to has a {label} contact")
            )
    if errors:
        raise Invalid("The duty cannot be saved: " + "; ".join(e.message for e in errors), errors)
    return dates


def applicable(session: Session, applies_to: AppliesTo, kinds: list[str], codes: list[str]):
    """A select of the codes of the active members a duty applies to."""
    stmt = select(Institution.code).where(Institution.status == InstitutionStatus.active)
    if applies_to is AppliesTo.kind:
        stmt = stmt.where(Institution.kind.in_(kinds))
    elif applies_to is AppliesTo.list:
        stmt = stmt.where(Institution.code.in_(codes))
    return stmt
