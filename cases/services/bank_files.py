"""Bank files: the CSV exchanged with other platforms (`value`, optional `label`, `note`; a header line).

Parsing is pure and whole-file: every bad line is collected with its line number and column before anything
is written (`cases.services.banks` writes), and a file with any bad line is refused. Cells that a spreadsheet
would run as a formula are prefixed on export and restored on import.
"""

import csv
import io
from dataclasses import dataclass

from django.conf import settings

from cases.detection.bank_keys import BadValue, match_key
from cases.models.bank import MAX_VALUE_LENGTH
from moderation.content import find_unstorable_text
from moderation.errors import Invalid, InvalidRows

COLUMNS = ("value", "label", "note")
COLUMN_LIMITS = {"value": MAX_VALUE_LENGTH, "label": 200, "note": 500}
MAX_PROBLEMS_SHOWN = 50
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection); the export prefixes
# such a cell with an apostrophe, which spreadsheets show as text, and the import strips it again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class EntryRow:
    line: int
    value: str
    key: str
    label: str
    note: str


def parse_bank_csv(data: bytes | str, *, kind: str, tricks: frozenset[str]) -> tuple[list[EntryRow], int]:
    """The file's rows with their match keys, and how many repeated an earlier row's key (dropped);
    InvalidRows listing every bad line if any line is bad."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > settings.BANK_IMPORT_MAX_BYTES:
        raise Invalid(f"The file is over {settings.BANK_IMPORT_MAX_BYTES:,} bytes.", field="file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"The file is not UTF-8 (byte {exc.start}).", field="file") from None
    problems: list[tuple[int, str, str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise Invalid(f"line 1: not CSV ({exc}).", field="file") from None
    columns = [column.strip().lower() for column in header or []]
    if "value" not in columns:
        raise Invalid(
            "The first line must be a header naming the columns: value[,label][,note].", field="file"
        )
    unknown = [column for column in columns if column not in COLUMNS]
    if unknown or len(set(columns)) != len(columns):
        raise Invalid(
            f"Header: only the columns value, label and note, each once (got {', '.join(columns)[:200]}).",
            field="file",
        )
    rows: list[EntryRow] = []
    seen: set[str] = set()
    duplicates = records = 0
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append((line, "file", f"not CSV: {exc}"))
            break  # the reader cannot find the next line reliably after a broken quote
        if not any(cell.strip() for cell in record):
            continue  # blank lines are not entries
        # Every non-blank line counts, refused ones too: the limit bounds the work, not only what is kept.
        records += 1
        if records > settings.BANK_IMPORT_MAX_ROWS:
            raise Invalid(f"More than {settings.BANK_IMPORT_MAX_ROWS:,} rows.", field="file")
        if len(record) > len(columns):
            problems.append((line, "file", f"{len(record)} cells for {len(columns)} columns"))
            continue
        cells = dict(zip(columns, [unprefix(cell) for cell in record], strict=False))
        row, row_problems = _row(line, cells, kind, tricks)
        problems.extend(row_problems)
        if row is None:
            continue
        if row.key in seen:
            duplicates += 1
            continue
        seen.add(row.key)
        rows.append(row)
    if problems:
        shown = "; ".join(f"line {line}, {field}: {message}" for line, field, message in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise InvalidRows(
            f"{len(problems)} bad line(s), nothing imported: {shown}{more}",
            problems=problems[:MAX_PROBLEMS_SHOWN],
        )
    return rows, duplicates


def unprefix(cell: str) -> str:
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _row(line: int, cells: dict[str, str], kind: str, tricks) -> tuple[EntryRow | None, list]:
    problems = []
    for column, limit in COLUMN_LIMITS.items():
        cell = cells.get(column, "")
        if len(cell) > limit:
            problems.append((line, column, f"longer than {limit} characters"))
        elif (problem := find_unstorable_text(cell)) is not None:
            problems.append((line, column, problem[1]))
    if problems:
        return None, problems
    value = cells.get("value", "").strip()
    try:
        key = match_key(kind, value, tricks)
    except BadValue as exc:
        return None, [(line, "value", str(exc))]
    if len(key) > MAX_VALUE_LENGTH:
        return None, [(line, "value", f"longer than {MAX_VALUE_LENGTH} characters once normalised")]
    return EntryRow(line, value, key, cells.get("label", "").strip(), cells.get("note", "").strip()), []


def spreadsheet_safe(cell: str) -> str:
    return "'" + cell if cell and cell[0] in FORMULA_STARTS else cell
