"""The submission workbook (填报表) a unit's liaison fills in and sends back.

One per unit: the sheet 任务进展 lists every task the unit leads or co-leads, 指标数据
every indicator it owns, codes and names prefilled; 填报说明 says how to fill it in; a
hidden sheet names the program, the unit and the template version, so a returned
workbook can be matched to its unit even when renamed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from pilot_tracker.errors import NotFoundError
from pilot_tracker.ledger.program_file import ProgramSpec, UnitSpec
from pilot_tracker.models import LABELS, ListKind, TaskStatus
from pilot_tracker.spreadsheet import print_ready, put, save_atomically, write_table

TEMPLATE_VERSION = "1"
TASK_SHEET = "任务进展"
INDICATOR_SHEET = "指标数据"
GUIDE_SHEET = "填报说明"
META_SHEET = "_meta"
PREFILLED_FILL = PatternFill("solid", fgColor="F2F2F2")

# (header, width, prefilled by us)
TASK_COLUMNS: list[tuple[str, int, bool]] = [
    ("任务编号", 12, True),
    ("任务名称", 40, True),
    ("清单类别", 12, True),
    ("承担方式", 10, True),
    ("完成时限", 12, True),
    ("进展状态", 10, False),
    ("完成进度", 10, False),
    ("进展情况", 40, False),
    ("存在问题", 30, False),
    ("下步计划", 30, False),
    ("佐证材料", 30, False),
    ("填报日期", 12, False),
]
INDICATOR_COLUMNS: list[tuple[str, int, bool]] = [
    ("指标编号", 12, True),
    ("指标名称", 36, True),
    ("计量单位", 10, True),
    ("基期值", 10, True),
    ("目标值", 10, True),
    ("当前值", 10, False),
    ("统计时点", 12, False),
]
STATUS_CHOICES = [LABELS[TaskStatus][status.value] for status in TaskStatus]
TITLE_ROW, HEADER_ROW = 1, 2


def write_submission_template(
    spec: ProgramSpec, unit_code: str, path: Path, *, generated_on: date
) -> int:
    """Write the unit's submission workbook to ``path``; return how many tasks it lists."""
    workbook = build_submission_template(spec, unit_code, generated_on=generated_on)
    save_atomically(workbook, path)
    return workbook[TASK_SHEET].max_row - HEADER_ROW


def build_submission_template(
    spec: ProgramSpec, unit_code: str, *, generated_on: date
) -> openpyxl.Workbook:
    """The unit's submission workbook, in memory."""
    unit = find_unit(spec, unit_code)
    workbook = openpyxl.Workbook()
    tasks_sheet = workbook.active
    tasks_sheet.title = TASK_SHEET
    _task_sheet(tasks_sheet, spec, unit)
    _indicator_sheet(workbook.create_sheet(INDICATOR_SHEET), spec, unit)
    _guide(workbook.create_sheet(GUIDE_SHEET), spec, unit)
    _meta(workbook.create_sheet(META_SHEET), spec, unit, generated_on)
    print_ready(workbook, title=f"{spec.name} · {unit.name}", period="填报表")
    return workbook


def find_unit(spec: ProgramSpec, unit_code: str) -> UnitSpec:
    """The unit with this code in the program, or a ``NotFoundError`` that says where to look."""
    for unit in spec.units:
        if unit.code == unit_code:
            return unit
    raise NotFoundError(
        f'no unit "{unit_code}" in program {spec.code}; '
        f"see the unit codes with `pilot-tracker program show {spec.code}`"
    )


def _title(sheet: Worksheet, text: str, width: int) -> None:
    cell = put(sheet, TITLE_ROW, 1, text)
    cell.font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=width)
    sheet.row_dimensions[TITLE_ROW].height = 26


def _task_sheet(sheet: Worksheet, spec: ProgramSpec, unit: UnitSpec) -> int:
    tasks = [
        task for task in spec.tasks if task.lead_unit == unit.code or unit.code in task.co_units
    ]
    _title(sheet, f"{spec.name} · {unit.name} · 任务进展填报表", len(TASK_COLUMNS))
    rows = [
        [
            task.code,
            task.title,
            LABELS[ListKind][task.list_kind.value],
            "牵头" if task.lead_unit == unit.code else "配合",
            task.due,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]
        for task in tasks
    ]
    write_table(
        sheet,
        [header for header, _, _ in TASK_COLUMNS],
        rows,
        widths=[width for _, width, _ in TASK_COLUMNS],
        first_row=HEADER_ROW,
    )
    _style_rows(sheet, TASK_COLUMNS, len(rows))
    last = HEADER_ROW + max(len(rows), 1)
    status = DataValidation(
        type="list",
        formula1='"' + ",".join(STATUS_CHOICES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="进展状态",
        error="请从下拉列表中选择：" + "、".join(STATUS_CHOICES),
    )
    percent = DataValidation(
        type="decimal",
        operator="between",
        formula1="0",
        formula2="100",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="完成进度",
        error="请填写 0-100 之间的数字（80 表示 80%）",
    )
    reported = DataValidation(
        type="date",
        operator="greaterThan",
        formula1="DATE(2000,1,1)",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="填报日期",
        error="请填写日期，例如 2021-03-31",
    )
    for validation, header in ((status, "进展状态"), (percent, "完成进度"), (reported, "填报日期")):
        column = _letter(TASK_COLUMNS, header)
        validation.add(f"{column}{HEADER_ROW + 1}:{column}{last}")
        sheet.add_data_validation(validation)
    sheet.cell(row=HEADER_ROW, column=_index(TASK_COLUMNS, "完成进度")).comment = Comment(
        "填写 0-100 的数字，80 表示完成 80%", "pilot-tracker"
    )
    return len(rows)


def _indicator_sheet(sheet: Worksheet, spec: ProgramSpec, unit: UnitSpec) -> None:
    indicators = [indicator for indicator in spec.indicators if indicator.owner == unit.code]
    note = "" if indicators else "（本单位无需报送指标数据）"
    _title(sheet, f"{spec.name} · {unit.name} · 指标数据填报表{note}", len(INDICATOR_COLUMNS))
    rows = [
        [
            indicator.code,
            indicator.name,
            indicator.measure,
            indicator.baseline.value,
            indicator.target.value,
            None,
            None,
        ]
        for indicator in indicators
    ]
    write_table(
        sheet,
        [header for header, _, _ in INDICATOR_COLUMNS],
        rows,
        widths=[width for _, width, _ in INDICATOR_COLUMNS],
        first_row=HEADER_ROW,
    )
    _style_rows(sheet, INDICATOR_COLUMNS, len(rows))
    if not rows:
        return
    last = HEADER_ROW + len(rows)
    value = DataValidation(
        type="decimal",
        allow_blank=True,
        operator="between",
        formula1="-1000000000",
        formula2="1000000000",
        showErrorMessage=True,
        error="请填写数字",
    )
    value.add(
        f"{_letter(INDICATOR_COLUMNS, '当前值')}{HEADER_ROW + 1}:"
        f"{_letter(INDICATOR_COLUMNS, '当前值')}{last}"
    )
    sheet.add_data_validation(value)


def _style_rows(sheet: Worksheet, columns: list[tuple[str, int, bool]], count: int) -> None:
    for row in range(HEADER_ROW + 1, HEADER_ROW + 1 + count):
        for index, (_, _, prefilled) in enumerate(columns, start=1):
            cell = sheet.cell(row=row, column=index)
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            if prefilled:
                cell.fill = PREFILLED_FILL


def _guide(sheet: Worksheet, spec: ProgramSpec, unit: UnitSpec) -> None:
    deadline = spec.reporting.deadline
    cadence = "每月" if spec.reporting.cadence.value == "monthly" else "每季度末月"
    lines = [
        f"{spec.name} · {unit.name} · 填报说明",
        f"1. 报送时间：{cadence}{deadline}日前报送本期进展（遇节假日顺延至下一个工作日）。",
        "2. 灰色列（任务编号、任务名称等）为预填内容，请勿修改；只填写白色列。",
        "3. 进展状态请从下拉列表选择：" + "、".join(STATUS_CHOICES) + "。",
        "4. 完成进度填写 0-100 的数字（80 表示完成 80%）；状态为“已完成”时，完成进度应为 100。",
        "5. 佐证材料：填写文件名称、文号或链接；任务完成时必须提供佐证材料。",
        "6. 填报日期按 2021-03-31 格式填写，不得晚于报送当日。",
        "7. 指标数据表：填写当前值和统计时点；没有指标的单位无需填写。",
        "8. 请勿增删工作表、勿修改表头；可在表格右侧增加备注列。填好后保存为 .xlsx 报送。",
        "9. 联系方式：如有疑问，请联系试点工作专班。",
    ]
    for row, line in enumerate(lines, start=1):
        cell = put(sheet, row, 1, line)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet["A1"].font = Font(bold=True, size=13)


def _meta(sheet: Worksheet, spec: ProgramSpec, unit: UnitSpec, generated_on: date) -> None:
    for row, (key, value) in enumerate(
        [
            ("program", spec.code),
            ("unit", unit.code),
            ("template_version", TEMPLATE_VERSION),
            ("generated_on", generated_on.isoformat()),
        ],
        start=1,
    ):
        put(sheet, row, 1, key)
        put(sheet, row, 2, value)
    sheet.sheet_state = "hidden"


def _index(columns: list[tuple[str, int, bool]], header: str) -> int:
    return [name for name, _, _ in columns].index(header) + 1


def _letter(columns: list[tuple[str, int, bool]], header: str) -> str:
    return openpyxl.utils.get_column_letter(_index(columns, header))
