"""The workbooks and Word documents as an office prints them.

First the print setup each sheet carries (``spreadsheet.print_ready``), on small workbooks;
then the real files converted to PDF by LibreOffice (tests/office.py, slow: seconds a file)
and read back page by page: A4, landscape where the sheet is wide, every sheet one page
wide with its header on every page and the footer on each.

Yinzhou's half year (37 units, 25 tasks, 13 indicators) is reported on month by month so
that its sheets are as long and as wide as a real pilot's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from pilot_tracker import db
from pilot_tracker.collect.submission_workbook import write_submission_template
from pilot_tracker.ledger.program_file import ProgramSpec, read_program_file
from pilot_tracker.ledger.workbook import write_ledger_workbook
from pilot_tracker.reports import (
    blue_book,
    bulletin,
    city,
    documents,
    evaluation,
    reconciliation,
)
from pilot_tracker.reports.writing import note_under
from pilot_tracker.spreadsheet import (
    LINE_HEIGHT,
    NARROWEST,
    ONE_DECIMAL,
    PORTRAIT_WIDTH,
    WIDEST,
    print_ready,
    text_width,
    write_table,
)

from . import office
from .city_fixtures import CITY, build_city
from .conftest import EXAMPLES, ROOT, load_examples
from .test_blue_book import yinzhou_readings
from .test_bulletin import load_account, load_bulletin_city
from .test_reports import store_reports

TEMPLATES = ROOT / "templates"
NOW = datetime(2021, 7, 12, 3, 0, tzinfo=UTC)


def yinzhou_reports(spec: ProgramSpec) -> list[tuple[str, str, str, str, float, date, str]]:
    """Each task's lead unit reports it on the 20th of every month from its start to June,
    a little behind a straight line from its start to its due day."""
    rows = []
    for task in spec.tasks:
        for month in range(1, 7):
            day = date(2021, month, 20)
            if day < task.start:
                continue
            share = (day - task.start).days / max((task.due - task.start).days, 1)
            percent = min(100, round(90 * share, 1))
            status = "completed" if percent >= 100 else "in_progress"
            evidence = "会议纪要" if status == "completed" else ""
            rows.append(
                (task.lead_unit, task.code, f"2021-{month:02d}", status, percent, day, evidence)
            )
    return rows


@dataclass
class Printed:
    home: Path
    evaluation: dict[str, Path]
    quarterly: dict[str, Path]
    city: dict[str, Path]
    blue_book: dict[str, Path]
    template: Path
    ledger: Path
    bulletin: dict[str, Path]


# --- the print setup, on small workbooks ---------------------------------------------------


def small_workbook(rows: list[list[Any]], headers: list[str] | None = None) -> Any:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "表"
    write_table(sheet, headers or [f"列{n}" for n in range(1, len(rows[0]) + 1)], rows)
    return workbook


def test_a_sheet_prints_on_a4_one_page_wide_with_its_header_repeated_and_a_footer() -> None:
    workbook = small_workbook([["a", 1]] * 3)
    hidden = workbook.create_sheet("_meta")
    hidden.sheet_state = "hidden"
    print_ready(workbook, title="R&D 试点", period="2021年上半年评估")
    sheet = workbook["表"]
    assert sheet.page_setup.paperSize == 9  # A4
    assert sheet.page_setup.orientation == "portrait"
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows == "$1:$1"
    assert sheet.freeze_panes == "A2"
    # "&" starts a code in a footer: the name's is doubled, so it prints as itself.
    assert sheet.oddFooter.left.text == "R&&D 试点"
    assert sheet.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert sheet.oddFooter.right.text == "2021年上半年评估 &A"
    assert hidden.page_setup.paperSize is None and hidden.oddFooter.left.text is None


def test_a_wide_sheet_prints_landscape() -> None:
    narrow = small_workbook([["x" * 20] * 4])
    wide = small_workbook([["x" * 20] * 5])
    for workbook in (narrow, wide):
        print_ready(workbook, title="试点")
    assert narrow.active.page_setup.orientation == "portrait"  # 4 x 22 = 88
    assert wide.active.page_setup.orientation == "landscape"  # 110


def test_columns_are_as_wide_as_their_content_a_chinese_character_counting_two() -> None:
    long_title = "建立青年发展统计监测制度" * 5  # 60 characters, 120 wide
    workbook = small_workbook(
        [["YZ-JZ-01", "区大数据发展服务中心", long_title, 80.5, date(2021, 3, 31), "a" * 64]],
        headers=["任务编号", "成员单位", "任务名称", "完成进度", "完成时限", "报送文件 SHA-256"],
    )
    print_ready(workbook, title="试点")
    sheet = workbook.active
    widths = [sheet.column_dimensions[get_column_letter(n)].width for n in range(1, 7)]
    assert widths == [10, 22, WIDEST, 10, 12, 66]
    # The title longer than its column wraps, its row as high as its lines: 120 wide in a
    # column of 50 (less 1, and 5% to spare) takes three.
    title = sheet["C2"]
    assert title.alignment.wrap_text and title.value == long_title  # all of it, still text
    assert sheet.row_dimensions[2].height == 3 * LINE_HEIGHT
    assert text_width("区教育局 A1") == 11


def test_widths_given_are_the_least_a_column_gets() -> None:
    workbook = openpyxl.Workbook()
    write_table(workbook.active, ["进展情况", "编号"], [[None, "T-1"]], widths=[40])
    print_ready(workbook, title="试点")
    assert workbook.active.column_dimensions["A"].width == 40
    assert workbook.active.column_dimensions["B"].width == NARROWEST


def test_percent_points_show_one_decimal_and_other_figures_as_they_are() -> None:
    workbook = small_workbook(
        [[94, 83.3, 5.775, 30000.0, 3], [80, 66.7, 5.8, 5.0, 4]],
        headers=["完成进度", "平均进度%", "最新值", "基期值", "任务数"],
    )
    print_ready(workbook, title="试点")
    sheet = workbook.active
    formats = [[cell.number_format for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert formats == [["General", ONE_DECIMAL, "General", "General", "General"]] * 2
    assert [[cell.data_type for cell in row] for row in sheet.iter_rows(min_row=2)] == [
        ["n"] * 5
    ] * 2


def test_a_note_under_a_table_spans_it_and_leaves_its_columns_alone() -> None:
    workbook = small_workbook(
        [["tw", "团县委", 92.8]], headers=["单位编号", "成员单位", "综合得分"]
    )
    sheet = workbook.active
    note = "注：综合得分为各项的加权平均，" * 4  # 60 characters, 120 wide
    note_under(sheet, note)
    print_ready(workbook, title="试点")
    assert [sheet.column_dimensions[c].width for c in "ABC"] == [10, 10, 10]
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A4:C4"]
    assert sheet.row_dimensions[4].height == 5 * LINE_HEIGHT  # 120 / ((30 - 1) / 1.05)
    assert sheet["A4"].value == note and sheet["A4"].data_type == "s"


# --- the real files, converted by LibreOffice ----------------------------------------------


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Printed]:
    """Yinzhou's 2021H1 evaluation and 2021Q2 reconciliation, a unit's submission workbook
    and the ledger, its blue book of 2021 so far; the small city's 2021H1 roll-up and work
    bulletin. Without
    WeasyPrint's PDFs (seconds each, and not what these tests read)."""
    home = tmp_path_factory.mktemp("printing")
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    engine = db.make_engine(f"sqlite:///{home / 'ledger.db'}")
    db.migrate(engine)
    with db.session(engine) as session:
        load_examples(session, "yinzhou")
    readings = [row for row in yinzhou_readings() if row[3] <= date(2021, 6, 30)]
    escalations = [(unit.code, "reminder", date(2021, 4, 26)) for unit in spec.units[:12]]
    store_reports(engine, "yinzhou", yinzhou_reports(spec), readings, escalations)
    build_city(engine)
    load_bulletin_city(engine)
    load_account(engine)
    common = {"home": home, "templates": TEMPLATES, "now": NOW, "send": False}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(documents, "cjk_font", lambda: None)
        with db.session(engine) as session:
            half = evaluation.write(
                session=session,
                program="yinzhou",
                half="2021H1",
                folder=home / "yinzhou" / "2021H1",
                **common,
            )
            quarter = reconciliation.write(
                session=session,
                program="yinzhou",
                quarter="2021Q2",
                folder=home / "yinzhou" / "2021Q2",
                **common,
            )
            rollup = city.write(
                session=session, city=CITY, period="2021H1", folder=home / "city", **common
            )
            book = blue_book.write(
                session=session, program="yinzhou", year="2021", folder=home / "book", **common
            )
            issue = bulletin.write(
                session=session, city=CITY, period="2021H1", folder=home / "bulletin", **common
            )
    template = home / "tqw-填报表.xlsx"
    write_submission_template(spec, "tqw", template, generated_on=date(2021, 1, 4))
    ledger = home / "yinzhou-台账.xlsx"
    write_ledger_workbook(spec, ledger)
    yield Printed(
        home, half.files, quarter.files, rollup.files, book.files, template, ledger, issue.files
    )
    engine.dispose()


def sources(printed: Printed) -> dict[str, Path]:
    """The files the print tests convert, by the name the tests give them."""
    return {
        "evaluation.xlsx": printed.evaluation["xlsx"],
        "evaluation.docx": printed.evaluation["docx"],
        "quarterly.xlsx": printed.quarterly["xlsx"],
        "quarterly.docx": printed.quarterly["docx"],
        "statements.docx": printed.quarterly["statements_docx"],
        "city.xlsx": printed.city["xlsx"],
        "city.docx": printed.city["docx"],
        "blue_book.docx": printed.blue_book["docx"],
        "bulletin.docx": printed.bulletin["docx"],
        "template.xlsx": printed.template,
        "ledger.xlsx": printed.ledger,
    }


class Converted(dict[str, Path]):
    """Each file's PDF, converted the first time a test asks for it (so a worker of
    pytest-xdist converts only the files its tests read)."""

    def __init__(self, printed: Printed):
        super().__init__()
        self.printed = printed

    def __missing__(self, name: str) -> Path:
        pdf = office.to_pdf(sources(self.printed)[name], self.printed.home / "pdf" / name)
        self[name] = pdf
        return pdf


@pytest.fixture(scope="module")
def pdfs(printed: Printed) -> Converted:
    office.require_office()
    return Converted(printed)


def by_sheet(pages: list[office.Page], sheets: list[str]) -> dict[str, list[office.Page]]:
    """The pages of each sheet, by the sheet's name in the footer's right corner."""
    found: dict[str, list[office.Page]] = defaultdict(list)
    for page in pages:
        footer = [word for word in page.words if word.top > page.height - 60]
        named = [sheet for sheet in sheets if any(word.text == sheet for word in footer)]
        assert len(named) == 1, [word.text for word in footer]
        found[named[0]].append(page)
    return found


def squeeze(text: str) -> str:
    return "".join(text.split())


# Text a spreadsheet would read as a number, a percent or a date, were it typed in.
LOOKS_TYPED = re.compile(r"^[+-]?\d+(\.\d+)?%?$|^\d{4}[-/.年]\d{1,2}([-/.月]\d{1,2}日?)?$")


@pytest.mark.slow  # writes four documents (without their PDFs)
def test_report_workbooks_hold_numbers_percents_and_dates_as_typed_cells(
    printed: Printed,
) -> None:
    seen = {"n": 0, "d": 0}
    for path in (printed.evaluation["xlsx"], printed.quarterly["xlsx"], printed.city["xlsx"]):
        workbook = openpyxl.load_workbook(path)
        for sheet in workbook.worksheets:
            assert sheet.page_setup.paperSize == 9 and sheet.print_title_rows, sheet.title
            for row in sheet.iter_rows(min_row=2):
                for cell in row:
                    where = (path.name, sheet.title, cell.coordinate, cell.value)
                    assert cell.data_type != "f", where
                    if isinstance(cell.value, str):
                        assert not LOOKS_TYPED.match(cell.value.strip()), where
                    elif isinstance(cell.value, datetime):
                        assert cell.number_format == "yyyy-mm-dd", where
                        seen["d"] += 1
                    elif isinstance(cell.value, int | float):
                        seen["n"] += 1
    assert seen["n"] > 500 and seen["d"] > 50, seen  # there were figures to check


WORKBOOKS = ["evaluation.xlsx", "quarterly.xlsx", "city.xlsx", "template.xlsx", "ledger.xlsx"]


@pytest.mark.slow  # LibreOffice: seconds a file
@pytest.mark.parametrize("name", WORKBOOKS)
def test_every_sheet_prints_on_a4_one_page_wide_with_its_header_on_every_page(
    printed: Printed, pdfs: dict[str, Path], name: str
) -> None:
    source = sources(printed)[name]
    workbook = openpyxl.load_workbook(source)
    sheets = [sheet for sheet in workbook.worksheets if sheet.sheet_state == "visible"]
    pages = office.pages(pdfs[name])
    assert pages and all(page.is_a4 for page in pages)
    # 第 N 页 共 M 页 on each: the workbook's pages, numbered through (as a printer does).
    for number, page in enumerate(pages, start=1):
        assert f"第{number}页共{len(pages)}页" in squeeze(page.text), squeeze(page.text)[-80:]
    printed_sheets = by_sheet(pages, [sheet.title for sheet in sheets])
    for sheet in sheets:
        mine = printed_sheets[sheet.title]
        assert mine, f"{sheet.title} printed no page"
        columns = range(1, sheet.max_column + 1)
        width = sum(sheet.column_dimensions[get_column_letter(c)].width for c in columns)
        wide = width > PORTRAIT_WIDTH
        assert {page.landscape for page in mine} == {wide}, sheet.title
        if not sheet.freeze_panes:
            continue  # a guide: its lines, no table
        header = sheet[sheet.freeze_panes].row - 1
        names = [squeeze(str(cell.value)) for cell in sheet[header] if cell.value]
        for page in mine:
            text = squeeze(page.text)
            # One page wide: the first and the last column's header on every page.
            assert names[0] in text and names[-1] in text, (sheet.title, names, text[:200])


@pytest.mark.slow  # LibreOffice: seconds a file
def test_yinzhou_s_evaluation_prints_one_page_wide(printed: Printed, pdfs: dict[str, Path]) -> None:
    pages = office.pages(pdfs["evaluation.xlsx"])
    sheets = ["单位评分", "清单进度", "主要指标", "督办情况", "六有", "挂图作战", "数据来源"]
    printed_sheets = by_sheet(pages, sheets)
    # 37 units: the score sheet runs over pages down, never across.
    scores = printed_sheets["单位评分"]
    text = "".join(squeeze(page.text) for page in scores)
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    for unit in spec.units:
        assert squeeze(unit.name) in text
    assert all("综合得分" in squeeze(page.text) for page in scores)
    # The 13 indicators' sheet is the widest: landscape, all 13 columns on one page.
    [indicators] = printed_sheets["主要指标"]
    assert indicators.landscape
    for header in ("指标名称", "基期值", "目标年份", "按计划应达", "进程%", "状态"):
        assert header in squeeze(indicators.text)
    # The footer: the program, the period, the sheet, the page.
    footer = squeeze("".join(w.text for w in indicators.words if w.top > indicators.height - 60))
    assert squeeze(spec.name) in footer and "2021年上半年评估" in footer


WORD = [
    "evaluation.docx",
    "quarterly.docx",
    "statements.docx",
    "city.docx",
    "blue_book.docx",
    "bulletin.docx",
]


@pytest.mark.slow  # LibreOffice: seconds a file
@pytest.mark.parametrize("name", WORD)
def test_every_word_document_prints_within_the_paper(pdfs: dict[str, Path], name: str) -> None:
    pages = office.pages(pdfs[name])
    assert pages and all(not page.landscape for page in pages)
    for page in pages:
        assert office.beyond(page, office.paper(page)) == []


@pytest.mark.slow  # LibreOffice: seconds a file
@pytest.mark.parametrize("name", WORD)
def test_every_word_document_prints_on_a4(pdfs: dict[str, Path], name: str) -> None:
    assert all(page.is_a4 for page in office.pages(pdfs[name]))


@pytest.mark.slow  # LibreOffice: seconds a file
@pytest.mark.parametrize("name", WORD)
def test_no_word_of_a_word_document_runs_outside_the_banxin(
    pdfs: dict[str, Path], name: str
) -> None:
    """Everything inside the type area (版心: 156 × 225 mm, 28 mm from the binding edge,
    the left of an odd page and the right of an even one, and 37 mm from the top) but the
    page number under it ("— 1 —"), and a line's last punctuation mark, which Chinese
    typesetting lets hang past the right edge (标点溢出, on in Word and LibreOffice): no
    table runs out."""
    for number, page in enumerate(office.pages(pdfs[name]), start=1):
        area = office.banxin(number)
        outside = office.beyond(page, area, tolerance=2.0)
        footer = [word for word in outside if word.top > area.bottom]
        assert squeeze("".join(word.text for word in footer)) == f"—{number}—", f"page {number}"
        out = [word for word in outside if word not in footer and not hangs(word, area)]
        assert out == [], f"page {number}"


HANGING = "，。、；：！？”’）》」』"
BODY_SIZE = 16  # points: 3号, one character of the body


def hangs(word: office.Word, area: office.Box) -> bool:
    """A word inside the type area but for its last character, a punctuation mark that
    hangs past the right edge by at most one character of the body."""
    return (
        word.text[-1:] in tuple(HANGING)
        and area.left <= word.left
        and area.top <= word.top
        and word.bottom <= area.bottom
        and word.right <= area.right + BODY_SIZE + 2.0
    )
