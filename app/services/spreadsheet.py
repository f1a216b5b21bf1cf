"""CSV that a spreadsheet opens safely (OWASP "CSV injection"), and reads back what it wrote.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is taken as a formula by
Excel, LibreOffice and Google Sheets (`=HYPERLINK(…)`, `=cmd|…`); such a cell is written with a
leading single quote, which spreadsheets show as text. Every CSV the portal produces goes
through `csv_text`; an import that takes an export back reads its cells with `read_cell`.
"""

import csv
import io
from collections.abc import Iterable

from app.models.common import without_unsafe

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The text of one cell: no control characters, and never read as a formula."""
    text = without_unsafe("" if value is None else str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def read_cell(text: str) -> str:
    """A cell as `safe_cell` was given it: the quote before a formula character removed."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def csv_text(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """RFC 4180 (CRLF line ends), every cell through `safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in header])
    writer.writerows([safe_cell(c) for c in row] for row in rows)
    return out.getvalue()
