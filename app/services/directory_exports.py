"""The directory as files: CSV and vCard 4.0 out, CSV in (checked row by row, all or nothing)."""

import csv
import io
from dataclasses import asdict, dataclass, field

from pydantic import ValidationError
from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from app.core.db import committed
from app.core.errors import DomainError
from app.models.common import without_unsafe
from app.models.institution import Institution
from app.models.liaison import (
    SEATS,
    ContactRole,
    Liaison,
    LiaisonCreate,
    LiaisonPublic,
    LiaisonUpdate,
)
from app.models.user import User
from app.services import liaisons
from app.services.access import require_staff
from app.services.spreadsheet import csv_text, read_cell

# --- export -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id", "name", "email", "phone", "title", "institution", "roles", "active", "started_on",
    "ended_on",
)  # fmt: skip


def to_csv(people: list[LiaisonPublic]) -> str:
    """Every cell safe to open in a spreadsheet (`spreadsheet.csv_text`)."""
    rows = []
    for p in people:
        row = p.model_dump(mode="json")
        row["roles"] = "; ".join(row["roles"])
        row["active"] = "true" if p.active else "false"
        rows.append([row[c] for c in CSV_COLUMNS])
    return csv_text(CSV_COLUMNS, rows)


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
    """A TEXT value (RFC 6350 §3.4): backslash, comma and semicolon escaped, every line break
    (CRLF, a bare LF or a bare CR) written as `\\n`, control characters left out."""
    value = without_unsafe(value).replace("\r\n", "\n").replace("\r", "\n")
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
class RowOutcome:
    """What importing one row does: `add`, `update` (the `fields` that change), `unchanged`,
    or `error` (its `problems` in plain words)."""

    line: int
    action: str
    name: str = ""
    email: str = ""
    fields: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    results: list[RowOutcome] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {**asdict(self), "valid": self.valid}


# A field's name as the report says it.
FIELD_WORDS = {
    "name": "name",
    "email": "e-mail",
    "institution": "institution",
    "roles": "roles",
    "phone": "phone",
    "title": "title",
    "started_on": "start date",
}
UPDATABLE = ("name", "phone", "title")


def import_csv(
    *, session: Session, actor: User, content: bytes, dry_run: bool = True
) -> ImportReport:
    """Checks every row and says what it would do: add a person, update one (matched by
    e-mail, whatever its case), or nothing. A real run writes every row in one transaction,
    and only when all are valid; a dry run works the same way and rolls it all back, so its
    preview is exactly what the import would do."""
    require_staff(actor, "import directory entries")
    report = ImportReport(dry_run=dry_run)
    rows = _parse(content, report)
    if rows is None:  # the file itself is unusable: no row can be checked
        return report
    known = set(session.exec(select(Institution.code)).all())
    listed = {
        email.lower(): person_id
        for person_id, email in session.exec(select(Liaison.id, Liaison.email)).all()
    }
    seen_emails: dict[str, int] = {}
    seats: dict[tuple[str, str], int] = {}
    planned: list[tuple[RowOutcome, LiaisonCreate | None, dict]] = []
    for line, row in rows:
        values = {k: v for k, v in row.items() if k not in EXPORT_ONLY}
        outcome = RowOutcome(line, "add", values.get("name", ""), values.get("email", ""))
        problems: list[tuple[str, str]] = []
        code = values.get("institution", "").upper()
        email = values.get("email", "").strip().lower()
        if code and code not in known:
            problems.append(("institution", f"no institution has the code {code}"))
        if email and email in seen_emails:
            problems.append(("email", f"is the same as line {seen_emails[email]}"))
        seen_emails.setdefault(email, line)
        existing = listed.get(email)
        data = None
        if existing is None:
            try:
                data = LiaisonCreate.model_validate(values)
            except ValidationError as exc:
                problems.extend(_plain(e) for e in exc.errors())
        else:
            outcome.action = "update"
            problems.extend(_check_update(values))
        roles = _roles_of(values)
        for role in roles or ():
            if role in SEATS:
                first = seats.setdefault((code, role.value), line)
                if first != line:
                    problems.append(
                        ("roles", f"a second {_words(role.value)} for {code} (see line {first})")
                    )
        if problems:
            outcome.action = "error"
            outcome.problems = [f"{FIELD_WORDS.get(f, f)}: {r}" for f, r in problems]
        report.errors.extend(RowProblem(line, f, r) for f, r in problems)
        planned.append((outcome, data, {**values, "_id": existing}))
    _preview_updates(session, report, planned)
    report.results = [outcome for outcome, _, _ in planned]
    if report.errors:
        _tally(report)
        return report
    try:
        with committed(session, liaisons.SEAT_CONFLICT):
            for outcome, data, values in planned:
                _apply(session, actor, report, outcome, data, values)
            if report.errors or dry_run:
                raise _Undo
    except _Undo:
        pass  # `committed` rolled it all back
    _tally(report)
    return report


class _Undo(Exception):
    """Leaves `committed` by rolling back: a dry run, or a row the database refused."""


def _apply(
    session: Session,
    actor: User,
    report: ImportReport,
    outcome: RowOutcome,
    data: LiaisonCreate | None,
    values: dict,
) -> None:
    """One row, in its own savepoint: a refused row is reported and the next still checked."""
    try:
        with session.begin_nested():
            if data is not None:
                liaisons.apply_create(session=session, actor=actor, data=data)
                return
            if outcome.action == "update":
                person = liaisons.get_liaison(session=session, liaison_id=values["_id"])
                update = _update_of(values, report.columns, person)
                liaisons.apply_update(session=session, actor=actor, liaison=person, data=update)
    except DomainError as exc:
        reasons = [(e.field, e.message) for e in exc.errors] or [("row", exc.detail)]
        outcome.action = "error"
        outcome.problems = [f"{FIELD_WORDS.get(f, f)}: {r}" for f, r in reasons]
        report.errors.extend(RowProblem(outcome.line, f, r) for f, r in reasons)


def _preview_updates(session: Session, report: ImportReport, planned: list) -> None:
    """For the rows that match a listed person: the fields that change, or "unchanged", or why
    not (a person stays at their institution). One statement for all of them."""
    ids = [values["_id"] for outcome, _, values in planned if outcome.action == "update"]
    if not ids:
        return
    people = {
        p.id: p
        for p in session.exec(
            select(Liaison).where(Liaison.id.in_(ids)).options(selectinload(Liaison.appointments))
        ).all()
    }
    for outcome, _, values in planned:
        if outcome.action != "update":
            continue
        person = people[values["_id"]]
        code = values.get("institution", "").upper()
        if person.institution != code:
            reason = (
                f"this person is listed at {person.institution}; an import does not move "
                "people between institutions"
            )
            outcome.action, outcome.problems = "error", [f"institution: {reason}"]
            report.errors.append(RowProblem(outcome.line, "institution", reason))
            continue
        update = _update_of(values, report.columns, person)
        outcome.fields = [
            FIELD_WORDS[f] for f in sorted(update.model_fields_set - {"started_on"}, key=_order)
        ]
        if not outcome.fields:
            outcome.action = "unchanged"


def _update_of(values: dict, columns: list[str], person: Liaison) -> LiaisonUpdate:
    """Only what differs: a column in the file with an empty cell clears that field; roles
    are the whole set of current roles (an empty cell leaves them as they are)."""
    changes: dict = {}
    for name in UPDATABLE:
        if name in columns:
            new = values.get(name) or None
            if new != getattr(person, name):
                changes[name] = new
    roles = _roles_of(values)
    held = {ContactRole(a.role) for a in person.appointments if a.ended_on is None}
    if roles and set(roles) != held:
        changes["roles"] = roles
        if values.get("started_on"):
            changes["started_on"] = values["started_on"]
    return LiaisonUpdate.model_validate(changes)


def _check_update(values: dict) -> list[tuple[str, str]]:
    """The row's values as an update would take them (name and e-mail stay required)."""
    try:
        LiaisonUpdate.model_validate(
            {k: v for k, v in values.items() if k in (*UPDATABLE, "roles", "started_on")}
        )
    except ValidationError as exc:
        return [_plain(e) for e in exc.errors()]
    if not values.get("name"):
        return [("name", "is required")]
    return []


def _roles_of(values: dict) -> list[ContactRole] | None:
    """The row's roles; None when one is unknown (validation names it)."""
    try:
        return [ContactRole(r) for r in _split(values.get("roles", ""))]
    except ValueError:
        return None


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.replace(",", ";").split(";") if part.strip()]


def _tally(report: ImportReport) -> None:
    actions = [r.action for r in report.results]
    report.created = 0 if report.dry_run or report.errors else actions.count("add")
    report.updated = 0 if report.dry_run or report.errors else actions.count("update")
    report.unchanged = actions.count("unchanged")


def _order(name: str) -> int:
    return list(FIELD_WORDS).index(name) if name in FIELD_WORDS else len(FIELD_WORDS)


def _words(code: str) -> str:
    return code.replace("_", " ")


def _plain(error: dict) -> tuple[str, str]:
    """A validation error in words a librarian reads (never a parser's message)."""
    where = str(error["loc"][0]) if error["loc"] else "row"
    kind = error["type"]
    given = error.get("input")
    if kind == "missing":
        return where, "is required"
    if where == "email":
        return where, f"“{given}” is not a valid e-mail address"
    if where == "roles" and kind == "enum":
        return where, f"“{given}” is not a role the directory knows"
    if where == "roles" and kind == "too_short":
        return where, "name at least one role"
    if where == "roles":
        return where, "names a role twice" if "twice" in error["msg"] else "are not valid"
    if where == "started_on":
        return where, f"“{given}” is not a date; write it as 2026-03-01"
    if kind == "string_too_long":
        return where, f"is too long (at most {error['ctx']['max_length']} characters)"
    if kind == "string_too_short":
        return where, "is required"
    return where, error["msg"].removeprefix("Value error, ")


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
    report.columns = header
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
        values = {h: read_cell(c.strip()) for h, c in zip(header, cells, strict=True)}
        rows.append((line, {h: v for h, v in values.items() if v}))
    report.rows = len(rows) + sum(1 for e in report.errors if e.field == "row")
    if report.rows > IMPORT_MAX_ROWS:
        report.errors.append(RowProblem(1, "file", f"has more than {IMPORT_MAX_ROWS} rows"))
        return None
    if report.rows == 0:
        report.errors.append(RowProblem(2, "file", "has no rows under the header"))
        return None
    return rows
