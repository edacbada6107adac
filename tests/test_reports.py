"""The reports: figures worked out by hand for a small pilot, then the files read back.

One small program (3 units, 5 tasks, one indicator) with half a year of reports chosen so
that every figure can be worked out on paper; the arithmetic is written beside each
expected value. The files (HTML, PDF, XLSX, DOCX) are generated once per module and read
back with the libraries a user's tools would use.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
import sqlalchemy as sa
import yaml
from docx.oxml.ns import qn
from pypdf import PdfReader
from sqlmodel import col, select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.cli import app
from pilot_tracker.errors import ProgramFileError, ReportError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import validate_program
from pilot_tracker.models import (
    LABELS,
    ConfirmationStatus,
    Document,
    Escalation,
    Indicator,
    IndicatorReading,
    Notification,
    Program,
    Reconciliation,
    StatusReport,
    Submission,
    Task,
    Unit,
)
from pilot_tracker.reports import documents, evaluation, figures, reconciliation, writing
from pilot_tracker.reports.figures import parse_half, parse_quarter
from pilot_tracker.settings import Settings
from pilot_tracker.supervise import flags, progress, rules

from .conftest import ROOT
from .message_links import LINKS, PUBLIC_URL, links_in, opened_by
from .test_program_file import SMALL
from .word_layout import assert_official_layout

TEMPLATES = ROOT / "templates"
LOADED = datetime(2021, 1, 1, 0, 0, tzinfo=UTC)
NOW = datetime(2021, 7, 5, 1, 30, tzinfo=UTC)
NAMES = {"tw": "团县委", "jyj": "县教育局", "rsj": "县人力社保局"}


# --- the small pilot ------------------------------------------------------------------------


def demo_document() -> dict[str, Any]:
    """SMALL with five tasks over its three units, each but T-02's mapped to a six-has."""
    document = copy.deepcopy(SMALL)
    document["evaluation"] = {
        "weights": {"completion": 40, "timeliness": 20, "indicators": 20, "evidence": 20}
    }
    t01, t02 = document["tasks"]
    t01["has"] = "mechanism"
    t02["has"] = "project"
    document["tasks"] += [
        {
            "code": "T-03",
            "title": "出台中小学课后服务实施办法",
            "list": "development",
            "lead_unit": "jyj",
            "start": "2021-01-04",
            "due": "2021-02-26",
            "has": "policy",
        },
        {
            "code": "T-04",
            "title": "编制县青年发展规划",
            "list": "mechanism",
            "lead_unit": "tw",
            "start": "2021-01-04",
            "due": "2021-03-31",
            "has": "plan",
        },
        {
            "code": "T-05",
            "title": "保障青少年校外活动场所运行经费",
            "list": "development",
            "lead_unit": "jyj",
            "start": "2021-02-01",
            "due": "2021-06-30",
            "has": "support",
        },
    ]
    return document


# unit, task, period, status, percent, reported on, evidence
REPORTS: list[tuple[str, str, str, str, float, date, str]] = [
    ("tw", "T-01", "2021-01", "in_progress", 10, date(2021, 1, 22), ""),
    ("tw", "T-04", "2021-01", "in_progress", 50, date(2021, 1, 22), ""),
    ("tw", "T-04", "2021-02", "completed", 100, date(2021, 2, 20), "县青年发展规划（印发稿）.pdf"),
    ("tw", "T-01", "2021-02", "in_progress", 25, date(2021, 2, 23), ""),
    ("tw", "T-01", "2021-03", "in_progress", 40, date(2021, 3, 24), ""),
    ("tw", "T-01", "2021-04", "in_progress", 55, date(2021, 4, 26), ""),
    ("tw", "T-01", "2021-05", "in_progress", 70, date(2021, 6, 1), ""),  # May's, sent late
    ("tw", "T-01", "2021-06", "in_progress", 90, date(2021, 6, 29), ""),
    ("jyj", "T-03", "2021-01", "in_progress", 60, date(2021, 1, 29), ""),  # late
    ("jyj", "T-03", "2021-02", "in_progress", 90, date(2021, 2, 24), ""),
    ("jyj", "T-05", "2021-02", "in_progress", 50, date(2021, 2, 25), ""),
    ("jyj", "T-03", "2021-03", "completed", 100, date(2021, 3, 5), ""),  # after due, no evidence
    ("jyj", "T-01", "2021-03", "completed", 100, date(2021, 3, 22), "联席会议纪要"),  # co-unit
    ("jyj", "T-05", "2021-03", "in_progress", 30, date(2021, 3, 25), ""),  # backwards
    ("jyj", "T-05", "2021-04", "in_progress", 45, date(2021, 4, 29), ""),  # late; no May
    ("jyj", "T-05", "2021-06", "in_progress", 60, date(2021, 6, 28), ""),
    ("rsj", "T-02", "2021-03", "in_progress", 15, date(2021, 3, 24), ""),  # nothing for Feb
    ("rsj", "T-02", "2021-04", "in_progress", 25, date(2021, 4, 23), ""),
    ("rsj", "T-02", "2021-05", "in_progress", 35, date(2021, 5, 25), ""),
    ("rsj", "T-02", "2021-06", "in_progress", 40, date(2021, 6, 25), ""),
]
READINGS = [("rsj", "I-01", 5.82, date(2021, 3, 31)), ("rsj", "I-01", 5.775, date(2021, 6, 30))]
ESCALATIONS = [("jyj", "urge", date(2021, 4, 15))]


def sha_of(unit: str, day: date) -> str:
    """The (made-up) sha256 of the one file a unit sent on a day."""
    return hashlib.sha256(f"{unit} {day}".encode()).hexdigest()


def load_program(engine: sa.Engine, document: dict[str, Any]) -> None:
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=validate_program(document, "demo.yaml"),
            source_name="demo.yaml",
            source_sha256="0" * 64,
            now=LOADED,
        )


def store_reports(
    engine: sa.Engine,
    program: str,
    rows: list[tuple[str, str, str, str, float, date, str]] = REPORTS,
    readings: list[tuple[str, str, float, date]] = READINGS,
    escalations: list[tuple[str, str, date]] = ESCALATIONS,
) -> None:
    """Reports as collection stores them: one submission per unit and day, then its rows."""
    with db.session(engine) as session:
        record = session.exec(select(Program).where(Program.code == program)).one()
        units = {
            u.code: u.id for u in session.exec(select(Unit).where(Unit.program_id == record.id))
        }
        tasks = {
            t.code: t.id for t in session.exec(select(Task).where(Task.program_id == record.id))
        }
        indicators = {
            i.code: i.id
            for i in session.exec(select(Indicator).where(Indicator.program_id == record.id))
        }
        sent: dict[tuple[str, date], int] = {}

        def submission(unit: str, day: date) -> int:
            if (unit, day) not in sent:
                row = Submission(
                    program_id=record.id,
                    unit_id=units[unit],
                    source="folder",
                    filename=f"{unit}-{day}.xlsx",
                    sha256=sha_of(unit, day),
                    archive_path=f"archive/{sha_of(unit, day)}",
                    received_at=datetime.combine(day, time(9), tzinfo=UTC),
                    status="imported",
                    imported=1,
                )
                session.add(row)
                session.flush()
                sent[(unit, day)] = row.id  # type: ignore[assignment]
            return sent[(unit, day)]

        for unit, task, period, status, percent, day, evidence in sorted(rows, key=lambda r: r[5]):
            session.add(
                StatusReport(
                    submission_id=submission(unit, day),
                    task_id=tasks[task],
                    unit_id=units[unit],
                    period=period,
                    status=status,
                    percent=percent,
                    evidence=evidence,
                    reported_on=day,
                )
            )
        for unit, indicator, value, day in readings:
            session.add(
                IndicatorReading(
                    submission_id=submission(unit, day),
                    indicator_id=indicators[indicator],
                    value=value,
                    as_of=day,
                )
            )
        for unit, level, opened in escalations:
            session.add(
                Escalation(
                    program_id=record.id,  # type: ignore[arg-type]
                    unit_id=units[unit],
                    level=level,
                    status="open",
                    opened_on=opened,
                    raised_on=opened,
                )
            )


def build(engine: sa.Engine) -> None:
    load_program(engine, demo_document())
    store_reports(engine, "demo")


def snapshot(engine: sa.Engine, as_of: date, quarter: str | None = None) -> figures.Snapshot:
    with db.session(engine) as session:
        return figures.load(session=session, program="demo", as_of=as_of, quarter=quarter)


# --- reading files back ---------------------------------------------------------------------


def pdf_text(path: Path) -> str:
    """The text of a PDF with all whitespace removed (WeasyPrint breaks lines anywhere)."""
    return "".join("".join(page.extract_text() or "" for page in PdfReader(path).pages).split())


def squeeze(text: str) -> str:
    return "".join(text.split())


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: dict[str, list[str]] = {"h1": [], "h2": [], "h3": []}
        self._open: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.headings:
            self._open = tag
            self.headings[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.headings[self._open][-1] += data

    def count(self, tag: str) -> int:
        return sum(1 for name, _ in self.tags if name == tag)


def assert_self_contained(page: str) -> None:
    """No script, nothing fetched: no src/href to anywhere, no stylesheet links or imports."""
    tags = Tags(page)
    assert "<script" not in page.lower()
    assert tags.count("script") == tags.count("link") == tags.count("img") == 0
    for tag, attrs in tags.tags:
        for name in ("src", "href", "xlink:href"):
            assert name not in attrs, (tag, attrs)
    assert "@import" not in page and "url(" not in page


def rows_of(sheet: Any) -> list[list[Any]]:
    return [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]


def east_asia(run: Any) -> str | None:
    return run._element.rPr.rFonts.get(qn("w:eastAsia"))


# --- 1. the figures, worked out by hand -----------------------------------------------------
#
# The reporting deadline is day 25 of each month, rolled to a working day, plus 3 working
# days of grace (the chinese-calendar of 2021):
#   Jan 25 Mon → +3 → Jan 28      Feb 25 Thu → Feb 26, Mar 1, Mar 2 → Mar 2
#   Mar 25 Thu → Mar 30           Apr 25 Sun is a make-up workday (调休) → Apr 28
#   May 25 Tue → May 28           Jun 25 Fri → Jun 28, 29, 30 → Jun 30
#
# Planned percent on 2021-06-30:
#   T-01 milestones (01-04 0%), 03-31 40%, 06-30 100%           → 100
#   T-02 no milestones, 02-01 → 12-31 (333 days): 149/333 = 44.74 → 44.7
#   T-03 (due 02-26), T-04 (due 03-31), T-05 (due 06-30)         → 100 each


def test_the_half_year_evaluation_by_hand(engine: sa.Engine) -> None:
    build(engine)
    e = figures.evaluation(snapshot(engine, date(2021, 6, 30)), "2021H1")

    # Latest lead reports on 06-30: T-01 90, T-02 40, T-03 100 (completed), T-04 100
    # (completed), T-05 60.
    assert [(i.kind, i.tasks, i.completed, i.average, i.planned) for i in e.lists] == [
        # mechanism T-01, T-04: average (90 + 100) / 2 = 95; planned (100 + 100) / 2 = 100
        ("mechanism", 2, 1, 95.0, 100.0),
        # development T-02, T-03, T-05: (40 + 100 + 60) / 3 = 66.67; (44.7 + 100 + 100) / 3
        # = 81.57
        ("development", 3, 1, 66.7, 81.6),
    ]
    # Completion: min(100, reported / planned × 100), weighted by task weight.
    #   tw:  T-01 90/100 = 90 (weight 1.5), T-04 100/100 = 100 (1) → (135 + 100) / 2.5 = 94
    #   jyj: T-03 100, T-05 60/100 = 60 → 80
    #   rsj: T-02 40/44.7 = 89.49 → 89.5
    # Timeliness: months owed (a lead task under way, or an indicator owned) and reported
    # (any of the unit's rows with that period) by the deadline:
    #   tw:  Jan 22 ✓, Feb 20 ✓, Mar 24 ✓, Apr 26 ✓, May (sent Jun 1) ✗, Jun 29 ✓ → 5/6 = 83.3
    #   jyj: Jan 29 ✗, Feb 24 ✓, Mar 5 ✓, Apr 29 ✗, May none ✗, Jun 28 ✓       → 3/6 = 50
    #   rsj: owes Jan and Feb for its indicator, sent nothing; Mar–Jun ✓        → 4/6 = 66.7
    # Indicators (rsj owns I-01, 5.8 (2020) → 5.5 (2025)): on 06-30 the line stands at
    #   5.8 − 0.3 × 181/1826 = 5.7703; expected share (5.8 − 5.7703) / 0.3 = 0.099; actual
    #   share (5.8 − 5.775) / 0.3 = 0.0833 → 0.0833 / 0.099 = 84.18% → 84.2
    # Evidence: completed tasks with evidence: tw T-04 yes → 100; jyj T-03 no → 0; rsj none.
    # Score: weighted mean of the parts present (weights 40/20/20/20):
    #   tw  (94 × 40 + 83.3 × 20 + 100 × 20) / 80 = 92.825         → 92.8
    #   rsj (89.5 × 40 + 66.7 × 20 + 84.2 × 20) / 80 = 82.475      → 82.5
    #   jyj (80 × 40 + 50 × 20 + 0 × 20) / 80 = 52.5
    assert [
        (s.rank, s.unit, s.completion, s.timeliness, s.indicators, s.evidence, s.score)
        for s in e.scores
    ] == [
        (1, "tw", 94.0, 83.3, None, 100.0, 92.8),
        (2, "rsj", 89.5, 66.7, 84.2, None, 82.5),
        (3, "jyj", 80.0, 50.0, None, 0.0, 52.5),
    ]
    assert e.weights == {"completion": 40, "timeliness": 20, "indicators": 20, "evidence": 20}

    # I-01: progress (5.775 − 5.8) / (5.5 − 5.8) = 8.33%; behind the line by
    # (5.7703 − 5.775) / −0.3 = 1.6% of the way, within the tolerance of 10 → 正常推进.
    [line] = e.indicators
    assert (line.code, line.latest, line.latest_as_of, line.expected, line.progress) == (
        "I-01",
        5.775,
        date(2021, 6, 30),
        5.77,
        8.3,
    )
    assert (line.status, line.status_label) == ("on_track", "正常推进")

    assert [(h.key, h.state, h.tasks) for h in e.six_has] == [
        ("plan", "done", [("T-04", "编制县青年发展规划", "completed")]),
        ("mechanism", "in_progress", [("T-01", "建立青年工作联席会议制度", "in_progress")]),
        ("policy", "done", [("T-03", "出台中小学课后服务实施办法", "completed")]),
        ("project", "in_progress", [("T-02", "实施高校毕业生就业见习计划", "in_progress")]),
        ("support", "in_progress", [("T-05", "保障青少年校外活动场所运行经费", "in_progress")]),
        ("delivery", "unmapped", []),
    ]
    assert [(h.state_label, h.shown_tasks) for h in e.six_has[:2]] == [
        ("已落实", [("T-04", "编制县青年发展规划", "已完成")]),
        ("推进中", [("T-01", "建立青年工作联席会议制度", "推进中")]),
    ]

    assert e.months == ["2021-01", "2021-02", "2021-03", "2021-04", "2021-05", "2021-06"]
    heat = {code: cells for code, _, cells in e.heat}
    # tw in January: reported (10 + 50) / 2 = 30; planned T-01 40 × 27/86 = 12.6, T-04
    # 100 × 27/86 = 31.4 → 22.
    assert heat["tw"][0] == (30.0, 22.0)
    # rsj: no task under way in January; in February T-02 planned 27/333 = 8.1, unreported.
    assert heat["rsj"][:2] == [(None, None), (None, 8.1)]
    # jyj in June: (100 + 60) / 2 = 80 against 100.
    assert heat["jyj"][5] == (80.0, 100.0)

    assert [(x["unit"], x["level_label"], x["closed"]) for x in e.escalations] == [
        ("jyj", "督办", None)
    ]
    # All tasks: (90 + 40 + 100 + 100 + 60) / 5 = 78; planned (100 + 44.7 + 100 × 3) / 5 = 88.94
    assert e.totals == {
        "tasks": 5,
        "completed": 2,
        "average": 78.0,
        "planned": 88.9,
        "indicators_on_track": 1,
        "indicators_behind": 0,
        "indicators_without_data": 0,
        "interviews": 0,
        "urges": 1,
    }
    assert e.narrative == [
        # 2/5 = 40%; 78 − 88.9 = −10.9
        "截至2021年6月30日，演示县试点共有应推进任务5项，已完成2项，完成率40%；"
        "平均完成进度78%，计划进度88.9%，落后10.9个百分点。",
        "分清单看，机制性任务1/2项完成，发展任务1/3项完成。",
        "1项主要发展指标中，1项达到进度要求，0项滞后，0项暂无数据。",
        "综合评分最高的是团县委（92.8分）。",
        "得分低于60分的单位有1个：县教育局，需重点督促。",
        "本半年共发出督办1次，建议约谈0个单位主要负责人。",
    ]


def test_the_evaluation_lists_escalations_from_the_highest_rung_down() -> None:
    spec = validate_program(demo_document(), "demo.yaml")
    escalations = [
        {"id": n, "unit": unit, "level": level, "opened": date(2021, 2, n), "closed": closed}
        for n, (unit, level, closed) in enumerate(
            [
                ("tw", "reminder", None),
                ("jyj", "urge", date(2021, 5, 1)),
                ("rsj", "interview", None),
                ("jyj", "urge", None),
            ],
            start=1,
        )
    ]
    snapshot = figures.Snapshot(spec, date(2021, 6, 30), [], [], escalations)
    e = figures.evaluation(snapshot, "2021H1")
    # Interviews first, then urges (the open one before the closed one), then reminders.
    assert [(x["level_label"], x["id"]) for x in e.escalations] == [
        ("约谈建议", 3),
        ("督办", 4),
        ("督办", 2),
        ("提醒", 1),
    ]


def test_the_figures_count_codes_whatever_the_labels_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = validate_program(demo_document(), "demo.yaml")
    # The demo pilot's reports, and T-02 reported as not started at the end of June.
    rows = [*REPORTS, ("rsj", "T-02", "2021-06", "not_started", 0, date(2021, 6, 29), "")]
    status_reports = [
        rules.StatusReport(task, unit, period, status, percent, day, evidence, order=n)
        for n, (unit, task, period, status, percent, day, evidence) in enumerate(rows)
    ]
    readings = [rules.Reading(code, value, day) for _, code, value, day in READINGS]
    escalations = [
        {"id": 1, "unit": unit, "level": level, "opened": day, "closed": None}
        for unit, level, day in ESCALATIONS
    ]
    answers = {"tw": {"status": "confirmed", "note": "", "recorded_at": None}}

    def worked_out() -> tuple[Any, ...]:
        snapshot = figures.Snapshot(
            spec, date(2021, 6, 30), status_reports, readings, escalations, answers
        )
        e = figures.evaluation(snapshot, "2021H1")
        q = figures.quarterly(snapshot, "2021Q2")
        return (
            e.totals,
            [h.state for h in e.six_has],
            [i.status for i in e.indicators],
            q.totals,
            [line.done for line in q.lines],
        )

    before = worked_out()
    totals, states, statuses, quarter, _ = before
    assert states == ["done", "in_progress", "done", "not_started", "in_progress", "unmapped"]
    assert statuses == ["on_track"] and totals["indicators_on_track"] == 1
    assert (totals["urges"], quarter["confirmed"]) == (1, 1)

    # Every name a reader sees changes; no figure does.
    for vocabulary, names in list(LABELS.items()):
        monkeypatch.setitem(LABELS, vocabulary, {code: f"〈{code}〉" for code in names})
    assert worked_out() == before


# The first quarter (01-01 to 03-31), as of 03-31:
#   tw  leads T-01 (40%, in progress) and T-04 (completed 02-20, due 03-31: on time)
#   jyj leads T-03 (completed 03-05, due 02-26: late) and T-05; co-unit of T-01
#   rsj leads T-02 and owns I-01
# Flags on 03-31: jyj 1 (T-03 completed without evidence); rsj 1 (I-01 at 5.82 against the
# line's 5.8 − 0.3 × 90/1826 = 5.7852: (5.7852 − 5.82) / −0.3 = 11.6% > 10). Nothing
# missing (every unit sent something for March by Mar 30), overdue, behind plan by more
# than 15 (T-01 40 vs 40, T-02 15 vs 58/333 = 17.4, T-05 30 vs 58/149 = 38.9) or stalled.
Q1_LINES = [
    # unit, led tasks, reported done, done by due, flags, open escalations, confirmation
    ("tw", 2, 1, 1, 0, 0, "未确认"),
    ("jyj", 2, 1, 0, 1, 0, "未确认"),
    ("rsj", 1, 0, 0, 1, 0, "未确认"),
]
Q1_DISCREPANCIES = {
    "tw": [
        (
            "T-01",
            "报送不一致",
            "T-01 配合单位县教育局报送已完成 100%，牵头单位报送推进中 40%",
        )
    ],
    "jyj": [
        ("T-03", "无佐证", "T-03 报送已完成，但未提供佐证材料"),
        ("T-03", "逾期完成", "T-03 完成时限为2月26日，3月5日才报送完成"),
        ("T-05", "进度回退", "T-05 完成进度由50%（2月25日）回退至30%（3月25日）"),
    ],
    "rsj": [("T-02", "未报送", "T-02 2021-02 未报送进展")],
}
Q1_ROWS = {
    "tw": [
        ("T-01", "牵头", "推进中", 40, "1月22日 10%；2月23日 25%；3月24日 40%"),
        ("T-04", "牵头", "已完成", 100, "1月22日 50%；2月20日 100%"),
    ],
    "jyj": [
        ("T-03", "牵头", "已完成", 100, "1月29日 60%；2月24日 90%；3月5日 100%"),
        ("T-05", "牵头", "推进中", 30, "2月25日 50%；3月25日 30%"),
        ("T-01", "配合", "已完成", 100, "3月22日 100%"),
    ],
    "rsj": [("T-02", "牵头", "推进中", 15, "3月24日 15%")],
}
# The files each unit's lines rest on: one submission per unit and day in the quarter.
Q1_SOURCES = {
    "tw": sorted(sha_of("tw", date(2021, m, d)) for m, d in ((1, 22), (2, 20), (2, 23), (3, 24))),
    "jyj": sorted(
        sha_of("jyj", date(2021, m, d))
        for m, d in ((1, 29), (2, 24), (2, 25), (3, 5), (3, 22), (3, 25))
    ),
    "rsj": [sha_of("rsj", date(2021, 3, 24))],  # its reading of 03-31 is no task report
}


def test_the_quarterly_reconciliation_by_hand(engine: sa.Engine) -> None:
    build(engine)
    q = figures.quarterly(snapshot(engine, date(2021, 3, 31), "2021Q1"), "2021Q1")

    assert (q.start, q.end) == (date(2021, 1, 1), date(2021, 3, 31))
    assert [
        (
            line.unit,
            line.tasks,
            line.done,
            line.on_time,
            line.flags,
            line.open_escalations,
            line.confirmation_label,
        )
        for line in q.lines
    ] == Q1_LINES
    assert {line.confirmation for line in q.lines} == {None}
    assert {s.unit: [(d.task, d.kind, d.text) for d in s.discrepancies] for s in q.statements} == (
        Q1_DISCREPANCIES
    )
    assert {
        s.unit: [(r.task, r.role, r.status_label, r.percent, r.history) for r in s.rows]
        for s in q.statements
    } == Q1_ROWS
    assert {s.unit: s.submissions for s in q.statements} == Q1_SOURCES
    assert {line.unit: line.submissions for line in q.lines} == Q1_SOURCES
    assert q.totals == {
        "units": 3,
        "tasks": 5,
        "done": 2,
        "on_time": 1,
        "flags": 2,
        "open_escalations": 0,
        "confirmed": 0,
        "discrepancies": 5,
    }


def test_the_second_quarter_by_hand(sqlite_engine: sa.Engine) -> None:
    build(sqlite_engine)
    q = figures.quarterly(snapshot(sqlite_engine, date(2021, 6, 30), "2021Q2"), "2021Q2")
    # Q2 tasks: tw T-01 (T-04 was due in March), jyj T-05 (T-03 was due in February), rsj
    # T-02. Flags on 06-30: jyj has three — T-05 60 against 100 planned (behind by 40),
    # nothing for May by May 28, and T-03 still without evidence; the others none.
    # The urge opened on 04-15 is still open at the end of June.
    assert [
        (line.unit, line.tasks, line.done, line.on_time, line.flags, line.open_escalations)
        for line in q.lines
    ] == [("tw", 1, 0, 0, 0, 0), ("jyj", 1, 0, 0, 3, 1), ("rsj", 1, 0, 0, 0, 0)]
    # The co-unit's T-01 report is from March, outside the quarter: no contradiction now.
    assert [(s.unit, d.kind, d.text) for s in q.statements for d in s.discrepancies] == [
        ("jyj", "未报送", "T-05 2021-05 未报送进展")
    ]


# --- 2–5. files written, read back, recorded, delivered -------------------------------------


@dataclass
class Run:
    engine: sa.Engine
    home: Path
    quarterly: writing.Written
    quarterly_again: writing.Written
    half: writing.Written
    half_again: writing.Written
    html: dict[str, bytes]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The demo pilot's 2021Q1 reconciliation and 2021H1 evaluation, each written twice:
    then again on a machine without a Chinese font, where no PDF can be printed (which
    also keeps this module fast: a PDF takes seconds)."""
    home = tmp_path_factory.mktemp("reports-home")
    engine = db.make_engine(f"sqlite:///{home / 'ledger.db'}")
    db.migrate(engine)
    build(engine)
    written: dict[str, writing.Written] = {}
    html: dict[str, bytes] = {}
    with pytest.MonkeyPatch.context() as patch:
        for run in ("first", "again"):
            if run == "again":
                patch.setattr(documents, "cjk_font", lambda: None)
            with db.session(engine) as session:
                written[f"q-{run}"] = reconciliation.write(
                    session=session,
                    program="demo",
                    quarter="2021Q1",
                    folder=home / run / "demo" / "2021Q1",
                    home=home,
                    templates=TEMPLATES,
                    now=NOW,
                    send=True,
                    links=LINKS,
                )
            with db.session(engine) as session:
                written[f"h-{run}"] = evaluation.write(
                    session=session,
                    program="demo",
                    half="2021H1",
                    folder=home / run / "demo" / "2021H1",
                    home=home,
                    templates=TEMPLATES,
                    now=NOW,
                    send=True,
                )
            for kind in ("q", "h"):
                html[f"{kind}-{run}"] = written[f"{kind}-{run}"].files["html"].read_bytes()
    yield Run(
        engine,
        home,
        written["q-first"],
        written["q-again"],
        written["h-first"],
        written["h-again"],
        html,
    )
    engine.dispose()


def test_every_format_is_written(demo: Run) -> None:
    folder = demo.home / "first" / "demo"
    assert demo.quarterly.problems == demo.half.problems == []
    assert demo.quarterly.files == {
        "html": folder / "2021Q1" / "demo-2021Q1-季度对账.html",
        "pdf": folder / "2021Q1" / "demo-2021Q1-季度对账.pdf",
        "xlsx": folder / "2021Q1" / "demo-2021Q1-季度对账.xlsx",
        "docx": folder / "2021Q1" / "demo-2021Q1-季度对账.docx",
        "statements_docx": folder / "2021Q1" / "demo-2021Q1-对账单.docx",
    }
    assert demo.half.files == {
        kind: folder / "2021H1" / f"demo-2021H1-半年度评估.{kind}"
        for kind in ("html", "pdf", "xlsx", "docx")
    }
    for path in [*demo.quarterly.files.values(), *demo.half.files.values()]:
        assert path.stat().st_size > 0
    assert not [p for p in demo.home.rglob("*.part")]


@pytest.mark.parametrize("kind, period", [("quarterly", "2021Q1"), ("half_year", "2021H1")])
def test_while_a_report_prints_another_process_may_write(
    kind: str,
    period: str,
    sqlite_engine: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Printing takes seconds: a supervise run (another process) writing meanwhile is not
    kept waiting behind the report's transaction (SQLite has one writer at a time)."""
    import sqlite3

    build(sqlite_engine)
    database = db.sqlite_file(sqlite_engine.url)
    free: list[bool] = []

    def print_while_another_writes(*args: Any, **kwargs: Any) -> dict[str, tuple[int, int]]:
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:  # database is locked
            free.append(False)
        finally:
            other.close()
        raise ReportError("no font here")  # the rest is written without the PDF

    monkeypatch.setattr(documents, "pdf", print_while_another_writes)
    with db.session(sqlite_engine) as session:
        written = writing.write(
            session=session,
            kind=kind,
            program="demo",
            period=period,
            folder=tmp_path / period,
            home=tmp_path,
            templates=TEMPLATES,
            now=NOW,
            links=LINKS,
        )

    assert free and all(free), free
    assert written.files["xlsx"].is_file() and written.queued > 0
    with db.session(sqlite_engine) as session:  # recorded after the printing, all the same
        assert session.exec(select(Document).where(Document.period == period)).one().kind == kind


def test_the_quarterly_pdf_reads_back(demo: Run) -> None:
    text = pdf_text(demo.quarterly.files["pdf"])
    assert PdfReader(demo.quarterly.files["pdf"]).pages[0].extract_text()  # real text, not boxes
    assert "演示县试点" in text and "2021年第1季度任务对账汇总" in text
    for name in NAMES.values():
        assert name in text
    # The overall sentence carries the totals.
    assert (
        squeeze(
            "本季度3个成员单位牵头推进任务5项，报送已完成2项，其中按期完成1项；季度末共有预警2项"
        )
        in text
    )
    assert "对账发现需核实的问题5处" in text
    for problems in Q1_DISCREPANCIES.values():
        for _, kind, explanation in problems:
            assert kind in text and squeeze(explanation) in text


def test_the_half_year_pdf_reads_back(demo: Run) -> None:
    text = pdf_text(demo.half.files["pdf"])
    assert "2021年上半年评估报告" in text
    for name in NAMES.values():
        assert name in text
    for figure in ("92.8", "82.5", "52.5", "83.3", "84.2", "88.9", "城镇青年调查失业率"):
        assert figure in text
    assert squeeze("综合评分最高的是团县委（92.8分）。") in text
    assert squeeze("得分低于60分的单位有1个：县教育局，需重点督促。") in text


def test_the_quarterly_workbook_holds_numbers_and_sources(demo: Run) -> None:
    workbook = openpyxl.load_workbook(demo.quarterly.files["xlsx"])
    assert workbook.sheetnames == ["对账汇总", "任务明细", "需核实问题", "数据来源"]
    summary = workbook["对账汇总"]
    assert [c.value for c in summary[1]][:5] == [
        "单位编号",
        "成员单位",
        "牵头任务",
        "报送完成",
        "按期完成",
    ]
    lines = rows_of(summary)
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in lines] == [
        (unit, NAMES[unit], tasks, done, on_time, flags, escalations, confirmation)
        for unit, tasks, done, on_time, flags, escalations, confirmation in Q1_LINES
    ]
    for row in summary.iter_rows(min_row=2, min_col=3, max_col=7):
        assert all(cell.data_type == "n" for cell in row)

    details = rows_of(workbook["任务明细"])
    assert [(r[0], r[2], r[4], r[6], r[7], r[8]) for r in details] == [
        (unit, task, role, status, percent, history)
        for unit, rows in Q1_ROWS.items()
        for task, role, status, percent, history in rows
    ]
    assert details[0][5] == datetime(2021, 6, 30)  # T-01's due day, a real date
    percents = [row[7] for row in workbook["任务明细"].iter_rows(min_row=2)]
    assert all(cell.data_type == "n" for cell in percents)

    issues = rows_of(workbook["需核实问题"])
    assert [(r[0], r[2], r[3], r[4]) for r in issues] == [
        (unit, task, kind, text)
        for unit, problems in Q1_DISCREPANCIES.items()
        for task, kind, text in problems
    ]

    # 数据来源: the sha256 of every submission behind a unit's lines, checked against the
    # database: the submissions of the unit's task reports sent in the quarter.
    with db.session(demo.engine) as session:
        stored = session.exec(
            select(Unit.code, Submission.sha256)
            .join(StatusReport, StatusReport.submission_id == Submission.id)
            .join(Unit, StatusReport.unit_id == Unit.id)
            .where(col(StatusReport.reported_on) <= date(2021, 3, 31))
        ).all()
    expected: dict[str, set[str]] = {}
    for unit, sha in stored:
        expected.setdefault(unit, set()).add(sha)
    sources: dict[str, set[str]] = {}
    for unit, name, sha in rows_of(workbook["数据来源"]):
        assert name == NAMES[unit]
        sources.setdefault(unit, set()).add(sha)
    assert sources == expected == {unit: set(shas) for unit, shas in Q1_SOURCES.items()}


def test_the_evaluation_workbook_matches_the_figures(demo: Run) -> None:
    workbook = openpyxl.load_workbook(demo.half.files["xlsx"])
    assert workbook.sheetnames == [
        "单位评分",
        "清单进度",
        "主要指标",
        "督办情况",
        "六有",
        "挂图作战",
        "数据来源",
    ]
    scores = workbook["单位评分"]
    assert rows_of(scores) == [
        [1, "tw", "团县委", 94, 83.3, None, 100, 92.8],
        [2, "rsj", "县人力社保局", 89.5, 66.7, 84.2, None, 82.5],
        [3, "jyj", "县教育局", 80, 50, None, 0, 52.5],
    ]
    for row in scores.iter_rows(min_row=2):
        assert all(cell.data_type == "n" for cell in row if cell.column != 2 and cell.column != 3)
    assert rows_of(workbook["清单进度"]) == [
        ["机制性任务", 2, 1, 95, 100],
        ["发展任务", 3, 1, 66.7, 81.6],
    ]
    [indicator] = rows_of(workbook["主要指标"])
    assert indicator[:3] == ["I-01", "城镇青年调查失业率", "国家指标"]  # the level's name
    assert (indicator[6], indicator[10], indicator[11], indicator[12]) == (
        5.775,
        5.77,
        8.3,
        "正常推进",
    )
    # Urged on 15 April, never acknowledged by its head: overdue after 3 working days.
    assert rows_of(workbook["督办情况"]) == [
        ["督办", "jyj", "县教育局", datetime(2021, 4, 15), None, "未签收（4月21日起逾期）"]
    ]
    assert [r[:2] for r in rows_of(workbook["六有"])] == [
        ["有规划", "已落实"],
        ["有机制", "推进中"],
        ["有政策", "已落实"],
        ["有项目", "推进中"],
        ["有保障", "推进中"],
        ["有落实", "未对应任务"],
    ]
    heat = workbook["挂图作战"]
    assert [c.value for c in heat[1]] == [
        "单位编号",
        "成员单位",
        "1月",
        "2月",
        "3月",
        "4月",
        "5月",
        "6月",
    ]
    assert rows_of(heat)[0][:3] == ["tw", "团县委", 30]
    # Every submission of a task report in the half year, by unit.
    sources: dict[str, set[str]] = {}
    for unit, _, sha in rows_of(workbook["数据来源"]):
        sources.setdefault(unit, set()).add(sha)
    assert sources == {
        unit: {sha_of(u, day) for u, *_, day, _ in REPORTS if u == unit} for unit in NAMES
    }


def test_the_word_document_has_headings_tables_and_official_fonts(demo: Run) -> None:
    document = docx.Document(str(demo.half.files["docx"]))
    paragraphs = [p for p in document.paragraphs if p.text.strip()]
    assert [p.text for p in paragraphs[:2]] == ["演示县试点", "2021年上半年评估报告"]
    assert {east_asia(run) for p in paragraphs[:2] for run in p.runs} == {"方正小标宋简体"}
    headings = [p for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert [p.text for p in headings] == [
        "一、总体评价",
        "二、任务清单推进情况",
        "三、主要发展指标完成情况",
        "四、成员单位评分与排名",
        "五、滞后单位与督办情况",
        "六、“六有”建设情况",
        "七、挂图作战",
    ]
    assert {east_asia(run) for p in headings for run in p.runs} == {"黑体"}
    body = [p for p in paragraphs[2:] if not p.style.name.startswith("Heading")]
    assert [p.text for p in body[:6]] == figures.evaluation(
        snapshot(demo.engine, date(2021, 6, 30)), "2021H1"
    ).narrative
    assert {east_asia(run) for p in body for run in p.runs} == {"仿宋_GB2312"}

    # Lists, indicators, scores, escalations, six-has.
    assert len(document.tables) == 5
    scores = [[cell.text for cell in row.cells] for row in document.tables[2].rows]
    assert scores == [
        ["排名", "成员单位", "完成进度", "报送及时", "指标达成", "佐证材料", "综合得分"],
        ["1", "团县委", "94", "83.3", "—", "100", "92.8"],
        ["2", "县人力社保局", "89.5", "66.7", "84.2", "—", "82.5"],
        ["3", "县教育局", "80", "50", "—", "0", "52.5"],
    ]
    header = [run for run in document.tables[2].rows[0].cells[0].paragraphs[0].runs if run.text]
    assert [(run.text, east_asia(run)) for run in header] == [("排名", "黑体")]
    cell = [run for run in document.tables[2].rows[1].cells[1].paragraphs[0].runs if run.text]
    assert [(run.text, east_asia(run)) for run in cell] == [("团县委", "仿宋_GB2312")]
    assert [cell.text for cell in document.tables[3].rows[1].cells] == [
        "督办",
        "县教育局",
        "2021-04-15",
        "未结",
        "未签收（4月21日起逾期）",
    ]


def test_the_word_documents_are_in_the_official_layout(demo: Run) -> None:
    printed_by = "演示县试点领导小组办公室"  # the demo's program file names no issuer
    assert_official_layout(
        demo.half.files["docx"],
        title=["演示县试点", "2021年上半年评估报告"],
        levels={1},
        printed_by=printed_by,
    )
    assert_official_layout(
        demo.quarterly.files["docx"],
        title=["演示县试点", "2021年第1季度任务对账汇总"],
        levels={1},
        printed_by=printed_by,
    )
    assert_official_layout(
        demo.quarterly.files["statements_docx"],
        title=["演示县试点", "2021年第1季度任务对账单"],
        levels={2},
        printed_by=printed_by,
    )


def test_a_chinese_font_missing_for_a_while_is_found_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The charts' font file is not remembered as missing: a process that once found no
    Chinese font (or a test that said so) draws the charts once one is there."""
    if documents.cjk_font() is None:
        pytest.skip("no Chinese font is installed here (scripts/setup installs them)")
    with monkeypatch.context() as without:
        without.setattr(documents, "cjk_font", lambda: None)
        assert documents.cjk_font_file() is None
    path, index = documents.cjk_font_file() or ("", -1)
    assert Path(path).is_file() and index >= 0


def test_the_word_evaluation_shows_the_charts_of_the_pdf(demo: Run) -> None:
    """The bars by list and the battle map, drawn from the page's own SVG: the same size
    ratio, and every colour the SVG fills a shape with."""
    import io
    import xml.etree.ElementTree as ElementTree

    from PIL import Image

    from pilot_tracker.reports import charts

    document = docx.Document(str(demo.half.files["docx"]))
    data = figures.evaluation(snapshot(demo.engine, date(2021, 6, 30)), "2021H1")
    shapes = document.inline_shapes
    assert len(shapes) == 2
    for shape, svg in zip(
        shapes, [charts.completion_by_list(data), charts.battle_map(data)], strict=True
    ):
        blob = document.part.related_parts[
            shape._inline.graphic.graphicData.pic.blipFill.blip.embed
        ].blob
        picture = Image.open(io.BytesIO(blob)).convert("RGB")
        root = ElementTree.fromstring(svg)
        width, height = float(root.get("width")), float(root.get("height"))
        assert picture.size == (round(width * 2), round(height * 2))
        assert abs(shape.width / shape.height - width / height) < 0.01
        assert shape.width.mm <= 156
        fills = {
            e.get("fill").lstrip("#").lower()
            for e in root.iter("{http://www.w3.org/2000/svg}rect")
            if e.get("fill") not in (None, "none")
        }
        shown = {bytes(rgb).hex() for _, rgb in picture.getcolors(maxcolors=1 << 20)}
        assert fills and fills <= shown


def test_the_quarter_in_word_has_a_line_per_unit_and_a_page_per_statement(demo: Run) -> None:
    summary = docx.Document(str(demo.quarterly.files["docx"]))
    (table,) = summary.tables
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows[0] == [
        "成员单位",
        "牵头任务",
        "报送完成",
        "按期完成",
        "预警",
        "未结督办",
        "对账确认",
        "备注",
    ]
    assert [row[0] for row in rows[1:]] == list(NAMES.values())
    text = "\n".join(p.text for p in summary.paragraphs)
    assert "牵头推进任务5项，报送已完成2项，其中按期完成1项" in text
    assert "对账发现需核实的问题5处" in text

    statements = docx.Document(str(demo.quarterly.files["statements_docx"]))
    titles = [p for p in statements.paragraphs if p.text == "2021年第1季度任务对账单"]
    firsts = [p for p in statements.paragraphs if p.text == "演示县试点"]
    # One statement per unit, each from a page of its own.
    assert len(titles) == len(firsts) == len(NAMES)
    assert [p.paragraph_format.page_break_before for p in firsts] == [None, True, True]
    lines = [p.text for p in statements.paragraphs]
    assert [line for line in lines if line.endswith("：") and line[:-1] in NAMES.values()] == [
        f"{name}：" for name in NAMES.values()
    ]
    tables = [[[cell.text for cell in row.cells] for row in t.rows] for t in statements.tables]
    tasks = [t for t in tables if t[0][0] == "任务编号" and t[0][1] == "任务名称"]
    assert [[(row[0], row[2], row[4], row[5], row[6]) for row in t[1:]] for t in tasks] == [
        [
            (task, role, status, str(percent), history)
            for task, role, status, percent, history in Q1_ROWS[unit]
        ]
        for unit in NAMES
    ]
    issues = [t for t in tables if t[0] == ["任务编号", "问题类型", "说明"]]
    assert [[tuple(row) for row in t[1:]] for t in issues] == [
        [tuple(d) for d in Q1_DISCREPANCIES[unit]] for unit in NAMES if Q1_DISCREPANCIES[unit]
    ]
    # The office's copy of every statement carries no unit's personal link.
    assert PUBLIC_URL not in "\n".join(lines)
    assert any("通知中的专属链接" in line for line in lines)


def test_the_quarterly_html_is_self_contained(demo: Run) -> None:
    page = demo.html["q-first"].decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    tags = Tags(page)
    # The summary, then one statement per unit, each with its own title.
    assert tags.headings["h1"] == ["演示县试点"] * 4
    assert tags.headings["h2"] == ["一、总体情况", "二、分单位对账情况"]
    # Summary table; each statement's task table and problem table.
    assert tags.count("table") == 7
    assert [attrs.get("id") for tag, attrs in tags.tags if tag == "section"] == [
        "statement-tw",
        "statement-jyj",
        "statement-rsj",
    ]
    assert_self_contained(page)


def test_the_half_year_html_is_self_contained_with_inline_charts(demo: Run) -> None:
    page = demo.html["h-first"].decode("utf-8")
    tags = Tags(page)
    assert tags.headings["h1"] == ["演示县试点"]
    assert tags.headings["h2"] == [
        "一、总体评价",
        "二、任务清单推进情况",
        "三、主要发展指标完成情况",
        "四、成员单位评分与排名",
        "五、滞后单位与督办情况",
        "六、“六有”建设情况",
        "七、挂图作战",
    ]
    assert tags.headings["h3"] == ["国家指标（1项）"]
    assert tags.count("table") == 5
    assert tags.count("svg") == 2
    assert [attrs.get("aria-label") for tag, attrs in tags.tags if tag == "svg"] == [
        "各清单完成进度",
        "挂图作战",
    ]
    assert "<th>签收</th>" in page and '<td class="red">未签收（4月21日起逾期）</td>' in page
    assert_self_contained(page)


# --- 3. each unit's statement ---------------------------------------------------------------


def test_each_unit_gets_its_own_statement(demo: Run) -> None:
    statements = demo.quarterly.statements
    assert set(statements) == set(NAMES)
    codes = {"T-01", "T-02", "T-03", "T-04", "T-05"}
    for unit, path in statements.items():
        assert path.suffix == ".pdf" and path.name == f"demo-2021Q1-对账单-{unit}.pdf"
        text = pdf_text(path)
        assert f"2021年第1季度任务对账单·{NAMES[unit]}" in text
        mine = {task for task, *_ in Q1_ROWS[unit]}
        assert {code for code in codes if code in text} == mine, unit
        for *_, explanation in Q1_DISCREPANCIES[unit]:
            assert squeeze(explanation) in text
        # Not the summary, and not another unit's statement.
        assert "二、分单位对账情况" not in text
        others = [NAMES[other] for other in NAMES if other != unit]
        assert not any(f"任务对账单·{name}" in text for name in others)
    # Cut from one print of the statements: fewer pages than the summary with them.
    whole = len(PdfReader(demo.quarterly.files["pdf"]).pages)
    parts = sum(len(PdfReader(path).pages) for path in statements.values())
    assert 0 < parts < whole


def test_the_statements_are_cut_from_one_read_of_the_whole(
    demo: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypdf

    source = demo.quarterly.files["pdf"]
    pages = [squeeze(page.extract_text() or "") for page in PdfReader(source).pages]
    parts = {tmp_path / f"part-{number}.pdf": (number, number + 1) for number in range(len(pages))}
    reads: list[Path] = []

    class Counted(pypdf.PdfReader):
        def __init__(self, stream: Any, *args: Any, **kwargs: Any) -> None:
            reads.append(stream)
            super().__init__(stream, *args, **kwargs)

    monkeypatch.setattr(pypdf, "PdfReader", Counted)
    documents.split_pdf(source, parts)
    assert reads == [source]
    assert [pdf_text(path) for path in parts] == pages
    assert not [entry.name for entry in tmp_path.iterdir() if entry.name.startswith(".")]


def test_each_unit_s_statement_carries_its_own_link_and_the_summary_none(demo: Run) -> None:
    """A link opens one unit's page, so it is printed in that unit's statement only: never
    in the summary, which holds every statement and goes to the office and the leaders."""
    for written, read in (
        (demo.quarterly, pdf_text),
        (demo.quarterly_again, lambda path: path.read_text(encoding="utf-8")),
    ):
        for unit, path in written.statements.items():
            text = read(path)
            assert opened_by(demo.engine, text, NOW) == [unit]
            assert "在线确认本对账单，或提出异议并写明理由" in squeeze(text)
            assert "reconcile" not in text  # not a command a liaison cannot run
        for kind, path in written.files.items():
            if kind in ("pdf", "html"):
                text = pdf_text(path) if kind == "pdf" else path.read_text(encoding="utf-8")
                assert PUBLIC_URL not in text and "专属链接" in text, kind
            elif kind == "xlsx":
                assert not any(
                    PUBLIC_URL in str(cell)
                    for sheet in openpyxl.load_workbook(path).worksheets
                    for row in sheet.iter_rows(values_only=True)
                    for cell in row
                )
        # The statements printed with their links to be cut apart leave nothing behind.
        assert not [entry.name for entry in written.folder.iterdir() if entry.name.startswith(".")]


def test_the_pdf_is_set_in_the_report_fonts_only(demo: Run) -> None:
    """Every piece of text, the page numbers and the statements too, in the free fonts that
    stand for the 公文's (tests/test_gongwen_pdf.py checks which text is in which); a
    fallback font would look different and, embedded as a CJK subset, costs time."""
    if documents.missing_stand_ins():
        pytest.skip(f"not installed: {' '.join(documents.missing_stand_ins())}")
    for path in (demo.quarterly.files["pdf"], demo.half.files["pdf"]):
        fonts = {
            str(font.get_object()["/BaseFont"]).split("+")[-1]
            for page in PdfReader(path).pages
            for font in page["/Resources"]["/Font"].values()
        }
        assert fonts == {
            "Noto-Serif-CJK-SC-Bold",
            "Noto-Serif-CJK-SC",
            "Noto-Sans-CJK-SC",
            "AR-PL-UKai-CN",
            "Liberation-Serif",
        }, (path.name, fonts)


def test_without_a_chinese_font_the_pdf_is_refused_and_the_rest_written(demo: Run) -> None:
    for written in (demo.quarterly_again, demo.half_again):
        [problem] = written.problems
        assert problem.startswith("PDF not written: no font with Chinese characters is installed")
        assert "apt-get install fonts-noto-cjk fonts-arphic-ukai" in problem
        assert "pdf" not in written.files
    assert set(demo.half_again.files) == {"html", "xlsx", "docx"}
    # Each unit's statement is then a page of its own, with the same content.
    for unit, path in demo.quarterly_again.statements.items():
        assert path.name == f"demo-2021Q1-对账单-{unit}.html"
        page = path.read_text(encoding="utf-8")
        assert_self_contained(page)
        assert Tags(page).headings["h1"] == ["演示县试点"]
        assert f"任务对账单 · {NAMES[unit]}" in page
        assert {code for code in ("T-01", "T-02", "T-03", "T-04", "T-05") if code in page} == {
            task for task, *_ in Q1_ROWS[unit]
        }


# --- 4. recorded and reproducible -----------------------------------------------------------


def test_each_run_is_recorded_with_checksums(demo: Run) -> None:
    with db.session(demo.engine) as session:
        rows = session.exec(select(Document).order_by(col(Document.id))).all()
        assert [(r.kind, r.period, r.formats) for r in rows] == [
            ("quarterly", "2021Q1", ["docx", "html", "pdf", "statements_docx", "xlsx"]),
            ("half_year", "2021H1", ["docx", "html", "pdf", "xlsx"]),
            ("quarterly", "2021Q1", ["docx", "html", "statements_docx", "xlsx"]),
            ("half_year", "2021H1", ["docx", "html", "xlsx"]),
        ]
        for row, written in zip(
            rows, [demo.quarterly, demo.half, demo.quarterly_again, demo.half_again], strict=True
        ):
            assert row.generated_at is not None
            assert set(row.paths) == set(row.sha256)
            assert set(row.paths) == set(written.files) | {
                f"statement:{unit}" for unit in written.statements
            }
            for kind, path in [
                *written.files.items(),
                *((f"statement:{unit}", path) for unit, path in written.statements.items()),
            ]:
                assert row.paths[kind] == str(path.relative_to(demo.home))
                assert row.sha256[kind] == hashlib.sha256(path.read_bytes()).hexdigest()
        # The same data give the same page, byte for byte.
        assert rows[0].sha256["html"] == rows[2].sha256["html"]
        assert rows[1].sha256["html"] == rows[3].sha256["html"]
    assert demo.html["q-first"] == demo.html["q-again"]
    assert demo.html["h-first"] == demo.html["h-again"]


def test_the_figures_are_the_same_when_done_again(demo: Run) -> None:
    first = figures.quarterly(snapshot(demo.engine, date(2021, 3, 31), "2021Q1"), "2021Q1")
    again = figures.quarterly(snapshot(demo.engine, date(2021, 3, 31), "2021Q1"), "2021Q1")
    assert first == again
    half = figures.evaluation(snapshot(demo.engine, date(2021, 6, 30)), "2021H1")
    assert half == figures.evaluation(snapshot(demo.engine, date(2021, 6, 30)), "2021H1")
    for first_run, second_run in (
        (demo.quarterly, demo.quarterly_again),
        (demo.half, demo.half_again),
    ):
        before = openpyxl.load_workbook(first_run.files["xlsx"])
        after = openpyxl.load_workbook(second_run.files["xlsx"])
        assert before.sheetnames == after.sheetnames
        for name in before.sheetnames:
            assert rows_of(before[name]) == rows_of(after[name])
        if "docx" in first_run.files:
            # The second run had no Chinese font: its charts are a line saying so (图略).
            assert [
                p.text for p in docx.Document(str(first_run.files["docx"])).paragraphs if p.text
            ] == [
                p.text
                for p in docx.Document(str(second_run.files["docx"])).paragraphs
                if p.text and not p.text.startswith("（图略")
            ]


# --- 5. delivery ----------------------------------------------------------------------------


def test_delivery_is_queued_once(demo: Run) -> None:
    assert demo.quarterly.queued == 2 + 3  # office, leader, and one statement per unit
    assert demo.half.queued == 2
    assert demo.quarterly_again.queued == demo.half_again.queued == 0
    with db.session(demo.engine) as session:
        messages = session.exec(select(Notification).order_by(col(Notification.id))).all()
        session.expunge_all()
    assert Counter(m.target for m in messages) == {
        "role:office": 2,
        "role:leader": 2,
        "unit:tw role:liaison": 1,
        "unit:jyj role:liaison": 1,
        "unit:rsj role:liaison": 1,
    }
    quarterly = {
        kind: str(path.relative_to(demo.home)) for kind, path in demo.quarterly.files.items()
    }
    half = {kind: str(path.relative_to(demo.home)) for kind, path in demo.half.files.items()}
    for message in messages:
        assert message.status == "pending"
        assert all(not Path(a).is_absolute() for a in message.attachments)
        assert all((demo.home / a).is_file() for a in message.attachments)
        if message.subject.startswith("【季度对账】"):
            assert message.target in ("role:office", "role:leader")
            assert message.attachments == [quarterly["pdf"], quarterly["xlsx"], quarterly["docx"]]
            assert "牵头任务5项，报送完成2项，按期完成1项，需核实问题5处" in message.body
        elif message.subject.startswith("【半年度评估】"):
            assert message.target in ("role:office", "role:leader")
            assert message.attachments == [half["pdf"], half["xlsx"], half["docx"]]
            assert "综合评分最高的是团县委（92.8分）" in message.body
        else:
            unit = message.target.split()[0].removeprefix("unit:")
            assert message.subject.startswith("【对账单】") and NAMES[unit] in message.subject
            assert message.attachments == [
                str(demo.quarterly.statements[unit].relative_to(demo.home))
            ]
            assert f"{len(Q1_DISCREPANCIES[unit])}处需核实的问题" in message.body
            for _, _, explanation in Q1_DISCREPANCIES[unit]:
                assert explanation in message.body
            assert opened_by(demo.engine, message.body, NOW) == [unit]
            assert "通过下方专属链接在线确认，或提出异议" in message.body
        if message.target.startswith("role:"):
            assert links_in(message.body) == [] and PUBLIC_URL not in message.body


# --- 6. bad input ---------------------------------------------------------------------------

XSS = "<script>alert(1)</script>"
DDE = "=cmd|' /C calc'!A0"
LONGEST_TITLE = ("推进青年发展型县域试点各项建设任务" * 40)[:500]  # the most a title may hold


def edge_document() -> dict[str, Any]:
    """A pilot with hostile unit names, a unit with no task, an indicator never read."""
    return {
        "code": "edge",
        "name": "边界试点",
        "level": "provincial",
        "start": "2021-01-01",
        "end": "2021-12-31",
        "units": [
            {"code": "xss", "name": XSS},
            {"code": "dde", "name": DDE},
            {"code": "tjj", "name": "县统计局"},
        ],
        "task_lists": [{"kind": "development", "name": "发展任务清单"}],
        "tasks": [
            {
                "code": "X-01",
                "title": LONGEST_TITLE,
                "list": "development",
                "lead_unit": "xss",
                "start": "2021-07-01",
                "due": "2021-09-30",
                "has": "delivery",
            }
        ],
        "indicators": [
            {
                "code": "I-09",
                "name": "青年志愿者注册率",
                "level": "self_set",
                "measure": "%",
                "baseline": {"value": 10, "year": 2020},
                "target": {"value": 20, "year": 2025},
                "owner": "tjj",
            }
        ],
    }


runner = CliRunner()


def cli(*args: Any, code: int = 0) -> Any:
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@dataclass
class Edge:
    engine: sa.Engine
    home: Path
    quarterly: dict[str, Any]  # what `report quarterly --json` printed
    half: dict[str, Any]

    def file(self, report: str, kind: str) -> Path:
        return Path(getattr(self, report)["files"][kind])


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """The edge pilot through the command line: 2021Q3 (its task under way, nothing ever
    reported) and 2021H1 (nothing under way yet), with --no-send."""
    home = tmp_path_factory.mktemp("edge-home")
    program_file = home / "edge.yaml"
    program_file.write_text(yaml.safe_dump(edge_document(), allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("PILOT_TRACKER_"):
                patch.delenv(name)
        patch.setenv("PILOT_TRACKER_HOME", str(home))
        cli("init")
        cli("program", "load", program_file)
        quarterly = cli(
            "report", "quarterly", "--program", "edge", "--quarter", "2021Q3", "--no-send", "--json"
        )
        half = cli(
            "report", "half-year", "--program", "edge", "--half", "2021H1", "--no-send", "--json"
        )
    engine = db.make_engine(f"sqlite:///{home / 'pilot-tracker.db'}")
    yield Edge(engine, home, json.loads(quarterly.stdout), json.loads(half.stdout))
    engine.dispose()


def test_a_title_longer_than_a_title_may_be_never_reaches_a_report() -> None:
    """A 5,000-character title is refused where it enters, so the reports are tried with
    the longest a title may be (LONGEST_TITLE, 500 characters)."""
    document = edge_document()
    document["tasks"][0]["title"] = "长" * 5000
    with pytest.raises(ProgramFileError) as caught:
        validate_program(document, "edge.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "tasks[0].title: too long (5000 characters, at most 500)"
    ]
    assert len(LONGEST_TITLE) == 500


def test_hostile_names_are_escaped_in_html(edge: Edge) -> None:
    for report in ("quarterly", "half"):
        page = edge.file(report, "html").read_text(encoding="utf-8")
        assert "<script" not in page.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert_self_contained(page)
    quarterly = edge.file("quarterly", "html").read_text(encoding="utf-8")
    assert LONGEST_TITLE in quarterly
    assert "=cmd|&#39; /C calc&#39;!A0" in quarterly


def test_hostile_names_stay_text_in_workbooks(edge: Edge) -> None:
    for report, sheet in (("quarterly", "对账汇总"), ("half", "单位评分")):
        workbook = openpyxl.load_workbook(edge.file(report, "xlsx"))
        cells = [c for row in workbook[sheet].iter_rows() for c in row if c.value in (XSS, DDE)]
        assert {c.value for c in cells} == {XSS, DDE}
        for book_sheet in workbook.worksheets:
            for row in book_sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (book_sheet.title, cell.coordinate)
        assert all(c.data_type == "s" for c in cells)
        # Marked as Excel marks a leading apostrophe, so editing the cell keeps it text.
        assert all(c.quotePrefix for c in cells if c.value == DDE)
    details = openpyxl.load_workbook(edge.file("quarterly", "xlsx"))["任务明细"]
    assert rows_of(details)[0][3] == LONGEST_TITLE


def test_hostile_names_reach_the_word_documents_as_text(edge: Edge) -> None:
    """A unit named like markup or a formula is in each Word file as the characters it is
    (the layout writes Word's XML itself, so a name must never become markup)."""
    for kind, key in (("quarterly", "docx"), ("quarterly", "statements_docx"), ("half", "docx")):
        document = docx.Document(str(edge.file(kind, key)))
        cells = [cell.text for table in document.tables for r in table.rows for cell in r.cells]
        text = "\n".join([p.text for p in document.paragraphs] + cells)
        assert XSS in text and DDE in text, (kind, key)


def test_hostile_names_and_long_titles_still_print(edge: Edge) -> None:
    text = pdf_text(edge.file("quarterly", "pdf"))
    assert squeeze(XSS) in text and squeeze(DDE) in text and "县统计局" in text
    # The whole title, wrapped over lines but all there.
    assert squeeze(LONGEST_TITLE) in text
    statement = pdf_text(Path(edge.quarterly["statements"]["xss"]))
    assert squeeze(XSS) in statement and "X-01" in statement
    assert "未报送" in statement
    half = pdf_text(edge.file("half", "pdf"))
    assert squeeze(XSS) in half and squeeze(DDE) in half


def test_a_quarter_without_reports_says_so(edge: Edge) -> None:
    with db.session(edge.engine) as session:
        q = figures.quarterly(
            figures.load(session=session, program="edge", as_of=date(2021, 9, 30)), "2021Q3"
        )
    # X-01 runs 07-01 to 09-30 and nothing was ever sent; the others lead nothing.
    assert [(line.unit, line.tasks, line.done, line.on_time) for line in q.lines] == [
        ("xss", 1, 0, 0),
        ("dde", 0, 0, 0),
        ("tjj", 0, 0, 0),
    ]
    [row] = q.statements[0].rows
    assert (row.status, row.status_label, row.percent, row.history) == (None, "未报送", None, "")
    assert [(d.kind, d.text) for d in q.statements[0].discrepancies] == [
        ("未报送", "X-01 2021-07、2021-08、2021-09 未报送进展")
    ]
    page = squeeze(edge.file("quarterly", "html").read_text(encoding="utf-8"))
    assert "本季度无牵头任务" in page  # dde and tjj
    assert "贵单位本季度没有承担的任务。" in page
    assert '<tdclass="n">—</td><td>无</td>' in page  # no percent, no history

    # The fourth quarter: X-01 was due in September, so nothing is to be reconciled.
    with db.session(edge.engine) as session:
        empty = figures.quarterly(
            figures.load(session=session, program="edge", as_of=date(2021, 12, 31)), "2021Q4"
        )
    assert empty.totals["tasks"] == empty.totals["discrepancies"] == 0
    page = documents.html(TEMPLATES, "reports/quarterly.html.j2", q=empty, generated="x")
    assert "本季度没有应推进的任务，暂无可对账的数据。" in page


def test_a_half_year_with_nothing_under_way_says_so(edge: Edge) -> None:
    with db.session(edge.engine) as session:
        e = figures.evaluation(
            figures.load(session=session, program="edge", as_of=date(2021, 6, 30)), "2021H1"
        )
    assert e.narrative == ["截至2021年6月30日，本试点在2021H1暂无应推进的任务。"]
    [line] = e.indicators
    assert (line.latest, line.expected, line.progress, line.status) == (
        None,
        None,
        None,
        "no_data",
    )
    assert [(i.kind, i.tasks, i.completed, i.average, i.planned) for i in e.lists] == [
        ("development", 0, 0, 0.0, 0.0)
    ]
    # tjj owes a report every month for its indicator and sent none (0 of 6), and its
    # indicator has no reading (0): (0 × 20 + 0 × 20) / 40 = 0. The others have nothing
    # to be scored on.
    assert [
        (s.unit, s.completion, s.timeliness, s.indicators, s.evidence, s.score, s.rank)
        for s in e.scores
    ] == [
        ("tjj", None, 0.0, 0.0, None, 0.0, 1),
        ("xss", None, None, None, None, None, None),
        ("dde", None, None, None, None, None, None),
    ]
    assert [(h.key, h.state, h.state_label) for h in e.six_has][-1] == (
        "delivery",
        "not_started",
        "未启动",
    )
    assert e.heat == [("xss", XSS, [(None, None)] * 6)]
    page = edge.file("half", "html").read_text(encoding="utf-8")
    assert "暂无应推进的任务" in page and "暂无数据" in page and "无评分任务" in page
    assert "本半年没有督办事项。" in page
    text = pdf_text(edge.file("half", "pdf"))
    assert "暂无应推进的任务" in text and "暂无数据" in text
    document = docx.Document(str(edge.file("half", "docx")))
    assert "本半年没有督办事项。" in [p.text for p in document.paragraphs]


def test_no_send_queues_nothing(edge: Edge) -> None:
    assert edge.quarterly["queued"] == edge.half["queued"] == 0
    with db.session(edge.engine) as session:
        assert session.exec(select(Notification)).all() == []
        assert len(session.exec(select(Document)).all()) == 2


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_quarter, "2021Q5", '"2021Q5" is not a quarter; write it as 2021Q1 (Q1 to Q4)'),
        (parse_quarter, "2021-1", '"2021-1" is not a quarter; write it as 2021Q1 (Q1 to Q4)'),
        (parse_quarter, "2021H1", '"2021H1" is not a quarter; write it as 2021Q1 (Q1 to Q4)'),
        (parse_half, "2021H3", '"2021H3" is not a half year; write it as 2021H1 or 2021H2'),
        (parse_half, "2021-1", '"2021-1" is not a half year; write it as 2021H1 or 2021H2'),
        (parse_half, "2021Q1", '"2021Q1" is not a half year; write it as 2021H1 or 2021H2'),
    ],
)
def test_a_period_that_is_not_one_is_refused(parse: Any, text: str, message: str) -> None:
    with pytest.raises(ReportError) as caught:
        parse(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("period", "parse"), [("2021Q1", parse_quarter), ("2021H2", parse_half)])
def test_a_good_period_passes(period: str, parse: Any) -> None:
    assert parse(period) == period


def test_a_bad_period_writes_nothing(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    build(sqlite_engine)
    with db.session(sqlite_engine) as session:
        with pytest.raises(ReportError, match="2021Q5"):
            reconciliation.write(
                session=session,
                program="demo",
                quarter="2021Q5",
                folder=tmp_path / "q",
                home=tmp_path,
                templates=TEMPLATES,
                now=NOW,
            )
        with pytest.raises(ReportError, match="2021H3"):
            evaluation.write(
                session=session,
                program="demo",
                half="2021H3",
                folder=tmp_path / "h",
                home=tmp_path,
                templates=TEMPLATES,
                now=NOW,
            )
    assert not (tmp_path / "q").exists() and not (tmp_path / "h").exists()


@pytest.mark.parametrize(
    ("kind", "period", "expected"),
    [
        (
            "quarterly",
            "2015Q1",
            "2015Q1 is outside the program demo, which runs from 2021-01-01 to 2021-12-31; "
            "choose a quarter from 2021Q1 to 2021Q3",
        ),
        (
            "half_year",
            "2022H1",
            "2022H1 is outside the program demo, which runs from 2021-01-01 to 2021-12-31; "
            "choose a half year from 2021H1 to 2021H2",
        ),
        (
            "quarterly",
            "2021Q4",
            "2021Q4 has not begun: today is 2021-07-05 (Asia/Shanghai); "
            "choose a quarter from 2021Q1 to 2021Q3",
        ),
    ],
)
def test_a_period_outside_the_program_or_not_begun_writes_nothing(
    sqlite_engine: sa.Engine, tmp_path: Path, kind: str, period: str, expected: str
) -> None:
    build(sqlite_engine)
    with db.session(sqlite_engine) as session, pytest.raises(ReportError) as caught:
        writing.write(
            session=session,
            kind=kind,
            program="demo",
            period=period,
            folder=tmp_path / "out",
            home=tmp_path,
            templates=TEMPLATES,
            now=NOW,
        )
    assert str(caught.value) == expected
    assert not (tmp_path / "out").exists()
    with db.session(sqlite_engine) as session:
        assert session.exec(select(Document)).all() == []
        assert session.exec(select(Notification)).all() == []


def test_the_command_line_refuses_a_quarter_before_the_program(
    isolated_environment: Path, tmp_path: Path
) -> None:
    program_file = tmp_path / "edge.yaml"
    program_file.write_text(yaml.safe_dump(edge_document(), allow_unicode=True), encoding="utf-8")
    cli("init")
    cli("program", "load", program_file)
    result = cli("report", "quarterly", "--program", "edge", "--quarter", "2015Q1", code=1)
    assert result.stderr.strip() == (
        "error: 2015Q1 is outside the program edge, which runs from 2021-01-01 to 2021-12-31; "
        "choose a quarter from 2021Q1 to 2021Q4"
    )
    assert not (isolated_environment / "reports" / "edge" / "2015Q1").exists()


# --- 7. a unit's answer to its statement ----------------------------------------------------


def test_confirmations_and_disputes_are_recorded_and_shown(sqlite_engine: sa.Engine) -> None:
    build(sqlite_engine)

    def answer(unit: str, status: ConfirmationStatus, note: str = "") -> dict[str, Any]:
        with db.session(sqlite_engine) as session:
            return reconciliation.reconcile(
                session=session,
                program="demo",
                quarter="2021Q1",
                unit=unit,
                status=status,
                note=note,
                now=NOW,
            )

    assert answer("tw", ConfirmationStatus.CONFIRMED) == {
        "program": "demo",
        "quarter": "2021Q1",
        "unit": "tw",
        "status": "confirmed",
        "note": "",
    }
    with pytest.raises(ReportError, match=re.escape('say what is disputed: --note "..."')):
        answer("jyj", ConfirmationStatus.DISPUTED, "  \n ")
    with pytest.raises(ReportError, match='no unit "nope" in program demo'):
        answer("nope", ConfirmationStatus.CONFIRMED)
    with pytest.raises(ReportError, match="2021Q5"), db.session(sqlite_engine) as session:
        reconciliation.reconcile(
            session=session,
            program="demo",
            quarter="2021Q5",
            unit="tw",
            status=ConfirmationStatus.CONFIRMED,
            note="",
            now=NOW,
        )
    disputed = answer("jyj", ConfirmationStatus.DISPUTED, "T-03 已于2月26日完成，\n 佐证另报")
    assert disputed["note"] == "T-03 已于2月26日完成， 佐证另报"
    # rsj first confirms, then thinks better of it: the later answer stands.
    answer("rsj", ConfirmationStatus.CONFIRMED)
    answer("rsj", ConfirmationStatus.DISPUTED, "T-02 二月已报送")

    with db.session(sqlite_engine) as session:
        recorded = session.exec(
            select(Unit.code, Reconciliation.quarter, Reconciliation.status, Reconciliation.note)
            .join(Unit, Reconciliation.unit_id == Unit.id)
            .order_by(col(Reconciliation.id))
        ).all()
    assert [tuple(r) for r in recorded] == [
        ("tw", "2021Q1", "confirmed", ""),
        ("jyj", "2021Q1", "disputed", "T-03 已于2月26日完成， 佐证另报"),
        ("rsj", "2021Q1", "confirmed", ""),
        ("rsj", "2021Q1", "disputed", "T-02 二月已报送"),
    ]

    q = figures.quarterly(snapshot(sqlite_engine, date(2021, 3, 31), "2021Q1"), "2021Q1")
    assert [(line.unit, line.confirmation, line.note) for line in q.lines] == [
        ("tw", "confirmed", ""),
        ("jyj", "disputed", "T-03 已于2月26日完成， 佐证另报"),
        ("rsj", "disputed", "T-02 二月已报送"),
    ]
    assert q.totals["confirmed"] == 1
    assert [s.confirmation_label for s in q.statements] == ["已确认", "有异议", "有异议"]
    # Another quarter knows nothing of these answers.
    q2 = figures.quarterly(snapshot(sqlite_engine, date(2021, 6, 30), "2021Q2"), "2021Q2")
    assert {line.confirmation_label for line in q2.lines} == {"未确认"}

    page = squeeze(documents.html(TEMPLATES, "reports/quarterly.html.j2", q=q, generated="x"))
    assert '<tdclass="unit">团县委</td>' in page and "<td>已确认</td>" in page
    assert "<td>有异议</td><td>T-03已于2月26日完成，佐证另报</td>" in page
    assert "已有1个单位确认对账单" in page
    assert "（确认状态：有异议）" in page


# --- 8. the command line --------------------------------------------------------------------


def test_reports_on_the_command_line(edge: Edge) -> None:
    """`report quarterly/half-year --no-send --json`, run by the edge fixture after `init`
    and `program load`: exit 0 (checked there) and the files, all written."""
    folder = edge.home / "reports" / "edge"
    assert edge.quarterly == {
        "kind": "quarterly",
        "program": "edge",
        "period": "2021Q3",
        "files": {
            **{
                kind: str(folder / "2021Q3" / f"edge-2021Q3-季度对账.{kind}")
                for kind in ("html", "pdf", "xlsx", "docx")
            },
            "statements_docx": str(folder / "2021Q3" / "edge-2021Q3-对账单.docx"),
        },
        "statements": {
            unit: str(folder / "2021Q3" / f"edge-2021Q3-对账单-{unit}.pdf")
            for unit in ("xss", "dde", "tjj")
        },
        "problems": [],
        "queued": 0,
    }
    assert edge.half == {
        "kind": "half_year",
        "program": "edge",
        "period": "2021H1",
        "files": {
            kind: str(folder / "2021H1" / f"edge-2021H1-半年度评估.{kind}")
            for kind in ("html", "pdf", "xlsx", "docx")
        },
        "statements": {},
        "problems": [],
        "queued": 0,
    }
    listed = [*edge.quarterly["files"].values(), *edge.quarterly["statements"].values()]
    listed += edge.half["files"].values()
    assert all(Path(path).is_file() for path in listed)
    assert sorted(str(p) for p in folder.rglob("*") if p.is_file()) == sorted(listed)


def test_bad_periods_and_answers_on_the_command_line(tmp_path: Path) -> None:
    cli("init")
    program_file = tmp_path / "demo.yaml"
    program_file.write_text(yaml.safe_dump(demo_document(), allow_unicode=True), encoding="utf-8")
    cli("program", "load", program_file)

    wrong = cli("report", "quarterly", "--program", "demo", "--quarter", "2021Q5", code=1)
    assert wrong.stdout == ""
    assert wrong.stderr.strip().splitlines() == [
        'error: "2021Q5" is not a quarter; write it as 2021Q1 (Q1 to Q4)'
    ]
    wrong = cli("report", "half-year", "--program", "demo", "--half", "2021H3", code=1)
    assert wrong.stderr.strip().splitlines() == [
        'error: "2021H3" is not a half year; write it as 2021H1 or 2021H2'
    ]

    answer = ("--program", "demo", "--quarter", "2021Q1", "--unit")
    assert cli("reconcile", "confirm", *answer, "tw").stdout.strip() == "demo 2021Q1 tw: confirmed"
    refused = cli("reconcile", "dispute", *answer, "jyj", code=1)
    assert refused.stderr.strip() == 'error: say what is disputed: --note "..."'
    disputed = cli("reconcile", "dispute", *answer, "jyj", "--note", "T-03 已于2月26日完成")
    assert disputed.stdout.strip() == "demo 2021Q1 jyj: disputed"
    unknown = cli("reconcile", "confirm", *answer, "nope", code=1)
    assert unknown.stderr.strip() == 'error: no unit "nope" in program demo'

    engine = db.make_engine(Settings().resolved_database_url)
    with db.session(engine) as session:
        recorded = session.exec(
            select(Unit.code, Reconciliation.status, Reconciliation.note)
            .join(Unit, Reconciliation.unit_id == Unit.id)
            .order_by(col(Reconciliation.id))
        ).all()
        assert session.exec(select(Document)).all() == []  # nothing written for a bad period
    engine.dispose()
    assert [tuple(r) for r in recorded] == [
        ("tw", "confirmed", ""),
        ("jyj", "disputed", "T-03 已于2月26日完成"),
    ]


def test_the_rules_read_the_history_as_it_is_stored(engine: sa.Engine) -> None:
    """What the flag reads in one query is what the figures read in two, but for the file
    each report came in: every status report and every reading, field by field, of the
    program asked about and no other; a program with no indicator has no reading."""
    build(engine)
    other = demo_document() | {"code": "other"}
    load_program(engine, other)
    store_reports(engine, "other", rows=REPORTS[:5], readings=READINGS[:1], escalations=[])
    bare = demo_document() | {"code": "bare", "indicators": []}
    load_program(engine, bare)
    store_reports(engine, "bare", rows=REPORTS[5:9], readings=[], escalations=[])
    as_of = date(2021, 6, 30)
    read: dict[str, tuple[int, int]] = {}
    for code in ("demo", "other", "bare"):
        with db.session(engine) as session:
            record = store.get_program(session=session, code=code)
            reports, readings = progress.judged(session=session, program=record, as_of=as_of)
            stored = progress.stored_status_reports(
                session=session, program_id=record.id, as_of=as_of
            )
            taken = progress.stored_readings(session=session, program_id=record.id, as_of=as_of)
        assert sorted(reports) == sorted(report._replace(submission="") for report in stored)
        assert sorted(readings) == sorted(taken)
        for report in reports:  # each a whole StatusReport, every field where it belongs
            assert isinstance(report, rules.StatusReport) and report.submission == ""
            assert isinstance(report.reported_on, date) and isinstance(report.order, int)
        for reading in readings:
            assert isinstance(reading, rules.Reading) and isinstance(reading.as_of, date)
        read[code] = (len(reports), len(readings))
    assert read == {"demo": (len(REPORTS), 2), "other": (5, 1), "bare": (4, 0)}


# --- timeliness of a unit that only reports an indicator ------------------------------------


def test_an_indicator_owner_that_sends_its_readings_on_time_is_timely(
    sqlite_engine: sa.Engine,
) -> None:
    """tjj leads no task and owns I-09; it sends its reading by the 20th of every month.

    The missing-report rule counts those readings as reports (it flags nothing), so the
    evaluation's timeliness should count them too: 6 of 6 months on time = 100.
    """
    load_program(sqlite_engine, edge_document())
    readings = [("tjj", "I-09", 10.0 + month / 2, date(2021, month, 20)) for month in range(1, 7)]
    store_reports(sqlite_engine, "edge", rows=[], readings=readings, escalations=[])
    as_of = date(2021, 6, 30)
    with db.session(sqlite_engine) as session:
        e = figures.evaluation(figures.load(session=session, program="edge", as_of=as_of), "2021H1")
        _, _, situation = flags.situation(session=session, program="edge", as_of=as_of)
    # The rule: the latest period due by 06-30 is May (June's falls due on 06-30 itself).
    assert [f for f in rules.missing_report(situation) if f.unit == "tjj"] == []
    [score] = [s for s in e.scores if s.unit == "tjj"]
    assert score.timeliness == 100.0
