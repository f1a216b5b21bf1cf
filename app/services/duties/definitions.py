"""Duty templates: define, edit, read and list them (consortium staff define; members read)."""

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.errors import Invalid, NotFound
from app.core.pagination import PageParams, Window
from app.models.duty import (
    AppliesTo,
    Duty,
    DutyCreate,
    DutyPublic,
    DutyUpdate,
    Occurrence,
)
from app.models.user import User
from app.services import audit, markdown
from app.services.access import require_staff
from app.services.duties.fanout import fan_out
from app.services.duties.schedule import check, schedule


def public(duty: Duty) -> DutyPublic:
    try:
        dates = schedule(duty.rrule, duty.due_on)
    except Invalid:  # a rule written before the checks: show the first date only
        dates = [duty.due_on]
    return DutyPublic.model_validate(duty, from_attributes=True, update={"occurrences": dates})


def create_duty(*, session: Session, actor: User, data: DutyCreate) -> Duty:
    require_staff(actor, "define duties")
    kinds = [k.value for k in data.kinds]
    codes = sorted({c.upper() for c in data.institutions})
    duty = Duty(
        **data.model_dump(exclude={"kinds", "institutions", "instructions"}),
        instructions=data.instructions or "",
        kinds=kinds if data.applies_to is AppliesTo.kind else [],
        institutions=codes if data.applies_to is AppliesTo.list else [],
        created_by=actor.id,
    )
    check(session, duty)
    audit.created(session, duty, actor=actor)
    fan_out(session, duty_ids=[duty.id])
    session.commit()
    return duty


def update_duty(*, session: Session, actor: User, duty: Duty, data: DutyUpdate) -> Duty:
    require_staff(actor, "edit duties")
    values = data.model_dump(exclude_unset=True)
    check(session, duty, values)
    with audit.change(session, duty, actor=actor):
        for name, value in values.items():
            setattr(duty, name, value)
    session.commit()
    return duty


def get_duty(*, session: Session, duty_id: int) -> Duty:
    duty = session.get(Duty, duty_id)
    if duty is None:
        raise NotFound(f"No duty {duty_id}.")
    return duty


def list_duties(*, session: Session, page: PageParams, active: bool | None = None) -> Window:
    stmt = select(Duty).order_by(Duty.due_on, Duty.id)
    if active is not None:
        stmt = stmt.where(Duty.active == active)
    total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    rows = session.exec(stmt.limit(page.limit).offset(page.offset)).all()
    return Window(items=[public(d) for d in rows], total=total)


def instructions_html(duty: Duty):
    return markdown.render(duty.instructions)


def occurrences_of(*, session: Session, duty: Duty) -> list[Occurrence]:
    return list(
        session.exec(
            select(Occurrence).where(Occurrence.duty_id == duty.id).order_by(Occurrence.due_on)
        ).all()
    )
