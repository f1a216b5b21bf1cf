"""Institutions: the member libraries and their lifecycle."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import bindparam, func, or_
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import committed
from app.core.errors import Conflict, FieldError, Invalid, NotFound
from app.core.pagination import (
    LIKE_ESCAPE,
    PageParams,
    Window,
    columns,
    construct,
    fetch_rows,
    like_escaped,
    shaped,
)
from app.models.institution import (
    Institution,
    InstitutionCreate,
    InstitutionKind,
    InstitutionPublic,
    InstitutionStatus,
    InstitutionUpdate,
)
from app.models.user import User
from app.services import audit, webhooks
from app.services.access import require_staff

CODE_TAKEN = "Another institution already uses this code or Alma code."
S = InstitutionStatus
TRANSITIONS: dict[InstitutionStatus, set[InstitutionStatus]] = {
    S.prospective: {S.joining},
    S.joining: {S.active, S.prospective},
    S.active: {S.leaving},
    S.leaving: {S.former, S.active},
    S.former: {S.joining},
}
_public = construct(InstitutionPublic)


class InstitutionSort(StrEnum):
    name = "name"
    name_desc = "-name"
    code = "code"
    code_desc = "-code"
    city = "city"
    city_desc = "-city"
    joined_on = "joined_on"
    joined_on_desc = "-joined_on"


def list_institutions(
    *,
    session: Session,
    actor: User,
    q: str | None = None,
    status: InstitutionStatus | None = None,
    kind: InstitutionKind | None = None,
    sort: InstitutionSort = InstitutionSort.name,
    page: PageParams,
) -> Window:
    """One page of `InstitutionPublic`, in one statement (rows as mappings, no ORM objects)
    built once per combination of filters and sort (`pagination.shaped`)."""
    shape = (bool(q), bool(status), bool(kind), sort)
    stmt = shaped(("institutions", *shape), lambda: _list_statement(*shape))
    values = {"q": like_escaped(q) if q else None, "status": status, "kind": kind}
    return fetch_rows(session, stmt, page, _public, values)


def _list_statement(q: bool, status: bool, kind: bool, sort: InstitutionSort):
    stmt = select(*columns(Institution, InstitutionPublic))
    if q:
        pattern = bindparam("q")
        stmt = stmt.where(
            or_(
                Institution.name.icontains(pattern, escape=LIKE_ESCAPE),
                Institution.code.icontains(pattern, escape=LIKE_ESCAPE),
                Institution.city.icontains(pattern, escape=LIKE_ESCAPE),
            )
        )
    if status:
        stmt = stmt.where(Institution.status == bindparam("status"))
    if kind:
        stmt = stmt.where(Institution.kind == bindparam("kind"))
    column = getattr(Institution, sort.value.lstrip("-"))
    order = column.desc() if sort.value.startswith("-") else column.asc()
    return stmt.order_by(order, Institution.code)


def get_institution(*, session: Session, code: str) -> Institution:
    institution = session.get(Institution, code)
    if institution is None:
        raise NotFound(f"No institution has the code {code}.")
    return institution


def create_institution(*, session: Session, actor: User, data: InstitutionCreate) -> Institution:
    require_staff(actor, "add institutions")
    if session.get(Institution, data.code) is not None:
        raise Conflict(
            f"An institution with the code {data.code} already exists.",
            [FieldError("code", "is already taken")],
        )
    institution = Institution.model_validate(
        data, update={"alma_code": data.alma_code or get_settings().alma_code_prefix + data.code}
    )
    _check_dates(institution)
    with committed(session, CODE_TAKEN, [FieldError("alma_code", "is already taken")]):
        audit.created(session, institution, actor=actor)
        _publish(session, institution)
    return institution


def update_institution(
    *, session: Session, actor: User, institution: Institution, data: InstitutionUpdate
) -> Institution:
    require_staff(actor, "edit institutions")
    values = data.model_dump(exclude_unset=True)
    new_status = values.pop("status", None)
    with committed(session, CODE_TAKEN, [FieldError("alma_code", "is already taken")]):
        with audit.change(session, institution, actor=actor) as changed:
            for key, value in values.items():
                setattr(institution, key, value)
            if new_status is not None and new_status != institution.status:
                _transition(institution, InstitutionStatus(new_status), values)
            _check_dates(institution)
        if changed:
            _publish(session, institution)
    return institution


def _publish(session: Session, institution: Institution) -> None:
    """`directory.changed` for webhooks, in this transaction: `{"institution": …}` as
    `GET /institutions/{code}` answers it (the directory is every member's to see)."""

    def payload() -> dict:
        found = InstitutionPublic.model_validate(institution, from_attributes=True)
        return {"institution": found.model_dump(mode="json")}

    webhooks.publish(session, "directory.changed", payload)


def delete_institution(*, session: Session, actor: User, institution: Institution) -> None:
    """Only an entry made by mistake goes: one that never joined and nothing refers to."""
    require_staff(actor, "delete institutions")
    if institution.status != InstitutionStatus.prospective:
        raise Conflict(
            f"{institution.code} has a membership history; set its status to former instead."
        )
    referred = f"{institution.code} has records that refer to it; set its status to former instead."
    with committed(session, referred):
        audit.removed(session, institution, actor=actor)
        session.delete(institution)


def today() -> date:
    return datetime.now(get_settings().tz).date()


def next_statuses(current: InstitutionStatus) -> list[InstitutionStatus]:
    """Where an institution in `current` may go next (the lifecycle's one rule table)."""
    return sorted(TRANSITIONS[InstitutionStatus(current)])


def _transition(institution: Institution, target: InstitutionStatus, given: dict) -> None:
    current = InstitutionStatus(institution.status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(next_statuses(current)) or "none"
        raise Invalid(
            f"An institution cannot go from {current} to {target} (allowed: {allowed}).",
            [FieldError("status", f"cannot change from {current} to {target}")],
        )
    institution.status = target
    if target == InstitutionStatus.active:
        institution.joined_on = given.get("joined_on") or institution.joined_on or today()
        institution.left_on = None
    elif target == InstitutionStatus.former:
        institution.left_on = given.get("left_on") or today()


def _check_dates(institution: Institution) -> None:
    if (
        institution.joined_on
        and institution.left_on
        and institution.left_on < institution.joined_on
    ):
        raise Invalid(
            "An institution cannot leave before it joined.",
            [FieldError("left_on", "must not be before joined_on")],
        )


def count_by_status(*, session: Session) -> list[tuple[InstitutionStatus, int]]:
    rows = dict(
        session.exec(select(Institution.status, func.count()).group_by(Institution.status)).all()
    )
    return [(s, rows[s]) for s in InstitutionStatus if rows.get(s)]
