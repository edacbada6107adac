"""The ledger workbook (台账): a program as the office keeps it in Excel.

Sheets 试点信息, 成员单位, 任务清单, 任务, 里程碑, 指标, with Chinese headers. Reading turns
the workbook into the same document a program file holds and runs the same validation,
so every problem comes back with its sheet, row and column.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import openpyxl
import yaml
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from pilot_tracker.errors import Problem, ProgramFileError, YamlBoundError, ZipRefused
from pilot_tracker.ledger.program_file import (
    SIX_HAS,
    Path_,
    ProgramSpec,
    load_yaml,
    read_bounded,
    validate_program,
)
from pilot_tracker.models import (
    LABELS,
    Cadence,
    ContactRole,
    Direction,
    IndicatorLevel,
    ListKind,
    ProgramLevel,
)
from pilot_tracker.spreadsheet import (
    ZipBounds,
    cell_value,
    check_zip,
    find_header_row,
    print_ready,
    put,
    save_atomically,
    write_table,
)
from pilot_tracker.text import header_key

# Bounds: a real ledger is a few hundred kilobytes and a few hundred rows a sheet.
MAX_WORKBOOK_BYTES = 5 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_ZIP_ENTRIES = 1_000
MAX_COMPRESSION_RATIO = 200
# Any one part: openpyxl parses all but the sheets whole on opening (~0.3 s a MB); a sheet
# of 5,000 rows of 11 columns is some 2 MB.
MAX_PART_BYTES = 8 * 1024 * 1024
MAX_STYLES_BYTES = 4 * 1024 * 1024  # Excel's most, 64,000 cell formats, fits in this
MAX_SHARED_STRINGS = 100_000  # distinct texts; a ledger of 2,000 tasks has some 20,000
MAX_ROWS = 5_000  # rows read below a sheet's header
MAX_COLUMNS = 50  # columns read; the widest sheet has 11, beside any notes
MAX_INFO_ROWS = 200
XLSX_BOUNDS = ZipBounds(
    entries=MAX_ZIP_ENTRIES,
    uncompressed=MAX_UNCOMPRESSED_BYTES,
    ratio=MAX_COMPRESSION_RATIO,
    part=MAX_PART_BYTES,
    styles=MAX_STYLES_BYTES,
    shared_strings=MAX_SHARED_STRINGS,
)
ZIP_REFUSALS = {
    "broken": "is a damaged .xlsx workbook; open it in Excel or WPS and save it again",
    "entries": f"holds more than {MAX_ZIP_ENTRIES:,} parts inside; save the ledger again as "
    "a plain .xlsx without pictures or attachments",
    "uncompressed": f"would unpack to more than {MAX_UNCOMPRESSED_BYTES // 1024**2} MB "
    "(uncompressed); a ledger is far smaller, so remove pictures and attachments",
    "ratio": f"has a part that unpacks to more than {MAX_COMPRESSION_RATIO} times its "
    "stored size, as a zip bomb does; save the ledger again from Excel or WPS",
    "part": f"has a part that unpacks to more than {MAX_PART_BYTES // 1024**2} MB; a ledger "
    "is far smaller, so remove pictures and attachments",
    "styles": f"holds more than {MAX_STYLES_BYTES // 1024**2} MB of cell formats "
    "(xl/styles.xml); copy the tables into a new workbook and save that",
    "shared_strings": f"holds more than {MAX_SHARED_STRINGS:,} distinct texts; a ledger is "
    "far smaller, so check that this is the right file",
}

INFO_SHEET = "试点信息"
UNITS_SHEET = "成员单位"
LISTS_SHEET = "任务清单"
TASKS_SHEET = "任务"
MILESTONES_SHEET = "里程碑"
INDICATORS_SHEET = "指标"
GUIDE_SHEET = "填写说明"

LIST_SEPARATORS = re.compile(r"[、,，;；\n]+")


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    required: bool = False
    vocabulary: Any = None
    width: int = 14


INFO_ROWS = [
    Column("试点编号", "code", True),
    Column("试点名称", "name", True),
    Column("试点层级", "level", True, ProgramLevel),
    Column("开始日期", "start", True),
    Column("结束日期", "end", True),
    Column("时区", "timezone"),
    Column("报送周期", "reporting.cadence", vocabulary=Cadence),
    Column("报送截止日", "reporting.deadline"),
    Column("规则设置", "rules"),
    Column("日历调整", "calendar"),
    Column("评价权重", "evaluation"),
    Column("收件邮箱", "mailbox"),
    Column("公文设置", "documents"),
]
# What an unreadable settings cell of the info sheet is told.
SETTINGS_HINTS = {
    "rules": 'not readable rule settings; write them as JSON, e.g. {"overdue": {}}',
    "mailbox": "not readable mailbox settings; write them as JSON, e.g. "
    '{"host": "imap.example.gov.cn", "user": "office", "password_env": "PT_MAIL_PASSWORD"}',
    "documents": "not readable document settings; write them as JSON, e.g. "
    '{"issuer": "共青团宁波市海曙区委员会", "prefix": "海共青发", "send_to": ["各成员单位"]}',
}
UNIT_COLUMNS = [
    Column("单位编号", "code", True, width=12),
    Column("单位名称", "name", True, width=26),
    Column("联络员姓名", "liaison.name"),
    Column("联络员职务", "liaison.title"),
    Column("联络员电话", "liaison.phone"),
    Column("联络员邮箱", "liaison.email", width=24),
    Column("主要负责人姓名", "head.name"),
    Column("主要负责人职务", "head.title"),
    Column("主要负责人电话", "head.phone"),
    Column("主要负责人邮箱", "head.email", width=24),
    Column("其他发件邮箱", "mail_from", width=30),
    Column("数据来源", "sources", width=30),
]
LIST_COLUMNS = [
    Column("清单类别", "kind", True, ListKind),
    Column("清单名称", "name", True, width=24),
]
TASK_COLUMNS = [
    Column("任务编号", "code", True, width=12),
    Column("任务名称", "title", True, width=44),
    Column("清单类别", "list", True, ListKind),
    Column("牵头单位", "lead_unit", True, width=20),
    Column("配合单位", "co_units", width=30),
    Column("开始日期", "start", True, width=12),
    Column("完成时限", "due", True, width=12),
    Column("权重", "weight", width=8),
    Column("预期成果", "deliverable", width=40),
    Column("六有", "has", vocabulary=SIX_HAS, width=10),
]
MILESTONE_COLUMNS = [
    Column("任务编号", "task", True, width=12),
    Column("节点日期", "date", True, width=12),
    Column("计划进度(%)", "percent", True, width=12),
]
INDICATOR_COLUMNS = [
    Column("指标编号", "code", True, width=12),
    Column("指标名称", "name", True, width=32),
    Column("指标层级", "level", True, IndicatorLevel),
    Column("计量单位", "measure", width=10),
    Column("基期值", "baseline.value", True, width=10),
    Column("基期年份", "baseline.year", True, width=10),
    Column("目标值", "target.value", True, width=10),
    Column("目标年份", "target.year", True, width=10),
    Column("指标方向", "direction", vocabulary=Direction, width=10),
    Column("责任单位", "owner", True, width=20),
]

# Words people write for each vocabulary value, beside the labels of models.LABELS.
SYNONYMS: dict[Any, dict[str, str]] = {
    ProgramLevel: {"国家": "national", "省": "provincial", "市": "municipal"},
    Cadence: {"月度": "monthly", "每月": "monthly", "季度": "quarterly", "每季": "quarterly"},
    ListKind: {
        "机制性": "mechanism",
        "机制性任务清单": "mechanism",
        "发展": "development",
        "发展任务清单": "development",
        "个性化": "personalised",
        "个性化任务清单": "personalised",
        "重点项目": "key_project",
    },
    IndicatorLevel: {
        "国家": "national",
        "国家级": "national",
        "省级": "provincial",
        "自设": "self_set",
    },
    Direction: {
        "正向指标": "increase",
        "逆向指标": "decrease",
        "越大越好": "increase",
        "越小越好": "decrease",
    },
}


def _vocabulary_value(vocabulary: Any, text: Any) -> Any:
    """The English value for a label, synonym or value; anything else is left for validation."""
    if text is None:
        return None
    key = header_key(text)
    labels = vocabulary if isinstance(vocabulary, dict) else LABELS[vocabulary]
    for value, label in labels.items():
        if key in (header_key(value), header_key(label)):
            return value
    for synonym, value in SYNONYMS.get(vocabulary, {}).items():
        if key == header_key(synonym):
            return value
    return text


# --- reading ------------------------------------------------------------------------------


def read_ledger_workbook(path: Path) -> ProgramSpec:
    """Read and validate a ledger workbook; raise ``ProgramFileError`` with every problem."""
    name = path.name
    workbook = open_workbook(read_bounded(path, MAX_WORKBOOK_BYTES, name), name)
    try:
        return _Reader(workbook, name).read()
    except ParseError:  # a read-only sheet's XML is parsed as its rows are read
        raise ProgramFileError(name, [Problem("", ZIP_REFUSALS["broken"])]) from None
    finally:
        workbook.close()


def open_workbook(data: bytes, name: str) -> Any:
    """Open .xlsx bytes read-only; anything else is refused with what to do."""
    if data[:8] == bytes.fromhex("d0cf11e0a1b11ae1"):
        reason = (
            "is an old .xls workbook or a password-protected one; "
            "open it in Excel or WPS, remove any password and save it as .xlsx"
        )
        raise ProgramFileError(name, [Problem("", reason)])
    if data[:4] == b"PK\x03\x04":
        try:
            check_zip(data, XLSX_BOUNDS)
        except ZipRefused as refused:
            raise ProgramFileError(name, [Problem("", ZIP_REFUSALS[refused.bound])]) from None
    try:
        return openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        reason = "is not an .xlsx workbook; save it from Excel or WPS as .xlsx (Excel 工作簿)"
        raise ProgramFileError(name, [Problem("", reason)]) from None


class _Reader:
    def __init__(self, workbook: Any, name: str):
        self.workbook = workbook
        self.name = name
        self.problems: list[Problem] = []
        self.places: dict[Path_, str] = {}

    def read(self) -> ProgramSpec:
        document: dict[str, Any] = {}
        document.update(self._info())
        units = self._rows(UNITS_SHEET, UNIT_COLUMNS, "units", required=True)
        lists = self._rows(LISTS_SHEET, LIST_COLUMNS, "task_lists", required=False)
        tasks = self._rows(TASKS_SHEET, TASK_COLUMNS, "tasks", required=True)
        milestones = self._rows(MILESTONES_SHEET, MILESTONE_COLUMNS, "milestones", required=False)
        indicators = self._rows(INDICATORS_SHEET, INDICATOR_COLUMNS, "indicators", required=False)
        if self.problems:
            raise ProgramFileError(self.name, self.problems)

        unit_codes = _unit_lookup(units or [])
        document["units"] = [self._unit(row) for row in units or []]
        if self.problems:
            raise ProgramFileError(self.name, self.problems)
        document["tasks"] = [_task(row, unit_codes) for row in tasks or []]
        self._attach_milestones(document["tasks"], milestones or [])
        document["task_lists"] = (
            [{"kind": row["kind"], "name": row["name"]} for row in lists]
            if lists is not None
            else _default_lists(document["tasks"])
        )
        document["indicators"] = [_indicator(row, unit_codes) for row in indicators or []]
        return validate_program(document, self.name, self._locate)

    def _unit(self, row: dict[str, Any]) -> dict[str, Any]:
        try:
            return _unit(row)
        except YamlBoundError as error:
            where = f"sheet {UNITS_SHEET}, row {row['_row']}, column 数据来源"
            self.problems.append(Problem(where, error.message))
            return {}

    def _locate(self, path: Path_) -> str:
        for depth in range(len(path), -1, -1):
            if path[:depth] in self.places:
                return self.places[path[:depth]]
        return f"sheet {INFO_SHEET}"

    def _sheet(self, title: str, required: bool) -> Worksheet | None:
        if title in self.workbook.sheetnames:
            sheet = self.workbook[title]
            # The used range a sheet declares may lie (a stray cell at XFD1048576 makes
            # every row 16,384 cells wide); rows are read within explicit bounds instead.
            sheet.reset_dimensions()
            return sheet
        if required:
            self.problems.append(
                Problem(f"sheet {title}", "the sheet is missing; add it (see `program export`)")
            )
        return None

    def _info(self) -> dict[str, Any]:
        sheet = self._sheet(INFO_SHEET, required=True)
        if sheet is None:
            return {}
        by_label = {header_key(column.header): column for column in INFO_ROWS}
        document: dict[str, Any] = {}
        seen: set[str] = set()
        rows = sheet.iter_rows(max_row=MAX_INFO_ROWS, max_col=2, values_only=True)
        for row_number, row in enumerate(rows, start=1):
            if not row:
                break
            column = by_label.get(header_key(row[0]))
            if column is None:
                continue
            seen.add(column.header)
            value = cell_value(row[1]) if len(row) > 1 else None
            place = f"sheet {INFO_SHEET}, row {row_number} ({column.header})"
            path = tuple(column.key.split("."))
            self.places[path] = place
            if value is None:
                continue
            if column.vocabulary is not None:
                value = _vocabulary_value(column.vocabulary, value)
            if column.key in ("rules", "calendar", "evaluation", "mailbox", "documents"):
                value = self._rules(value, place, column.key)
            _assign(document, path, value)
        for column in INFO_ROWS:
            if column.required and column.header not in seen:
                self.problems.append(
                    Problem(
                        f"sheet {INFO_SHEET}",
                        f'the row "{column.header}" is missing; add it with its value in column B',
                    )
                )
        return document

    def _rules(self, text: Any, place: str, key: str = "rules") -> Any:
        try:
            rules, _ = load_yaml(str(text))
        except YamlBoundError as error:
            self.problems.append(Problem(place, error.message))
            return None
        except yaml.YAMLError:
            rules = None
        if not isinstance(rules, dict):
            self.problems.append(Problem(place, SETTINGS_HINTS.get(key, SETTINGS_HINTS["rules"])))
            return None
        return rules

    def _rows(
        self, title: str, columns: list[Column], section: str, *, required: bool
    ) -> list[dict[str, Any]] | None:
        sheet = self._sheet(title, required)
        if sheet is None:
            return None
        found = find_header_row(sheet, [column.header for column in columns], max_col=MAX_COLUMNS)
        if found is None:
            self.problems.append(
                Problem(
                    f"sheet {title}",
                    f'no header row with "{columns[0].header}" in the first 20 rows; '
                    f"the headers are: {', '.join(column.header for column in columns)}",
                )
            )
            return None
        header_row, positions = found
        indexes: dict[str, int] = {}
        for column in columns:
            position = _position(positions, column.header)
            if position is not None:
                indexes[column.key] = position
            elif column.required:
                self.problems.append(
                    Problem(
                        f"sheet {title}, row {header_row}",
                        f'column "{column.header}" is missing; add it to the header row',
                    )
                )
        rows: list[dict[str, Any]] = []
        last = header_row + MAX_ROWS
        for row_number, values in enumerate(
            sheet.iter_rows(
                min_row=header_row + 1, max_row=last + 1, max_col=MAX_COLUMNS, values_only=True
            ),
            start=header_row + 1,
        ):
            record = {
                column.key: cell_value(values[indexes[column.key]])
                for column in columns
                if column.key in indexes and indexes[column.key] < len(values)
            }
            if all(value is None for value in record.values()):
                continue
            if row_number > last:
                self.problems.append(
                    Problem(
                        f"sheet {title}",
                        f"more than {MAX_ROWS:,} rows below the header (row {header_row}); "
                        "a ledger is far smaller, so delete what is below the table or split "
                        "the program",
                    )
                )
                break
            index = len(rows)
            for column in columns:
                value = record.get(column.key)
                if column.vocabulary is not None:
                    record[column.key] = _vocabulary_value(column.vocabulary, value)
            record["_row"] = row_number
            rows.append(record)
            self._record_places(title, section, index, row_number, columns, record)
        return rows

    def _record_places(
        self,
        title: str,
        section: str,
        index: int,
        row_number: int,
        columns: list[Column],
        record: dict[str, Any],
    ) -> None:
        if section == "milestones":
            return  # placed once attached to their tasks
        where = f"sheet {title}, row {row_number}"
        self.places[(section, index)] = where
        for column in columns:
            path = (section, index, *_document_path(section, column.key))
            self.places[path] = f"{where}, column {column.header}"

    def _attach_milestones(self, tasks: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        by_code = {str(task.get("code")): index for index, task in enumerate(tasks)}
        for row in rows:
            where = f"sheet {MILESTONES_SHEET}, row {row['_row']}"
            index = by_code.get(str(row.get("task")))
            if index is None:
                self.problems.append(
                    Problem(
                        f"{where}, column 任务编号",
                        f'unknown task "{row.get("task")}"; it must be on sheet {TASKS_SHEET}',
                    )
                )
                continue
            milestones = tasks[index].setdefault("milestones", [])
            position = len(milestones)
            milestones.append({"date": row.get("date"), "percent": row.get("percent")})
            base: Path_ = ("tasks", index, "milestones", position)
            self.places[base] = where
            self.places[(*base, "date")] = f"{where}, column 节点日期"
            self.places[(*base, "percent")] = f"{where}, column 计划进度(%)"
        if self.problems:
            raise ProgramFileError(self.name, self.problems)


def _position(positions: dict[str, int], header: str) -> int | None:
    """The column of ``header``, also when it is written with or without its "(%)"."""
    wanted = header_key(header)
    plain = wanted.removesuffix("(%)")
    for candidate in (wanted, plain, f"{plain}(%)"):
        if candidate in positions:
            return positions[candidate]
    return None


def _document_path(section: str, key: str) -> tuple[str, ...]:
    if section == "units" and key.split(".")[0] in ("liaison", "head"):
        return ("contacts",)
    return tuple(key.split("."))


def _assign(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for step in path[:-1]:
        document = document.setdefault(step, {})
    document[path[-1]] = value


def _unit_lookup(units: list[dict[str, Any]]) -> dict[str, str]:
    """A unit's code by its name or code as compared (``header_key``), and by its code as
    written, which wins: codes may differ only in case."""
    lookup: dict[str, str] = {}
    codes = [str(unit["code"]) for unit in units if unit.get("code") is not None]
    for unit in units:
        if unit.get("code") is not None and unit.get("name"):
            lookup.setdefault(header_key(unit["name"]), str(unit["code"]))
    for code in codes:
        lookup[header_key(code)] = code
    lookup.update({code: code for code in codes})
    return lookup


def _unit_code(value: Any, lookup: dict[str, str]) -> Any:
    if value is None:
        return None
    return lookup.get(str(value)) or lookup.get(header_key(value), value)


def _unit(row: dict[str, Any]) -> dict[str, Any]:
    unit: dict[str, Any] = {"code": row.get("code"), "name": row.get("name"), "contacts": []}
    if row.get("sources") is not None:
        unit["sources"] = _structured(row["sources"])
    if row.get("mail_from") is not None:
        unit["mail_from"] = [
            address for address in re.split(r"[\s,;，；、]+", str(row["mail_from"])) if address
        ]
    for role in ContactRole:
        contact = {
            field: str(row[f"{role.value}.{field}"])
            for field in ("name", "title", "phone", "email")
            if row.get(f"{role.value}.{field}") is not None
        }
        if contact:
            unit["contacts"].append({"role": role.value, **contact})
    return unit


def _structured(text: Any) -> Any:
    """A JSON (or YAML) cell as data; unreadable text is left for validation to report.

    YAML past the bounds of ``load_yaml`` raises ``YamlBoundError``.
    """
    try:
        return load_yaml(str(text))[0]
    except yaml.YAMLError:
        return text


def _task(row: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    task = {
        key: row[key]
        for key in ("code", "title", "list", "start", "due", "weight", "deliverable", "has")
        if row.get(key) is not None
    }
    task["lead_unit"] = _unit_code(row.get("lead_unit"), units)
    co_units = row.get("co_units")
    task["co_units"] = [
        _unit_code(name, units)
        for name in LIST_SEPARATORS.split(str(co_units) if co_units is not None else "")
        if name.strip()
    ]
    return task


def _indicator(row: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    indicator: dict[str, Any] = {
        key: row[key]
        for key in ("code", "name", "level", "measure", "direction")
        if row.get(key) is not None
    }
    indicator["baseline"] = {"value": row.get("baseline.value"), "year": row.get("baseline.year")}
    indicator["target"] = {"value": row.get("target.value"), "year": row.get("target.year")}
    for part in ("baseline", "target"):
        indicator[part] = {k: v for k, v in indicator[part].items() if v is not None}
    indicator["owner"] = _unit_code(row.get("owner"), units)
    return indicator


def _default_lists(tasks: list[dict[str, Any]]) -> list[dict[str, str]]:
    kinds = list(dict.fromkeys(task.get("list") for task in tasks))
    return [
        {"kind": kind, "name": f"{LABELS[ListKind][kind]}清单"}
        for kind in kinds
        if kind in LABELS[ListKind]
    ]


# --- writing ------------------------------------------------------------------------------


def write_ledger_workbook(spec: ProgramSpec, path: Path) -> None:
    """Write the program as a ledger workbook, readable back by ``read_ledger_workbook``."""
    workbook = openpyxl.Workbook()
    info = workbook.active
    info.title = INFO_SHEET
    unit_names = {unit.code: unit.name for unit in spec.units}

    write_table(
        info,
        ["项目", "内容"],
        [
            ["试点编号", spec.code],
            ["试点名称", spec.name],
            ["试点层级", LABELS[ProgramLevel][spec.level.value]],
            ["开始日期", spec.start],
            ["结束日期", spec.end],
            ["时区", spec.timezone],
            ["报送周期", LABELS[Cadence][spec.reporting.cadence.value]],
            ["报送截止日", spec.reporting.deadline],
            [
                "规则设置",
                json.dumps(
                    spec.rules.model_dump(mode="json", exclude_defaults=True),
                    ensure_ascii=False,
                    sort_keys=True,
                ),
            ],
            [
                "日历调整",
                json.dumps(
                    spec.calendar.model_dump(mode="json", exclude_defaults=True),
                    ensure_ascii=False,
                ),
            ],
            [
                "评价权重",
                json.dumps(
                    spec.evaluation.model_dump(mode="json", exclude_defaults=True),
                    ensure_ascii=False,
                ),
            ],
            [
                "收件邮箱",
                json.dumps(spec.mailbox.model_dump(mode="json"), ensure_ascii=False)
                if spec.mailbox
                else "",
            ],
            [
                "公文设置",
                json.dumps(spec.documents.model_dump(mode="json"), ensure_ascii=False)
                if spec.documents
                else "",
            ],
        ],
        widths=[16, 48],
    )

    def contact_cells(unit: Any) -> list[Any]:
        cells: list[Any] = []
        for role in ContactRole:
            contact = next((c for c in unit.contacts if c.role is role), None)
            cells += (
                [contact.name, contact.title, contact.phone, contact.email]
                if contact
                else ["", "", "", ""]
            )
        return cells

    _table(
        workbook,
        UNITS_SHEET,
        UNIT_COLUMNS,
        [
            [
                unit.code,
                unit.name,
                *contact_cells(unit),
                ", ".join(unit.mail_from),
                json.dumps(
                    [
                        source.model_dump(mode="json", exclude_defaults=True)
                        for source in unit.sources
                    ],
                    ensure_ascii=False,
                )
                if unit.sources
                else "",
            ]
            for unit in spec.units
        ],
    )
    _table(
        workbook,
        LISTS_SHEET,
        LIST_COLUMNS,
        [[LABELS[ListKind][tl.kind.value], tl.name] for tl in spec.task_lists],
    )
    _table(
        workbook,
        TASKS_SHEET,
        TASK_COLUMNS,
        [
            [
                task.code,
                task.title,
                LABELS[ListKind][task.list_kind.value],
                unit_names[task.lead_unit],
                "、".join(unit_names[code] for code in task.co_units),
                task.start,
                task.due,
                task.weight,
                task.deliverable,
                SIX_HAS[task.has] if task.has else "",
            ]
            for task in spec.tasks
        ],
    )
    _table(
        workbook,
        MILESTONES_SHEET,
        MILESTONE_COLUMNS,
        [
            [task.code, milestone.planned_on, milestone.percent]
            for task in spec.tasks
            for milestone in task.milestones
        ],
    )
    _table(
        workbook,
        INDICATORS_SHEET,
        INDICATOR_COLUMNS,
        [
            [
                indicator.code,
                indicator.name,
                LABELS[IndicatorLevel][indicator.level.value],
                indicator.measure,
                indicator.baseline.value,
                indicator.baseline.year,
                indicator.target.value,
                indicator.target.year,
                LABELS[Direction][indicator.direction.value],
                unit_names[indicator.owner],
            ]
            for indicator in spec.indicators
        ],
    )
    _guide(workbook.create_sheet(GUIDE_SHEET))
    print_ready(workbook, title=spec.name, period="试点台账")
    save_atomically(workbook, path)


def _table(workbook: Any, title: str, columns: list[Column], rows: list[list[Any]]) -> None:
    sheet = workbook.create_sheet(title)
    write_table(
        sheet,
        [column.header for column in columns],
        rows,
        widths=[column.width for column in columns],
    )
    sheet.auto_filter.ref = sheet.dimensions


def _guide(sheet: Worksheet) -> None:
    lines = [
        "台账填写说明",
        "1. 各工作表第一行为表头，请勿修改表头文字；可在表头右侧增加备注列，导入时忽略。",
        "2. 编号（试点编号、单位编号、任务编号、指标编号）由字母、数字、“-”“_”“.”组成，"
        "在本试点内不得重复。",
        "3. 牵头单位、配合单位、责任单位可填写单位名称或单位编号；多个配合单位用顿号“、”分隔。",
        "4. 日期请按 2021-03-31 格式填写。计划进度为 0-100 的数字，同一任务的节点按日期先后排列，"
        "进度不得回落。",
        "5. 清单类别："
        + "、".join(LABELS[ListKind].values())
        + "；指标层级："
        + "、".join(LABELS[IndicatorLevel].values())
        + "；指标方向：正向（越大越好）、逆向（越小越好）。",
        "6. 导入命令：pilot-tracker program load 台账.xlsx（先加 --dry-run 可只检查不写入）。",
    ]
    for row, line in enumerate(lines, start=1):
        put(sheet, row, 1, line)
