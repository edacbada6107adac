"""A payload as received (a workbook, a CSV, a JSON document) read into rows.

Reading is tolerant of what units really send: title rows above the header, headers
re-typed with spaces or line breaks, extra columns, blank rows, GBK CSVs, a byte-order
mark. It is strict about what could hurt: formats it cannot read, zip and XML bombs and
oversized payloads are refused before they are opened, with a reason in Chinese.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import openpyxl

from pilot_tracker.spreadsheet import ZipRefused, cell_value, check_zip

MAX_PAYLOAD_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_ZIP_ENTRIES = 1_000
MAX_COMPRESSION_RATIO = 200
MAX_ROWS = 20_000
HEADER_SEARCH_ROWS = 20

TASK_SHEET = "任务进展"
INDICATOR_SHEET = "指标数据"
META_SHEET = "_meta"

# Canonical key → the headers people write for it (compared without spaces, NFKC, lower case).
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


class PayloadError(Exception):
    """The payload as a whole cannot be read; the message is for the unit's liaison."""


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


@lru_cache(maxsize=4096)
def _header_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def header_key(text: Any) -> str:
    """A header as compared: no spaces or line breaks, full-width as half-width, lower case."""
    return _header_key(str(text)) if text else ""


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
    raise PayloadError("不支持的文件格式：请报送 .xlsx 工作簿或 .csv 文件（可使用下发的填报表）")


# --- xlsx --------------------------------------------------------------------------------


def _read_xlsx(data: bytes) -> ReadPayload:
    _check_zip(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken or hostile file
        raise PayloadError(
            f"工作簿无法读取（{type(error).__name__}），请用 Excel 或 WPS 重新保存为 .xlsx"
        ) from None
    try:
        result = ReadPayload(kind="xlsx")
        result.meta = _meta(workbook)
        task_sheet = _find_sheet(workbook, TASK_SHEET, TASK_ALIASES, "task")
        indicator_sheet = _find_sheet(workbook, INDICATOR_SHEET, INDICATOR_ALIASES, "indicator")
        if task_sheet is None and indicator_sheet is None:
            raise PayloadError(
                "未找到填报表：工作簿中没有“任务编号”或“指标编号”表头。请使用下发的填报表填写"
            )
        if task_sheet is not None:
            result.task_rows = list(_sheet_rows(workbook[task_sheet], task_sheet, TASK_ALIASES))
        if indicator_sheet is not None:
            result.indicator_rows = list(
                _sheet_rows(workbook[indicator_sheet], indicator_sheet, INDICATOR_ALIASES)
            )
    except PayloadError:
        raise
    except Exception as error:
        raise PayloadError(
            f"工作簿无法读取（{type(error).__name__}），请用 Excel 或 WPS 重新保存为 .xlsx"
        ) from None
    finally:
        workbook.close()
    if _has_missing_values(result):
        result.formula_cells = _formula_cells(data, result)
    return result


# What a liaison is told for each bound of ``spreadsheet.check_zip``.
ZIP_REFUSALS = {
    "broken": "工作簿已损坏，无法打开。请用 Excel 或 WPS 重新保存为 .xlsx",
    "entries": "工作簿结构异常（内部文件过多），已拒收",
    "uncompressed": "工作簿解压后过大（超过 100 MB），已拒收。请删除无关内容后重新报送",
    "ratio": "工作簿压缩比异常，疑似恶意文件，已拒收",
}


def _check_zip(data: bytes) -> None:
    """Refuse zip bombs by what the archive declares, before anything is inflated."""
    try:
        check_zip(
            data,
            max_entries=MAX_ZIP_ENTRIES,
            max_uncompressed=MAX_UNCOMPRESSED_BYTES,
            max_ratio=MAX_COMPRESSION_RATIO,
        )
    except ZipRefused as refused:
        raise PayloadError(ZIP_REFUSALS[refused.bound]) from None


def _meta(workbook: Any) -> dict[str, str]:
    if META_SHEET not in workbook.sheetnames:
        return {}
    meta: dict[str, str] = {}
    for row in workbook[META_SHEET].iter_rows(max_row=20, max_col=2, values_only=True):
        if len(row) >= 2 and row[0] is not None and row[1] is not None:
            meta[str(row[0]).strip()] = str(row[1]).strip()
    return meta


def _find_sheet(workbook: Any, preferred: str, aliases: dict[str, str], key: str) -> str | None:
    """The sheet with a header row naming ``key``: the template's own name first."""
    names = [preferred] if preferred in workbook.sheetnames else []
    names += [name for name in workbook.sheetnames if name not in (preferred, META_SHEET)]
    for name in names:
        sheet = workbook[name]
        if getattr(sheet, "sheet_state", "visible") != "visible" and name != preferred:
            continue
        for row in sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True):
            if any(aliases.get(header_key(value)) == key for value in row):
                return name
    return None


def _sheet_rows(sheet: Any, title: str, aliases: dict[str, str]) -> Iterator[Row]:
    rows = sheet.iter_rows()
    header: dict[int, tuple[str, str]] | None = None
    for number, cells in enumerate(rows, start=1):
        if header is None:
            if number > HEADER_SEARCH_ROWS:
                return
            header = _header([getattr(cell, "value", None) for cell in cells], aliases) or None
            continue
        values = {
            key: Cell(
                cell_value(getattr(cells[index], "value", None)),
                "%" in str(getattr(cells[index], "number_format", "") or ""),
            )
            for index, (key, _) in header.items()
            if index < len(cells)
        }
        if all(_blank(cell.value) for cell in values.values()):
            continue
        if number > MAX_ROWS:
            raise PayloadError(f"数据行过多（超过 {MAX_ROWS} 行），请拆分后报送")
        yield Row(title, number, values, {key: text for key, text in header.values()})


def _header(values: Sequence[Any], aliases: dict[str, str]) -> dict[int, tuple[str, str]]:
    """Column index → (canonical key, header as written), if this row is a header row."""
    found: dict[int, tuple[str, str]] = {}
    seen: set[str] = set()
    for index, value in enumerate(values):
        key = aliases.get(header_key(value))
        if key and key not in seen:
            seen.add(key)
            found[index] = (key, str(value).strip())
    first = next(iter(aliases.values()))
    return found if first in seen else {}


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


def _formula_cells(data: bytes, result: ReadPayload) -> set[tuple[str, int, str]]:
    """Cells that hold a formula with no cached value: empty to us, not empty to the liaison."""
    wanted = {
        (row.sheet, row.number)
        for row in result.task_rows + result.indicator_rows
        if any(_blank(row.value(key)) for key in FORMULA_KEYS if key in row.cells)
    }
    formulas: set[tuple[str, int, str]] = set()
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        for title, aliases in ((TASK_SHEET, TASK_ALIASES), (INDICATOR_SHEET, INDICATOR_ALIASES)):
            rows = result.task_rows if aliases is TASK_ALIASES else result.indicator_rows
            sheet_name = rows[0].sheet if rows else title
            if sheet_name not in workbook.sheetnames:
                continue
            header: dict[int, tuple[str, str]] = {}
            for number, cells in enumerate(workbook[sheet_name].iter_rows(), start=1):
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
        workbook.close()
    return formulas


# --- csv and json ---------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """CSV text: UTF-8 (with or without BOM), else GB18030 (which covers GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise PayloadError("文件编码无法识别，请另存为 UTF-8 或 GBK 编码的 CSV 文件") from None


def _read_csv(data: bytes) -> ReadPayload:
    text = decode_text(data).lstrip("\ufeff")
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
    head = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])
    for delimiter in (",", "\t", ";", "，"):
        if _has_header(list(csv.reader(io.StringIO(head), delimiter=delimiter))):
            return list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return list(csv.reader(io.StringIO(text)))


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
        if not header:
            if number > HEADER_SEARCH_ROWS:
                return
            header = _header(values, aliases)
            continue
        if _header(values, TASK_ALIASES) or _header(values, INDICATOR_ALIASES):
            return  # the next table of the file starts here
        cells = {
            key: Cell(cell_value(values[index]))
            for index, (key, _) in header.items()
            if index < len(values)
        }
        if all(_blank(cell.value) for cell in cells.values()):
            continue
        if number > MAX_ROWS:
            raise PayloadError(f"数据行过多（超过 {MAX_ROWS} 行），请拆分后报送")
        yield Row(sheet, number, cells, {key: text for key, text in header.values()})


def _read_json(data: bytes) -> ReadPayload:
    try:
        document = json.loads(decode_text(data))
    except json.JSONDecodeError as error:
        raise PayloadError(
            f"数据不是有效的 JSON（第 {error.lineno} 行第 {error.colno} 列有误），可能传输不完整"
        ) from None
    if isinstance(document, list):
        document = {"tasks": document}
    if not isinstance(document, dict):
        raise PayloadError('数据格式不符：应为 {"tasks": [...], "indicators": [...]}')
    result = ReadPayload(kind="json")
    meta = document.get("meta")
    if isinstance(meta, dict):
        result.meta = {str(key): str(value) for key, value in meta.items()}
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
                if key and key not in cells:
                    cells[key] = Cell(
                        cell_value(value) if not isinstance(value, dict | list) else str(value)
                    )
                    headers[key] = str(name)
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
        raise PayloadError(
            '数据格式不符：应为 {"tasks": [...], "indicators": [...]}，请按约定格式提供'
        )
    return result
