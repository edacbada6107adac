"""Reading payloads: what units really send is read, what could hurt is refused in Chinese.

Every workbook here is a real .xlsx written with openpyxl (and, for the hostile ones,
rewritten with zipfile); every CSV and JSON is real bytes on disk.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from pilot_tracker.collect import payload
from pilot_tracker.collect.payload import ReadPayload, read_payload
from pilot_tracker.errors import PayloadError

TEMPLATE_HEADERS = [
    "任务编号",
    "任务名称",
    "进展状态",
    "完成进度",
    "进展情况",
    "存在问题",
    "下步计划",
    "佐证材料",
    "填报日期",
]
MB = 1024 * 1024


# --- helpers -------------------------------------------------------------------------------


def xlsx(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    first_row: int = 1,
    title: str = "任务进展",
    formats: dict[str, str] | None = None,
) -> bytes:
    """A real workbook with ``rows`` written from ``first_row`` down (None rows stay blank)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for offset, values in enumerate(rows):
        for column, value in enumerate(values or [], start=1):
            if value is not None:
                sheet.cell(row=first_row + offset, column=column, value=value)
    for ref, number_format in (formats or {}).items():
        sheet[ref].number_format = number_format
    workbook.save(path)
    return path.read_bytes()


def write(path: Path, data: bytes) -> bytes:
    """Put the bytes on disk, as a unit's file would be, and read them back."""
    path.write_bytes(data)
    return path.read_bytes()


def rewrite(
    source: Path,
    target: Path,
    *,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
    big: tuple[str, int] | None = None,
    big_prefix: bytes = b"",
    big_suffix: bytes = b"",
    big_fill: bytes = b"\0",
) -> bytes:
    """Copy a workbook's entries, replacing or adding some; ``big`` is (name, MB) streamed."""
    replace = dict(replace or {})
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in original.infolist():
            if big and info.filename == big[0]:
                continue
            copy.writestr(info.filename, replace.pop(info.filename, original.read(info.filename)))
        for name, data in {**replace, **(add or {})}.items():
            copy.writestr(name, data)
        if big:
            name, megabytes = big
            chunk = big_fill * MB
            with copy.open(name, "w", force_zip64=True) as stream:
                stream.write(big_prefix)
                for _ in range(megabytes):
                    stream.write(chunk)
                stream.write(big_suffix)
    return target.read_bytes()


def refused(data: bytes, name: str, content_type: str = "") -> str:
    with pytest.raises(PayloadError) as caught:
        read_payload(data, name, content_type)
    return str(caught.value)


def task_values(read: ReadPayload) -> list[dict[str, Any]]:
    return [{key: cell.value for key, cell in row.cells.items()} for row in read.task_rows]


def csv_bytes(lines: Iterable[Sequence[str]], *, delimiter: str = ",") -> str:
    return "\r\n".join(delimiter.join(line) for line in lines) + "\r\n"


# --- workbooks as units re-type them ---------------------------------------------------------


def test_the_header_is_found_below_title_rows(tmp_path: Path) -> None:
    data = xlsx(
        tmp_path / "进展.xlsx",
        [
            ["演示县青年发展型县域试点 · 团县委 · 任务进展填报表"],
            ["填报单位（盖章）：团县委", None, None, "填报人：联络员"],
            None,
            ["任务编号", "进展状态", "完成进度", "填报日期"],
            ["T-01", "推进中", 80, date(2021, 3, 31)],
        ],
    )
    read = read_payload(data, "进展.xlsx")
    assert read.kind == "xlsx"
    assert [(row.sheet, row.number) for row in read.task_rows] == [("任务进展", 5)]
    assert task_values(read) == [
        {"task": "T-01", "status": "推进中", "percent": 80, "reported_on": date(2021, 3, 31)}
    ]


def test_the_header_may_be_as_low_as_row_20(tmp_path: Path) -> None:
    data = xlsx(
        tmp_path / "a.xlsx", [["任务编号", "完成进度"], ["T-01", 50]], first_row=20, title="Sheet1"
    )
    read = read_payload(data, "a.xlsx")
    assert [(row.number, row.value("percent")) for row in read.task_rows] == [(21, 50)]


def test_a_header_below_row_20_is_not_looked_for(tmp_path: Path) -> None:
    data = xlsx(tmp_path / "a.xlsx", [["任务编号", "完成进度"], ["T-01", 50]], first_row=21)
    reason = refused(data, "a.xlsx")
    assert "未找到填报表" in reason and "任务编号" in reason and "下发的填报表" in reason


def test_retyped_headers_extra_columns_and_blank_rows_are_tolerated(tmp_path: Path) -> None:
    data = xlsx(
        tmp_path / "a.xlsx",
        [
            [
                "备注",
                "任务\n编号",
                " 进展 状态 ",
                "完成\n进度 ",
                "联系人",
                "进展情况",
                "填报　日期",
            ],
            [None, "T-01", "推进中", 60, "李四", "已召开第一次联席会议", "2021/3/31"],
            None,
            [None, None, None, None, "王五（只填了联系人）"],
            None,
            [None, "T-03", "已完成", 100, None, "已印发文件", "2021年3月30日"],
            [" ", "  ", None, None, None, "   ", None],
        ],
        title="Sheet1",
    )
    read = read_payload(data, "a.xlsx")
    assert [row.number for row in read.task_rows] == [2, 6]
    assert task_values(read) == [
        {
            "task": "T-01",
            "status": "推进中",
            "percent": 60,
            "progress": "已召开第一次联席会议",
            "reported_on": "2021/3/31",
        },
        {
            "task": "T-03",
            "status": "已完成",
            "percent": 100,
            "progress": "已印发文件",
            "reported_on": "2021年3月30日",
        },
    ]
    # the header as the unit wrote it, to name the column in a rejection
    headers = read.task_rows[0].headers
    assert headers["task"] == "任务\n编号"
    assert headers["status"] == "进展 状态"
    assert "remark" not in headers and "备注" not in headers.values()


# How people retype a header. The ledger workbook accepts each of these spellings too
# (test_ledger_workbook), both by ``spreadsheet.header_key``.
RETYPED_HEADERS: dict[str, Callable[[str], str]] = {
    "spaces and a line break": lambda header: f" {header[:2]}\n{header[2:]} ",
    "a full-width space": lambda header: f"{header[:2]}\u3000{header[2:]}",
    "full-width brackets and percent": lambda header: header.translate(
        str.maketrans("()%", "（）％")
    ),
    "a full-width colon after it": lambda header: f"{header}：",
    "a colon and a space after it": lambda header: f"{header}: ",
}


@pytest.mark.parametrize("retype", RETYPED_HEADERS.values(), ids=RETYPED_HEADERS)
@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_retyped_header_is_the_same_header(
    tmp_path: Path, kind: str, retype: Callable[[str], str]
) -> None:
    headers = [retype(header) for header in ("任务编号", "进展状态", "完成进度(%)", "填报日期")]
    values = ["T-01", "推进中", "50", "2021-03-31"]
    if kind == "xlsx":
        data = xlsx(tmp_path / "进展.xlsx", [headers, values])
    else:
        text = io.StringIO()
        csv.writer(text).writerows([headers, values])  # quotes a header with a line break
        data = write(tmp_path / "进展.csv", text.getvalue().encode())
    read = read_payload(data, f"进展.{kind}")
    assert task_values(read) == [
        {"task": "T-01", "status": "推进中", "percent": "50", "reported_on": "2021-03-31"}
    ]
    assert read.task_rows[0].headers["task"] == headers[0].strip()


def test_a_cell_formatted_as_percent_is_marked(tmp_path: Path) -> None:
    data = xlsx(
        tmp_path / "a.xlsx",
        [["任务编号", "完成进度"], ["T-01", 0.8], ["T-03", 80]],
        formats={"B2": "0%"},
    )
    rows = read_payload(data, "a.xlsx").task_rows
    assert (rows[0].cells["percent"].value, rows[0].cells["percent"].percent_format) == (0.8, True)
    assert rows[1].cells["percent"].percent_format is False


def test_the_template_sheet_is_read_and_others_are_not(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "说明"
    notes.append(["填报说明：任务编号不要改"])
    tasks = workbook.create_sheet("任务进展")
    tasks.append(["任务编号", "完成进度"])
    tasks.append(["T-01", 30])
    indicators = workbook.create_sheet("指标数据")
    indicators.append(["指标数据填报表"])
    indicators.append(["指标编号", "指标名称", "当前值", "统计时点"])
    indicators.append(["I-01", "城镇青年调查失业率", 5.6, date(2021, 3, 31)])
    meta = workbook.create_sheet("_meta")
    meta.append(["program", "demo"])
    meta.append(["unit", "tw"])
    meta.sheet_state = "hidden"
    workbook.save(tmp_path / "a.xlsx")

    read = read_payload((tmp_path / "a.xlsx").read_bytes(), "a.xlsx")
    assert [(row.sheet, row.number, row.value("task")) for row in read.task_rows] == [
        ("任务进展", 2, "T-01")
    ]
    assert [
        (row.sheet, row.number, row.value("indicator"), row.value("value"), row.value("as_of"))
        for row in read.indicator_rows
    ] == [("指标数据", 3, "I-01", 5.6, date(2021, 3, 31))]
    assert read.meta == {"program": "demo", "unit": "tw"}


def test_a_formula_without_a_cached_value_is_reported_as_such(tmp_path: Path) -> None:
    data = xlsx(
        tmp_path / "a.xlsx",
        [
            ["任务编号", "进展状态", "完成进度"],
            ["T-01", "推进中", "=50+10"],
            ["T-03", "推进中", 40],
        ],
    )
    read = read_payload(data, "a.xlsx")
    assert read.task_rows[0].value("percent") is None
    assert read.formula_cells == {("任务进展", 2, "percent")}


class Opens:
    """Each reader's opens of a workbook, counted: openpyxl's and python-calamine's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        import python_calamine

        self.openpyxl: list[dict[str, Any]] = []
        self.calamine = 0
        load, calamine = openpyxl.load_workbook, python_calamine.CalamineWorkbook

        def counted_openpyxl(*args: Any, **kwargs: Any) -> Any:
            self.openpyxl.append(kwargs)
            return load(*args, **kwargs)

        class Counted:
            @staticmethod
            def from_filelike(*args: Any, **kwargs: Any) -> Any:
                self.calamine += 1
                return calamine.from_filelike(*args, **kwargs)

        monkeypatch.setattr(openpyxl, "load_workbook", counted_openpyxl)
        monkeypatch.setattr(python_calamine, "CalamineWorkbook", Counted)


def mixed_workbook(path: Path, **cells: Any) -> bytes:
    """Tasks, indicators and the hidden metadata, with every kind of value a liaison types;
    ``cells`` set more (``C2="=50+10"``) on the task sheet."""
    workbook = openpyxl.Workbook()
    tasks = workbook.active
    tasks.title = "任务进展"
    for row in (
        ["任务编号", "进展状态", "完成进度", "进展情况", "存在问题", "填报日期"],
        ["T-01", "推进中", 60, "  召开联席会议  ", None, date(2021, 3, 31)],
        [3, "已完成", 100.0, "印发方案", "", datetime(2021, 3, 30, 9, 30)],
        ["T-04", None, 12.5, True, "   ", "2021年3月29日"],
    ):
        tasks.append(row)
    for ref, value in cells.items():
        tasks[ref] = value
    indicators = workbook.create_sheet("指标数据")
    for row in (["指标编号", "当前值", "统计时点"], ["I-01", 1234567.25, date(2021, 3, 31)]):
        indicators.append(row)
    stale = workbook.create_sheet("任务进展（旧）")
    stale.append(["任务编号", "进展状态"])
    stale.sheet_state = "hidden"
    meta = workbook.create_sheet("_meta")
    for row in (["program", "demo"], ["unit", "tw"], ["template_version", 2]):
        meta.append(row)
    meta.sheet_state = "veryHidden"
    workbook.save(path)
    return path.read_bytes()


def test_a_workbook_of_values_is_read_once_by_calamine_as_openpyxl_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = mixed_workbook(tmp_path / "a.xlsx")
    by_openpyxl = payload._read_workbook(data)
    opens = Opens(monkeypatch)
    read = read_payload(data, "a.xlsx")
    assert (opens.calamine, opens.openpyxl) == (1, [])
    assert read == by_openpyxl
    assert [(row.value("task"), row.value("percent")) for row in read.task_rows] == [
        ("T-01", 60),
        (3, 100),  # a number, as openpyxl reads it; intake makes it the code "3"
        ("T-04", 12.5),
    ]
    assert read.task_rows[0].value("progress") == "召开联席会议"
    assert read.task_rows[1].value("reported_on") == datetime(2021, 3, 30, 9, 30)
    assert read.indicator_rows[0].value("as_of") == date(2021, 3, 31)
    assert read.meta == {"program": "demo", "unit": "tw", "template_version": "2"}
    assert read.notes == ["已读取工作表“任务进展”；隐藏的工作表“任务进展（旧）”也是填报表，未读取"]


@pytest.mark.parametrize(
    ("cells", "formats"),
    [
        ({"C2": "=50+10"}, {}),  # a formula: is its cached value there?
        ({}, {"C3": "0%"}),  # a percent format: 0.6 is 60
        ({}, {"C3": "0.0%"}),
        ({"XFD1048576": "远处"}, {}),  # a sheet python-calamine would build 17 billion cells wide
        ({"A20002": "x"}, {}),  # more rows than are read
    ],
)
def test_a_workbook_that_needs_openpyxl_is_opened_once_by_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cells: dict[str, Any],
    formats: dict[str, str],
) -> None:
    path = tmp_path / "a.xlsx"
    mixed_workbook(path, **cells)
    workbook = openpyxl.load_workbook(path)
    for ref, number_format in formats.items():
        workbook["任务进展"][ref].number_format = number_format
    workbook.save(path)
    opens = Opens(monkeypatch)
    try:
        read_payload(path.read_bytes(), "a.xlsx")
    except PayloadError as error:  # the rows beyond the cap are refused, as before
        assert "行" in str(error)
    assert opens.calamine == 0 and len(opens.openpyxl) == 1


def test_a_sheet_larger_than_calamine_builds_whole_is_read_by_openpyxl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = mixed_workbook(tmp_path / "a.xlsx", J9="远处")  # 9 rows × 10 columns: 90 cells
    monkeypatch.setattr(payload, "MAX_PLAIN_CELLS", 89)
    opens = Opens(monkeypatch)
    assert len(read_payload(data, "a.xlsx").task_rows) == 3
    assert opens.calamine == 0 and len(opens.openpyxl) == 1
    monkeypatch.setattr(payload, "MAX_PLAIN_CELLS", 90)
    assert len(read_payload(data, "a.xlsx").task_rows) == 3
    assert opens.calamine == 1 and len(opens.openpyxl) == 1


SHEET_XML = "xl/worksheets/sheet1.xml"  # the task sheet of ``mixed_workbook``


def _sheet_xml(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(SHEET_XML)


def test_an_error_cell_is_read_by_openpyxl_as_it_was_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.xlsx"
    mixed_workbook(path)
    sheet = _sheet_xml(path)
    error = re.sub(rb'<c r="C3"[^>]*>.*?</c>', b'<c r="C3" t="e"><v>#DIV/0!</v></c>', sheet)
    data = rewrite(path, tmp_path / "b.xlsx", replace={SHEET_XML: error})
    opens = Opens(monkeypatch)
    read = read_payload(data, "a.xlsx")
    assert opens.calamine == 0 and len(opens.openpyxl) == 1
    assert read.task_rows[1].value("percent") == "#DIV/0!"  # not a blank: the row check names it


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"<sheetData>", b"<sheetData>&lol;"),  # an entity it never declares
        (b"<worksheet ", b'<!DOCTYPE x [<!ENTITY lol "lol">]><worksheet '),  # a DTD
    ],
)
def test_an_entity_sends_a_workbook_to_openpyxl_which_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: bytes, after: bytes
) -> None:
    path = tmp_path / "a.xlsx"
    mixed_workbook(path)
    sheet = _sheet_xml(path)
    assert before in sheet
    replace = {SHEET_XML: sheet.replace(before, after, 1)}
    data = rewrite(path, tmp_path / "b.xlsx", replace=replace)
    opens = Opens(monkeypatch)
    with pytest.raises(PayloadError, match="工作簿无法读取"):
        read_payload(data, "a.xlsx")
    assert opens.calamine == 0 and len(opens.openpyxl) == 1


def test_a_workbook_with_formulas_is_opened_once_for_its_rows_metadata_and_formulas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workbook = openpyxl.Workbook()
    tasks = workbook.active
    tasks.title = "任务进展"
    for row in (
        ["任务编号", "进展状态", "完成进度"],
        ["T-01", "推进中", "=50+10"],
        ["T-03", None, 40],
    ):
        tasks.append(row)
    indicators = workbook.create_sheet("指标数据")
    for row in (["指标编号", "当前值", "统计时点"], ["I-01", "=1+1", date(2021, 3, 31)]):
        indicators.append(row)
    meta = workbook.create_sheet("_meta")
    meta.append(["unit", "tw"])
    meta.sheet_state = "hidden"
    workbook.save(tmp_path / "a.xlsx")
    opens = Opens(monkeypatch)
    read = read_payload((tmp_path / "a.xlsx").read_bytes(), "a.xlsx")
    assert opens.calamine == 0
    assert len(opens.openpyxl) == 1 and opens.openpyxl[0]["data_only"] is True
    # A blank status is not a formula; the formulas without a cached value are named.
    assert read.formula_cells == {("任务进展", 2, "percent"), ("指标数据", 2, "value")}
    assert [(row.value("task"), row.value("percent")) for row in read.task_rows] == [
        ("T-01", None),
        ("T-03", 40),
    ]
    assert read.indicator_rows[0].value("as_of") == date(2021, 3, 31)
    assert read.meta == {"unit": "tw"}


# --- CSV: encodings and separators -----------------------------------------------------------

CSV_LINES = [
    ["任务编号", "进展状态", "完成进度", "进展情况", "填报日期"],
    ["T-01", "推进中", "80%", "召开联席会议", "2021/3/31"],
    ["T-03", "已完成", "100", "印发实施方案", "2021年3月30日"],
]
CSV_VALUES = [
    {
        "task": "T-01",
        "status": "推进中",
        "percent": "80%",
        "progress": "召开联席会议",
        "reported_on": "2021/3/31",
    },
    {
        "task": "T-03",
        "status": "已完成",
        "percent": "100",
        "progress": "印发实施方案",
        "reported_on": "2021年3月30日",
    },
]


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gbk", b""), ("gb18030", b"")],
    ids=["utf-8", "utf-8-bom", "gbk", "gb18030"],
)
def test_a_csv_is_read_in_every_encoding_units_save_in(
    tmp_path: Path, encoding: str, prefix: bytes
) -> None:
    data = write(tmp_path / "a.csv", prefix + csv_bytes(CSV_LINES).encode(encoding))
    read = read_payload(data, "a.csv")
    assert read.kind == "csv"
    assert task_values(read) == CSV_VALUES
    assert [row.number for row in read.task_rows] == [2, 3]
    # the byte-order mark is not part of the first header
    assert read.task_rows[0].headers["task"] == "任务编号"


def test_a_gb18030_csv_keeps_characters_gbk_lacks(tmp_path: Path) -> None:
    text = "𠮷祥村青年驿站已投用"
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    lines = [["任务编号", "进展情况", "完成进度"], ["T-01", text, "50"]]
    data = write(tmp_path / "a.csv", csv_bytes(lines).encode("gb18030"))
    read = read_payload(data, "a.csv")
    assert task_values(read) == [{"task": "T-01", "progress": text, "percent": "50"}]


def test_a_tab_separated_file_is_read(tmp_path: Path) -> None:
    data = write(tmp_path / "a.txt", csv_bytes(CSV_LINES, delimiter="\t").encode("utf-8"))
    assert task_values(read_payload(data, "a.txt")) == CSV_VALUES


def test_a_csv_with_title_lines_blank_lines_and_extra_columns(tmp_path: Path) -> None:
    text = (
        "团县委任务进展报送表,,,\r\n"
        "\r\n"
        "序号, 任务 编号 ,备注,完成进度,进展状态\r\n"
        "1,T-01,无,60,推进中\r\n"
        ",,,,\r\n"
        "\r\n"
        "2,T-03,,90,推进中\r\n"
    )
    read = read_payload(write(tmp_path / "a.csv", text.encode("gbk")), "a.csv")
    assert [(row.number, row.value("task"), row.value("percent")) for row in read.task_rows] == [
        (4, "T-01", "60"),
        (7, "T-03", "90"),
    ]


def test_chinese_commas_in_the_text_do_not_split_a_comma_separated_file(tmp_path: Path) -> None:
    # a real 进展情况 is a paragraph, and Chinese paragraphs are full of "，"
    progress = (
        "今年以来，我单位高度重视，主要领导亲自部署，分管领导具体负责，"
        "一是召开联席会议，二是印发实施方案，三是开展青年调查，四是建立工作台账，五是组织业务培训，"
        "共覆盖青年3200余人，走访企业45家，收集意见建议126条，形成问题清单和责任清单，逐项推动落实"
    )
    problems = "一是经费不足，二是人员紧张，三是部门协调不畅，四是基层宣传不够"
    next_steps = "一是争取专项经费，二是充实专班力量，三是加强部门协同，四是加大宣传力度"
    lines = [
        TEMPLATE_HEADERS,
        [
            "T-01",
            "联席会议",
            "推进中",
            "60",
            progress,
            problems,
            next_steps,
            "会议纪要",
            "2021-03-31",
        ],
    ]
    text = csv_bytes(lines)
    assert text.count("，") > text.count(",")
    data = write(tmp_path / "a.csv", text.encode("utf-8"))
    read = read_payload(data, "a.csv")
    assert [
        (row.value("task"), row.value("percent"), row.value("progress")) for row in read.task_rows
    ] == [("T-01", "60", progress)]


def test_a_csv_holds_a_task_table_and_an_indicator_table(tmp_path: Path) -> None:
    text = "任务编号,完成进度\nT-01,40\n\n指标编号,当前值,统计时点\nI-01,5.6,2021-03-31\n"
    read = read_payload(write(tmp_path / "a.csv", text.encode()), "a.csv")
    assert [(row.number, row.value("task")) for row in read.task_rows] == [(2, "T-01")]
    assert [
        (row.number, row.value("indicator"), row.value("value")) for row in read.indicator_rows
    ] == [(5, "I-01", "5.6")]


# --- JSON ----------------------------------------------------------------------------------


def test_json_with_chinese_keys(tmp_path: Path) -> None:
    document = {
        "meta": {"program": "demo", "unit": "tw"},
        "tasks": [
            {"任务编号": "T-01", "进展状态": "推进中", "完成进度": "80%", "填报日期": "2021-03-31"},
            {"任务编号": "T-03", "进展状态": "已完成", "完成进度": 100, "其他": "忽略"},
        ],
        "indicators": [{"指标编号": "I-01", "当前值": 5.6, "统计时点": "2021-03-31"}],
    }
    data = write(tmp_path / "a.json", json.dumps(document, ensure_ascii=False).encode())
    read = read_payload(data, "a.json")
    assert read.kind == "json"
    assert read.meta == {"program": "demo", "unit": "tw"}
    assert task_values(read) == [
        {"task": "T-01", "status": "推进中", "percent": "80%", "reported_on": "2021-03-31"},
        {"task": "T-03", "status": "已完成", "percent": 100},
    ]
    assert [(row.sheet, row.number) for row in read.task_rows] == [("tasks", 1), ("tasks", 2)]
    assert read.task_rows[0].headers["percent"] == "完成进度"
    assert [row.value("value") for row in read.indicator_rows] == [5.6]


def test_json_with_english_keys_from_an_api(tmp_path: Path) -> None:
    document = {
        "tasks": [
            {
                "task_code": "T-01",
                "status": "in progress",
                "percent": 0.8,
                "progress": "联席会议已召开",
                "date": "2021-03-31",
            }
        ]
    }
    data = write(tmp_path / "status", json.dumps(document).encode())
    read = read_payload(data, "status", "application/json; charset=utf-8")
    assert task_values(read) == [
        {
            "task": "T-01",
            "status": "in progress",
            "percent": 0.8,
            "progress": "联席会议已召开",
            "reported_on": "2021-03-31",
        }
    ]


def test_a_json_list_is_a_list_of_tasks(tmp_path: Path) -> None:
    data = write(tmp_path / "a.json", b'[{"task": "T-01", "percent": 10}]')
    assert task_values(read_payload(data, "a.json")) == [{"task": "T-01", "percent": 10}]


# --- what is refused -------------------------------------------------------------------------


def test_a_file_named_xlsx_that_is_not_a_workbook(tmp_path: Path) -> None:
    data = write(tmp_path / "进展.xlsx", "任务编号,完成进度\nT-01,80\n".encode())
    reason = refused(data, "进展.xlsx")
    assert "不是 Excel 工作簿" in reason and "另存为 .xlsx" in reason


def test_an_empty_file_named_xlsx(tmp_path: Path) -> None:
    reason = refused(write(tmp_path / "a.xlsx", b""), "a.xlsx")
    assert "不是 Excel 工作簿" in reason


@pytest.mark.parametrize("name", ["进展.xls", "进展.xlsx", "进展"])
def test_an_old_xls_or_a_password_protected_workbook(tmp_path: Path, name: str) -> None:
    data = write(tmp_path / "a.bin", bytes.fromhex("d0cf11e0a1b11ae1") + bytes(range(256)) * 8)
    reason = refused(data, name)
    assert ".xls" in reason and "密码" in reason and "另存为 .xlsx" in reason


def test_a_truncated_workbook(tmp_path: Path) -> None:
    whole = xlsx(tmp_path / "a.xlsx", [["任务编号", "完成进度"], ["T-01", 50]])
    reason = refused(write(tmp_path / "b.xlsx", whole[: len(whole) // 2]), "b.xlsx")
    assert "损坏" in reason and "重新保存" in reason


def test_a_workbook_of_a_zip_version_python_cannot_read(tmp_path: Path) -> None:
    whole = xlsx(tmp_path / "a.xlsx", [["任务编号", "完成进度"], ["T-01", 50]])
    at = whole.index(b"PK\x01\x02") + 6  # the central directory's "version needed"
    data = whole[:at] + b"\xd4\x00" + whole[at + 2 :]  # 21.2: zipfile raises NotImplementedError
    reason = refused(data, "a.xlsx")
    assert "损坏" in reason and "重新保存" in reason


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "photos.xlsx", "w") as archive:
        archive.writestr("photo.txt", "not a workbook")
    reason = refused((tmp_path / "photos.xlsx").read_bytes(), "photos.xlsx")
    assert "工作簿无法读取" in reason and "重新保存为 .xlsx" in reason


def test_a_workbook_without_the_headers(tmp_path: Path) -> None:
    data = xlsx(tmp_path / "a.xlsx", [["序号", "事项", "情况"], [1, "联席会议", "已召开"]])
    reason = refused(data, "a.xlsx")
    assert "未找到填报表" in reason and "下发的填报表" in reason


def test_a_csv_without_the_headers(tmp_path: Path) -> None:
    reason = refused(write(tmp_path / "a.csv", "序号,情况\n1,已召开\n".encode()), "a.csv")
    assert "未找到表头" in reason and "任务编号" in reason


def test_a_csv_in_an_unknown_encoding(tmp_path: Path) -> None:
    reason = refused(write(tmp_path / "a.csv", b"\xff\xfe\xff\xff" * 10), "a.csv")
    assert "编码" in reason and "UTF-8" in reason and "GBK" in reason


def test_an_oversized_payload_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payload, "MAX_PAYLOAD_BYTES", 4096)
    data = write(tmp_path / "a.csv", ("任务编号,完成进度\n" + "T-01,80\n" * 1000).encode())
    reason = refused(data, "a.csv")
    assert "文件过大" in reason and "不得超过" in reason


def test_truncated_json(tmp_path: Path) -> None:
    whole = json.dumps({"tasks": [{"task": "T-01", "percent": 80}]}).encode()
    reason = refused(write(tmp_path / "a.json", whole[:-7]), "a.json")
    assert "不是有效的 JSON" in reason and "传输不完整" in reason and "第 1 行" in reason


@pytest.mark.parametrize(
    "document",
    [b'"tasks"', b'{"tasks": {"task": "T-01"}}', b'{"tasks": ["T-01"]}'],
    ids=["a-string", "tasks-not-a-list", "task-not-an-object"],
)
def test_json_of_the_wrong_shape(tmp_path: Path, document: bytes) -> None:
    reason = refused(write(tmp_path / "a.json", document), "a.json")
    assert "数据格式不符" in reason


HTML = (
    b"<!DOCTYPE html>\n<html><head><title>\xe7\x99\xbb\xe5\xbd\x95</title></head>"
    b"<body><form action='/login'>...</form></body></html>"
)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("status", "text/html; charset=utf-8"),
        ("status", ""),
        # an http source declared as JSON whose server answers a login page
        ("status.json", "text/html; charset=utf-8"),
    ],
    ids=["html", "no-content-type", "named-json"],
)
def test_an_html_page_is_refused_as_a_web_page(
    tmp_path: Path, name: str, content_type: str
) -> None:
    reason = refused(write(tmp_path / "page", HTML), name, content_type)
    assert "网页" in reason and "HTML" in reason and "数据接口" in reason


# --- hostile workbooks ------------------------------------------------------------------------


@pytest.fixture
def good_workbook(tmp_path: Path) -> Path:
    path = tmp_path / "good.xlsx"
    xlsx(path, [["任务编号", "进展状态", "完成进度"], ["T-01", "推进中", 80]])
    assert read_payload(path.read_bytes(), "good.xlsx").task_rows  # readable as it is
    return path


@pytest.mark.parametrize(
    "big",
    [("xl/media/padding.bin", 8), ("xl/worksheets/sheet1.xml", 8)],
    ids=["extra-entry", "sheet-replaced"],
)
def test_a_zip_bomb_is_refused_by_its_declared_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good_workbook: Path, big: tuple[str, int]
) -> None:
    bounds = dataclasses.replace(payload.XLSX_BOUNDS, uncompressed=4 * MB)
    monkeypatch.setattr(payload, "XLSX_BOUNDS", bounds)
    with zipfile.ZipFile(good_workbook) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    head, tail = sheet.split(b"</sheetData>")
    data = rewrite(
        good_workbook,
        tmp_path / "bomb.xlsx",
        big=big,
        # the replaced sheet stays well-formed XML: the padding is whitespace
        big_prefix=head if big[0].endswith(".xml") else b"",
        big_suffix=b"</sheetData>" + tail if big[0].endswith(".xml") else b"",
        big_fill=b" " if big[0].endswith(".xml") else b"\0",
    )
    assert len(data) < 200 * 1024
    with zipfile.ZipFile(tmp_path / "bomb.xlsx") as archive:
        assert archive.getinfo(big[0]).file_size >= 8 * MB
    started = time.perf_counter()
    reason = refused(data, "bomb.xlsx")
    assert "解压后过大" in reason and "已拒收" in reason
    assert time.perf_counter() - started < 0.5


def test_a_member_compressed_too_well_is_refused(tmp_path: Path, good_workbook: Path) -> None:
    data = rewrite(good_workbook, tmp_path / "bomb.xlsx", big=("xl/media/image1.bin", 3))
    reason = refused(data, "bomb.xlsx")
    assert "压缩比异常" in reason and "已拒收" in reason


def test_a_workbook_with_too_many_entries_is_refused(tmp_path: Path, good_workbook: Path) -> None:
    extra = {f"xl/media/image{number}.png": b"x" for number in range(payload.MAX_ZIP_ENTRIES)}
    reason = refused(rewrite(good_workbook, tmp_path / "many.xlsx", add=extra), "many.xlsx")
    assert "内部文件过多" in reason and "已拒收" in reason


LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{level} "{("&lol" + (str(level - 1) if level > 1 else "") + ";") * 10}">'
        for level in range(1, 10)
    )
    + "]>"
).encode()
SHARED_STRINGS_TYPE = (
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)


def with_doctype(xml: bytes, doctype: bytes) -> bytes:
    """The XML with a DOCTYPE put before its root element."""
    match = re.search(rb"<(?![?!])", xml)
    assert match is not None
    return xml[: match.start()] + doctype + xml[match.start() :]


@pytest.mark.parametrize("part", ["sharedStrings", "sheet"])
def test_an_xml_entity_bomb_is_refused_not_expanded(
    tmp_path: Path, good_workbook: Path, part: str
) -> None:
    with zipfile.ZipFile(good_workbook) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
        types = archive.read("[Content_Types].xml")
    if part == "sheet":
        hostile = sheet.replace(b"<t>T-01</t>", b"<t>T-01&lol9;</t>")
        assert hostile != sheet
        data = rewrite(
            good_workbook,
            tmp_path / "bomb.xlsx",
            replace={"xl/worksheets/sheet1.xml": with_doctype(hostile, LAUGHS)},
        )
    else:
        strings = (
            b'<?xml version="1.0"?>'
            + LAUGHS
            + b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
        )
        data = rewrite(
            good_workbook,
            tmp_path / "bomb.xlsx",
            replace={
                "[Content_Types].xml": types.replace(b"</Types>", SHARED_STRINGS_TYPE + b"</Types>")
            },
            add={"xl/sharedStrings.xml": strings},
        )
    started = time.perf_counter()
    reason = refused(data, "bomb.xlsx")
    assert "工作簿无法读取" in reason and "重新保存为 .xlsx" in reason
    assert "lollol" not in reason
    assert time.perf_counter() - started < 2


def test_an_external_entity_is_not_resolved(tmp_path: Path, good_workbook: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("database password 123")
    with zipfile.ZipFile(good_workbook) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    doctype = f'<!DOCTYPE x [<!ENTITY secret SYSTEM "file://{secret}">]>'.encode()
    hostile = with_doctype(sheet.replace(b"<t>T-01</t>", b"<t>&secret;</t>"), doctype)
    data = rewrite(
        good_workbook, tmp_path / "xxe.xlsx", replace={"xl/worksheets/sheet1.xml": hostile}
    )
    reason = refused(data, "xxe.xlsx")
    assert "password" not in reason


def test_even_a_small_entity_is_refused_not_expanded(tmp_path: Path, good_workbook: Path) -> None:
    # small enough that a plain XML parser would expand it without complaint
    with zipfile.ZipFile(good_workbook) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    doctype = ('<!DOCTYPE x [<!ENTITY e "' + "青" * 100 + '">]>').encode()
    hostile = with_doctype(
        sheet.replace(b"<t>T-01</t>", b"<t>T-01" + b"&e;" * 50 + b"</t>"), doctype
    )
    data = rewrite(
        good_workbook, tmp_path / "entity.xlsx", replace={"xl/worksheets/sheet1.xml": hostile}
    )
    reason = refused(data, "entity.xlsx")
    assert "工作簿无法读取" in reason and "青青" not in reason


# --- every payload ends as rows or a reason, never as an exception ---------------------------

DEEP = 100_000


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (b"[" * DEEP + b"]" * DEEP, ("层",)),
        (b'{"tasks": ' + b"[" * DEEP + b"]" * DEEP + b"}", ("层",)),
        (
            b'{"tasks": [{"task": "T-01", "progress": '
            + b'{"a":' * DEEP
            + b"1"
            + b"}" * DEEP
            + b"}]}",
            ("层",),
        ),
        (b'{"tasks": [{"task": "T-01", "percent": 50, "percent": 60}]}', ("percent", "重复")),
        (
            '{"tasks": [{"task": "T-01", "完成进度": 50, "percent": 60}]}'.encode(),
            ("完成进度", "percent"),
        ),
        (b'"tasks"', ("数据格式不符",)),
        (b"42", ("数据格式不符",)),
        (b"null", ("数据格式不符",)),
    ],
    ids=[
        "deep-list",
        "deep-tasks",
        "deep-value",
        "duplicate-key",
        "two-keys-for-one-field",
        "top-level-string",
        "top-level-number",
        "top-level-null",
    ],
)
def test_hostile_json_is_refused_with_a_reason(
    tmp_path: Path, document: bytes, words: tuple[str, ...]
) -> None:
    reason = refused(write(tmp_path / "a.json", document), "a.json")
    for word in words:
        assert word in reason, reason


@pytest.mark.parametrize(
    "token",
    ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000],
    ids=["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "5000-digits"],
)
def test_json_numbers_that_are_not_finite_reach_the_row_check_as_written(
    tmp_path: Path, token: str
) -> None:
    document = '{"indicators": [{"indicator": "I-01", "value": ' + token + "}]}"
    read = read_payload(write(tmp_path / "a.json", document.encode()), "a.json")
    value = read.indicator_rows[0].value("value")
    # not a float the database cannot hold: the row check names it and rejects the row
    assert value == token


def test_control_characters_and_lone_surrogates_in_json_are_made_storable(
    tmp_path: Path,
) -> None:
    document = (
        b'{"tasks": [{"task": "T-01", "progress": "\\u0000\\ud800ok\\u001b", "\\u0000x": 1}]}'
    )
    read = read_payload(write(tmp_path / "a.json", document), "a.json")
    progress = read.task_rows[0].value("progress")
    progress.encode("utf-8")  # storable: no lone surrogate
    assert "\x00" not in progress and "\x1b" not in progress and "ok" in progress


def test_an_oversized_csv_field_is_refused_with_its_line(tmp_path: Path) -> None:
    data = write(
        tmp_path / "a.csv", ("任务编号,进展情况\nT-01,短\nT-03," + "长" * 200_000 + "\n").encode()
    )
    reason = refused(data, "a.csv")
    assert "第 3 行" in reason and "过长" in reason, reason


def test_a_csv_with_nul_bytes_is_refused_as_not_text(tmp_path: Path) -> None:
    data = write(tmp_path / "a.csv", "任务编号,完成进度\nT-01,5\x000\n".encode())
    reason = refused(data, "a.csv")
    assert "空字符" in reason and "CSV UTF-8" in reason, reason


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-le", b""),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-be", b""),
    ],
    ids=["le-bom", "le", "be-bom", "be"],
)
def test_a_utf16_csv_is_read(tmp_path: Path, encoding: str, bom: bytes) -> None:
    data = write(tmp_path / "a.csv", bom + csv_bytes(CSV_LINES, delimiter="\t").encode(encoding))
    read = read_payload(data, "a.csv")
    assert task_values(read) == CSV_VALUES
    assert read.task_rows[0].headers["task"] == "任务编号"


def test_utf16_that_is_not_text_is_refused_as_an_encoding(tmp_path: Path) -> None:
    reason = refused(write(tmp_path / "a.csv", b"\xff\xfe" + b"\x00\xd8\x41\x00" * 20), "a.csv")
    assert "编码" in reason and "UTF-8" in reason


# --- two columns for one field ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        (
            ["任务编号", "完成进度", "进展情况", "完成进度"],
            ("“完成进度”（B列）", "“完成进度”（D列）"),
        ),
        (["任务编号", "完成进度", "进度"], ("“完成进度”（B列）", "“进度”（C列）")),
        (["任务编号", "编号", "完成进度"], ("“任务编号”（A列）", "“编号”（B列）")),
    ],
    ids=["same-header", "alias", "task-code"],
)
def test_two_columns_for_one_field_in_a_workbook_are_refused_naming_both(
    tmp_path: Path, headers: list[str], named: tuple[str, str]
) -> None:
    data = xlsx(tmp_path / "a.xlsx", [headers, ["T-01", 50, 60, 70]])
    reason = refused(data, "a.xlsx")
    for name in named:
        assert name in reason, reason
    assert "任务进展" in reason and "第 1 行" in reason and "删除" in reason


def test_two_columns_for_one_field_in_a_csv_are_refused_naming_both(tmp_path: Path) -> None:
    data = write(tmp_path / "a.csv", "说明\n任务编号,完成进度,进度\nT-01,50,60\n".encode())
    reason = refused(data, "a.csv")
    assert (
        "第 2 行" in reason and "“完成进度”（第 2 列）" in reason and "“进度”（第 3 列）" in reason
    )


# --- hidden sheets ------------------------------------------------------------------------------


def two_sheets(path: Path, hidden_state: str | None, second_title: str = "任务进展 (2)") -> bytes:
    """The template's sheet with stale rows, and a copy with the new ones."""
    workbook = openpyxl.Workbook()
    stale = workbook.active
    stale.title = "任务进展"
    stale.append(["任务编号", "完成进度"])
    stale.append(["T-01", 10])
    fresh = workbook.create_sheet(second_title)
    fresh.append(["任务编号", "完成进度"])
    fresh.append(["T-01", 80])
    if hidden_state:
        stale.sheet_state = hidden_state
        workbook.active = 1
    workbook.save(path)
    return path.read_bytes()


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_is_not_read_over_the_visible_one(tmp_path: Path, state: str) -> None:
    read = read_payload(two_sheets(tmp_path / "a.xlsx", state), "a.xlsx")
    assert [(row.sheet, row.value("percent")) for row in read.task_rows] == [("任务进展 (2)", 80)]
    assert any("任务进展" in note and "隐藏" in note for note in read.notes), read.notes


def test_two_visible_sheets_that_both_qualify_are_refused_naming_both(tmp_path: Path) -> None:
    reason = refused(two_sheets(tmp_path / "a.xlsx", None), "a.xlsx")
    assert "“任务进展”" in reason and "“任务进展 (2)”" in reason and "只保留" in reason, reason


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_workbook_whose_only_progress_sheet_is_hidden_says_so(tmp_path: Path, state: str) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    tasks = workbook.create_sheet("任务进展")
    tasks.append(["任务编号", "完成进度"])
    tasks.append(["T-01", 10])
    tasks.sheet_state = state
    workbook.save(tmp_path / "a.xlsx")
    reason = refused((tmp_path / "a.xlsx").read_bytes(), "a.xlsx")
    assert "“任务进展”" in reason and "隐藏" in reason and "取消隐藏" in reason, reason


# --- the row cap holds for blank rows too (hostile loads run in a caged child) -----------------

CAGE_SECONDS = 120


def caged(script: str, *args: str) -> str:
    """Run ``script`` in a child with 2 GB of memory and 60 s of CPU; return what it printed.

    A regression then fails the test instead of eating the machine.
    """

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))

    try:
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            timeout=CAGE_SECONDS,
            preexec_fn=limits,  # the child runs no threads before exec
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the child ran for more than {CAGE_SECONDS} s")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


READ_IN_A_CAGE = """
import sys, time
from pathlib import Path
from pilot_tracker.collect.payload import read_payload
from pilot_tracker.errors import PayloadError
path = Path(sys.argv[1])
started = time.perf_counter()
try:
    read = read_payload(path.read_bytes(), path.name)
    print(f"read {len(read.task_rows)} rows")
except PayloadError as error:
    print(f"refused: {error}")
print(f"seconds: {time.perf_counter() - started:.1f}", file=sys.stderr)
"""


def sheet_xml(rows: Iterable[bytes], dimension: str) -> Iterator[bytes]:
    yield (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<dimension ref="'
        + dimension.encode()
        + b'"/><sheetData>'
        + '<row r="1"><c r="A1" t="inlineStr"><is><t>任务编号</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>完成进度</t></is></c></row>'.encode()
        + b'<row r="2"><c r="A2" t="inlineStr"><is><t>T-01</t></is></c><c r="B2"><v>50</v></c></row>'
    )
    yield from rows
    yield b"</sheetData></worksheet>"


def workbook_with_sheet(tmp_path: Path, name: str, chunks: Iterable[bytes]) -> Path:
    """A one-sheet workbook whose sheet XML is streamed from ``chunks``."""
    source = tmp_path / "source.xlsx"
    openpyxl.Workbook().save(source)
    target = tmp_path / name
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy,
    ):
        for info in original.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                with copy.open(info.filename, "w", force_zip64=True) as stream:
                    for chunk in chunks:
                        stream.write(chunk)
            else:
                copy.writestr(info.filename, original.read(info.filename))
    return target


def test_a_million_blank_rows_stop_at_the_row_cap(tmp_path: Path) -> None:
    rows = (
        b'<row r="%d"><c r="A%d" t="inlineStr"><is><t> </t></is></c><c r="C%d"/></row>'
        % (number, number, number)
        for number in range(3, 1_000_001)
    )
    path = workbook_with_sheet(tmp_path, "blank.xlsx", sheet_xml(rows, "A1:C1000000"))
    outcome = caged(READ_IN_A_CAGE, str(path))
    assert outcome.startswith("refused:") and "20000" in outcome and "空行" in outcome, outcome


def test_one_cell_at_the_far_corner_stops_at_the_row_cap(tmp_path: Path) -> None:
    rows = [b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>']
    path = workbook_with_sheet(tmp_path, "corner.xlsx", sheet_xml(rows, "A1:XFD1048576"))
    outcome = caged(READ_IN_A_CAGE, str(path))
    assert outcome.startswith("refused:") and "20000" in outcome, outcome


def test_a_csv_of_a_million_blank_lines_stops_at_the_row_cap(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes("任务编号,完成进度\nT-01,50\n".encode() + b",\n" * 1_000_000)
    outcome = caged(READ_IN_A_CAGE, str(path))
    assert outcome.startswith("refused:") and "20000" in outcome and "空行" in outcome, outcome


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"], ids=["cr", "crlf", "lf"])
def test_a_csv_is_read_with_any_line_ending(tmp_path: Path, ending: str) -> None:
    text = ending.join(",".join(line) for line in CSV_LINES) + ending
    read = read_payload(write(tmp_path / "a.csv", text.encode()), "a.csv")
    assert task_values(read) == CSV_VALUES


def test_a_hidden_sheet_of_the_other_kind_is_named_in_the_notes(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    tasks = workbook.active
    tasks.title = "任务进展"
    tasks.append(["任务编号", "完成进度"])
    tasks.append(["T-01", 5])
    indicators = workbook.create_sheet("指标数据")
    indicators.append(["指标编号", "当前值"])
    indicators.append(["I-01", 3])
    indicators.sheet_state = "hidden"
    workbook.save(tmp_path / "a.xlsx")
    read = read_payload((tmp_path / "a.xlsx").read_bytes(), "a.xlsx")
    assert [row.value("task") for row in read.task_rows] == ["T-01"]
    assert read.indicator_rows == []
    assert read.notes == ["隐藏的工作表“指标数据”未读取；如需报送其中内容，请取消隐藏后重新报送"]
