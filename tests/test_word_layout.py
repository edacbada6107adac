"""The 公文 layout (reports/gongwen.py) on its own, and the ``documents:`` section of the
program and city files that says who issues the documents and to whom. Each report's own
Word document is checked against the layout where the report is tested
(test_reports.py, test_blue_book.py, test_city_report.py; see word_layout.py)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import docx
import pytest
import sqlalchemy as sa
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn

from pilot_tracker import db
from pilot_tracker.errors import ProgramFileError
from pilot_tracker.ledger import cities, store
from pilot_tracker.ledger.city_file import parse_city_text
from pilot_tracker.ledger.program_file import (
    read_program_file,
    validate_program,
    write_program_file,
)
from pilot_tracker.ledger.workbook import read_ledger_workbook, write_ledger_workbook
from pilot_tracker.reports import word
from pilot_tracker.reports.gongwen import TEXT_WIDTH_TWIPS, Issuer, Official, column_widths

from .conftest import EXAMPLES
from .test_program_file import SMALL, problems_of
from .word_layout import assert_official_layout, assert_table_layout

NOW = datetime(2021, 7, 5, 2, 0, tzinfo=UTC)
DOCUMENTS = {
    "issuer": "共青团宁波市海曙区委员会",
    "prefix": "海共青发",
    "send_to": ["区青年发展规划试点工作领导小组各成员单位"],
    "copy_to": ["团市委青年发展部", "区委办公室"],
    "printed_by": "共青团宁波市海曙区委办公室",
}
LONG_UNIT = "宁波市海曙区人力资源和社会保障局"


def an_official(tmp_path: Path, issuer: Issuer) -> Path:
    document = Official(title="测试", day=date(2021, 7, 5), issuer=issuer)
    document.title("海曙区试点", "2021年上半年评估报告")
    document.addressees()
    document.heading("一、总体评价")
    document.paragraph("本半年37个成员单位牵头推进任务25项，已完成12项。")
    document.heading("（一）任务清单", level=2)
    document.heading("1. 机制性任务", level=3)
    document.heading("（1）联席会议", level=4)
    document.table(
        ["排名", "成员单位", "综合得分", "备注"],
        [[1, LONG_UNIT, 92.8, "按期完成"], [2, "团区委", "83.3", None]],
    )
    document.imprint()
    return document.save(tmp_path / "official.docx")


def test_the_issuing_office_the_number_the_addressees_and_the_imprint(tmp_path: Path) -> None:
    issuer = Issuer.of(DOCUMENTS, "不用")
    path = an_official(tmp_path, issuer)
    document = assert_official_layout(
        path,
        title=["海曙区试点", "2021年上半年评估报告"],
        levels={1, 2, 3, 4},
        printed_by="共青团宁波市海曙区委办公室",
    )
    lines = [p for p in document.paragraphs if p.text.strip()]
    mark, number = lines[0], lines[1]
    assert mark.text == "共青团宁波市海曙区委员会文件"
    assert mark.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert {str(run.font.color.rgb) for run in mark.runs} == {"FF0000"}
    # No register of numbers is kept: the number is left for the office to fill in.
    assert number.text == "海共青发〔2021〕\u3000\u3000号"
    line = number._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert line.get(qn("w:color")) == "FF0000"
    assert [p.text for p in lines[2:5]] == [
        "海曙区试点",
        "2021年上半年评估报告",
        "区青年发展规划试点工作领导小组各成员单位：",
    ]
    assert [p.text for p in lines[-2:]] == [
        "\u3000抄送：团市委青年发展部，区委办公室。",
        "\u3000共青团宁波市海曙区委办公室\t2021年7月5日印发",
    ]


def test_without_particulars_no_masthead_and_the_default_printer(tmp_path: Path) -> None:
    path = an_official(tmp_path, Issuer.of(None, "海曙区试点领导小组办公室"))
    document = assert_official_layout(
        path,
        title=["海曙区试点", "2021年上半年评估报告"],
        levels={1, 2, 3, 4},
        printed_by="海曙区试点领导小组办公室",
    )
    lines = [p.text for p in document.paragraphs if p.text.strip()]
    assert lines[:3] == ["海曙区试点", "2021年上半年评估报告", "一、总体评价"]
    assert not any("抄送" in line or "文件" in line for line in lines)


@pytest.mark.parametrize(
    ("section", "printed_by", "number"),
    [
        (None, "默认", ""),
        ({"issuer": "甲"}, "甲", ""),
        ({"issuer": "甲", "prefix": "甲发"}, "甲", "甲发〔2021〕\u3000\u3000号"),
        ({"issuer": "甲", "printed_by": "乙"}, "乙", ""),
    ],
)
def test_who_prints_and_the_number(section: Any, printed_by: str, number: str) -> None:
    issuer = Issuer.of(section, "默认")
    assert (issuer.printed_by, issuer.number(2021)) == (printed_by, number)


def test_a_table_fills_the_block_keeps_names_whole_and_numbers_right(tmp_path: Path) -> None:
    document = docx.Document(str(an_official(tmp_path, Issuer())))
    (table,) = document.tables
    assert_table_layout(table)
    widths = [int(c.get(qn("w:w"))) for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert sum(widths) == TEXT_WIDTH_TWIPS
    # The unit's column holds its longest name on one line (10.5 pt = 210 twips a character).
    assert widths[1] >= len(LONG_UNIT) * 210
    cells = table.rows[1].cells
    assert [c.paragraphs[0].alignment for c in cells] == [
        WD_ALIGN_PARAGRAPH.RIGHT,
        WD_ALIGN_PARAGRAPH.LEFT,
        WD_ALIGN_PARAGRAPH.RIGHT,
        WD_ALIGN_PARAGRAPH.LEFT,
    ]
    assert [c.text for c in table.rows[2].cells] == ["2", "团区委", "83.3", "—"]


def test_many_wide_columns_still_fit() -> None:
    headers = ["试点", *[f"第{n}项指标名称很长的一列" for n in range(12)]]
    rows = [[LONG_UNIT, *["已达目标或正常推进" * 3] * 12]]
    widths = column_widths(headers, rows)
    assert sum(widths) == TEXT_WIDTH_TWIPS and min(widths) > 0


def test_a_document_not_in_the_layout_is_caught(tmp_path: Path) -> None:
    plain = docx.Document()
    plain.add_paragraph("海曙区试点")
    plain.add_heading("一、总体评价", level=1)
    plain.save(str(tmp_path / "plain.docx"))
    with pytest.raises(AssertionError):
        assert_official_layout(
            tmp_path / "plain.docx", title=["海曙区试点"], levels={1}, printed_by="x"
        )


@pytest.mark.parametrize(("place", "numeral"), [(0, "一"), (9, "十"), (10, "十一"), (19, "二十")])
def test_second_level_headings_count_in_chinese(place: int, numeral: str) -> None:
    assert word._numeral(place) == numeral


# --- the documents: section -----------------------------------------------------------------


def with_documents(section: Any) -> dict[str, Any]:
    document = copy.deepcopy(SMALL)
    document["documents"] = section
    return document


def test_a_documents_section_is_read() -> None:
    spec = validate_program(with_documents(DOCUMENTS), "demo.yaml")
    assert spec.documents is not None
    assert spec.documents.model_dump() == DOCUMENTS


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"prefix": "海共青发"}, "documents.issuer: "),
        ({"issuer": "甲", "send_to": "各成员单位"}, "documents.send_to: "),
        ({"issuer": "甲", "cc": ["乙"]}, "documents.cc: "),
        ({"issuer": "甲", "copy_to": ["乙"] * 51}, "documents.copy_to: "),
        ({"issuer": ""}, "documents.issuer: "),
    ],
    ids=["no-issuer", "not-a-list", "unknown-key", "too-many", "empty"],
)
def test_a_bad_documents_section_is_refused_with_its_place(
    section: dict[str, Any], expected: str
) -> None:
    problems = problems_of(with_documents(section))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_the_section_is_stored_and_read_back(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    spec = validate_program(with_documents(DOCUMENTS), "demo.yaml")
    with db.session(sqlite_engine) as session:
        store.load_program(
            session=session, spec=spec, source_name="demo.yaml", source_sha256="0" * 64, now=NOW
        )
    with db.session(sqlite_engine) as session:
        assert store.read_program(session=session, code=spec.code) == spec
        record = store.get_program(session=session, code=spec.code)
        issuer = word.program_issuer(record)
    assert issuer == Issuer(
        issuer="共青团宁波市海曙区委员会",
        prefix="海共青发",
        send_to=("区青年发展规划试点工作领导小组各成员单位",),
        copy_to=("团市委青年发展部", "区委办公室"),
        printed_by="共青团宁波市海曙区委办公室",
    )
    # Through the program file and the ledger workbook too.
    write_program_file(spec, tmp_path / "copy.yaml")
    assert read_program_file(tmp_path / "copy.yaml") == spec
    write_ledger_workbook(spec, tmp_path / "ledger.xlsx")
    assert read_ledger_workbook(tmp_path / "ledger.xlsx") == spec


def test_a_city_names_who_issues_its_documents(sqlite_engine: sa.Engine) -> None:
    text = (EXAMPLES.parent / "cities" / "ningbo.yaml").read_text(encoding="utf-8")
    spec = parse_city_text(text, "ningbo.yaml")
    assert spec.documents is not None and spec.documents.issuer
    with db.session(sqlite_engine) as session:
        cities.load_city(
            session=session, spec=spec, source_name="ningbo.yaml", source_sha256="0" * 64, now=NOW
        )
    with db.session(sqlite_engine) as session:
        assert cities.read_city(session=session, code=spec.code) == spec
        issuer = word.city_issuer(cities.get_city(session=session, code=spec.code))
    assert issuer.issuer == spec.documents.issuer and issuer.prefix == spec.documents.prefix
    with pytest.raises(ProgramFileError) as caught:
        parse_city_text(
            "code: x\nname: 某市\noffice: 某办\nprograms: [a]\ndocuments: {prefix: 甬团}\n",
            "x.yaml",
        )
    assert [str(p) for p in caught.value.problems] == [
        "documents.issuer (line 5): missing; this key is required"
    ]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_program_names_who_issues_its_documents(path: Path) -> None:
    spec = read_program_file(path)
    assert spec.documents is not None
    assert spec.documents.issuer and spec.documents.prefix and spec.documents.send_to


def test_the_page_and_its_pdf_name_the_issuer_as_the_word_file_does(
    sqlite_engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The half-year evaluation of a program with a ``documents:`` section: its page (from
    which the PDF is printed) carries the same mark, 文号, 主送, 抄送 and 印发机关 as its
    Word file."""
    from pilot_tracker.reports import documents, evaluation

    spec = validate_program(with_documents(DOCUMENTS), "demo.yaml")
    with db.session(sqlite_engine) as session:
        store.load_program(
            session=session, spec=spec, source_name="demo.yaml", source_sha256="0" * 64, now=NOW
        )
    monkeypatch.setattr(documents, "cjk_font", lambda: None)  # the page, not the print
    with db.session(sqlite_engine) as session:
        written = evaluation.write(
            session=session,
            program=spec.code,
            half="2021H1",
            folder=tmp_path,
            home=tmp_path,
            templates=EXAMPLES.parent.parent / "templates",
            now=NOW,
            send=False,
        )
    page = written.files["html"].read_text(encoding="utf-8")
    text = "\n".join(p.text for p in docx.Document(str(written.files["docx"])).paragraphs)
    for shown in (
        "共青团宁波市海曙区委员会",  # the mark
        "海共青发〔2021〕",  # the 文号, its number for the office to fill in
        "区青年发展规划试点工作领导小组各成员单位",  # 主送
        "团市委青年发展部",  # 抄送
        "共青团宁波市海曙区委办公室",  # 印发机关
    ):
        assert shown in page and shown in text, shown
