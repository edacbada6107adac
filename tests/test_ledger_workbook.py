"""The ledger workbook (台账): written for people, read back with the program file's rules."""

from __future__ import annotations

import copy
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from pilot_tracker.errors import ProgramFileError
from pilot_tracker.ledger.program_file import ProgramSpec, validate_program
from pilot_tracker.ledger.workbook import read_ledger_workbook, write_ledger_workbook

from .test_payload import RETYPED_HEADERS
from .test_program_file import SMALL


def small_spec(**changes: object) -> ProgramSpec:
    document = copy.deepcopy(SMALL)
    document.update(changes)
    return validate_program(document, "demo.yaml")


@pytest.fixture
def workbook_path(tmp_path: Path) -> Path:
    path = tmp_path / "台账.xlsx"
    write_ledger_workbook(small_spec(), path)
    return path


def edit(path: Path, sheet: str, cell: str, value: object) -> None:
    workbook = openpyxl.load_workbook(path)
    workbook[sheet][cell] = value
    workbook.save(path)


def refused(path: Path) -> list[str]:
    with pytest.raises(ProgramFileError) as caught:
        read_ledger_workbook(path)
    return [str(problem) for problem in caught.value.problems]


def test_what_an_office_sees(workbook_path: Path) -> None:
    workbook = openpyxl.load_workbook(workbook_path)
    assert workbook.sheetnames == [
        "试点信息",
        "成员单位",
        "任务清单",
        "任务",
        "里程碑",
        "指标",
        "填写说明",
    ]
    tasks = workbook["任务"]
    assert [cell.value for cell in tasks[1]] == [
        "任务编号",
        "任务名称",
        "清单类别",
        "牵头单位",
        "配合单位",
        "开始日期",
        "完成时限",
        "权重",
        "预期成果",
        "六有",
    ]
    first = [cell.value for cell in tasks[2]]
    assert first[:5] == ["T-01", "建立青年工作联席会议制度", "机制性任务", "团县委", "县教育局"]
    assert first[5] == datetime(2021, 1, 4)
    assert first[7] == 1.5  # a number, not text
    indicators = workbook["指标"]
    assert [cell.value for cell in indicators[2]][2:] == [
        "国家指标",
        "%",
        5.8,
        2020,
        5.5,
        2025,
        "逆向",
        "县人力社保局",
    ]


def test_the_workbook_reads_back_to_the_same_program(workbook_path: Path) -> None:
    assert read_ledger_workbook(workbook_path) == small_spec()


def test_an_office_may_retype_things_the_way_people_do(workbook_path: Path) -> None:
    workbook = openpyxl.load_workbook(workbook_path)
    tasks = workbook["任务"]
    tasks["C2"] = "机制性"  # a short label
    tasks["D2"] = "tw"  # a unit code instead of its name
    tasks["E2"] = "县教育局，县人力社保局"  # a full-width comma
    tasks["F2"] = "2021/1/4"  # a date typed as text
    tasks["G2"] = 44377  # a date cell formatted as a number (refused before one date parser)
    tasks["J1"] = "备注"  # an extra column
    tasks["J2"] = "随便写点什么"
    tasks.insert_rows(3)  # a blank row in the middle
    workbook["任务"]["B1"] = " 任务\n名称 "  # a header with spaces and a line break
    workbook.save(workbook_path)

    spec = read_ledger_workbook(workbook_path)
    assert spec.tasks[0].co_units == ["jyj", "rsj"]
    assert spec.tasks[0].start == date(2021, 1, 4)
    assert spec.tasks[0].due == date(2021, 6, 30)
    assert spec.tasks[0].lead_unit == "tw"
    assert len(spec.tasks) == 2


@pytest.mark.parametrize("retype", RETYPED_HEADERS.values(), ids=RETYPED_HEADERS)
def test_every_header_spelling_a_submission_accepts_is_read(
    workbook_path: Path, retype: Callable[[str], str]
) -> None:
    # Before one header normaliser, "计划进度（％）" or "任务编号：" made a column missing here
    # while a submission took them.
    workbook = openpyxl.load_workbook(workbook_path)
    for sheet in workbook.worksheets:
        labels = [row[0] for row in sheet.iter_rows()] if sheet.title == "试点信息" else []
        for cell in [*sheet[1], *labels]:
            if isinstance(cell.value, str):
                cell.value = retype(cell.value)
    workbook.save(workbook_path)
    assert read_ledger_workbook(workbook_path) == small_spec()


def test_a_missing_column_is_named(workbook_path: Path) -> None:
    workbook = openpyxl.load_workbook(workbook_path)
    workbook["任务"].delete_cols(4)  # 牵头单位
    workbook.save(workbook_path)
    assert refused(workbook_path) == [
        'sheet 任务, row 1: column "牵头单位" is missing; add it to the header row'
    ]


def test_a_missing_sheet_is_named(workbook_path: Path) -> None:
    workbook = openpyxl.load_workbook(workbook_path)
    del workbook["成员单位"]
    workbook.save(workbook_path)
    assert "sheet 成员单位: the sheet is missing" in refused(workbook_path)[0]


def test_problems_name_sheet_row_and_column(workbook_path: Path) -> None:
    edit(workbook_path, "任务", "D3", "县教育厅")
    edit(workbook_path, "里程碑", "C3", 30)
    edit(workbook_path, "成员单位", "A3", "tw")
    problems = refused(workbook_path)
    assert 'sheet 任务, row 3, column 牵头单位: unknown unit "县教育厅"' in problems
    assert (
        "sheet 里程碑, row 3, column 计划进度(%): 30 is below the previous milestone's 40; "
        "planned percent cannot go down"
    ) in problems
    assert any(
        p.startswith(
            'sheet 成员单位, row 3, column 单位编号: unit code "tw" is used twice (also at sheet 成员单位, row 2)'
        )
        for p in problems
    ), problems


def test_a_bad_vocabulary_word_lists_the_chinese_choices(workbook_path: Path) -> None:
    edit(workbook_path, "指标", "C2", "区级")
    (problem,) = refused(workbook_path)
    assert problem.startswith("sheet 指标, row 2, column 指标层级: '区级' is not one of")
    assert "国家指标, 省级指标, 自设指标" in problem


def test_a_milestone_of_an_unknown_task(workbook_path: Path) -> None:
    edit(workbook_path, "里程碑", "A2", "T-99")
    assert refused(workbook_path) == [
        'sheet 里程碑, row 2, column 任务编号: unknown task "T-99"; it must be on sheet 任务'
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a workbook", "is not an .xlsx workbook"),
        (
            bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512,
            "old .xls workbook or a password-protected one",
        ),
    ],
)
def test_what_is_not_an_xlsx_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "台账.xlsx"
    path.write_bytes(content)
    assert expected in refused(path)[0]


def test_a_sheet_of_broken_xml_is_refused_as_damaged(workbook_path: Path) -> None:
    # openpyxl opens a workbook read-only without parsing its sheets; the XML of 任务
    # (sheet4.xml) breaks only when its rows are read
    with zipfile.ZipFile(workbook_path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/worksheets/sheet4.xml"] = parts["xl/worksheets/sheet4.xml"].replace(
        b"</sheetData>",
        b'<row r="99"><c r="A99" t="inlineStr"><is><t>a&b</t></is></c></row></sheetData>',
    )
    with zipfile.ZipFile(workbook_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    assert refused(workbook_path) == [
        "is a damaged .xlsx workbook; open it in Excel or WPS and save it again"
    ]


def test_no_cell_becomes_a_formula(tmp_path: Path) -> None:
    document = copy.deepcopy(SMALL)
    document["units"][1]["name"] = "=cmd|' /C calc'!A0"
    document["tasks"][0]["deliverable"] = "@SUM(A1:A9)"
    document["tasks"][1]["title"] = "-2+3"
    spec = validate_program(document, "demo.yaml")
    path = tmp_path / "台账.xlsx"
    write_ledger_workbook(spec, path)

    workbook = openpyxl.load_workbook(path)
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    unit = workbook["成员单位"]["B3"]
    assert unit.value == "=cmd|' /C calc'!A0" and unit.quotePrefix
    # ... and the text reads back unchanged.
    assert read_ledger_workbook(path) == spec


def test_sources_survive_the_workbook(tmp_path: Path) -> None:
    document = copy.deepcopy(SMALL)
    document["units"][2]["sources"] = [
        {"kind": "folder"},
        {
            "kind": "http",
            "url": "https://x.example/p.csv",
            "format": "csv",
            "headers": {"X-Token": "${T}"},
            "internal": True,
            "deadline": 20,
            "allow_redirects_to": ["https://files.example:8443"],
        },
    ]
    spec = validate_program(document, "demo.yaml")
    path = tmp_path / "台账.xlsx"
    write_ledger_workbook(spec, path)
    assert read_ledger_workbook(path) == spec


def test_mail_addresses_and_the_mailbox_survive_the_workbook(tmp_path: Path) -> None:
    document = copy.deepcopy(SMALL)
    document["units"][0]["contacts"] = [
        {"role": "liaison", "email": "tw@demo.gov.cn"},
        {"role": "head", "name": "主要负责人", "email": "tw-head@demo.gov.cn"},
    ]
    document["units"][1]["mail_from"] = ["jyj@demo.gov.cn", "jyj-2@demo.gov.cn"]
    document["mailbox"] = {
        "host": "imap.demo.gov.cn",
        "user": "office",
        "password_env": "PT_MAIL",
        "processed": "已导入",
    }
    spec = validate_program(document, "demo.yaml")
    path = tmp_path / "台账.xlsx"
    write_ledger_workbook(spec, path)
    assert read_ledger_workbook(path) == spec
