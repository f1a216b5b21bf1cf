"""Directory change requests: a library's director or liaison proposes, consortium staff decide.

Approval applies the change with the same building blocks as a direct edit, in the same
transaction as the decision and its audit entries; the requester is told by e-mail.
"""

from pydantic import ValidationError
from sqlalchemy import Select, bindparam, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from app.core.db import committed, utcnow
from app.core.errors import Conflict, FieldError, Invalid, NotFound, PermissionDenied
from app.core.pagination import PageParams, Window, columns, construct, fetch_rows, shaped
from app.models.directory_change import (
    ChangeKind,
    ChangeStatus,
    DirectoryChange,
    DirectoryChangeCreate,
    DirectoryChangePublic,
)
from app.models.institution import Institution
from app.models.liaison import ContactRole, Liaison, LiaisonCreate, LiaisonUpdate
from app.models.user import User
from app.notify.outbox import enqueue
from app.services import audit, liaisons
from app.services.access import (
    is_staff,
    may_request_directory_changes,
    require_library_lead,
    require_staff,
)


def submit(*, session: Session, actor: User, data: DirectoryChangeCreate) -> DirectoryChange:
    target = None
    if data.kind is ChangeKind.add:
        code = str(data.liaison.get("institution") or actor.institution or "").strip().upper()
        if not code:
            raise Invalid(
                "Say which institution the new contact is for.",
                [FieldError("liaison.institution", "is required")],
            )
    else:
        target = session.get(Liaison, data.liaison_id)
        if target is None or not _visible(actor, target.institution):
            raise NotFound(f"No directory entry has the id {data.liaison_id}.")
        code = target.institution
    require_library_lead(actor, code, "request changes")
    payload = _validated(session, data, code, target)
    change = DirectoryChange(
        kind=data.kind,
        liaison_id=data.liaison_id if target else None,
        liaison=payload,
        note=data.note,
        institution=code,
        requester=actor.id,
    )
    audit.created(session, change, actor=actor, action="request")
    session.commit()
    return change


def _validated(
    session: Session, data: DirectoryChangeCreate, code: str, target: Liaison | None
) -> dict:
    """The payload as the change it will apply, checked now so the requester hears at once."""
    try:
        if data.kind is ChangeKind.add:
            parsed = LiaisonCreate.model_validate({**data.liaison, "institution": code})
            liaisons.free_email(session, parsed.email)
        elif data.kind is ChangeKind.update:
            parsed = LiaisonUpdate.model_validate(data.liaison)
            if "email" in parsed.model_fields_set:
                liaisons.free_email(session, parsed.email, target.id)
        else:
            unknown = set(data.liaison) - {"roles"}
            if unknown:
                raise Invalid(
                    "Ending an appointment takes only the roles to end.",
                    [FieldError(f"liaison.{k}", "is not used when ending") for k in unknown],
                )
            parsed = LiaisonUpdate.model_validate(data.liaison)
    except ValidationError as exc:
        raise Invalid(
            "Some of the proposed values are not valid.",
            [
                FieldError("liaison." + ".".join(str(p) for p in e["loc"]), e["msg"])
                for e in exc.errors()
            ],
        ) from exc
    except Conflict as exc:
        raise Invalid(
            exc.detail, [FieldError("liaison." + e.field, e.message) for e in exc.errors]
        ) from exc
    return parsed.model_dump(mode="json", exclude_unset=True)


def _visible(actor: User, institution: str) -> bool:
    return is_staff(actor) or actor.institution == institution


def list_changes(
    *,
    session: Session,
    actor: User,
    page: PageParams,
    status: ChangeStatus | None = None,
    institution: str | None = None,
) -> Window:
    """Staff see every request; a library sees its own institution's. One statement: the
    requester's and the person's names are joined in. Built once per combination of filters
    (`pagination.shaped`)."""
    staff = is_staff(actor)
    values = {
        "own": None if staff else _readable(actor),
        "institution": institution.strip().upper() if institution else None,
        "status": status or None,
    }
    # A library user whose role reads no institution's requests: `institution IS NULL`.
    scope = "all" if staff else ("own" if values["own"] is not None else "none")
    shape = (scope, values["institution"] is not None, values["status"] is not None)
    stmt = shaped(("directory_changes", *shape), lambda: _list_statement(*shape))
    return fetch_rows(session, stmt, page, _public_row, values)


def _list_statement(scope: str, institution: bool, status: bool) -> Select:
    requester = aliased(User)
    stmt = (
        select(
            *columns(DirectoryChange, DirectoryChangePublic),
            requester.name.label("requester_name"),
            Liaison.name.label("liaison_name"),
        )
        .outerjoin(requester, requester.id == DirectoryChange.requester)
        .outerjoin(Liaison, Liaison.id == DirectoryChange.liaison_id)
    )
    if scope == "own":
        stmt = stmt.where(DirectoryChange.institution == bindparam("own"))
    elif scope == "none":
        stmt = stmt.where(DirectoryChange.institution.is_(None))
    if institution:
        stmt = stmt.where(DirectoryChange.institution == bindparam("institution"))
    if status:
        stmt = stmt.where(DirectoryChange.status == bindparam("status"))
    return stmt.order_by(DirectoryChange.created_at.desc(), DirectoryChange.id.desc())


def _public_row(row) -> DirectoryChangePublic:
    """As `publish()` does: a person no longer listed is named by the request itself."""
    return _build(
        {**row, "liaison_name": row["liaison_name"] or (row["liaison"] or {}).get("name")}
    )


_build = construct(DirectoryChangePublic)


def counts(*, session: Session, actor: User) -> dict[str, int]:
    stmt = select(DirectoryChange.status, func.count()).group_by(DirectoryChange.status)
    if not is_staff(actor):
        stmt = stmt.where(DirectoryChange.institution == _readable(actor))
    found = {ChangeStatus(s).value: n for s, n in session.exec(stmt).all()}
    return {s.value: found.get(s.value, 0) for s in ChangeStatus}


def pending_count(*, session: Session) -> int:
    """Requests waiting for consortium staff (the navigation's badge): one COUNT statement,
    served by `ix_directory_change_status_created_at`."""
    return session.exec(
        select(func.count()).where(DirectoryChange.status == ChangeStatus.pending)
    ).one()


def get_change(*, session: Session, actor: User, change_id: int) -> DirectoryChange:
    change = session.get(DirectoryChange, change_id)
    if change is None or not _visible(actor, change.institution):
        raise NotFound(f"No directory change request has the id {change_id}.")
    if not may_request_directory_changes(actor, change.institution):
        raise PermissionDenied("Only a library's director or liaison may see its change requests.")
    return change


def _readable(actor: User) -> str | None:
    """The institution whose requests a library user may read: none for library staff."""
    return actor.institution if actor.is_library_lead else None


def publish(session: Session, changes: list[DirectoryChange]) -> list[DirectoryChangePublic]:
    """Adds the requester's and the person's names with two queries for the whole list."""
    user_ids = {c.requester for c in changes}
    people = {c.liaison_id for c in changes if c.liaison_id}
    users = (
        dict(session.exec(select(User.id, User.name).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    names = (
        dict(session.exec(select(Liaison.id, Liaison.name).where(Liaison.id.in_(people))).all())
        if people
        else {}
    )
    return [
        DirectoryChangePublic.model_validate(
            c,
            update={
                "requester_name": users.get(c.requester),
                "liaison_name": names.get(c.liaison_id) or c.liaison.get("name"),
            },
        )
        for c in changes
    ]


def approve(
    *, session: Session, actor: User, change: DirectoryChange, reason: str | None = None
) -> DirectoryChange:
    require_staff(actor, "approve directory changes")
    _require_pending(change)
    with (
        committed(session, liaisons.SEAT_CONFLICT),
        audit.change(session, change, actor=actor, action="approve"),
    ):
        if change.kind == ChangeKind.add:
            data = LiaisonCreate.model_validate(
                {**change.liaison, "institution": change.institution}
            )
            person = liaisons.apply_create(session=session, actor=actor, data=data)
            change.liaison_id = person.id
        else:
            person = liaisons.get_liaison(session=session, liaison_id=change.liaison_id)
            if change.kind == ChangeKind.update:
                data = LiaisonUpdate.model_validate(change.liaison)
                liaisons.apply_update(session=session, actor=actor, liaison=person, data=data)
            else:
                roles = change.liaison.get("roles")
                liaisons.apply_end(
                    session=session,
                    actor=actor,
                    liaison=person,
                    roles=[ContactRole(r) for r in roles] if roles else None,
                )
        _decide(session, actor, change, ChangeStatus.approved, reason)
    return change


def reject(
    *, session: Session, actor: User, change: DirectoryChange, reason: str
) -> DirectoryChange:
    require_staff(actor, "reject directory changes")
    _require_pending(change)
    with audit.change(session, change, actor=actor, action="reject"):
        _decide(session, actor, change, ChangeStatus.rejected, reason)
    session.commit()
    return change


# What a request asked for, in the words of the e-mail that answers it.
KIND_WORDS = {
    ChangeKind.add: "add a contact",
    ChangeKind.update: "change a contact's entry",
    ChangeKind.end: "end a contact's appointments",
}


def _institution_name(session: Session, code: str) -> str:
    found = session.get(Institution, code)
    return found.name if found else code


def _require_pending(change: DirectoryChange) -> None:
    if change.status != ChangeStatus.pending:
        raise Conflict(f"This request was already {change.status}.")


def _decide(
    session: Session,
    actor: User,
    change: DirectoryChange,
    outcome: ChangeStatus,
    reason: str | None,
) -> None:
    change.status = outcome
    change.decided_by = actor.id
    change.decided_at = utcnow()
    change.reason = reason
    requester = session.get(User, change.requester)
    if requester is not None and requester.id != actor.id:
        enqueue(
            session,
            to=requester.email,
            template="directory/decision",
            context={
                "name": requester.name,
                "change_id": change.id,
                "kind": ChangeKind(change.kind).value,
                "kind_words": KIND_WORDS[ChangeKind(change.kind)],
                "institution": change.institution,
                "institution_name": _institution_name(session, change.institution),
                "outcome": outcome.value,
                "reason": reason or "",
                "who": change.liaison.get("name") or "",
                "path": f"/directory-changes?institution={change.institution}",
            },
        )
