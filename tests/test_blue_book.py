"""The annual blue book (青年发展蓝皮书): figures worked out by hand for a small pilot, the
files read back (DOCX with python-docx, PDF with pypdf), written again in place, sent once;
then Yinzhou's 2021 through the command line.

The small pilot is the reports' one (tests/test_reports.py) with four indicators, one per
state: I-01 on track, I-02 behind, I-03 reached, I-04 never read; and a key project.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import pytest
import sqlalchemy as sa
from PIL import Image
from pypdf import PdfReader
from sqlmodel import col, select

from pilot_tracker import db
from pilot_tracker.board import library
from pilot_tracker.errors import NotFoundError, ReportError
from pilot_tracker.ledger.program_file import read_program_file
from pilot_tracker.models import Document, IndicatorState, Notification, Program
from pilot_tracker.reports import blue_book, charts, figures, writing
from pilot_tracker.reports.blue_book import MonthReading, parse_year
from pilot_tracker.settings import Settings

from .conftest import EXAMPLES
from .test_reports import (
    REPORTS,
    TEMPLATES,
    Tags,
    assert_self_contained,
    cli,
    demo_document,
    east_asia,
    load_program,
    pdf_text,
    squeeze,
    store_reports,
)
from .word_layout import assert_official_layout

YEAR_END = datetime(2022, 1, 10, 1, 0, tzinfo=UTC)  # the year is over
MID_YEAR = datetime(2021, 7, 5, 1, 30, tzinfo=UTC)  # 2021-07-05 in Shanghai


def book_document() -> dict[str, Any]:
    """The reports' small pilot with three more indicators and a key project."""
    document = demo_document()
    document["task_lists"].append({"kind": "key_project", "name": "重点工程"})
    document["tasks"].append(
        {
            "code": "K-01",
            "title": "青年发展友好型城区建设工程",
            "list": "key_project",
            "lead_unit": "tw",
            "co_units": ["jyj", "rsj"],
            "start": "2021-01-04",
            "due": "2021-12-31",
            "deliverable": "青年发展友好型城区建设方案",
        }
    )
    document["indicators"] += [
        {
            "code": "I-02",
            "name": "青年志愿服务组织数量",
            "level": "provincial",
            "measure": "个",
            "baseline": {"value": 100, "year": 2020},
            "target": {"value": 200, "year": 2025},
            "owner": "tw",
        },
        {
            "code": "I-03",
            "name": "青年人才驿站覆盖率",
            "level": "self_set",
            "measure": "%",
            "baseline": {"value": 50, "year": 2020},
            "target": {"value": 60, "year": 2023},
            "owner": "jyj",
        },
        {
            "code": "I-04",
            "name": "青年夜校参与人次",
            "level": "self_set",
            "measure": "人次",
            "baseline": {"value": 1000, "year": 2020},
            "target": {"value": 5000, "year": 2025},
            "owner": "rsj",
        },
    ]
    return document


# The half year's reports, and two more after it: T-02 at 85 in November, K-01 at 90.
BOOK_REPORTS = [
    *REPORTS,
    ("rsj", "T-02", "2021-11", "in_progress", 85, date(2021, 11, 25), ""),
    ("tw", "K-01", "2021-12", "in_progress", 90, date(2021, 12, 20), ""),
]
BOOK_READINGS = [
    ("rsj", "I-01", 5.82, date(2021, 3, 31)),
    ("rsj", "I-01", 5.79, date(2021, 6, 15)),  # June's: the later one, 5.775, stands
    ("rsj", "I-01", 5.775, date(2021, 6, 30)),
    ("rsj", "I-01", 5.74, date(2021, 9, 30)),
    ("rsj", "I-01", 5.72, date(2021, 12, 31)),
    ("tw", "I-02", 105, date(2021, 5, 20)),
    ("tw", "I-02", 103, date(2021, 5, 28)),  # May's: the later one
    ("tw", "I-02", 104, date(2021, 11, 20)),
    ("jyj", "I-03", 51, date(2020, 12, 15)),  # the year before: not in 2021's readings
    ("jyj", "I-03", 58, date(2021, 6, 30)),
    ("jyj", "I-03", 61, date(2021, 12, 10)),
]


def build(engine: sa.Engine) -> None:
    load_program(engine, book_document())
    store_reports(engine, "demo", rows=BOOK_REPORTS, readings=BOOK_READINGS, escalations=[])


def the_book(engine: sa.Engine, as_of: date) -> blue_book.BlueBook:
    with db.session(engine) as session:
        snapshot = figures.load(session=session, program="demo", as_of=as_of)
    return blue_book.book_of(snapshot, 2021, "demo.yaml")


# --- 1. the figures, worked out by hand -----------------------------------------------------
#
# The straight line runs from the end of the baseline year to the end of the target year:
# 2020-12-31 → 2025-12-31 is 1826 days, of which 2021 is 365 (0.19989); to 2023-12-31, 1095.
#   I-01 5.8 → 5.5: at 2021-12-31 5.8 - 0.3 × 0.19989 = 5.74; latest 5.72 on 12-31:
#        (5.74 - 5.72) / -0.3 < 0 short of the line: on track; way covered 0.08/0.3 = 26.7%
#   I-02 100 → 200: at year end 119.99; latest 104 on 11-20, where the line is
#        100 + 100 × 324/1826 = 117.74: 13.7 points of the way short > 10: behind; 4%
#   I-03 50 → 60 (2023): at year end 50 + 10 × 365/1095 = 53.33; latest 61 ≥ 60: reached, 110%
#   I-04 1000 → 5000: at year end 1799.56; never read: no data


def test_the_indicators_of_the_year_by_hand(engine: sa.Engine) -> None:
    build(engine)
    book = the_book(engine, date(2021, 12, 31))
    assert (book.as_of, book.complete, book.as_of_label) == (
        date(2021, 12, 31),
        True,
        "截至2021年12月31日",
    )
    assert [
        (
            i.code,
            i.level,
            i.owner_name,
            i.expected_at_end,
            i.latest,
            i.latest_as_of,
            i.progress,
            i.status,
        )
        for i in book.indicators
    ] == [
        ("I-01", "national", "县人力社保局", 5.74, 5.72, date(2021, 12, 31), 26.7, "on_track"),
        ("I-02", "provincial", "团县委", 119.99, 104, date(2021, 11, 20), 4.0, "behind"),
        ("I-03", "self_set", "县教育局", 53.33, 61, date(2021, 12, 10), 110.0, "reached"),
        ("I-04", "self_set", "县人力社保局", 1799.56, None, None, None, "no_data"),
    ]
    readings = {i.code: i.readings for i in book.indicators}
    assert readings == {
        "I-01": [
            MonthReading(date(2021, 3, 31), 5.82),
            MonthReading(date(2021, 6, 30), 5.775),
            MonthReading(date(2021, 9, 30), 5.74),
            MonthReading(date(2021, 12, 31), 5.72),
        ],
        "I-02": [MonthReading(date(2021, 5, 28), 103), MonthReading(date(2021, 11, 20), 104)],
        "I-03": [MonthReading(date(2021, 6, 30), 58), MonthReading(date(2021, 12, 10), 61)],
        "I-04": [],
    }
    assert [(label, [i.code for i in rows]) for label, rows in book.indicators_by_level] == [
        ("国家指标", ["I-01"]),
        ("省级指标", ["I-02"]),
        ("自设指标", ["I-03", "I-04"]),
    ]
    i01 = book.indicators[0]
    assert (i01.direction_label, i01.measure, i01.baseline, i01.baseline_year) == (
        "逆向",
        "%",
        5.8,
        2020,
    )
    assert [i.code for i in book.charted] == ["I-01", "I-02", "I-03"]
    # The chart is of the same figures: the year's readings between baseline and target.
    assert i01.series == charts.Series(
        name="I-01 城镇青年调查失业率",
        year=2021,
        baseline=5.8,
        baseline_year=2020,
        target=5.5,
        target_year=2025,
        expected_start=5.7998,  # a day along the line: 5.8 - 0.3 × 1/1826
        expected_end=5.74,
        points=[(r.as_of, r.value) for r in i01.readings],
    )


def test_the_tasks_of_the_year_by_hand(sqlite_engine: sa.Engine) -> None:
    """As their lead units last reported them by 12-31; T-01's co-unit's 100% is not T-01's."""
    build(sqlite_engine)
    book = the_book(sqlite_engine, date(2021, 12, 31))
    assert [
        (x.label, [(t.code, t.status, t.percent) for t in x.tasks], x.completed, x.average)
        for x in book.lists
    ] == [
        ("机制性任务清单", [("T-01", "in_progress", 90), ("T-04", "completed", 100)], 1, 95),
        (
            "发展任务清单",
            [("T-02", "in_progress", 85), ("T-03", "completed", 100), ("T-05", "in_progress", 60)],
            1,
            81.7,
        ),
        ("重点工程", [("K-01", "in_progress", 90)], 0, 90),
    ]
    assert all(x.planned == 100 for x in book.lists)  # every task was due by 12-31
    [k01] = book.key_projects
    assert (k01.lead, k01.co_units, k01.planned, k01.deliverable) == (
        "团县委",
        ["县教育局", "县人力社保局"],
        100,
        "青年发展友好型城区建设方案",
    )
    assert [x.kind for x in book.task_lists] == ["mechanism", "development"]
    assert book.foreword == [
        "本蓝皮书依据演示县试点各成员单位报送的指标数据和任务进展编制，"
        "反映2021年度青年发展主要指标和重点任务的推进情况，数据截至2021年12月31日。",
        "试点共设主要发展指标4项（国家指标1项、省级指标1项、自设指标2项）。"
        "截至2021年12月31日，已达目标1项，正常推进1项，滞后1项，暂无数据1项。",
        "滞后的指标是：青年志愿服务组织数量，需重点推进。",
        # (90 + 100 + 85 + 100 + 60) / 5 = 87
        "年度任务5项，已完成2项，完成率40%；平均完成进度87%，计划进度100%。",
        "重点工程1项，已完成0项，平均完成进度90%，计划进度100%。",
    ]
    # 10 readings in 2021 (I-03's of 2020 is not one), of 3 indicators, from 3 owners; 22
    # task reports.
    assert "本年度共10条，涉及3项指标、3个责任单位" in book.sources[1]
    assert "本年度共22条" in book.sources[3]
    assert "试点方案（demo.yaml）" in book.sources[0]


def test_a_year_not_over_is_as_of_its_day(sqlite_engine: sa.Engine) -> None:
    """On 2021-07-05: only the readings and reports by then; K-01, never reported, is
    planned at 182/361 days of its span = 50.4%."""
    build(sqlite_engine)
    book = the_book(sqlite_engine, date(2021, 7, 5))
    assert (book.as_of, book.complete) == (date(2021, 7, 5), False)
    assert {i.code: [r.value for r in i.readings] for i in book.indicators} == {
        "I-01": [5.82, 5.775],
        "I-02": [103],
        "I-03": [58],
        "I-04": [],
    }
    # I-02 on 05-28: the line stands at 100 + 100 × 148/1826 = 108.1; 5.1 points short.
    assert [i.status for i in book.indicators] == [
        IndicatorState.ON_TRACK,
        IndicatorState.ON_TRACK,
        IndicatorState.ON_TRACK,
        IndicatorState.NO_DATA,
    ]
    [k01] = book.key_projects
    assert (k01.status, k01.status_label, k01.percent, k01.planned) == (None, "未报送", None, 50.4)
    assert book.foreword[0].endswith("数据截至2021年7月5日（本年度尚未结束）。")


def test_a_chart_keeps_a_hostile_name_text_and_draws_any_scale() -> None:
    series = charts.Series(
        name="<script>alert('x')</script>",
        year=2021,
        baseline=1_000_000,
        baseline_year=2020,
        target=1_000_000,  # no distance: a flat line, still a frame around it
        target_year=2025,
        expected_start=1_000_000,
        expected_end=1_000_000,
        points=[(date(2021, 3, 31), 1_000_000)],
    )
    svg = charts.indicator_series(series)
    assert "<script" not in svg and "&lt;script&gt;alert(&#x27;x&#x27;)" in svg
    assert "1000000" in svg and "e+" not in svg
    assert Image.open(io.BytesIO(charts.indicator_png(series))).size == (1280, 500)


# --- 2. the files, read back ----------------------------------------------------------------


@dataclass
class Run:
    engine: sa.Engine
    home: Path
    first: writing.Written
    again: writing.Written
    sha256: dict[str, str]  # of the first run's files, before the second wrote over them
    ids: list[int | None]  # the record after each run


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The small pilot's 2021 blue book written and sent, then written again a day later."""
    home = tmp_path_factory.mktemp("blue-book-home")
    engine = db.make_engine(f"sqlite:///{home / 'ledger.db'}")
    db.migrate(engine)
    build(engine)
    runs, ids, sha256 = [], [], {}
    for now in (YEAR_END, YEAR_END.replace(day=11)):
        with db.session(engine) as session:
            runs.append(
                blue_book.write(
                    session=session,
                    program="demo",
                    year="2021",
                    folder=home / "reports" / "demo" / "2021",
                    home=home,
                    templates=TEMPLATES,
                    now=now,
                )
            )
        with db.session(engine) as session:
            ids.append([row.id for row in session.exec(select(Document)).all()])
        if not sha256:
            sha256 = {kind: digest(path) for kind, path in runs[0].files.items()}
    yield Run(engine, home, runs[0], runs[1], sha256, ids)
    engine.dispose()


def test_the_book_is_written_in_every_format(written: Run) -> None:
    folder = written.home / "reports" / "demo" / "2021"
    assert written.first.problems == []
    assert written.first.files == {
        kind: folder / f"demo-2021-青年发展蓝皮书.{kind}" for kind in ("html", "pdf", "docx")
    }
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in written.first.files.values()
    )


def test_the_word_document_is_in_the_official_layout(written: Run) -> None:
    assert_official_layout(
        written.first.files["docx"],
        title=["演示县试点", "2021年度青年发展蓝皮书"],
        levels={1, 2, 3},
        printed_by="演示县试点领导小组办公室",
    )


def test_the_word_document_reads_back(written: Run) -> None:
    document = docx.Document(str(written.first.files["docx"]))
    lines = [p.text for p in document.paragraphs if p.text.strip()]
    assert lines[:3] == ["演示县试点", "2021年度青年发展蓝皮书", "（数据截至2021年12月31日）"]
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [
        "前言",
        "一、主要发展指标总览",
        "国家指标（1项）",
        "省级指标（1项）",
        "自设指标（2项）",
        "二、各项指标年度情况",
        "（一）国家指标",
        "1．I-01 城镇青年调查失业率",
        "（二）省级指标",
        "1．I-02 青年志愿服务组织数量",
        "（三）自设指标",
        "1．I-03 青年人才驿站覆盖率",
        "2．I-04 青年夜校参与人次",
        "三、年度任务推进情况",
        "机制性任务清单（2项）",
        "发展任务清单（3项）",
        "四、重点工程",
        "五、数据来源与说明",
    ]
    assert {east_asia(run) for p in document.paragraphs[:2] for run in p.runs} == {"方正小标宋简体"}
    book = the_book(written.engine, date(2021, 12, 31))
    assert lines[4 : 4 + len(book.foreword)] == book.foreword

    tables = [[[cell.text for cell in row.cells] for row in t.rows] for t in document.tables]
    # 3 overviews by level, 4 indicators' figures, 3 indicators' readings (I-04 has none),
    # the lists, each list but the key projects, the key projects.
    assert len(tables) == 3 + 4 + 3 + 1 + 2 + 1
    assert tables[0] == [
        ["编号", "指标名称", "基期值", "目标值", "年末应达", "最新值", "状态"],
        [
            "I-01",
            "城镇青年调查失业率",
            "5.8%（2020年）",
            "5.5%（2025年）",
            "5.74%",
            "5.72%（2021-12-31）",
            "正常推进",
        ],
    ]
    assert tables[1][1][-3:] == ["119.99个", "104个（2021-11-20）", "滞后"]
    assert [row[-3:] for row in tables[2][1:]] == [
        ["53.33%", "61%（2021-12-10）", "已达目标"],
        ["1799.56人次", "暂无数据", "暂无数据"],
    ]
    i01 = dict(tuple(row) for row in tables[3][1:])
    assert i01 == {
        "指标层级": "国家指标",
        "计量单位": "%",
        "指标方向": "逆向",
        "责任单位": "县人力社保局",
        "基期值": "5.8%（2020年）",
        "目标值": "5.5%（2025年）",
        "2021年末应达": "5.74%",
        "最新值": "5.72%（2021-12-31）",
        "进程（基期至目标）": "26.7%",
        "状态": "正常推进",
    }
    assert tables[4] == [
        ["统计时点", "读数（%）"],
        ["2021-03-31", "5.82"],
        ["2021-06-30", "5.775"],
        ["2021-09-30", "5.74"],
        ["2021-12-31", "5.72"],
    ]
    # I-04: its figures, then the words 2021年暂无数据, no readings, no chart.
    assert dict(tuple(row) for row in tables[9][1:])["最新值"] == "暂无数据"
    assert "2021年暂无数据。" in lines
    assert tables[10] == [
        ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
        ["机制性任务清单", "2", "1", "95", "100"],
        ["发展任务清单", "3", "1", "81.7", "100"],
        ["重点工程", "1", "0", "90", "100"],
    ]
    assert tables[11][1:] == [
        ["T-01", "建立青年工作联席会议制度", "团县委", "2021-06-30", "推进中", "90"],
        ["T-04", "编制县青年发展规划", "团县委", "2021-03-31", "已完成", "100"],
    ]
    assert tables[13] == [
        ["编号", "工程名称", "牵头单位", "配合单位", "计划进度%", "完成进度%", "状态"],
        [
            "K-01",
            "青年发展友好型城区建设工程",
            "团县委",
            "县教育局、县人力社保局",
            "100",
            "90",
            "推进中",
        ],
    ]

    # One picture per chart, each a PNG of its own, with its caption under it.
    assert len(document.inline_shapes) == 3
    images = [part.blob for part in document.part.package.parts if part.content_type == "image/png"]
    assert len({hashlib.sha256(blob).digest() for blob in images}) == 3
    for blob in images:
        assert Image.open(io.BytesIO(blob)).size == (1280, 500)
    captions = [line for line in lines if line.startswith("图")]
    assert [line.split("：")[0] for line in captions] == [
        "图1\u3000I-01 城镇青年调查失业率",
        "图2\u3000I-02 青年志愿服务组织数量",
        "图3\u3000I-03 青年人才驿站覆盖率",
    ]
    assert "灰色虚线为基期值5.8%（2020年），红色虚线为目标值5.5%（2025年）" in captions[0]
    assert lines[-5:-1] == book.sources
    # The 版记: printed by the leading group's office (the program file names no issuer).
    assert lines[-1] == "\u3000演示县试点领导小组办公室\t2021年12月31日印发"


def test_the_pdf_reads_back(written: Run) -> None:
    path = written.first.files["pdf"]
    assert PdfReader(path).pages[0].extract_text()  # real text, not boxes
    text = pdf_text(path)
    assert "演示县试点" in text and "2021年度青年发展蓝皮书" in text
    for line in the_book(written.engine, date(2021, 12, 31)).foreword:
        assert squeeze(line) in text
    for name in (
        "城镇青年调查失业率",
        "青年志愿服务组织数量",
        "青年人才驿站覆盖率",
        "青年夜校参与人次",
    ):
        assert name in text
    for figure in ("5.74%", "119.99个", "53.33%", "1799.56人次", "5.775", "2021年暂无数据"):
        assert figure in text
    assert "青年发展友好型城区建设工程" in text and "五、数据来源与说明" in text
    assert len(PdfReader(path).pages) >= 3


def test_the_page_is_self_contained_with_a_chart_per_indicator_read(written: Run) -> None:
    page = written.first.files["html"].read_text(encoding="utf-8")
    tags = Tags(page)
    assert tags.headings["h1"] == ["演示县试点"]
    assert tags.headings["h2"] == [
        "前言",
        "一、主要发展指标总览",
        "二、各项指标年度情况",
        "三、年度任务推进情况",
        "四、重点工程",
        "五、数据来源与说明",
    ]
    assert [attrs.get("aria-label") for tag, attrs in tags.tags if tag == "svg"] == [
        "I-01 城镇青年调查失业率：2021年读数",
        "I-02 青年志愿服务组织数量：2021年读数",
        "I-03 青年人才驿站覆盖率：2021年读数",
    ]
    # A reading is a point of its chart.
    assert tags.count("circle") == 4 + 2 + 2
    assert_self_contained(page)


# --- 3. written again, recorded once, sent once --------------------------------------------


def test_written_again_the_files_and_the_record_are_replaced(written: Run) -> None:
    assert written.again.files == written.first.files
    assert {kind: digest(path) for kind, path in written.again.files.items()} == written.sha256
    assert written.ids[0] == written.ids[1] and len(written.ids[1]) == 1
    with db.session(written.engine) as session:
        [row] = session.exec(select(Document)).all()
        assert (row.kind, row.period, row.formats) == ("annual", "2021", ["docx", "html", "pdf"])
        assert row.sha256 == written.sha256
        assert row.paths == {
            kind: str(path.relative_to(written.home)) for kind, path in written.first.files.items()
        }
        assert db.stored_moment(row.generated_at) == YEAR_END.replace(day=11)


def test_a_book_written_while_the_year_runs_does_not_hold_back_the_final_one(
    tmp_path: Path,
) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.migrate(engine)
    build(engine)
    queued = []
    for now in (MID_YEAR, MID_YEAR + timedelta(hours=2), YEAR_END, YEAR_END + timedelta(days=1)):
        with db.session(engine) as session:
            queued.append(
                blue_book.write(
                    session=session,
                    program="demo",
                    year="2021",
                    folder=tmp_path / "reports",
                    home=tmp_path,
                    templates=TEMPLATES,
                    now=now,
                ).queued
            )
    # Mid-year: announced for its day (again that day: nothing); the year over: the final
    # book is announced once.
    assert queued == [2, 0, 2, 0]
    with db.session(engine) as session:
        subjects = [m.subject for m in session.exec(select(Notification)).all()]
    assert sum("截至2021年7月5日" in subject for subject in subjects) == 2
    engine.dispose()


def test_the_book_is_sent_once_to_the_office_and_the_leaders(written: Run) -> None:
    assert (written.first.queued, written.again.queued) == (2, 0)
    with db.session(written.engine) as session:
        messages = session.exec(select(Notification).order_by(col(Notification.id))).all()
        session.expunge_all()
    assert [m.target for m in messages] == ["role:office", "role:leader"]
    files = {k: str(p.relative_to(written.home)) for k, p in written.first.files.items()}
    for message in messages:
        assert message.subject == "【青年发展蓝皮书】演示县试点 · 2021年度青年发展蓝皮书"
        assert message.attachments == [files["pdf"], files["docx"]]
        assert "已达目标1项，正常推进1项，滞后1项，暂无数据1项" in message.body
        assert message.dedup_key.startswith("report:demo:annual:2021:")


def test_the_library_lists_the_book_as_of_its_year(written: Run) -> None:
    with db.session(written.engine) as session:
        program = session.exec(select(Program).where(Program.code == "demo")).one()
        [report] = library.library(session=session, program=program, home=written.home)
        download = library.report_file(
            session=session,
            program=program,
            home=written.home,
            report_id=str(report.id),
            key="docx",
        )
    assert (report.kind_label, report.period_label, report.title) == (
        "青年发展蓝皮书",
        "2021年度",
        "青年发展蓝皮书（2021年度）",
    )
    assert report.latest and [f.key for f in report.files] == ["html", "pdf", "docx"]
    assert all(f.present for f in report.files)
    assert [m.target for m in report.announced] == ["专班", "领导"]
    assert download.filename == "演示县试点-2021年度-青年发展蓝皮书.docx"


def test_a_replaced_record_keeps_its_id_and_leaves_one(engine: sa.Engine, tmp_path: Path) -> None:
    """Written over: the year's first record takes the new files; any other of that year
    goes; another year's, and another kind's, stay."""
    build(engine)
    page = tmp_path / "book.html"
    with db.session(engine) as session:
        for period in ("2021", "2021", "2022"):
            page.write_text(period, encoding="utf-8")
            made = writing.Written("annual", "demo", period, tmp_path, {"html": page})
            writing.record_document(session, made, tmp_path, YEAR_END)
        writing.record_document(
            session,
            writing.Written("half_year", "demo", "2021H1", tmp_path, {"html": page}),
            tmp_path,
            YEAR_END,
        )
    with db.session(engine) as session:
        first = session.exec(select(Document.id).order_by(col(Document.id))).first()
        page.write_text("again", encoding="utf-8")
        made = writing.Written("annual", "demo", "2021", tmp_path, {"html": page})
        writing.record_document(session, made, tmp_path, YEAR_END, replace=True)
    with db.session(engine) as session:
        rows = session.exec(select(Document).order_by(col(Document.id))).all()
        assert [(r.id == first, r.kind, r.period) for r in rows] == [
            (True, "annual", "2021"),
            (False, "annual", "2022"),
            (False, "half_year", "2021H1"),
        ]
        assert rows[0].sha256 == {"html": hashlib.sha256(b"again").hexdigest()}


# --- 4. refused -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["21", "2021H1", "２０２１", "2021年", "0999", ""])
def test_a_year_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ReportError) as caught:
        parse_year(text)
    assert str(caught.value) == f'"{text}" is not a year; write it as 2021'


@pytest.mark.parametrize(
    ("year", "now", "expected"),
    [
        (
            "2020",
            YEAR_END,
            "2020 is outside the program demo, which runs from 2021-01-01 to 2021-12-31; "
            "choose a year from 2021 to 2021",
        ),
        (
            "2022",
            YEAR_END,
            "2022 is outside the program demo, which runs from 2021-01-01 to 2021-12-31; "
            "choose a year from 2021 to 2021",
        ),
        (
            "2021",
            datetime(2020, 12, 1, tzinfo=UTC),
            "2021 has not begun: today is 2020-12-01 (Asia/Shanghai); "
            "the program starts on 2021-01-01",
        ),
    ],
)
def test_a_year_outside_the_program_or_not_begun_writes_nothing(
    sqlite_engine: sa.Engine, tmp_path: Path, year: str, now: datetime, expected: str
) -> None:
    build(sqlite_engine)
    with db.session(sqlite_engine) as session, pytest.raises(ReportError) as caught:
        writing.write(
            session=session,
            kind="annual",
            program="demo",
            period=year,
            folder=tmp_path / "out",
            home=tmp_path,
            templates=TEMPLATES,
            now=now,
        )
    assert str(caught.value) == expected
    assert not (tmp_path / "out").exists()


def test_a_program_without_indicators_has_no_blue_book(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    document = copy.deepcopy(demo_document())
    document["indicators"] = []
    load_program(sqlite_engine, document)
    with db.session(sqlite_engine) as session, pytest.raises(ReportError) as caught:
        blue_book.write(
            session=session,
            program="demo",
            year="2021",
            folder=tmp_path / "out",
            home=tmp_path,
            templates=TEMPLATES,
            now=YEAR_END,
        )
    assert str(caught.value) == (
        "the program demo has no indicators, and a blue book is written from them; "
        "add them to its program file (indicators:) and load it again"
    )
    assert not (tmp_path / "out").exists()
    with db.session(sqlite_engine) as session:
        assert session.exec(select(Document)).all() == []
        with pytest.raises(NotFoundError, match='no program "nope"'):
            blue_book.check_year(session=session, program="nope", year="2021", now=YEAR_END)


# --- 5. Yinzhou's 2021 on the command line --------------------------------------------------


def yinzhou_readings() -> list[tuple[str, str, float, date]]:
    """Every indicator but the last read on the 20th of each month of 2021 by its owner,
    on the straight line (a little ahead of it); YZ-ZB-04 at 40% of its pace."""
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    rows = []
    for indicator in spec.indicators[:-1]:
        pace = 0.4 if indicator.code == "YZ-ZB-04" else 1.05
        for month in range(1, 13):
            day = date(2021, month, 20)
            share = (day - date(indicator.baseline.year, 12, 31)).days / (
                date(indicator.target.year, 12, 31) - date(indicator.baseline.year, 12, 31)
            ).days
            distance = indicator.target.value - indicator.baseline.value
            value = round(indicator.baseline.value + distance * share * pace, 2)
            rows.append((indicator.owner, indicator.code, value, day))
    return rows


def yinzhou_reports() -> list[tuple[str, str, str, str, float, date, str]]:
    """Every key project at 95% in December, reported by its lead unit."""
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    return [
        (task.lead_unit, task.code, "2021-12", "in_progress", 95, date(2021, 12, 20), "")
        for task in spec.tasks
        if task.list_kind.value == "key_project"
    ]


def test_yinzhou_2021_on_the_command_line(isolated_environment: Path, tmp_path: Path) -> None:
    cli("init")
    cli("program", "load", EXAMPLES / "yinzhou.yaml")
    engine = db.make_engine(Settings().resolved_database_url)
    store_reports(
        engine, "yinzhou", rows=yinzhou_reports(), readings=yinzhou_readings(), escalations=[]
    )
    out = tmp_path / "out"
    args = ("report", "annual", "--program", "yinzhou", "--year", "2021")
    result = json.loads(cli(*args, "-o", out, "--no-send", "--json").stdout)
    assert result == {
        "kind": "annual",
        "program": "yinzhou",
        "period": "2021",
        "files": {
            kind: str(out / f"yinzhou-2021-青年发展蓝皮书.{kind}")
            for kind in ("html", "pdf", "docx")
        },
        "statements": {},
        "problems": [],
        "queued": 0,
    }
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    document = docx.Document(str(out / "yinzhou-2021-青年发展蓝皮书.docx"))
    lines = [p.text for p in document.paragraphs if p.text.strip()]
    # The example names who issues its documents: the masthead, then the title.
    assert lines[:5] == [
        "共青团宁波市鄞州区委员会文件",
        "鄞团发〔2021〕\u3000\u3000号",
        spec.name,
        "2021年度青年发展蓝皮书",
        "（数据截至2021年12月31日）",
    ]
    assert lines[5] == "鄞州区中长期青年发展规划试点工作领导小组各成员单位："
    assert lines[-1] == "\u3000共青团宁波市鄞州区委办公室\t2021年12月31日印发"
    assert (
        "试点共设主要发展指标13项（国家指标2项、省级指标5项、自设指标6项）。"
        "截至2021年12月31日，已达目标0项，正常推进11项，滞后1项，暂无数据1项。"
    ) in lines
    assert "重点工程7项，已完成0项，平均完成进度95%，计划进度100%。" in lines
    assert len(document.inline_shapes) == 12  # every indicator read, YZ-ZB-13 not
    text = pdf_text(out / "yinzhou-2021-青年发展蓝皮书.pdf")
    for indicator in spec.indicators:
        assert squeeze(indicator.name) in text
    for task in spec.tasks:
        if task.list_kind.value == "key_project":
            assert squeeze(task.title) in text
    assert "滞后的指标是：年度扶持青年创业人数" in text

    # Sent nothing; recorded once, shown in the library as 2021年度.
    with db.session(engine) as session:
        assert session.exec(select(Notification)).all() == []
        [row] = session.exec(select(Document)).all()
        assert (row.kind, row.period) == ("annual", "2021")
    engine.dispose()

    # Nothing is written for a year the program does not run, or not a year at all.
    refused = cli(*args[:-1], "2019", code=1)
    assert refused.stderr.strip() == (
        "error: 2019 is outside the program yinzhou, which runs from 2021-01-01 to 2025-12-31; "
        f"choose a year from 2021 to {min(2025, datetime.now(UTC).year)}"
    )
    refused = cli(*args[:-1], "21", code=1)
    assert refused.stderr.strip() == 'error: "21" is not a year; write it as 2021'
    refused = cli("report", "annual", "--program", "nope", "--year", "2021", code=1)
    assert refused.stderr.strip().startswith('error: no program "nope"')
    assert not (isolated_environment / "reports" / "yinzhou").exists()  # all went to -o
