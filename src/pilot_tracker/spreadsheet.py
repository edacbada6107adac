"""Writing and reading .xlsx cells safely: no cell ever becomes a formula, headers are found
where people put them, and a workbook is written whole or not at all.

openpyxl is imported by the functions that write, not here: reading a cell's value or
checking an archive must not cost a read-only command openpyxl's import.
"""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
import unicodedata
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
# A number with one decimal, for columns of figures rounded to one (percent points, scores).
ONE_DECIMAL = "0.0"
# Column widths, in Excel's units (about one Latin character; a Chinese one takes two).
NARROWEST, WIDEST, WIDEST_TOKEN = 6, 50, 70
# What fits across A4 at openpyxl's default margins (0.7 in each side), in those units:
# wider sheets print landscape (fit to one page wide either way).
PORTRAIT_WIDTH = 92
LINE_HEIGHT = 16  # points: a line of 11-point text, Chinese (taller than Latin) or not


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
    """Write a header row and data rows; return the number of data rows.

    ``widths`` are the least widths of the columns (a column left blank to be filled in
    needs room); ``print_ready`` widens each column to its content."""
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


def print_ready(workbook: Workbook, *, title: str, period: str = "") -> None:
    """Set every visible sheet up to print: A4, landscape where it is wide, one page wide,
    the rows above its frozen panes (its title and header rows) repeated on every page, a
    footer with ``title``, ``period``, the sheet and 第 N 页 共 M 页, columns as wide as their
    content (long text wraps) and figures with one decimal shown with one.

    Run it last, on the whole workbook: the widths follow what the cells hold."""
    for sheet in workbook.worksheets:
        if sheet.sheet_state != "visible":
            continue
        _format_figures(sheet)  # first: a width follows the figures as they show
        total = _fit_columns(sheet)
        setup = sheet.page_setup
        setup.paperSize = sheet.PAPERSIZE_A4
        setup.orientation = "landscape" if total > PORTRAIT_WIDTH else "portrait"
        setup.fitToWidth = 1
        setup.fitToHeight = 0  # as many pages down as it takes
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.print_options.horizontalCentered = True
        sheet.print_options.gridLines = True  # a table's lines on paper, as on screen
        header = _header_row(sheet)
        if header:
            sheet.print_title_rows = f"1:{header}"
        footer = sheet.oddFooter
        footer.left.text = _footer_text(title)
        footer.center.text = "第 &P 页 共 &N 页"
        footer.right.text = _footer_text(period) + (" " if period else "") + "&A"
        for part in (footer.left, footer.center, footer.right):
            part.size = 9


def _footer_text(text: str) -> str:
    """Text as a footer shows it: "&" starts a code there, so it is doubled; Excel takes at
    most 255 characters a footer, so a long name is cut."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:80].replace("&", "&&")


def text_width(text: str) -> int:
    """How wide text prints, in column units: a Chinese (wide) character takes two."""
    if text.isascii():
        return len(text)
    return len(text) + sum(unicodedata.east_asian_width(char) in "WF" for char in text)


def _shown(value: Any, number_format: str) -> str:
    if isinstance(value, datetime | date):
        return "2021-03-31"
    if isinstance(value, float) and number_format == ONE_DECIMAL:
        return f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else f"{value:.6g}"
    return "" if value is None else str(value)


def _fit_columns(sheet: Worksheet) -> float:
    """Widen each column to its content (text too long for a column wraps in it); return
    the sheet's width."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    merged = {
        (row, column)
        for ranges in sheet.merged_cells.ranges
        for row in range(ranges.min_row, ranges.max_row + 1)
        for column in range(ranges.min_col, ranges.max_col + 1)
    }
    header = _header_row(sheet)
    # A sheet of one column (a guide's lines) may take a portrait page's width.
    widest = WIDEST if sheet.max_column > 1 else PORTRAIT_WIDTH - 2
    total = 0.0
    for column in range(1, sheet.max_column + 1):
        cells = []
        for row in range(1, sheet.max_row + 1):
            if (row, column) in merged:
                continue  # a title over several columns sets none of them
            cell = sheet.cell(row=row, column=column)
            shown = _shown(cell.value, cell.number_format)
            if shown:
                width = max(text_width(line) for line in shown.splitlines() or [""])
                if row == header and width > 12:
                    width = math.ceil(width / 2) + 1  # a long header wraps over two lines
                cells.append((cell, shown, width))
        needed = max((width for _, _, width in cells), default=0) + 2
        unbroken = all(width <= widest or _token(shown) for _, shown, width in cells)
        letter = get_column_letter(column)
        # A width set before (write_table's ``widths``) is the least; openpyxl gives a
        # column it was never asked about a width of its own, so ask first.
        least = sheet.column_dimensions[letter].width if letter in sheet.column_dimensions else 0
        dimension = sheet.column_dimensions[letter]
        width = max(NARROWEST, min(needed, WIDEST_TOKEN if unbroken else widest), least)
        dimension.width = width
        total += width
        for cell, _, needed_here in cells:
            if needed_here + 2 > width and not cell.alignment.wrap_text:
                cell.alignment = Alignment(
                    horizontal=cell.alignment.horizontal, vertical="top", wrap_text=True
                )
    _fit_rows(sheet)
    return total


def _fit_rows(sheet: Worksheet) -> None:
    """Each row as high as its wrapped text's lines, merged cells' too. LibreOffice keeps
    a row of an .xlsx at one line's height, its wrapped text cut off, unless the row says
    how high it is."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    spans = {
        (ranges.min_row, ranges.min_col): range(ranges.min_col, ranges.max_col + 1)
        for ranges in sheet.merged_cells.ranges
    }
    widths = {
        column: sheet.column_dimensions[get_column_letter(column)].width
        for column in range(1, sheet.max_column + 1)
    }
    for row in sheet.iter_rows():
        dimension = sheet.row_dimensions[row[0].row]
        if dimension.height:
            continue  # a row given its height (a title) keeps it
        lines = 1
        for cell in row:
            if not isinstance(cell.value, str) or not cell.alignment.wrap_text:
                continue
            columns = spans.get((cell.row, cell.column), [cell.column])
            room = max(sum(widths.get(column, 0) for column in columns) - 1, 1) / 1.05
            lines = max(
                lines,
                sum(
                    max(1, math.ceil(text_width(line) / room))
                    for line in cell.value.splitlines() or [""]
                ),
            )
        if lines > 1:
            dimension.height = LINE_HEIGHT * lines
            for cell in row:  # a row of several lines reads from its top
                if cell.value is not None and cell.alignment.vertical is None:
                    cell.alignment = Alignment(
                        horizontal=cell.alignment.horizontal,
                        vertical="top",
                        wrap_text=cell.alignment.wrap_text,
                    )


def _token(shown: str) -> bool:
    """Text a line cannot break: a code, a checksum."""
    return shown.isascii() and len(shown.split(maxsplit=1)) == 1


def _header_row(sheet: Worksheet) -> int:
    """The last row above the frozen panes (the header), 0 for a sheet without them."""
    return sheet[sheet.freeze_panes].row - 1 if sheet.freeze_panes else 0


def _format_figures(sheet: Worksheet) -> None:
    """A column of percent points or scores (0 to 100) rounded to one decimal shows every
    one with it (80.0, 66.7); other figures show as they are."""
    header = _header_row(sheet)
    if not header:
        return
    for column in sheet.iter_cols(min_row=header + 1):
        figures = [
            cell
            for cell in column
            if isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
        ]
        fractional = any(isinstance(c.value, float) and not c.value.is_integer() for c in figures)
        if fractional and all(
            0 <= cell.value <= 100 and round(cell.value, 1) == cell.value for cell in figures
        ):
            for cell in figures:
                if cell.number_format == "General":
                    cell.number_format = ONE_DECIMAL


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


_NAME = rb"<(?:[A-Za-z_][\w.-]*:)?"  # an element's start, whatever its namespace prefix
_FORMULA = re.compile(_NAME + rb"f[\s>/]")
_CELL = re.compile(_NAME + rb"c[\s>/]")
_PLACED_CELL = re.compile(_NAME + rb"c\s[^<>]*?\br\s*=\s*[\"']([A-Za-z]{1,3})([0-9]{1,7})[\"']")
_ERROR_CELL = re.compile(_NAME + rb"c\s[^<>]*?\bt\s*=\s*[\"']e[\"']")
# Excel's own percent formats (9: 0%, 10: 0.00%) and any format code with a percent sign.
_PERCENT_FORMAT = re.compile(rb"numFmtId\s*=\s*[\"'](?:9|10)[\"']|formatCode\s*=\s*[\"'][^\"']*%")
# An entity reference other than XML's five and character references.
_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)")
_WINDOW_TAIL = 256  # longer than any element start the patterns above look at


@dataclass
class ZipContents:
    """What ``check_zip`` saw in an archive's parts as it read them through once.

    ``plain(rows, columns, area)`` says whether a reader that knows neither number formats
    nor formulas (python-calamine) reads the workbook as openpyxl does: no formula, no error
    cell, no percent format, no DTD nor entity beyond XML's own (openpyxl refuses them, as
    it should; python-calamine would read past them), no part it could not read, and every
    cell placed (its ``r``) within ``rows`` × ``columns`` and an ``area`` of cells (such a
    reader builds a sheet whole, as wide and as long as its farthest cell, where openpyxl
    reads it row by row)."""

    shared_strings: int = 0
    cells: int = 0
    placed: int = 0
    last_row: int = 0
    last_column: int = 0
    formulas: bool = False
    errors: bool = False
    percent_formats: bool = False
    entities: bool = False  # a DTD, or an entity XML does not define by itself
    unreadable: bool = False  # a part zipfile could not inflate

    def plain(self, rows: int, columns: int, area: int) -> bool:
        return (
            not (
                self.formulas
                or self.errors
                or self.percent_formats
                or self.entities
                or self.unreadable
            )
            and self.placed == self.cells
            and self.last_row <= rows
            and self.last_column <= columns
            and self.last_row * self.last_column <= area
        )

    def _read(self, window: bytes, tail: bytes) -> None:
        """Count what ``window`` holds beyond the ``tail`` it starts with."""
        self.shared_strings += _shared_string_ends(window) - _shared_string_ends(tail)
        self.cells += len(_CELL.findall(window)) - len(_CELL.findall(tail))
        placed = _PLACED_CELL.findall(window)
        self.placed += len(placed) - len(_PLACED_CELL.findall(tail))
        for letters, digits in placed:
            self.last_row = max(self.last_row, int(digits))
            self.last_column = max(self.last_column, _column_number(letters))
        self.formulas = self.formulas or bool(_FORMULA.search(window))
        self.entities = self.entities or (
            b"<!" in window.replace(b"<![CDATA[", b"") or bool(_ENTITY.search(window))
        )
        # Each pattern only where the text it needs is there at all (most parts have none).
        self.errors = self.errors or (
            (b'"e"' in window or b"'e'" in window) and bool(_ERROR_CELL.search(window))
        )
        self.percent_formats = self.percent_formats or (
            (b"numFmtId" in window or b"formatCode" in window)
            and bool(_PERCENT_FORMAT.search(window))
        )


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def check_zip(data: bytes, bounds: ZipBounds) -> ZipContents | None:
    """Refuse a zip bomb by what the archive declares, before anything is inflated.

    Inflating cannot exceed what is declared: ``zipfile`` stops at each entry's declared
    size and fails its CRC check. ``bounds.part`` bounds each part, ``bounds.styles`` the
    styles part (which openpyxl parses whole on opening, ~2 µs a byte). With
    ``bounds.shared_strings``, the archive is then read
    through once (within ``bounds.uncompressed``) counting shared strings (openpyxl loads
    the whole table when it opens a workbook, at some microseconds a string), and what it
    holds is returned (``ZipContents``); without, None.
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
    if bounds.shared_strings is None:
        return None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        contents = _contents(archive)
    if contents.shared_strings > bounds.shared_strings:
        raise ZipRefused("shared_strings")
    return contents


def _contents(archive: zipfile.ZipFile) -> ZipContents:
    """What the archive's parts hold, whichever part holds it, read through once."""
    contents = ZipContents()
    for entry in archive.infolist():
        tail = b""
        try:
            with archive.open(entry) as part:
                while chunk := part.read(1024 * 1024):
                    window = tail + chunk
                    contents._read(window, tail)
                    tail = window[-_WINDOW_TAIL:]
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError):
            contents.unreadable = True  # openpyxl will refuse what it cannot read
            continue
    return contents


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
