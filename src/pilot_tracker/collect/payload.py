"""A payload: the bytes a source received (a workbook, a CSV, a JSON document) with their
name, and reading them into rows.

Reading is tolerant of what units really send: title rows above the header, headers
re-typed with spaces or line breaks, extra columns, blank rows, GBK and UTF-16 CSVs, a
byte-order mark. It is strict about what could hurt: formats it cannot read, zip and XML
bombs and oversized payloads are refused before they are opened, with a reason in Chinese.

Reading is total: whatever the bytes, the result is rows or a ``PayloadError`` whose
message tells the liaison what to do; never another exception. Rows are capped whether
blank or not, columns are capped, and text comes out storable (no control characters, no
lone surrogates).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import math
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NamedTuple

from pilot_tracker.errors import PayloadError, UndecodableText, ZipRefused
from pilot_tracker.spreadsheet import ZipBounds, ZipContents, cell_value, check_zip
from pilot_tracker.text import decode_text, header_key

MAX_PAYLOAD_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_ZIP_ENTRIES = 1_000
MAX_COMPRESSION_RATIO = 200
MAX_STYLES_BYTES = 4 * 1024 * 1024
MAX_SHARED_STRINGS = 200_000  # 20,000 rows of 8 texts is 160,000 at most
MAX_ROWS = 20_000  # rows of a sheet or lines of a CSV, blank ones included
MAX_COLUMNS = 200  # columns read; the template has nine
MAX_META_CHARS = 100
HEADER_SEARCH_ROWS = 20
# A sheet python-calamine reads whole: up to this many cells (its last row × its last
# column); a larger one is read by openpyxl, row by row.
MAX_PLAIN_CELLS = 500_000

TASK_SHEET = "任务进展"
INDICATOR_SHEET = "指标数据"
META_SHEET = "_meta"

# Canonical key → the headers people write for it (compared by ``text.header_key``).
TASK_HEADERS: dict[str, tuple[str, ...]] = {
    "task": ("任务编号", "任务代码", "编号", "task", "task_code"),
    "status": ("进展状态", "状态", "完成状态", "status"),
    "percent": ("完成进度", "完成进度(%)", "完成比例", "完成比例(%)", "进度", "完成率", "percent"),
    "progress": ("进展情况", "工作进展", "进展", "progress"),
    "problems": ("存在问题", "问题", "存在困难", "problems"),
    "next_steps": ("下步计划", "下一步计划", "下步工作", "下步打算", "next_steps"),
    "evidence": ("佐证材料", "佐证", "证明材料", "evidence"),
    "reported_on": ("填报日期", "报送日期", "填报时间", "reported_on", "date"),
}
INDICATOR_HEADERS: dict[str, tuple[str, ...]] = {
    "indicator": ("指标编号", "指标代码", "indicator", "indicator_code"),
    "value": ("当前值", "数值", "指标值", "实际值", "value"),
    "as_of": ("统计时点", "统计日期", "统计时间", "as_of"),
}

OLE2_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class Payload:
    """Bytes received from a source, with the name and type they came with.

    ``oversized``: the source held ``size`` bytes, over the limit, and ``data`` is only
    its first MB; the payload is refused by its size, and only that head is archived.
    """

    name: str
    data: bytes
    source: str
    content_type: str = ""
    size: int | None = None
    oversized: bool = False

    @functools.cached_property
    def sha256(self) -> str:
        """The hex SHA-256 of ``data`` (taken once: the archive and intake both ask)."""
        return hashlib.sha256(self.data).hexdigest()


def display_name(name: str, limit: int = 120) -> str:
    """A file name safe to show and store: no control characters, bounded length."""
    cleaned = "".join(
        " " if unicodedata.category(char).startswith("C") else char
        for char in unicodedata.normalize("NFC", name)
    )
    cleaned = " ".join(cleaned.split()) or "unnamed"
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _too_many_rows(where: str = "", counted: str = "空行") -> PayloadError:
    return PayloadError(
        f"数据行过多：{where}超过 {MAX_ROWS} 行（{counted}也计算在内），已停止读取。"
        f"请删除第 {MAX_ROWS} 行以下的多余行（选中后右键“删除”），或拆分后报送"
    )


# C0 and C1 control characters other than tab and line breaks, and lone surrogates: a
# database cannot store them, and a liaison never typed them.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text as it can be stored and shown: no control characters, no lone surrogates."""
    return _SURROGATE.sub("\ufffd", _UNPRINTABLE.sub("", text))


def _value(value: Any) -> Any:
    if isinstance(value, str):
        return cell_value(clean_text(value))
    if isinstance(value, float) and abs(value) >= 1e15:
        return value  # 1e+308 stays a float, not a whole number of 309 digits
    return cell_value(value)


@dataclass
class Cell:
    value: Any
    percent_format: bool = False


@dataclass
class Row:
    """One data row with its place: sheet (empty for CSV/JSON), row number as Excel counts."""

    sheet: str
    number: int
    cells: dict[str, Cell]
    headers: dict[str, str]

    def value(self, key: str) -> Any:
        cell = self.cells.get(key)
        return cell.value if cell else None


@dataclass
class ReadPayload:
    """What a payload holds: task rows, indicator rows, and the template's metadata."""

    kind: str
    task_rows: list[Row] = field(default_factory=list)
    indicator_rows: list[Row] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    formula_cells: set[tuple[str, int, str]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)  # for the summary: what was read, or not


def _aliases(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {header_key(alias): key for key, aliases in table.items() for alias in aliases}


TASK_ALIASES = _aliases(TASK_HEADERS)
INDICATOR_ALIASES = _aliases(INDICATOR_HEADERS)


def read_payload(data: bytes, name: str, content_type: str = "") -> ReadPayload:
    """Read a payload into rows, choosing the reader by its content, then its name."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"文件过大（{len(data) // 1024 // 1024} MB），单个文件不得超过 20 MB")
    lowered = name.lower()
    if data.startswith(OLE2_MAGIC):
        raise PayloadError(
            "不支持的文件格式：这是旧版 .xls 工作簿或设置了密码的工作簿。"
            "请在 Excel 或 WPS 中取消密码，另存为 .xlsx 后重新报送"
        )
    if data.startswith(ZIP_MAGIC):
        return _read_xlsx(data)
    if lowered.endswith((".xlsx", ".xlsm")):
        raise PayloadError(
            "不支持的文件格式：文件名为 .xlsx，但内容不是 Excel 工作簿。"
            "请用 Excel 或 WPS 另存为 .xlsx 后重新报送"
        )
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<" or "html" in content_type:
        raise PayloadError(
            "不支持的文件格式：收到的是网页（HTML），不是数据。请检查数据接口是否正常"
        )
    if lowered.endswith(".json") or "json" in content_type or data.lstrip()[:1] in (b"{", b"["):
        return _read_json(data)
    if lowered.endswith((".csv", ".txt")) or "csv" in content_type or "text/plain" in content_type:
        return _read_csv(data)
    if data.lstrip()[:1] == b"<":
        raise PayloadError(
            "不支持的文件格式：收到的是网页（HTML），不是数据。请检查数据接口是否正常"
        )
    raise PayloadError(
        "不支持的文件格式：请报送 .xlsx 工作簿（可使用下发的填报表），或 .csv、.json 数据文件"
    )


# --- xlsx --------------------------------------------------------------------------------


def _read_xlsx(data: bytes) -> ReadPayload:
    contents = _check_zip(data)
    with warnings.catch_warnings():
        # openpyxl warns of what it skips (extensions, dates out of range) on stderr; the
        # cells it could not read reach the row check and are named there.
        warnings.simplefilter("ignore")
        if contents is not None and contents.plain(MAX_ROWS + 1, MAX_COLUMNS, MAX_PLAIN_CELLS):
            return _read_plain_workbook(data)
        return _read_workbook(data)


_UNREADABLE = "工作簿无法读取（{}），请用 Excel 或 WPS 重新保存为 .xlsx"


def _read_plain_workbook(data: bytes) -> ReadPayload:
    """Rows and metadata of a workbook that ``ZipContents.plain`` found to hold values only
    (no formula, no error cell, no percent format, no cell beyond the caps), read by
    python-calamine: some thirty times faster than openpyxl, which it reads alike."""
    import python_calamine  # imported here, as openpyxl is

    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as error:  # calamine raises its own kinds for a broken file
        raise PayloadError(_UNREADABLE.format(type(error).__name__)) from None
    visible = python_calamine.SheetVisibleEnum.Visible
    with _reading(workbook):
        meta: dict[str, str] = {}
        sheets: dict[str, _Sheet] = {}
        for sheet in workbook.sheets_metadata:
            if sheet.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue  # a chart or dialog sheet holds no rows
            rows = workbook.get_sheet_by_name(sheet.name).to_python(skip_empty_area=False)
            if sheet.name == META_SHEET:
                meta = _meta_rows([_plain(value) for value in row[:2]] for row in rows[:20])
                continue
            cells = ([_Plain(_plain(value)) for value in row[:MAX_COLUMNS]] for row in rows)
            sheets[sheet.name] = _Sheet(cells, "visible" if sheet.visible == visible else "hidden")
        return _read_sheets(meta, sheets)


@contextmanager
def _reading(workbook: Any) -> Iterator[None]:
    """Whatever a reader raises on a broken or hostile workbook, said as a refusal; the
    workbook closed in any case."""
    try:
        yield
    except PayloadError:
        raise
    except Exception as error:  # each reader raises many kinds of its own
        raise PayloadError(_UNREADABLE.format(type(error).__name__)) from None
    finally:
        workbook.close()


class _Plain(NamedTuple):
    """A cell as python-calamine reads it, shaped as openpyxl's: its value, no format."""

    value: Any
    number_format: str = ""


def _plain(value: Any) -> Any:
    """A value as openpyxl reads the same cell: empty as None, a whole number as an int."""
    if value == "":
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def _read_workbook(data: bytes) -> ReadPayload:
    """Rows, metadata and formula cells of a workbook, from one open of it by openpyxl."""
    import openpyxl  # imported here: reading a CSV or JSON payload never needs it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken or hostile file
        raise PayloadError(_UNREADABLE.format(type(error).__name__)) from None
    with _reading(workbook):
        result = _read_sheets(
            _meta(workbook),
            {
                name: _Sheet(
                    workbook[name].iter_rows(max_row=MAX_ROWS + 1, max_col=_width(workbook[name])),
                    getattr(workbook[name], "sheet_state", "visible"),
                )
                for name in workbook.sheetnames
                if name != META_SHEET
            },
        )
        if _has_missing_values(result):
            result.formula_cells = _formula_cells(workbook, result)
    return result


def _read_sheets(meta: dict[str, str], sheets: dict[str, _Sheet]) -> ReadPayload:
    """The task and indicator rows of a workbook's sheets, whichever reader read them."""
    result = ReadPayload(kind="xlsx", meta=meta)
    found = _find_sheets(sheets)
    task_sheet, hidden_tasks = found["task"]
    indicator_sheet, hidden_indicators = found["indicator"]
    if task_sheet is None and indicator_sheet is None:
        if hidden_tasks or hidden_indicators:
            names = "、".join(f"“{name}”" for name in hidden_tasks + hidden_indicators)
            raise PayloadError(
                f"填报表所在的工作表{names}已被隐藏，未读取。请在 Excel 或 WPS 中取消隐藏"
                "（右键工作表标签→取消隐藏），核对内容后重新报送"
            )
        raise PayloadError(
            "未找到填报表：工作簿中没有“任务编号”或“指标编号”表头。请使用下发的填报表填写"
        )
    for read, hidden in ((task_sheet, hidden_tasks), (indicator_sheet, hidden_indicators)):
        result.notes += [
            f"已读取工作表“{read}”；隐藏的工作表“{name}”也是填报表，未读取"
            if read is not None
            else f"隐藏的工作表“{name}”未读取；如需报送其中内容，请取消隐藏后重新报送"
            for name in hidden
        ]
    if task_sheet is not None:
        result.task_rows = list(_sheet_rows(sheets[task_sheet], task_sheet, TASK_ALIASES))
    if indicator_sheet is not None:
        result.indicator_rows = list(
            _sheet_rows(sheets[indicator_sheet], indicator_sheet, INDICATOR_ALIASES)
        )
    return result


# openpyxl parses styles and shared strings whole when it opens a workbook: bound them first.
XLSX_BOUNDS = ZipBounds(
    entries=MAX_ZIP_ENTRIES,
    uncompressed=MAX_UNCOMPRESSED_BYTES,
    ratio=MAX_COMPRESSION_RATIO,
    styles=MAX_STYLES_BYTES,
    shared_strings=MAX_SHARED_STRINGS,
)
# What a liaison is told for each bound of ``spreadsheet.check_zip``.
ZIP_REFUSALS = {
    "broken": "工作簿已损坏，无法打开。请用 Excel 或 WPS 重新保存为 .xlsx",
    "entries": "工作簿结构异常（内部文件过多），已拒收",
    "uncompressed": "工作簿解压后过大（超过 100 MB），已拒收。请删除无关内容后重新报送",
    "ratio": "工作簿压缩比异常，疑似恶意文件，已拒收",
    "styles": (
        "工作簿中的单元格格式过多（超过 4 MB），已拒收。"
        "请清除多余格式，或将数据复制到下发的填报表后报送"
    ),
    "shared_strings": (
        f"工作簿中的文本过多（超过 {MAX_SHARED_STRINGS:,} 条），已拒收。"
        "请删除无关内容，或将数据复制到下发的填报表后报送"
    ),
}


def _check_zip(data: bytes) -> ZipContents | None:
    """Refuse zip bombs by what the archive declares, before anything is inflated; what
    its parts hold, read through once."""
    try:
        return check_zip(data, XLSX_BOUNDS)
    except ZipRefused as refused:
        raise PayloadError(ZIP_REFUSALS[refused.bound]) from None


def _meta(workbook: Any) -> dict[str, str]:
    if META_SHEET not in workbook.sheetnames:
        return {}
    return _meta_rows(workbook[META_SHEET].iter_rows(max_row=20, max_col=2, values_only=True))


def _meta_rows(rows: Iterable[Sequence[Any]]) -> dict[str, str]:
    """The template's metadata from the first rows of its hidden sheet: key, value."""
    meta: dict[str, str] = {}
    for row in rows:
        if len(row) >= 2 and row[0] is not None and row[1] is not None:
            meta[_meta_text(row[0])] = _meta_text(row[1])
    return meta


def _meta_text(value: Any) -> str:
    return clean_text(str(value)).strip()[:MAX_META_CHARS]


SHEET_KEYS = (("task", TASK_SHEET, TASK_ALIASES), ("indicator", INDICATOR_SHEET, INDICATOR_ALIASES))


class _Sheet:
    """A sheet's rows, read once: the first ``HEADER_SEARCH_ROWS`` are read (and kept) to
    look for a header row, the rest only if the sheet is the one taken."""

    def __init__(self, rows: Iterator[Sequence[Any]], state: str):
        # The caps bound the work whatever the sheet declares: openpyxl fills the gaps up
        # to the last row it finds with empty rows, each as wide as the declared dimension
        # (its rows are read with ``max_row`` and ``max_col``).
        self._rows = rows
        self.head = list(islice(self._rows, HEADER_SEARCH_ROWS))
        self.state = state

    def names(self, key: str, aliases: dict[str, str]) -> bool:
        """Whether one of its first rows has a header naming ``key``."""
        return any(
            any(aliases.get(header_key(getattr(cell, "value", None))) == key for cell in row)
            for row in self.head
        )

    def __iter__(self) -> Iterator[Sequence[Any]]:
        yield from self.head
        yield from self._rows


def _find_sheets(sheets: dict[str, _Sheet]) -> dict[str, tuple[str | None, list[str]]]:
    """For tasks and for indicators: the visible sheet with a header row naming them, and the
    hidden ones that have one.

    A liaison sees, fills and checks the visible sheets only: a hidden one (often the
    template's own sheet, hidden after a copy was made) is never read over a visible one.
    Two visible sheets that both qualify are refused: which one is meant is not ours to
    guess.
    """
    found = {}
    for key, preferred, aliases in SHEET_KEYS:
        names = [preferred] if preferred in sheets else []
        names += [name for name in sheets if name != preferred]
        visible: list[str] = []
        hidden: list[str] = []
        for name in names:
            if sheets[name].names(key, aliases):
                (visible if sheets[name].state == "visible" else hidden).append(name)
        if len(visible) > 1:
            label = {"task": "任务编号", "indicator": "指标编号"}[key]
            raise PayloadError(
                f"工作簿中有 {len(visible)} 个工作表都含“{label}”表头："
                + "、".join(f"“{name}”" for name in visible)
                + "，无法判断以哪个为准。请只保留一个填报表（删除或清空其余工作表）后重新报送"
            )
        found[key] = ((visible[0] if visible else None), hidden)
    return found


def _sheet_rows(sheet: _Sheet, title: str, aliases: dict[str, str]) -> Iterator[Row]:
    header: dict[int, tuple[str, str]] | None = None
    for number, cells in enumerate(sheet, start=1):
        if number > MAX_ROWS:
            raise _too_many_rows(f"工作表“{title}”", "空行和只有格式的行")
        if header is None:
            if number > HEADER_SEARCH_ROWS:
                return
            texts = [getattr(cell, "value", None) for cell in cells]
            header = _header(texts, aliases) or None
            if header:
                _no_second_column(texts, aliases, number, f"工作表“{title}”", _letter)
            continue
        values = {
            key: Cell(
                _value(getattr(cells[index], "value", None)),
                "%" in str(getattr(cells[index], "number_format", "") or ""),
            )
            for index, (key, _) in header.items()
            if index < len(cells)
        }
        if all(_blank(cell.value) for cell in values.values()):
            continue
        yield Row(title, number, values, {key: text for key, text in header.values()})


def _width(sheet: Any) -> int:
    """The columns to read: as many as the sheet declares, at most ``MAX_COLUMNS``."""
    declared = getattr(sheet, "max_column", None)
    return min(declared, MAX_COLUMNS) if isinstance(declared, int) and declared > 0 else MAX_COLUMNS


def _header(values: Sequence[Any], aliases: dict[str, str]) -> dict[int, tuple[str, str]]:
    """Column index → (canonical key, header as written), if this row is a header row."""
    found: dict[int, tuple[str, str]] = {}
    seen: set[str] = set()
    for index, value in enumerate(values[:MAX_COLUMNS]):
        key = aliases.get(header_key(value))
        if key and key not in seen:
            seen.add(key)
            found[index] = (key, clean_text(str(value)).strip())
    first = next(iter(aliases.values()))
    return found if first in seen else {}


def _no_second_column(
    values: Sequence[Any], aliases: dict[str, str], number: int, where: str, column: Any
) -> None:
    """Refuse a header row with two columns for one field: which one counts is a guess."""
    first: dict[str, int] = {}
    for index, value in enumerate(values[:MAX_COLUMNS]):
        key = aliases.get(header_key(value))
        if not key:
            continue
        if key not in first:
            first[key] = index
            continue
        earlier = first[key]
        raise PayloadError(
            f"{where}第 {number} 行的表头中，“{_header_text(values[earlier])}”（{column(earlier)}）"
            f"和“{_header_text(value)}”（{column(index)}）表示同一项内容，无法判断以哪一列为准。"
            "请删除或改名其中一列后重新报送"
        )


def _header_text(value: Any) -> str:
    return " ".join(clean_text(str(value)).split())[:40]


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(index + 1)}列"


def _ordinal(index: int) -> str:
    return f"第 {index + 1} 列"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# Cells whose formula without a cached value would change what is stored.
FORMULA_KEYS = ("status", "percent", "reported_on", "value", "as_of")


def _has_missing_values(result: ReadPayload) -> bool:
    return any(
        _blank(row.value(key))
        for row in result.task_rows + result.indicator_rows
        for key in FORMULA_KEYS
        if key in row.cells
    )


def _formula_cells(workbook: Any, result: ReadPayload) -> set[tuple[str, int, str]]:
    """Cells that hold a formula with no cached value: empty to us, not empty to the liaison.

    Read from the workbook already open, its sheets read again for their formulas rather
    than their cached values (openpyxl's read-only sheets read the workbook's ``data_only``
    each time they are iterated), down to the last row that needs it: the workbook is not
    opened a second time, nor its styles and shared strings parsed again.
    """
    wanted = {
        (row.sheet, row.number)
        for row in result.task_rows + result.indicator_rows
        if any(_blank(row.value(key)) for key in FORMULA_KEYS if key in row.cells)
    }
    formulas: set[tuple[str, int, str]] = set()
    workbook._data_only = False
    try:
        for title, aliases in ((TASK_SHEET, TASK_ALIASES), (INDICATOR_SHEET, INDICATOR_ALIASES)):
            rows = result.task_rows if aliases is TASK_ALIASES else result.indicator_rows
            sheet_name = rows[0].sheet if rows else title
            last = max((number for sheet, number in wanted if sheet == sheet_name), default=0)
            if not last or sheet_name not in workbook.sheetnames:
                continue
            header: dict[int, tuple[str, str]] = {}
            sheet = workbook[sheet_name]
            for number, cells in enumerate(
                sheet.iter_rows(max_row=last, max_col=_width(sheet)), start=1
            ):
                values = [getattr(cell, "value", None) for cell in cells]
                if not header:
                    header = _header(values, aliases) if number <= HEADER_SEARCH_ROWS else {}
                    continue
                if (sheet_name, number) not in wanted:
                    continue
                for index, (key, _) in header.items():
                    if (
                        index < len(values)
                        and isinstance(values[index], str)
                        and values[index].startswith("=")
                    ):
                        formulas.add((sheet_name, number, key))
    finally:
        workbook._data_only = True
    return formulas


# --- csv and json ---------------------------------------------------------------------------

ENCODING_REFUSED = "文件编码无法识别，请另存为 UTF-8 或 GBK 编码的 CSV 文件"


def _decoded(data: bytes) -> str:
    """The payload's text, by the one decoding policy (``pilot_tracker.text``)."""
    try:
        return decode_text(data)
    except UndecodableText:
        raise PayloadError(ENCODING_REFUSED) from None


def _read_csv(data: bytes) -> ReadPayload:
    text = _decoded(data).lstrip("\ufeff")
    if "\x00" in text:
        raise PayloadError(
            "文件中含有空字符（NUL），不是有效的文本 CSV 文件。"
            "请用 Excel 或 WPS 另存为“CSV UTF-8”格式后重新报送"
        )
    lines = _csv_lines(text)
    result = ReadPayload(kind="csv")
    for aliases, target in (
        (TASK_ALIASES, result.task_rows),
        (INDICATOR_ALIASES, result.indicator_rows),
    ):
        target.extend(_table_rows(lines, aliases, sheet=""))
    if not result.task_rows and not result.indicator_rows and not _has_header(lines):
        raise PayloadError(
            "未找到表头：CSV 文件中没有“任务编号”或“指标编号”列。请使用下发的填报表格式"
        )
    return result


def _csv_lines(text: str) -> list[list[str]]:
    """The rows of a CSV, split by whichever separator makes a header row appear.

    Counting separators would be fooled by the full-width commas of Chinese prose; a
    header that names its columns is not.
    """
    for delimiter in (",", "\t", ";", "，"):
        if _has_header(_csv_read(text, delimiter, HEADER_SEARCH_ROWS)):
            return _csv_read(text, delimiter, MAX_ROWS)
    return _csv_read(text, ",", MAX_ROWS)


def _csv_read(text: str, delimiter: str, limit: int) -> list[list[str]]:
    """At most ``limit`` rows, each at most ``MAX_COLUMNS`` wide; more rows are refused."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = [row[:MAX_COLUMNS] for row in islice(reader, limit)]
        if limit == MAX_ROWS and next(reader, None) is not None:
            raise _too_many_rows()
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise PayloadError(
                f"第 {reader.line_num} 行有单元格过长（超过 {csv.field_size_limit()} 个字符），"
                "可能是引号未配对。请检查该行后重新报送"
            ) from None
        raise PayloadError(
            f"第 {reader.line_num} 行无法按 CSV 格式读取，请用 Excel 或 WPS 另存为 CSV 后重新报送"
        ) from None
    return rows


def _has_header(lines: list[list[str]]) -> bool:
    return any(
        _header(line, TASK_ALIASES) or _header(line, INDICATOR_ALIASES)
        for line in lines[:HEADER_SEARCH_ROWS]
    )


def _table_rows(
    lines: Iterable[Sequence[Any]], aliases: dict[str, str], sheet: str
) -> Iterator[Row]:
    header: dict[int, tuple[str, str]] = {}
    for number, values in enumerate(lines, start=1):
        if number > MAX_ROWS:
            raise _too_many_rows()
        if not header:
            if number > HEADER_SEARCH_ROWS:
                return
            header = _header(values, aliases)
            if header:
                _no_second_column(values, aliases, number, "", _ordinal)
            continue
        if _header(values, TASK_ALIASES) or _header(values, INDICATOR_ALIASES):
            return  # the next table of the file starts here
        cells = {
            key: Cell(_value(values[index]))
            for index, (key, _) in header.items()
            if index < len(values)
        }
        if all(_blank(cell.value) for cell in cells.values()):
            continue
        yield Row(sheet, number, cells, {key: text for key, text in header.values()})


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, refusing a key given twice (JSON would keep the last one silently)."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


def _json_number(text: str) -> Any:
    """A JSON number as Python holds it; one beyond a float stays text for the row check."""
    if len(text) <= 18 and text.lstrip("-").isdigit():
        return int(text)
    number = float(text)
    return number if math.isfinite(number) else text


JSON_SHAPE = '数据格式不符：应为 {"tasks": [...], "indicators": [...]}'


def _read_json(data: bytes) -> ReadPayload:
    text = _decoded(data)
    try:
        # NaN and Infinity are not JSON, but Python's reader takes them; they stay text,
        # as written, for the row check to name and refuse.
        document = json.loads(
            text,
            parse_constant=str,
            parse_float=_json_number,
            parse_int=_json_number,
            object_pairs_hook=_json_object,
        )
        return _json_rows(document)
    except json.JSONDecodeError as error:
        raise PayloadError(
            f"数据不是有效的 JSON（第 {error.lineno} 行第 {error.colno} 列有误），可能传输不完整"
        ) from None
    except _DuplicateKey as error:
        raise PayloadError(
            f"数据中同一对象有重复的字段“{_header_text(error.key)}”，无法判断以哪个为准。"
            "请删除重复的字段后重新提供"
        ) from None
    except RecursionError:
        raise PayloadError(
            "数据嵌套层数过多，无法读取。每项应为一层对象，如 "
            '{"task": "T-01", "percent": 80}，请按约定格式提供'
        ) from None


def _json_rows(document: Any) -> ReadPayload:
    if isinstance(document, list):
        document = {"tasks": document}
    if not isinstance(document, dict):
        raise PayloadError(JSON_SHAPE)
    result = ReadPayload(kind="json")
    meta = document.get("meta")
    if isinstance(meta, dict):
        result.meta = {_meta_text(key): _meta_text(value) for key, value in meta.items()}
    for section, aliases, target in (
        ("tasks", TASK_ALIASES, result.task_rows),
        ("indicators", INDICATOR_ALIASES, result.indicator_rows),
    ):
        items = document.get(section) or []
        if not isinstance(items, list):
            raise PayloadError(f"数据格式不符：“{section}”应为列表")
        if len(items) > MAX_ROWS:
            raise PayloadError(f"数据行过多（超过 {MAX_ROWS} 行），请拆分后报送")
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise PayloadError(f"数据格式不符：“{section}”第 {number} 项应为对象")
            cells: dict[str, Cell] = {}
            headers: dict[str, str] = {}
            for name, value in item.items():
                key = aliases.get(header_key(name))
                if not key:
                    continue
                if key in cells:
                    raise PayloadError(
                        f"数据中“{section}”第 {number} 项的“{headers[key]}”和"
                        f"“{_header_text(name)}”表示同一项内容，无法判断以哪个为准。"
                        "请只保留其中一个后重新提供"
                    )
                cells[key] = Cell(
                    _value(value if not isinstance(value, dict | list) else str(value))
                )
                headers[key] = _header_text(name)
            if cells:
                target.append(Row(section, number, cells, headers))
    if (
        not result.task_rows
        and not result.indicator_rows
        and any(document.get(section) for section in ("tasks", "indicators"))
    ):
        raise PayloadError(
            "数据中没有可识别的字段：每项应包含“任务编号”（或 task）等字段，请按填报表的表头命名"
        )
    if not any(key in document for key in ("tasks", "indicators")):
        raise PayloadError(f"{JSON_SHAPE}，请按约定格式提供")
    return result
