"""The directory as files: CSV and vCard 4.0 out, CSV in (checked row by row, all or nothing)."""

import csv
import io
from dataclasses import asdict, dataclass, field

from pydantic import ValidationError
from sqlmodel import Session, select

from app.core.db import committed
from app.models.common import without_unsafe
from app.models.institution import Institution
from app.models.liaison import SEATS, Liaison, LiaisonCreate, LiaisonPublic
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
    with committed(session, liaisons.SEAT_CONFLICT):
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
