"""Around the directory: freshness confirmations, the gaps report, invitations, CSV and vCard."""

import csv
import hashlib
import io
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, select

from app.core import security
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, Invalid, NotFound, PermissionDenied
from app.models.directory import (
    DirectoryConfirmation,
    DirectoryGap,
    DirectoryInvitation,
    DirectoryInvitationPublic,
)
from app.models.institution import Institution, InstitutionStatus
from app.models.liaison import (
    SEATS,
    Appointment,
    ContactRole,
    Liaison,
    LiaisonCreate,
    LiaisonPublic,
)
from app.models.user import Role, User
from app.notify.outbox import enqueue
from app.services import audit, liaisons
from app.services.access import is_staff, require_staff

# --- freshness --------------------------------------------------------------------------------


def confirm(*, session: Session, actor: User, code: str) -> DirectoryConfirmation:
    """One click: "our entries are correct", by the institution's director or liaison (or staff)."""
    if not is_staff(actor):
        if actor.institution != code:
            raise NotFound(f"No institution {code} among yours.")
        if Role(actor.role) not in (Role.director, Role.liaison):
            raise PermissionDenied("Only the director or liaison confirms the directory.")
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
    session.commit()
    return confirmation


def last_confirmation(*, session: Session, code: str) -> DirectoryConfirmation | None:
    return session.exec(
        select(DirectoryConfirmation)
        .where(DirectoryConfirmation.institution == code)
        .order_by(DirectoryConfirmation.confirmed_at.desc())
    ).first()


def gaps(*, session: Session, actor: User, now: datetime | None = None) -> list[DirectoryGap]:
    """Active institutions with an empty liaison or director seat, or a stale confirmation."""
    require_staff(actor, "see the directory gaps")
    cutoff = (now or utcnow()) - timedelta(days=get_settings().directory_confirm_days)
    members = session.exec(
        select(Institution.code, Institution.name)
        .where(Institution.status == InstitutionStatus.active)
        .order_by(Institution.name)
    ).all()
    filled: dict[str, set[str]] = {}
    for code, role in session.exec(
        select(Appointment.institution, Appointment.role).where(
            Appointment.ended_on.is_(None), Appointment.role.in_(SEATS)
        )
    ).all():
        filled.setdefault(code, set()).add(ContactRole(role).value)
    confirmed = dict(
        session.exec(
            select(
                DirectoryConfirmation.institution, func.max(DirectoryConfirmation.confirmed_at)
            ).group_by(DirectoryConfirmation.institution)
        ).all()
    )
    result = []
    for code, name in members:
        vacant = [s.value for s in SEATS if s.value not in filled.get(code, set())]
        at = confirmed.get(code)
        if at is not None and at.tzinfo is None:  # an aggregate bypasses the column type
            at = at.replace(tzinfo=cutoff.tzinfo)
        stale = at is None or at < cutoff
        if vacant or stale:
            result.append(
                DirectoryGap(
                    institution=code, name=name, vacant=vacant, confirmed_at=at, stale=stale
                )
            )
    return result


# --- invitations ------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(*, session: Session, actor: User, liaison: Liaison) -> DirectoryInvitationPublic:
    """A single-use link, shown to staff and e-mailed through the outbox."""
    require_staff(actor, "invite people to sign in")
    person = liaisons.public(liaison)
    if not person.active:
        raise Conflict(f"{liaison.name} holds no current appointment to sign in for.")
    token = secrets.token_urlsafe(32)
    settings = get_settings()
    invitation = DirectoryInvitation(
        liaison_id=liaison.id,
        token_hash=_digest(token),
        expires_at=utcnow() + timedelta(hours=settings.directory_invitation_hours),
        created_by=actor.id,
    )
    session.add(invitation)
    path = f"/invitations/{token}"
    role = liaisons.account_role(set(person.roles))
    enqueue(
        session,
        to=liaison.email,
        template="directory/invitation",
        context={
            "name": liaison.name,
            "institution": liaison.institution,
            "role": role.value.replace("_", " "),
            "url": settings.portal_url.rstrip("/") + path,
            "expires_at": invitation.expires_at.astimezone(settings.tz).strftime(
                "%Y-%m-%d %H:%M %Z"
            ),
        },
    )
    audit.record(
        session,
        actor=actor,
        action="invite",
        entity_type="liaison",
        entity_id=str(liaison.id),
        after={"expires_at": invitation.expires_at.isoformat()},
    )
    session.commit()
    return DirectoryInvitationPublic(
        liaison_id=liaison.id, url=path, expires_at=invitation.expires_at
    )


def open_invitation(*, session: Session, token: str) -> tuple[DirectoryInvitation, Liaison]:
    invitation = session.exec(
        select(DirectoryInvitation).where(DirectoryInvitation.token_hash == _digest(token))
    ).first()
    if invitation is None or invitation.used_at is not None or invitation.expires_at < utcnow():
        raise NotFound(
            "This invitation link is unknown, used or expired; ask the consortium office."
        )
    return invitation, liaisons.get_liaison(session=session, liaison_id=invitation.liaison_id)


def accept_invitation(*, session: Session, token: str, password: str) -> User:
    """Creates or re-opens the account; its role and institution follow the appointments."""
    invitation, liaison = open_invitation(session=session, token=token)
    roles = {ContactRole(a.role) for a in liaison.appointments if a.ended_on is None}
    if not roles:
        raise Conflict(f"{liaison.name} no longer holds an appointment.")
    problem = security.password_problem(password, liaison.email)
    if problem:
        raise Invalid(f"The password {problem}.", [FieldError("password", problem)])
    user = session.exec(select(User).where(User.email == liaison.email)).first()
    if user is not None and Role(user.role).is_consortium:
        raise Conflict("This e-mail address belongs to a consortium account.")
    if user is None:
        user = User(email=liaison.email, name=liaison.name, role=Role.library_staff)
    user.role = liaisons.account_role(roles)
    user.institution = liaison.institution
    user.active = True
    user.password_hash = security.hash_password(password)
    session.add(user)
    session.flush()
    liaison.account = user.id
    invitation.used_at = utcnow()
    session.add_all([liaison, invitation])
    audit.record(
        session,
        actor=user,
        action="accept_invitation",
        entity_type="user",
        entity_id=str(user.id),
        after=audit.snapshot(user, exclude={"password_hash"}),
    )
    session.commit()
    return user


# --- export -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id", "name", "email", "phone", "title", "institution", "roles", "active", "started_on",
    "ended_on",
)  # fmt: skip


def to_csv(people: list[LiaisonPublic]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in people:
        row = p.model_dump(mode="json")
        row["roles"] = "; ".join(row["roles"])
        row["active"] = "true" if p.active else "false"
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return out.getvalue()


def to_vcard(people: list[LiaisonPublic], consortium: str | None = None) -> str:
    """vCard 4.0 (RFC 6350): CRLF lines folded at 75 octets, text values escaped."""
    cards = []
    for p in people:
        given, _, family = p.name.rpartition(" ")
        lines = [
            "BEGIN:VCARD",
            "VERSION:4.0",
            "KIND:individual",
            f"UID:urn:liaison-portal:liaison:{p.id}",
            f"FN:{_text(p.name)}",
            f"N:{_text(family)};{_text(given)};;;",
            f"EMAIL;TYPE=work:{_text(p.email)}",
        ]
        if p.phone:
            lines.append(f"TEL;VALUE=uri;TYPE=work:tel:{_tel(p.phone)}")
        if p.title:
            lines.append(f"TITLE:{_text(p.title)}")
        org = p.institution_name or p.institution
        lines.append(f"ORG:{_text(org)}")
        if p.roles:
            lines.append("ROLE:" + _text(", ".join(r.value.replace("_", " ") for r in p.roles)))
        categories = [r.value for r in p.roles] + ([consortium] if consortium else [])
        if categories:
            lines.append("CATEGORIES:" + ",".join(_text(c) for c in categories))
        lines.append(f"NOTE:{_text(f'{p.institution} · ' + ('current' if p.active else 'former'))}")
        lines.append("END:VCARD")
        cards.extend(_fold(line) for line in lines)
    return "".join(line + "\r\n" for line in cards)


def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def _tel(value: str) -> str:
    keep = "".join(ch for ch in value if ch.isdigit() or ch in "+-")
    return keep or "unknown"


def _fold(line: str) -> str:
    """Splits at 75 octets without cutting a UTF-8 character; continuations start with a space."""
    parts, current, size = [], "", 0
    for ch in line:
        width = len(ch.encode())
        if size + width > (75 if not parts else 74):
            parts.append(current)
            current, size = "", 0
        current += ch
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


# --- import -----------------------------------------------------------------------------------

IMPORT_REQUIRED = ("name", "email", "institution", "roles")
IMPORT_OPTIONAL = ("phone", "title", "started_on")
EXPORT_ONLY = ("id", "active", "ended_on")  # an export can be edited and imported again
IMPORT_MAX_ROWS = 5000


@dataclass
class RowProblem:
    line: int
    field: str
    reason: str


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: int = 0
    errors: list[RowProblem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {**asdict(self), "valid": self.valid}


def import_csv(
    *, session: Session, actor: User, content: bytes, dry_run: bool = True
) -> ImportReport:
    """Checks every row; writes every row in one transaction only when all are valid."""
    require_staff(actor, "import directory entries")
    report = ImportReport(dry_run=dry_run)
    rows = _parse(content, report)
    if rows is None:  # the file itself is unusable: no row can be checked
        return report
    known = set(session.exec(select(Institution.code)).all())
    listed = set(session.exec(select(Liaison.email)).all())
    seen_emails: dict[str, int] = {}
    seats: dict[tuple[str, str], int] = {}
    parsed: list[LiaisonCreate] = []
    for line, row in rows:
        values = {k: v for k, v in row.items() if k not in EXPORT_ONLY}
        problems: list[tuple[str, str]] = []
        code = values.get("institution", "").upper()
        email = values.get("email", "").lower()
        if code and code not in known:
            problems.append(("institution", f"no institution has the code {code}"))
        if email in listed:
            problems.append(("email", f"{email} is already in the directory"))
        if email and email in seen_emails:
            problems.append(("email", f"duplicates line {seen_emails[email]}"))
        seen_emails.setdefault(email, line)
        try:
            data = LiaisonCreate.model_validate(values)
        except ValidationError as exc:
            problems.extend(
                (str(e["loc"][0]) if e["loc"] else "row", e["msg"]) for e in exc.errors()
            )
        else:
            parsed.append(data)
            for role in data.roles:
                if role in SEATS:
                    first = seats.setdefault((code, role.value), line)
                    if first != line:
                        problems.append(("roles", f"a second current {role.value} (line {first})"))
        report.errors.extend(RowProblem(line, f, r) for f, r in problems)
    if report.errors or dry_run:
        return report
    with liaisons.write(session):
        for data in parsed:
            liaisons.apply_create(session=session, actor=actor, data=data)
            report.created += 1
    return report


def _parse(content: bytes, report: ImportReport) -> list[tuple[int, dict[str, str]]] | None:
    """The rows with their line numbers; None when the file or its header is unusable."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        report.errors.append(RowProblem(line, "file", "is not UTF-8 text"))
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    allowed = set(IMPORT_REQUIRED + IMPORT_OPTIONAL + EXPORT_ONLY)
    missing = [c for c in IMPORT_REQUIRED if c not in header]
    unknown = [c for c in header if c not in allowed]
    doubled = {c for c in header if header.count(c) > 1}
    for c in missing:
        report.errors.append(RowProblem(1, c, "column is missing from the header"))
    for c in unknown:
        report.errors.append(RowProblem(1, c or "(empty)", "is not a known column"))
    for c in sorted(doubled):
        report.errors.append(RowProblem(1, c, "column appears twice"))
    if report.errors:
        return None
    rows = []
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            report.errors.append(
                RowProblem(line, "row", f"has {len(cells)} cells, the header has {len(header)}")
            )
            continue
        rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=True) if c.strip()}))
    report.rows = len(rows) + sum(1 for e in report.errors if e.field == "row")
    if report.rows > IMPORT_MAX_ROWS:
        report.errors.append(RowProblem(1, "file", f"has more than {IMPORT_MAX_ROWS} rows"))
        return None
    if report.rows == 0:
        report.errors.append(RowProblem(2, "file", "has no rows under the header"))
        return None
    return rows
