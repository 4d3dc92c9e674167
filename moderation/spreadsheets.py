"""CSV that is safe to open in a spreadsheet, one way for every export (audit log, dashboards, statements).

A cell that starts with `=`, `+`, `-`, `@`, tab or carriage return is run as a formula by Excel, LibreOffice and
Google Sheets: a reporter's comment "=HYPERLINK(...)" would become a link an analyst clicks. Such cells are
prefixed with an apostrophe, which spreadsheets show as plain text. Numbers are written as numbers (a negative
count is data, not a formula), so only strings are guarded.
"""

import csv
import io
import json
from collections.abc import Iterable, Sequence

from django.http import HttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    )
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_text(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in headers])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def csv_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence]) -> HttpResponse:
    """A whole CSV as a download (for bounded tables; stream anything that can grow without limit)."""
    response = HttpResponse(csv_text(headers, rows), content_type="text/csv; charset=utf-8")
    safe_name = "".join(ch for ch in filename if ch.isalnum() or ch in "-_.") or "export.csv"
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response
