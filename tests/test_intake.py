"""Intake: a unit's payload against the real ledger; good rows stored, bad rows told back.

Each test loads a small program into a real database, writes the unit's real submission
workbook, fills it in with openpyxl the way a liaison would, and takes it in.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sqlite3
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from pilot_tracker import db
from pilot_tracker.alerts.outbox import Templates
from pilot_tracker.collect.intake import SubmissionSummary, archive_payload, take_payload
from pilot_tracker.collect.payload import Payload, display_name
from pilot_tracker.collect.submission_workbook import write_submission_template
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, validate_program
from pilot_tracker.models import (
    IndicatorReading,
    Notification,
    Program,
    Rejection,
    StatusReport,
    Submission,
    Task,
    Unit,
)

from .conftest import ROOT
from .message_links import LINKS, opened_by
from .test_program_file import SMALL

AS_OF = date(2021, 4, 2)
NOW = datetime(2021, 4, 2, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
TEMPLATES = Templates(ROOT / "templates")
SHEET = "任务进展"


def demo_spec() -> ProgramSpec:
    """SMALL, with six more tasks led by 团县委 (tw) so one workbook has many rows."""
    document = copy.deepcopy(SMALL)
    document["tasks"] += [
        {
            "code": f"T-{number:02d}",
            "title": f"青年发展任务{number}",
            "list": "development",
            "lead_unit": "tw",
            "start": "2021-01-04",
            "due": "2021-12-31",
        }
        for number in range(3, 9)
    ]
    return validate_program(document, "demo.yaml")


SPEC = demo_spec()
TW_TASKS = ["T-01", "T-03", "T-04", "T-05", "T-06", "T-07", "T-08"]


def load(engine: sa.Engine) -> sa.Engine:
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=SPEC,
            source_name="demo.yaml",
            source_sha256="0" * 64,
            now=datetime(2021, 1, 4, tzinfo=UTC),
        )
    return engine


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file, migrated and holding the ledger, made once per module."""
    path = tmp_path_factory.mktemp("seeded") / "ledger.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.migrate(engine)
    load(engine)
    engine.dispose()
    return path


@pytest.fixture
def ledger_db(seeded: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    """The loaded ledger in a real SQLite file of this test's own (a copy of ``seeded``)."""
    target = tmp_path / "ledger.db"
    with closing(sqlite3.connect(seeded)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    engine = db.make_engine(f"sqlite:///{target}")
    yield engine
    engine.dispose()


@pytest.fixture
def any_ledger_db(engine: sa.Engine) -> sa.Engine:
    """The loaded ledger on SQLite and, where configured, PostgreSQL."""
    return load(engine)


@pytest.fixture
def home(isolated_environment: Path) -> Path:
    return isolated_environment


class Filled:
    """A unit's submission workbook, filled in as its liaison would."""

    def __init__(self, tmp_path: Path, unit: str = "tw"):
        self.folder = tmp_path / f"filled-{unit}"
        self.folder.mkdir(exist_ok=True)
        self.template = self.folder / "template.xlsx"
        write_submission_template(SPEC, unit, self.template, generated_on=date(2021, 3, 1))
        self.count = 0

    def bytes(
        self,
        values: dict[str, dict[str, Any]] | None = None,
        *,
        extra: Sequence[dict[str, Any]] = (),
        formats: dict[tuple[str, str], str] | None = None,
        note: str | None = None,
        sheet_name: str = SHEET,
    ) -> tuple[bytes, dict[str, int]]:
        """The saved workbook and the row (as Excel numbers it) of each task code filled."""
        workbook = openpyxl.load_workbook(self.template)
        sheet = workbook[sheet_name]
        columns = {cell.value: cell.column for cell in sheet[2] if cell.value}
        rows = {
            sheet.cell(row=number, column=1).value: number
            for number in range(3, sheet.max_row + 1)
            if sheet.cell(row=number, column=1).value
        }
        for code, cells in (values or {}).items():
            for header, value in cells.items():
                sheet.cell(row=rows[code], column=columns[header], value=value)
        number = sheet.max_row
        placed = dict(rows)
        for cells in extra:
            number += 1
            for header, value in cells.items():
                sheet.cell(row=number, column=columns[header], value=value)
            placed[f"extra:{cells['任务编号']}"] = number
        for (code, header), number_format in (formats or {}).items():
            sheet.cell(row=rows[code], column=columns[header]).number_format = number_format
        if note is not None:
            sheet.cell(row=2, column=len(columns) + 2, value="备注")
            sheet.cell(row=3, column=len(columns) + 2, value=note)
        self.count += 1
        path = self.folder / f"filled-{self.count}.xlsx"
        workbook.save(path)
        return path.read_bytes(), placed


def take(
    engine: sa.Engine,
    home: Path,
    data: bytes,
    *,
    unit: str = "tw",
    name: str = "团县委3月进展.xlsx",
    source: str = "folder",
    content_type: str = "",
    as_of: date = AS_OF,
    templates: Templates | None = TEMPLATES,
) -> SubmissionSummary:
    with db.session(engine) as session:
        program = session.exec(select(Program).where(Program.code == "demo")).one()
        record = session.exec(
            select(Unit).where(Unit.program_id == program.id, Unit.code == unit)
        ).one()
        return take_payload(
            session=session,
            program=program,
            unit=record,
            payload=Payload(name, data, source, content_type),
            as_of=as_of,
            now=NOW,
            home=home,
            templates=templates,
        )


def reports(engine: sa.Engine) -> list[dict[str, Any]]:
    with db.session(engine) as session:
        found = session.exec(
            select(StatusReport, Task.code)
            .join(Task, StatusReport.task_id == Task.id)
            .order_by(Task.code, col(StatusReport.id))
        ).all()
        return [
            {
                "task": code,
                "period": report.period,
                "status": report.status,
                "percent": report.percent,
                "reported_on": report.reported_on,
                "progress": report.progress,
                "evidence": report.evidence,
                "submission": report.submission_id,
            }
            for report, code in found
        ]


def count(engine: sa.Engine, table: type) -> int:
    with db.session(engine) as session:
        return len(session.exec(select(table)).all())


def notices(engine: sa.Engine) -> list[Notification]:
    with db.session(engine) as session:
        found = session.exec(select(Notification).order_by(col(Notification.id))).all()
        session.expunge_all()
        return list(found)


def lines(summary: SubmissionSummary) -> list[tuple[str, int | None, str, str]]:
    return [(line.sheet, line.row, line.column, line.value) for line in summary.rejections]


# --- a unit's filled template ------------------------------------------------------------------


def test_a_filled_template_is_imported(
    any_ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    filled = Filled(tmp_path)
    data, _ = filled.bytes(
        {
            "T-01": {
                "进展状态": "推进中",
                "完成进度": 40,
                "进展情况": "已召开第一次联席会议，印发工作规则",
                "佐证材料": "会议纪要（团委〔2021〕3号）",
                "填报日期": datetime(2021, 3, 31),
            },
            "T-03": {"进展状态": "已完成", "完成进度": 100, "填报日期": "2021/3/30"},
            "T-04": {"进展状态": "滞后", "完成进度": "20%", "填报日期": "2021年3月29日"},
        }
    )
    summary = take(any_ledger_db, home, data)

    assert (summary.status, summary.imported, summary.updated, summary.rejected) == (
        "imported",
        3,
        0,
        0,
    )
    assert summary.ignored == len(TW_TASKS) - 3  # template rows left empty
    assert summary.rejections == []
    assert summary.unit == "tw" and summary.file == "团县委3月进展.xlsx"
    assert summary.sha256 == hashlib.sha256(data).hexdigest()
    stored = reports(any_ledger_db)
    assert [
        (r["task"], r["period"], r["status"], r["percent"], r["reported_on"]) for r in stored
    ] == [
        ("T-01", "2021-03", "in_progress", 40.0, date(2021, 3, 31)),
        ("T-03", "2021-03", "completed", 100.0, date(2021, 3, 30)),
        ("T-04", "2021-03", "delayed", 20.0, date(2021, 3, 29)),
    ]
    assert stored[0]["progress"] == "已召开第一次联席会议，印发工作规则"
    assert stored[0]["evidence"] == "会议纪要（团委〔2021〕3号）"
    with db.session(any_ledger_db) as session:
        submission = session.exec(select(Submission)).one()
        assert (submission.status, submission.imported, submission.ignored) == ("imported", 3, 4)
        assert submission.filename == "团县委3月进展.xlsx"
    assert notices(any_ledger_db) == []


def test_a_report_without_a_date_belongs_to_the_period_of_as_of(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, _ = Filled(tmp_path).bytes({"T-01": {"进展状态": "推进中", "完成进度": 45}})
    assert take(ledger_db, home, data).imported == 1
    assert [(r["period"], r["reported_on"]) for r in reports(ledger_db)] == [("2021-04", AS_OF)]


@pytest.mark.parametrize(
    ("typed", "number_format", "expected"),
    [
        (60, None, 60.0),
        (0.6, None, 60.0),
        (0.6, "0%", 60.0),
        (1, "0%", 100.0),
        ("60%", None, 60.0),
        ("６０％", None, 60.0),
        ("0.6", None, 60.0),
    ],
)
def test_a_percent_is_stored_as_typed(
    ledger_db: sa.Engine,
    home: Path,
    tmp_path: Path,
    typed: Any,
    number_format: str | None,
    expected: float,
) -> None:
    data, _ = Filled(tmp_path).bytes(
        {"T-01": {"进展状态": "推进中", "完成进度": typed, "填报日期": "2021-03-31"}},
        formats={("T-01", "完成进度"): number_format} if number_format else None,
    )
    summary = take(ledger_db, home, data)
    assert summary.rejections == []
    assert [r["percent"] for r in reports(ledger_db)] == [expected]


def test_a_co_unit_reports_on_a_task_it_co_leads(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, _ = Filled(tmp_path, "jyj").bytes({"T-01": {"进展状态": "推进中", "完成进度": 30}})
    summary = take(ledger_db, home, data, unit="jyj", name="教育局.xlsx")
    assert (summary.status, summary.imported) == ("imported", 1)


def test_indicator_readings_are_imported(ledger_db: sa.Engine, home: Path, tmp_path: Path) -> None:
    path = tmp_path / "rsj.xlsx"
    write_submission_template(SPEC, "rsj", path, generated_on=date(2021, 3, 1))
    workbook = openpyxl.load_workbook(path)
    workbook["指标数据"]["F3"] = "5.6%"
    workbook["指标数据"]["G3"] = "2021年3月31日"
    workbook.save(path)
    summary = take(ledger_db, home, path.read_bytes(), unit="rsj", name="rsj.xlsx")
    assert (summary.status, summary.imported, summary.rejected) == ("imported", 1, 0)
    with db.session(ledger_db) as session:
        reading = session.exec(select(IndicatorReading)).one()
        assert (reading.value, reading.as_of) == (5.6, date(2021, 3, 31))


def test_json_from_an_api_is_imported(ledger_db: sa.Engine, home: Path) -> None:
    document = {
        "tasks": [
            {"task_code": "T-01", "status": "In Progress", "percent": "55%", "date": "2021-03-31"},
            {"task_code": "T-03", "status": "完成", "percent": 95, "date": "2021-03-31"},
        ]
    }
    summary = take(
        ledger_db,
        home,
        json.dumps(document).encode(),
        name="status.json",
        source="http",
        content_type="application/json",
    )
    assert (summary.status, summary.imported, summary.rejected) == ("partial", 1, 1)
    assert lines(summary) == [("tasks", 2, "percent", "95")]
    assert [(r["task"], r["percent"]) for r in reports(ledger_db)] == [("T-01", 55.0)]


# --- bad rows -----------------------------------------------------------------------------------

GOOD = {"进展状态": "推进中", "完成进度": 40, "填报日期": "2021-03-31"}


@pytest.mark.parametrize(
    ("cells", "extra", "column", "value", "words"),
    [
        (
            {"T-03": {"进展状态": "推进中", "完成进度": 120}},
            None,
            "完成进度",
            "120",
            ("完成进度“120”超出范围", "0-100"),
        ),
        (
            {"T-03": {"进展状态": "推进中", "完成进度": "约一半"}},
            None,
            "完成进度",
            "约一半",
            ("无法识别的完成进度“约一半”", "0-100"),
        ),
        (
            {"T-03": {"进展状态": "推进中", "完成进度": 50, "填报日期": "2021年13月1日"}},
            None,
            "填报日期",
            "2021年13月1日",
            ("日期“2021年13月1日”无效", "2021-03-31"),
        ),
        (
            {"T-03": {"进展状态": "推进中", "完成进度": 50, "填报日期": "2021-04-05"}},
            None,
            "填报日期",
            "2021-04-05",
            ("填报日期晚于报送当日", "2021-04-02"),
        ),
        (
            {"T-03": {"进展状态": "已完成", "完成进度": 90}},
            None,
            "完成进度",
            "90",
            ("已完成", "应为 100", "90"),
        ),
        (
            {"T-03": {"进展状态": "基本完成了吧", "完成进度": 90}},
            None,
            "进展状态",
            "基本完成了吧",
            ("无法识别的进展状态", "推进中"),
        ),
        (
            {"T-03": {"进展状态": "推进中", "完成进度": "=50+10"}},
            None,
            "完成进度",
            "",
            ("公式", "重新计算"),
        ),
        (
            {"T-03": {"进展情况": "正在对接"}},
            None,
            "进展状态",
            "",
            ("请选择进展状态",),
        ),
        (
            {},
            {"任务编号": "T-02", "进展状态": "推进中", "完成进度": 30},
            "任务编号",
            "T-02",
            ("不属于本单位", "牵头单位：县人力社保局"),
        ),
        (
            {},
            {"任务编号": "T-99", "进展状态": "推进中", "完成进度": 30},
            "任务编号",
            "T-99",
            ("任务编号不存在", "核对"),
        ),
        (
            {},
            {"任务编号": "T-01", "进展状态": "推进中", "完成进度": 50},
            "任务编号",
            "T-01",
            ("同一任务重复填报", "第3行"),
        ),
    ],
    ids=[
        "percent-120",
        "about-half",
        "month-13",
        "after-as-of",
        "completed-at-90",
        "unknown-status",
        "formula",
        "text-without-status",
        "another-units-task",
        "unknown-task",
        "same-task-twice",
    ],
)
def test_a_bad_row_is_rejected_and_the_good_rows_are_kept(
    ledger_db: sa.Engine,
    home: Path,
    tmp_path: Path,
    cells: dict[str, dict[str, Any]],
    extra: dict[str, Any] | None,
    column: str,
    value: str,
    words: tuple[str, ...],
) -> None:
    data, rows = Filled(tmp_path).bytes({"T-01": GOOD, **cells}, extra=[extra] if extra else [])
    summary = take(ledger_db, home, data)

    bad_row = rows[f"extra:{extra['任务编号']}"] if extra else rows["T-03"]
    assert (summary.status, summary.imported, summary.rejected) == ("partial", 1, 1)
    assert lines(summary) == [(SHEET, bad_row, column, value)]
    reason = summary.rejections[0].reason
    for word in words:
        assert word in reason
    assert any("\u4e00" <= char <= "\u9fff" for char in reason)
    # the good row of the same file is stored all the same
    assert [(r["task"], r["percent"]) for r in reports(ledger_db)] == [("T-01", 40.0)]
    with db.session(ledger_db) as session:
        stored = session.exec(select(Rejection)).one()
        assert (stored.sheet, stored.row, stored.column, stored.value, stored.reason) == (
            SHEET,
            bad_row,
            column,
            value,
            reason,
        )
        assert session.exec(select(Submission.status)).one() == "partial"


def test_every_bad_row_of_a_file_is_listed(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, rows = Filled(tmp_path).bytes(
        {
            "T-01": GOOD,
            "T-03": {"进展状态": "推进中", "完成进度": 120},
            "T-04": {"进展状态": "推进中", "完成进度": "约一半"},
            "T-05": {"进展状态": "推进中", "完成进度": 50, "填报日期": "2021年13月1日"},
            "T-06": {"进展状态": "已完成", "完成进度": 90},
            "T-07": {"进展状态": "推进中", "完成进度": 50, "填报日期": "2021-04-05"},
            "T-08": {"进展状态": "滞后", "完成进度": "20%", "填报日期": "2021.3.31"},
        },
        extra=[
            {"任务编号": "T-02", "进展状态": "推进中", "完成进度": 30},
            {"任务编号": "T-99", "进展状态": "推进中", "完成进度": 30},
        ],
    )
    summary = take(ledger_db, home, data)
    assert (summary.status, summary.imported, summary.ignored, summary.rejected) == (
        "partial",
        2,
        0,
        7,
    )
    assert lines(summary) == [
        (SHEET, rows["T-03"], "完成进度", "120"),
        (SHEET, rows["T-04"], "完成进度", "约一半"),
        (SHEET, rows["T-05"], "填报日期", "2021年13月1日"),
        (SHEET, rows["T-06"], "完成进度", "90"),
        (SHEET, rows["T-07"], "填报日期", "2021-04-05"),
        (SHEET, rows["extra:T-02"], "任务编号", "T-02"),
        (SHEET, rows["extra:T-99"], "任务编号", "T-99"),
    ]
    assert [r["task"] for r in reports(ledger_db)] == ["T-01", "T-08"]
    assert count(ledger_db, Rejection) == 7


def test_retyped_headers_name_the_column_as_written(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["团县委 3 月进展"])
    sheet.append(["任务\n编号", " 进展 状态 ", "完成进度\n(%)", "填报日期"])
    sheet.append(["T-01", "进行中", 30, "2021-03-31"])
    sheet.append(["T-03", "进行中", 300, "2021-03-31"])
    workbook.save(tmp_path / "mine.xlsx")
    summary = take(ledger_db, home, (tmp_path / "mine.xlsx").read_bytes())
    assert lines(summary) == [("Sheet", 4, "完成进度\n(%)", "300")]
    assert summary.imported == 1


# --- the same payload twice, corrections, history ------------------------------------------------


def test_the_same_bytes_twice_change_nothing(
    any_ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, _ = Filled(tmp_path).bytes(
        {"T-01": GOOD, "T-03": {"进展状态": "推进中", "完成进度": 120}}
    )
    first = take(any_ledger_db, home, data)
    assert (first.status, first.imported, first.rejected) == ("partial", 1, 1)
    before = {
        table.__name__: count(any_ledger_db, table)
        for table in (Submission, StatusReport, Rejection, Notification)
    }
    assert before == {"Submission": 1, "StatusReport": 1, "Rejection": 1, "Notification": 1}

    again = take(any_ledger_db, home, data, name="团县委3月进展（重发）.xlsx")
    assert again.status == "duplicate"
    assert (again.imported, again.updated, again.ignored, again.rejected) == (0, 0, 0, 0)
    assert again.sha256 == first.sha256
    after = {
        table.__name__: count(any_ledger_db, table)
        for table in (Submission, StatusReport, Rejection, Notification)
    }
    assert after == before


def test_a_corrected_resubmission_updates_and_keeps_history(
    any_ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    filled = Filled(tmp_path)
    first, _ = filled.bytes({"T-01": GOOD, "T-03": {"进展状态": "推进中", "完成进度": 120}})
    assert take(any_ledger_db, home, first).status == "partial"
    corrected, _ = filled.bytes(
        {
            "T-01": {**GOOD, "完成进度": 45},
            "T-03": {"进展状态": "推进中", "完成进度": 20, "填报日期": "2021-03-31"},
        }
    )
    summary = take(any_ledger_db, home, corrected, name="团县委3月进展（修改）.xlsx")
    assert (summary.status, summary.imported, summary.updated, summary.rejected) == (
        "imported",
        1,
        1,
        0,
    )
    stored = reports(any_ledger_db)
    assert [(r["task"], r["period"], r["percent"]) for r in stored] == [
        ("T-01", "2021-03", 40.0),
        ("T-01", "2021-03", 45.0),
        ("T-03", "2021-03", 20.0),
    ]
    assert stored[0]["submission"] < stored[1]["submission"]


def test_identical_content_in_a_new_file_is_ignored(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    filled = Filled(tmp_path)
    first, _ = filled.bytes({"T-01": GOOD})
    assert take(ledger_db, home, first).imported == 1
    same, _ = filled.bytes({"T-01": GOOD}, note="已核对")
    assert same != first
    summary = take(ledger_db, home, same, name="团县委3月进展（再报）.xlsx")
    assert summary.status != "duplicate"
    assert (summary.imported, summary.updated, summary.rejected) == (0, 0, 0)
    assert summary.ignored == len(TW_TASKS)
    assert len(reports(ledger_db)) == 1
    assert count(ledger_db, Submission) == 2


# --- whole payloads refused ------------------------------------------------------------------------


def test_a_workbook_of_another_unit_is_refused_whole(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    # 县教育局 (jyj) co-leads T-01, so its workbook lists T-01 too
    data, _ = Filled(tmp_path, "jyj").bytes({"T-01": GOOD})
    summary = take(ledger_db, home, data, name="进展.xlsx")
    assert (summary.status, summary.imported, summary.rejected) == ("rejected", 0, 1)
    assert lines(summary) == [("", None, "", "")]
    reason = summary.rejections[0].reason
    assert "县教育局" in reason and "团县委" in reason and "本单位的填报表" in reason
    assert reports(ledger_db) == []
    [notice] = notices(ledger_db)
    assert reason in notice.body


def test_the_rejection_notice_carries_the_unit_s_link(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, _ = Filled(tmp_path).bytes({"T-03": {"进展状态": "推进中", "完成进度": "约一半"}})
    take(ledger_db, home, data, templates=Templates(ROOT / "templates", links=LINKS))
    [notice] = notices(ledger_db)
    assert notice.target == "unit:tw role:liaison"
    assert opened_by(ledger_db, notice.body, NOW) == ["tw"]
    assert "也可通过下方专属链接在线填报或上传填报表" in notice.body
    assert "2021年7月1日前有效" in notice.body  # 90 days from 2 April, 09:30 in Beijing
    assert "无法识别的完成进度“约一半”" in notice.body


def test_a_workbook_of_another_program_is_refused_whole(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    filled = Filled(tmp_path)
    workbook = openpyxl.load_workbook(filled.template)
    workbook["_meta"]["B1"] = "yinzhou"
    workbook.save(filled.template)
    data, _ = filled.bytes({"T-01": GOOD})
    summary = take(ledger_db, home, data)
    assert (summary.status, summary.rejected) == ("rejected", 1)
    assert "其他试点（yinzhou）" in summary.rejections[0].reason
    assert reports(ledger_db) == []


def test_the_notice_of_a_payload_refused_whole_reads_cleanly(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, _ = Filled(tmp_path, "jyj").bytes({"T-01": GOOD})
    summary = take(ledger_db, home, data, name="进展.xlsx")
    [notice] = notices(ledger_db)
    # no place to name, so the line is the reason itself, not "1. ：这是…"
    assert f"1. {summary.rejections[0].reason}" in notice.body.splitlines()


@pytest.mark.parametrize(
    "document",
    [
        {"data": [{"task_code": "T-01", "percent": 80}]},
        {"tasks": [{"code": "T-01", "pct": 80, "state": "ongoing"}]},
    ],
    ids=["wrong-section", "unknown-fields"],
)
def test_json_with_nothing_recognisable_is_not_silently_imported(
    ledger_db: sa.Engine, home: Path, document: dict[str, Any]
) -> None:
    summary = take(
        ledger_db,
        home,
        json.dumps(document).encode(),
        name="status.json",
        source="http",
        content_type="application/json",
    )
    # the API answered, but nothing in it is a task or an indicator: the unit must be told
    assert (summary.status, summary.rejected) == ("rejected", 1)
    assert any("\u4e00" <= char <= "\u9fff" for char in summary.rejections[0].reason)
    assert len(notices(ledger_db)) == 1


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00junk" * 100, "进展.xlsx", ("密码", ".xlsx")),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "status", ("网页",)),
        (b'{"tasks": [{"task": "T-01", "perc', "status.json", ("JSON", "不完整")),
    ],
    ids=["xls-or-password", "html", "truncated-json"],
)
def test_an_unreadable_payload_is_rejected_with_a_reason_not_a_crash(
    ledger_db: sa.Engine, home: Path, data: bytes, name: str, words: tuple[str, ...]
) -> None:
    summary = take(ledger_db, home, data, name=name)
    assert (summary.status, summary.rejected) == ("rejected", 1)
    for word in words:
        assert word in summary.rejections[0].reason
    with db.session(ledger_db) as session:
        submission = session.exec(select(Submission)).one()
        assert (submission.status, submission.rejected) == ("rejected", 1)
        assert session.exec(select(Rejection.reason)).one() == summary.rejections[0].reason


# --- archive ------------------------------------------------------------------------------------


def test_the_payload_is_archived_intact_even_when_rejected(
    ledger_db: sa.Engine, home: Path
) -> None:
    data = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(range(256)) * 64
    summary = take(ledger_db, home, data, name="加密.xlsx")
    assert summary.status == "rejected"
    sha = hashlib.sha256(data).hexdigest()
    archived = home / "archive" / sha[:2] / sha
    assert archived.is_file()
    assert hashlib.sha256(archived.read_bytes()).hexdigest() == sha == summary.sha256
    with db.session(ledger_db) as session:
        submission = session.exec(select(Submission)).one()
        assert submission.archive_path == f"archive/{sha[:2]}/{sha}"
        assert submission.sha256 == sha
    assert not list(archived.parent.glob(".*"))  # no half-written temporary file left


def test_an_imported_payload_is_archived_intact(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, _ = Filled(tmp_path).bytes({"T-01": GOOD})
    summary = take(ledger_db, home, data)
    archived = home / "archive" / summary.sha256[:2] / summary.sha256
    assert archived.read_bytes() == data


def test_archiving_the_same_bytes_twice_is_one_file(tmp_path: Path) -> None:
    first = archive_payload(tmp_path, b"payload")
    assert archive_payload(tmp_path, b"payload") == first
    assert [path.name for path in (tmp_path / "archive").rglob("*") if path.is_file()] == [
        hashlib.sha256(b"payload").hexdigest()
    ]


# --- the notice to the unit -----------------------------------------------------------------------


def test_the_unit_liaison_is_told_what_was_rejected(
    any_ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, rows = Filled(tmp_path).bytes(
        {
            "T-01": GOOD,
            "T-03": {"进展状态": "推进中", "完成进度": 120},
            "T-04": {"进展状态": "推进中", "完成进度": "约一半"},
        }
    )
    summary = take(any_ledger_db, home, data)
    [notice] = notices(any_ledger_db)
    assert notice.target == "unit:tw role:liaison"
    assert notice.subject.startswith("【填报退回】")
    assert "团县委" in notice.subject and "2项未能导入" in notice.subject
    assert notice.status == "pending"
    body = notice.body
    assert "团县委联络员" in body
    assert "《团县委3月进展.xlsx》" in body
    assert "2021年4月2日09:30" in body  # received, in the program's time zone
    assert "其余 1 条已成功导入" in body
    assert (
        f"1. 工作表“任务进展”第{rows['T-03']}行“完成进度”列（填写内容：120）：{summary.rejections[0].reason}"
        in body
    )
    assert f"2. 工作表“任务进展”第{rows['T-04']}行“完成进度”列（填写内容：约一半）：" in body
    assert "2021年4月25日" in body  # this period's deadline
    assert "&" not in body and "&#" not in body  # plain text, not HTML-escaped


def test_no_notice_without_templates_and_none_when_all_is_well(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    filled = Filled(tmp_path)
    bad, _ = filled.bytes({"T-03": {"进展状态": "推进中", "完成进度": 120}})
    assert take(ledger_db, home, bad, templates=None).rejected == 1
    good, _ = filled.bytes({"T-01": GOOD})
    assert take(ledger_db, home, good).rejected == 0
    assert notices(ledger_db) == []


# --- file names as received -----------------------------------------------------------------------

CHINESE_200_BYTES = "青年发展型县域试点任务进展" * 5 + "填报表"  # 68 characters, 204 bytes


@pytest.mark.parametrize(
    "name",
    [
        "团县委\n3月进展\r\n.xlsx",
        "进展\t表\x00\x1b[31m.xlsx",
        "$(rm -rf ~); `reboot` | cat /etc/passwd > x & .xlsx",
        "报表\u202excl.exe.xlsx",
        CHINESE_200_BYTES + ".xlsx",
        "填" * 600 + ".xlsx",
        "\n\t ",
    ],
    ids=["line-breaks", "control", "shell", "bidi-override", "chinese-200-bytes", "long", "blank"],
)
def test_a_file_name_is_made_safe_to_show(name: str) -> None:
    shown = display_name(name)
    assert shown
    assert len(shown) <= 120
    assert not any(unicodedata.category(char).startswith("C") for char in shown)
    assert shown == shown.strip() and "  " not in shown


def test_a_file_name_keeps_what_it_says() -> None:
    assert display_name("团县委\n3月进展.xlsx") == "团县委 3月进展.xlsx"
    assert display_name(CHINESE_200_BYTES + ".xlsx") == CHINESE_200_BYTES + ".xlsx"
    assert display_name("$(rm -rf ~).xlsx") == "$(rm -rf ~).xlsx"  # shown, never run
    long = display_name("填" * 600 + ".xlsx")
    assert long.endswith("…") and long.startswith("填" * 100)
    assert display_name("") == "unnamed"


def test_a_hostile_file_name_cannot_forge_lines_in_the_notice(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    data, _ = Filled(tmp_path).bytes({"T-03": {"进展状态": "推进中", "完成进度": 120}})
    name = "进展.xlsx》\n\n【紧急】请立即点击 http://example.invalid 重新登录\n" + "填" * 300
    summary = take(ledger_db, home, data, name=name)
    assert "\n" not in summary.file and len(summary.file) <= 120
    with db.session(ledger_db) as session:
        assert session.exec(select(Submission.filename)).one() == summary.file
    [notice] = notices(ledger_db)
    assert not any(line.startswith("【紧急】") for line in notice.body.splitlines())
    assert "\n" not in notice.subject


# --- values that are not finite, not plausible, or not storable ----------------------------------


def indicator_json(value: str, as_of: str = "2021-03-31") -> bytes:
    return (
        '{"indicators": [{"指标编号": "I-01", "当前值": '
        + value
        + ', "统计时点": "'
        + as_of
        + '"}]}'
    ).encode()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("NaN", ("“NaN”", "不是有效的数字")),
        ("Infinity", ("“Infinity”", "不是有效的数字")),
        ("-Infinity", ("“-Infinity”", "不是有效的数字")),
        ("1e999", ("“1e999”", "不是有效的数字")),
        ('"NaN"', ("“NaN”",)),
        ('"inf"', ("“inf”",)),
        ('"1e999"', ("“1e999”",)),
        ("1" + "0" * 400, ("不是有效的数字",)),
        ("1e308", ("超出合理范围", "0-100", "%")),
        ("120", ("超出合理范围", "0-100")),
        ("-3.5", ("超出合理范围", "0-100")),
    ],
    ids=[
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "NaN-text",
        "inf-text",
        "1e999-text",
        "400-digits",
        "1e308",
        "percent-120",
        "negative-percent",
    ],
)
def test_an_indicator_value_that_is_not_finite_or_not_plausible_is_rejected(
    any_ledger_db: sa.Engine, home: Path, value: str, words: tuple[str, ...]
) -> None:
    summary = take(any_ledger_db, home, indicator_json(value), unit="rsj", name="rsj.json")
    assert (summary.status, summary.imported, summary.rejected) == ("rejected", 0, 1)
    ((sheet, row, column, _),) = lines(summary)
    assert (sheet, row, column) == ("indicators", 1, "当前值")
    for word in words:
        assert word in summary.rejections[0].reason, summary.rejections[0].reason
    assert count(any_ledger_db, IndicatorReading) == 0
    assert count(any_ledger_db, Rejection) == 1


@pytest.mark.parametrize(
    ("token", "column", "words"),
    [
        (b"1e999", "当前值", ("“inf”", "不是有效的数字")),
        (b"-1E999", "当前值", ("“-inf”", "不是有效的数字")),
        # openpyxl could not read these at all; python-calamine reads them, and the cell is
        # named like any other
        (b"NaN", "当前值", ("“nan”", "不是有效的数字")),
        (b"-INF", "当前值", ("“-inf”", "不是有效的数字")),
    ],
)
def test_a_not_finite_indicator_value_in_a_workbook_cell_is_rejected(
    ledger_db: sa.Engine,
    home: Path,
    tmp_path: Path,
    token: bytes,
    column: str,
    words: tuple[str, ...],
) -> None:
    path = tmp_path / "rsj.xlsx"
    write_submission_template(SPEC, "rsj", path, generated_on=date(2021, 3, 1))
    workbook = openpyxl.load_workbook(path)
    workbook["指标数据"]["F3"] = 12345.5
    workbook["指标数据"]["G3"] = "2021-03-31"
    workbook.save(path)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    hostile = tmp_path / "hostile.xlsx"
    with zipfile.ZipFile(hostile, "w", zipfile.ZIP_DEFLATED) as copy_:
        for name, data in entries.items():
            copy_.writestr(name, data.replace(b"<v>12345.5</v>", b"<v>" + token + b"</v>"))
    summary = take(ledger_db, home, hostile.read_bytes(), unit="rsj", name=hostile.name)
    assert (summary.status, summary.rejected) == ("rejected", 1), summary
    assert summary.rejections[0].column == column
    for word in words:
        assert word in summary.rejections[0].reason, summary.rejections[0].reason
    assert count(ledger_db, IndicatorReading) == 0


def test_a_reading_within_a_year_before_the_start_is_taken(
    ledger_db: sa.Engine, home: Path
) -> None:
    summary = take(ledger_db, home, indicator_json("5.7", "2020-12-31"), unit="rsj", name="a.json")
    assert (summary.status, summary.imported) == ("imported", 1)


@pytest.mark.parametrize("typed", ["2012-03-31", "2012年3月31日", "1900-01-01"])
def test_a_date_years_before_the_program_is_rejected(
    ledger_db: sa.Engine, home: Path, tmp_path: Path, typed: str
) -> None:
    data, rows = Filled(tmp_path).bytes(
        {"T-01": GOOD, "T-03": {"进展状态": "推进中", "完成进度": 50, "填报日期": typed}}
    )
    summary = take(ledger_db, home, data)
    assert (summary.status, summary.imported, summary.rejected) == ("partial", 1, 1)
    assert lines(summary) == [(SHEET, rows["T-03"], "填报日期", typed)]
    reason = summary.rejections[0].reason
    assert "早于试点开始日期" in reason and "2021-01-01" in reason and "年份" in reason

    reading = take(ledger_db, home, indicator_json("5.6", typed), unit="rsj", name="a.json")
    assert reading.status == "rejected"
    assert reading.rejections[0].column == "统计时点"
    assert "早于试点开始日期" in reading.rejections[0].reason
    assert count(ledger_db, IndicatorReading) == 0


def test_a_huge_percent_from_an_api_is_rejected_not_a_crash(
    ledger_db: sa.Engine, home: Path
) -> None:
    document = '{"tasks": [{"task": "T-01", "status": "推进中", "percent": 1' + "0" * 400 + "}]}"
    summary = take(ledger_db, home, document.encode(), name="a.json", source="http")
    assert (summary.status, summary.rejected) == ("rejected", 1)
    assert summary.rejections[0].column == "percent"
    assert "完成进度" in summary.rejections[0].reason


def test_control_characters_and_lone_surrogates_are_stored_cleaned(
    any_ledger_db: sa.Engine, home: Path
) -> None:
    document = (
        b'{"tasks": [{"task": "T-01", "status": "\\u63a8\\u8fdb\\u4e2d", "percent": 40,'
        b' "progress": "\\u0000\\ud800\\u5df2\\u53ec\\u5f00\\u001b"},'
        b' {"task": "T-9\\u0000\\udfff", "percent": 40}]}'
    )
    summary = take(any_ledger_db, home, document, name="a.json", source="http")
    assert (summary.status, summary.imported, summary.rejected) == ("partial", 1, 1)
    (stored,) = reports(any_ledger_db)
    assert "已召开" in stored["progress"] and "\x00" not in stored["progress"]
    with db.session(any_ledger_db) as session:
        rejection = session.exec(select(Rejection)).one()
        assert "\x00" not in rejection.value and "任务编号不存在" in rejection.reason


def test_a_hidden_stale_sheet_is_ignored_and_the_summary_says_so(
    ledger_db: sa.Engine, home: Path, tmp_path: Path
) -> None:
    filled = Filled(tmp_path)
    data, _ = filled.bytes({"T-01": {"进展状态": "推进中", "完成进度": 10}})
    path = tmp_path / "copied.xlsx"
    path.write_bytes(data)
    workbook = openpyxl.load_workbook(path)
    fresh = workbook.copy_worksheet(workbook[SHEET])
    fresh.title = "任务进展（新）"
    percent = next(cell.column for cell in fresh[2] if cell.value == "完成进度")
    fresh.cell(row=3, column=percent, value=70)
    workbook[SHEET].sheet_state = "hidden"
    workbook.active = workbook.sheetnames.index(fresh.title)
    workbook.save(path)

    summary = take(ledger_db, home, path.read_bytes())
    assert [(r["task"], r["percent"]) for r in reports(ledger_db)] == [("T-01", 70.0)]
    assert any("任务进展（新）" in note and "隐藏" in note for note in summary.notes), summary
