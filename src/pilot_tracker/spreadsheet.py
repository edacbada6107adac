"""Writing and reading .xlsx cells safely: no cell ever becomes a formula, headers are found
where people put them, and a workbook is written whole or not at all.

openpyxl is imported by the functions that write, not here: reading a cell's value or
checking an archive must not cost a read-only command openpyxl's import.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

from pilot_tracker.errors import ZipRefused
from pilot_tracker.text import header_key

# Text starting with one of these is a formula (or DDE payload) to a spreadsheet program.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
# The control characters XML 1.0 forbids: openpyxl's own ILLEGAL_CHARACTERS_RE, written out
# so that importing this module does not import openpyxl (a test checks that they agree).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
HEADER_COLOUR = "DDEBF7"
DATE_FORMAT = "yyyy-mm-dd"


def put(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Write one value: numbers stay numbers, dates get a date format, text stays text."""
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.value = text
        # openpyxl turns text starting with "=" into a formula; force it back to text,
        # and mark it the way Excel marks a leading apostrophe so editing keeps it text.
        cell.data_type = "s"
        if text.startswith(FORMULA_PREFIXES):
            cell.quotePrefix = True
    else:
        cell.value = value
        if isinstance(value, date):
            cell.number_format = DATE_FORMAT
    return cell


def write_table(
    sheet: Worksheet,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    widths: Sequence[int] | None = None,
    first_row: int = 1,
) -> int:
    """Write a header row and data rows; return the number of data rows."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    for column, header in enumerate(headers, start=1):
        cell = put(sheet, first_row, column, header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_COLOUR)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    count = 0
    for count, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            put(sheet, first_row + count, column, value)
    sheet.freeze_panes = sheet.cell(row=first_row + 1, column=1)
    for column, width in enumerate(widths or [], start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    return count


def save_atomically(workbook: Workbook, path: Path) -> None:
    """Save so that ``path`` holds either the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".", suffix=".xlsx.part", dir=path.parent)
    os.close(handle)
    try:
        workbook.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# The end of one entry of a shared-strings table, whatever its namespace prefix.
_SHARED_STRING_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?si>|<(?:[A-Za-z_][\w.-]*:)?si\s*/>")


@dataclass(frozen=True)
class ZipBounds:
    """What an .xlsx archive may declare before it is opened: ``entries`` inside it, bytes
    ``uncompressed`` in all, a compression ``ratio`` per part; optionally bytes per ``part``,
    bytes of ``styles`` and a count of ``shared_strings``."""

    entries: int
    uncompressed: int
    ratio: int
    part: int | None = None
    styles: int | None = None
    shared_strings: int | None = None


def check_zip(data: bytes, bounds: ZipBounds) -> None:
    """Refuse a zip bomb by what the archive declares, before anything is inflated.

    Inflating cannot exceed what is declared: ``zipfile`` stops at each entry's declared
    size and fails its CRC check. ``bounds.part`` bounds each part, ``bounds.styles`` the
    styles part (which openpyxl parses whole on opening, ~2 µs a byte). With
    ``bounds.shared_strings``, the archive is then read
    through once (within ``bounds.uncompressed``) counting shared strings: openpyxl loads
    the whole table when it opens a workbook, at some microseconds a string.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, NotImplementedError):  # a version it cannot read
        raise ZipRefused("broken") from None
    if len(entries) > bounds.entries:
        raise ZipRefused("entries")
    if sum(entry.file_size for entry in entries) > bounds.uncompressed:
        raise ZipRefused("uncompressed")
    for entry in entries:
        if entry.file_size > 1024 * 1024 and entry.file_size > bounds.ratio * max(
            entry.compress_size, 1
        ):
            raise ZipRefused("ratio")
        if bounds.part is not None and entry.file_size > bounds.part:
            raise ZipRefused("part")
        styles = entry.filename == "xl/styles.xml"  # where openpyxl reads them, always
        if styles and bounds.styles is not None and entry.file_size > bounds.styles:
            raise ZipRefused("styles")
    if bounds.shared_strings is not None:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if _shared_strings(archive) > bounds.shared_strings:
                raise ZipRefused("shared_strings")


def _shared_strings(archive: zipfile.ZipFile) -> int:
    """How many shared strings the archive's parts hold, whichever part holds them."""
    count = 0
    for entry in archive.infolist():
        tail = b""
        try:
            with archive.open(entry) as part:
                while chunk := part.read(1024 * 1024):
                    window = tail + chunk
                    count += _shared_string_ends(window) - _shared_string_ends(tail)
                    tail = window[-64:]
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError):
            continue  # openpyxl will refuse what it cannot read
    return count


def _shared_string_ends(data: bytes) -> int:
    if b":si" in data or b"<si " in data:  # a namespace prefix, or a space: the slow way
        return sum(1 for _ in _SHARED_STRING_END.finditer(data))
    return data.count(b"</si>") + data.count(b"<si/>")


def find_header_row(
    sheet: Worksheet,
    required: Sequence[str],
    *,
    search_rows: int = 20,
    max_col: int | None = None,
) -> tuple[int, dict[str, int]] | None:
    """The row (1-based) holding the first required header, and each header's column.

    Only the first ``search_rows`` rows (and ``max_col`` columns) are searched, so title
    rows above are fine.
    """
    wanted = header_key(required[0])
    for row_number, row in enumerate(
        sheet.iter_rows(min_row=1, max_row=search_rows, max_col=max_col, values_only=True),
        start=1,
    ):
        headers = [header_key(value) for value in row]
        if wanted in headers:
            columns: dict[str, int] = {}
            for column, header in enumerate(headers):
                if header and header not in columns:
                    columns[header] = column
            return row_number, columns
    return None


def cell_value(value: Any) -> Any:
    """A read cell as plain Python: stripped text, whole floats as ints, datetimes as dates."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
