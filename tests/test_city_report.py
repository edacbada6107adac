"""The city roll-up (reports/city.py): figures worked out by hand for a small city
(tests/city_fixtures.py), the four files read back, the outbox, delivery through Apprise,
and the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import col, select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.cli import app
from pilot_tracker.errors import NotFoundError, ReportError
from pilot_tracker.models import CityDocument, Notification, Program
from pilot_tracker.reports import city, documents, schedule
from pilot_tracker.reports.writing import sha256_of
from pilot_tracker.supervise import workdays

from .city_fixtures import CITY, HOSTILE_UNIT, NOW, OTHER_NAME, build_city, load_city
from .test_alerts import Now, deliver, json_url, receiver, write_config
from .test_reports import TEMPLATES, assert_self_contained, pdf_text, rows_of, squeeze
from .word_layout import assert_official_layout

# --- 1. the figures, worked out by hand -----------------------------------------------------
#
# As of 2021-06-30 (tests/test_reports.py works out the demo pilot's deadlines and plans):
#
# demo: tasks begun 5. On plan (at most 5 points behind): T-01 90 vs 100 ✗, T-02 40 vs
#   44.7 ✓, T-03 100 ✓, T-04 100 ✓, T-05 60 vs 100 ✗ → 3/5 = 60. Indicators: I-01 on track
#   → 1/1 = 100. Reports by their deadline: tw 5/6, jyj 3/6, rsj 4/6 → 12/18 = 66.7.
#   Flagged on 06-30: jyj only (May missing, yellow; T-03 done without evidence, yellow;
#   T-05 40 points behind, red) → 1 red of 3 units: steady (3 − 1)/3 = 66.7.
#   Score: (60 × 35 + 100 × 25 + 66.7 × 25 + 66.7 × 15) / 100 = 72.68 → 72.7.
#   Escalations: the urge opened 04-15, open → 76 days to 06-30.
# other: only tw reports (T-01, T-04 as in demo), and rsj T-02 40% on 06-25. On plan: T-02
#   ✓, T-04 ✓ → 2/5 = 40. Indicators: I-01 no reading → 0/1 = 0. Reports: tw 5/6, jyj
#   nothing 0/6, rsj (owes every month for I-01) only June's 1/6 → 6/18 = 33.3. Flagged:
#   jyj (May missing 5 periods running, red; T-03 overdue, red); rsj is caught up by its
#   June report → steady (3 − 1)/3 = 66.7.
#   Score: (40 × 35 + 0 × 25 + 33.3 × 25 + 66.7 × 15) / 100 = 32.33 → 32.3.
#   Escalations: interview 03-01 → 05-10 = 70 days; reminders 06-01 (open: 29 days) and
#   02-01 → 02-11 (10 days): median 19.5, longest 29; the reminder closed in 2020 is not
#   of the period.


def test_the_city_roll_up_by_hand(engine: sa.Engine) -> None:
    build_city(engine)
    with db.session(engine) as session:
        r = city.rollup(session=session, city=CITY, period="2021H1")

    assert (r.name, r.office, r.kind, r.period_label) == (
        "测试市",
        "共青团测试市委办公室",
        "half_year",
        "2021年上半年",
    )
    assert [p.code for p in r.pilots] == ["demo", "other"]  # the city's order
    assert [(a.code, a.name, a.reason) for a in r.absent] == [
        ("absent", "absent", "尚未导入本系统"),
        ("later", "后续县中长期青年发展规划试点", "试点期为2022-01-01至2022-12-31，不含本期"),
    ]
    demo, other = r.pilots
    assert [
        (p.tasks_active, p.tasks_on_plan, p.reports_timely, p.reports_owed, p.units)
        for p in (demo, other)
    ] == [(5, 3, 12, 18, 3), (5, 2, 6, 18, 3)]
    assert [(u.unit, u.red, u.yellow) for u in demo.flagged] == [("jyj", 1, 2)]
    assert [(u.unit, u.name, u.red, u.yellow) for u in other.flagged] == [
        ("jyj", HOSTILE_UNIT, 2, 0)
    ]
    assert [(c.label, c.total, c.on_course, c.no_data) for c in demo.indicators] == [
        ("国家指标", 1, 1, 0)
    ]
    assert [(c.label, c.total, c.on_course, c.no_data) for c in other.indicators] == [
        ("国家指标", 1, 0, 1)
    ]
    assert demo.parts == {"on_plan": 60.0, "indicators": 100.0, "timeliness": 66.7, "steady": 66.7}
    assert other.parts == {"on_plan": 40.0, "indicators": 0.0, "timeliness": 33.3, "steady": 66.7}
    assert [(p.code, p.score, p.rank) for p in r.ranking] == [("demo", 72.7, 1), ("other", 32.3, 2)]

    lines = {
        p.code: [
            (x.label, x.count, x.opened, x.closed, x.still_open, x.median_days, x.max_days)
            for x in p.escalations
        ]
        for p in r.pilots
    }
    assert lines == {
        "demo": [
            ("约谈建议", 0, 0, 0, 0, None, None),
            ("督办", 1, 1, 0, 1, 76.0, 76),
            ("提醒", 0, 0, 0, 0, None, None),
        ],
        "other": [
            ("约谈建议", 1, 1, 1, 0, 70.0, 70),
            ("督办", 0, 0, 0, 0, None, None),
            ("提醒", 2, 2, 1, 1, 19.5, 29),
        ],
    }
    # Each pilot reads as in its own half-year evaluation: the lists and the six-"has".
    assert [
        (i.kind, i.tasks, i.completed, i.average, i.planned) for i in demo.evaluation.lists
    ] == [
        ("mechanism", 2, 1, 95.0, 100.0),
        ("development", 3, 1, 66.7, 81.6),
    ]
    assert [demo.six_has[key].state for key in ("plan", "mechanism", "delivery")] == [
        "done",
        "in_progress",
        "unmapped",
    ]
    assert [other.six_has[key].state for key in ("plan", "policy", "support")] == [
        "done",
        "not_started",
        "not_started",
    ]
    assert r.narrative == [
        "截至2021年6月30日，测试市共2个试点纳入本期汇总：演示县试点、样例区试点。",
        "2个试点未纳入本期汇总：absent（尚未导入本系统）；"
        "后续县中长期青年发展规划试点（试点期为2022-01-01至2022-12-31，不含本期）。",
        # demo completed T-03 and T-04, other T-04; on plan 3 + 2 of 5 + 5
        "各试点已开始的任务共10项，已完成3项，按计划推进5项（50%）。",
        "主要发展指标共2项，已达目标或正常推进1项，滞后0项，暂无数据1项。",
        "期末被预警的成员单位2个，其中红色预警2个；应报送36次，按时报送18次，报送及时率50%。",
        "本期涉及约谈建议1件、督办1件、提醒2件，期末未结2件。",
        "综合排名：第1名 演示县试点（72.7分）；第2名 样例区试点（32.3分）。",
    ]


def test_a_quarter_is_rolled_up_from_its_own_days(sqlite_engine: sa.Engine) -> None:
    """2021Q1, as of 03-31: demo's urge (04-15) is not of it; its reports owed are Jan to
    Mar (Mar's deadline, Mar 30, has passed): tw 3/3, jyj Feb and Mar 2/3, rsj Mar 1/3."""
    build_city(sqlite_engine)
    with db.session(sqlite_engine) as session:
        r = city.rollup(session=session, city=CITY, period="2021Q1")
    assert (r.kind, r.period_label, r.end) == ("quarterly", "2021年第1季度", date(2021, 3, 31))
    demo = r.pilots[0]
    assert (demo.reports_timely, demo.reports_owed) == (6, 9)
    assert [x.count for x in demo.escalations] == [0, 0, 0]


def pilot_of(code: str, **figures: Any) -> city.Pilot:
    defaults = {
        "tasks_active": 10,
        "tasks_on_plan": 5,
        "indicators": [],
        "units": 4,
        "flagged": [],
        "reports_owed": 10,
        "reports_timely": 10,
    }
    return city.Pilot(
        code=code,
        name=code,
        level="provincial",
        start=date(2021, 1, 1),
        end=date(2021, 12, 31),
        evaluation=None,  # type: ignore[arg-type]  the ranking reads none of it
        escalations=[],
        **{**defaults, **figures},
    )


def test_equal_scores_share_a_rank_and_the_next_one_skips() -> None:
    pilots = [
        pilot_of("a", tasks_on_plan=5),
        pilot_of("b", tasks_on_plan=8),
        pilot_of("c", tasks_on_plan=5),
        pilot_of("d", tasks_on_plan=2),
    ]
    city.rank(pilots)
    # on plan 50, 80, 50, 20; timeliness 100 and steady 100 for each; no indicators:
    # a (50 × 35 + 100 × 25 + 100 × 15) / 75 = 76.7; b 6800 / 75 = 90.7; d 62.7.
    assert [(p.code, p.score, p.rank) for p in pilots] == [
        ("a", 76.7, 2),
        ("b", 90.7, 1),
        ("c", 76.7, 2),
        ("d", 62.7, 4),
    ]


def test_a_part_that_does_not_apply_is_left_out_and_a_pilot_with_none_is_not_ranked() -> None:
    red = city.FlaggedUnit("u1", "单位", red=1, yellow=0)
    early = pilot_of("early", tasks_active=0, tasks_on_plan=0, reports_owed=0, units=0)
    flagged = pilot_of("flagged", flagged=[red], reports_owed=0)
    city.rank([early, flagged])
    assert early.parts == {"on_plan": None, "indicators": None, "timeliness": None, "steady": None}
    assert (early.score, early.rank) == (None, None)
    # on plan 50 × 35, steady 75 × 15 → 2875 / 50 = 57.5
    assert (flagged.parts["steady"], flagged.score, flagged.rank) == (75.0, 57.5, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2021H1", ("2021H1", "half_year")), ("2021Q2", ("2021Q2", "quarterly"))],
)
def test_a_quarter_or_a_half_year(text: str, expected: tuple[str, str]) -> None:
    assert city.parse_period(text) == expected


@pytest.mark.parametrize("text", ["2021H3", "2021-06", "2021", "H1", ""])
def test_anything_else_is_no_period(text: str) -> None:
    with pytest.raises(ReportError, match="neither a quarter nor a half year"):
        city.parse_period(text)


def test_a_city_with_no_pilot_loaded_or_running_is_refused(sqlite_engine: sa.Engine) -> None:
    load_city(sqlite_engine, ["absent", "nowhere"])
    with db.session(sqlite_engine) as session, pytest.raises(ReportError) as caught:
        city.rollup(session=session, city=CITY, period="2021H1")
    assert str(caught.value) == (
        "no pilot of the city testcity is loaded (it names absent, nowhere); "
        "load them with `pilot-tracker program load FILE`"
    )
    build_city(sqlite_engine)  # the city now names demo, absent, other, later
    with db.session(sqlite_engine) as session, pytest.raises(ReportError) as caught:
        city.rollup(session=session, city=CITY, period="2023H1")
    assert "none of the loaded pilots of the city testcity runs in 2023H1" in str(caught.value)
    assert "later 2022-01-01 to 2022-12-31" in str(caught.value)
    with db.session(sqlite_engine) as session, pytest.raises(NotFoundError, match="no city"):
        city.rollup(session=session, city="nowhere", period="2021H1")


# --- 2. the files, read back ----------------------------------------------------------------


@dataclass
class Written:
    engine: sa.Engine
    home: Path
    first: city.CityWritten
    again: city.CityWritten
    html: tuple[bytes, bytes]
    rows_after_first: list[dict[str, Any]]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Written]:
    """The city's 2021H1 roll-up written, then written again an hour later into the same
    folder (PDFs take seconds: once per module)."""
    home = tmp_path_factory.mktemp("city-home")
    engine = db.make_engine(f"sqlite:///{home / 'ledger.db'}")
    db.migrate(engine)
    build_city(engine)
    folder = home / "reports" / "cities" / CITY / "2021H1"
    runs = []
    rows = []
    for now in (NOW, NOW.replace(hour=4)):
        with db.session(engine) as session:
            runs.append(
                city.write(
                    session=session,
                    city=CITY,
                    period="2021H1",
                    folder=folder,
                    home=home,
                    templates=TEMPLATES,
                    now=now,
                )
            )
            html = runs[-1].files["html"].read_bytes()
        if not rows:
            rows = stored(engine)
            first_html = html
    yield Written(engine, home, runs[0], runs[1], (first_html, html), rows)
    engine.dispose()


def stored(engine: sa.Engine) -> list[dict[str, Any]]:
    with db.session(engine) as session:
        return [
            {**row.model_dump(), "generated_at": db.stored_moment(row.generated_at)}
            for row in session.exec(select(CityDocument)).all()
        ]


def test_every_format_is_written_and_recorded_once(written: Written) -> None:
    first = written.first
    assert first.problems == []
    assert sorted(first.files) == ["docx", "html", "pdf", "xlsx"]
    assert {path.name for path in first.files.values()} == {
        f"testcity-2021H1-试点汇总.{suffix}" for suffix in ("html", "pdf", "xlsx", "docx")
    }
    [row] = stored(written.engine)  # written again: the same row, replaced
    assert (row["kind"], row["period"], row["formats"]) == (
        "half_year",
        "2021H1",
        ["docx", "html", "pdf", "xlsx"],
    )
    assert row["id"] == written.rows_after_first[0]["id"]
    assert row["generated_at"] == NOW.replace(hour=4)
    for key, path in written.again.files.items():
        assert row["paths"][key] == str(path.relative_to(written.home))
        assert row["sha256"][key] == sha256_of(path)
    assert first.as_dict()["city"] == CITY
    assert first.as_dict()["absent"] == [
        {"program": "absent", "why": "not loaded"},
        {"program": "later", "why": "runs from 2022-01-01 to 2022-12-31, outside the period"},
    ]


def test_the_same_period_and_data_give_the_same_report(written: Written) -> None:
    before, after = written.html
    assert before == after
    assert (
        written.rows_after_first[0]["sha256"]["html"] == stored(written.engine)[0]["sha256"]["html"]
    )


def test_the_page_is_self_contained_and_escapes_names(written: Written) -> None:
    page = written.first.files["html"].read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "=县&lt;教育&gt;局" in page and HOSTILE_UNIT not in page
    assert '<tr id="rank-demo"><td class="n">1</td><td>演示县试点</td>' in page
    for part in ("任务按计划推进率", "指标正常推进率", "报送及时率", "非滞后单位占比"):
        assert part in page  # the method stated
    assert 'id="pilot-demo"' in page and 'id="pilot-other"' in page
    assert "尚未导入本系统" in page


def test_the_pdf_reads_back(written: Written) -> None:
    text = pdf_text(written.first.files["pdf"])
    for expected in (
        "测试市试点工作汇总报告",
        "2021年上半年",
        "综合排名",
        "第1名演示县试点（72.7分）",
        OTHER_NAME,
        "absent（尚未导入本系统）",
        "有规划有机制有政策有项目有保障有落实",
        squeeze(HOSTILE_UNIT),
        "权重",
    ):
        assert squeeze(expected) in text, expected


def test_the_workbook_holds_numbers(written: Written) -> None:
    book = openpyxl.load_workbook(written.first.files["xlsx"])
    assert book.sheetnames == [
        "对比",
        "清单进度",
        "主要指标",
        "预警单位",
        "督办情况",
        "六有",
        "未纳入试点",
    ]
    compare = book["对比"]
    header = [cell.value for cell in compare[1]]
    assert header[:4] == ["排名", "试点编号", "试点", "级别"]
    lines = {row[1]: dict(zip(header, row, strict=False)) for row in rows_of(compare) if row[1]}
    assert lines["demo"]["综合得分"] == 72.7 and lines["other"]["综合得分"] == 32.3
    assert lines["demo"]["排名"] == 1 and lines["demo"]["按时报送"] == 12
    assert lines["other"]["任务按计划推进率%"] == 40
    notes = [row[0] for row in rows_of(compare) if row[0] and str(row[0]).startswith("综合得分")]
    assert notes and "权重35" in notes[0]
    escalations = rows_of(book["督办情况"])
    assert ["other", "样例区试点", "提醒", 2, 2, 1, 1, 19.5, 29] in escalations
    flagged = rows_of(book["预警单位"])
    assert ["other", "样例区试点", "jyj", HOSTILE_UNIT, 2, 0] in flagged
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
    assert rows_of(book["未纳入试点"]) == [
        ["absent", "absent", "尚未导入本系统"],
        ["later", "后续县中长期青年发展规划试点", "试点期为2022-01-01至2022-12-31，不含本期"],
    ]


def test_the_word_document_is_in_the_official_layout(written: Written) -> None:
    assert_official_layout(
        written.first.files["docx"],
        title=["测试市试点工作汇总报告"],
        levels={1, 2},
        printed_by="共青团测试市委办公室",  # the city's office: its file names no issuer
    )


def test_the_word_document_has_the_sections_and_tables(written: Written) -> None:
    document = docx.Document(str(written.first.files["docx"]))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "测试市试点工作汇总报告"
    for heading in (
        "一、总体情况",
        "二、综合排名",
        "七、“六有”建设对照",
        "九、未纳入本期汇总的试点",
    ):
        assert heading in paragraphs
    ranking = document.tables[0]
    assert [cell.text for cell in ranking.rows[1].cells] == [
        "1",
        "演示县试点",
        "60",
        "100",
        "66.7",
        "66.7",
        "72.7",
    ]
    cells = {cell.text for table in document.tables for row in table.rows for cell in row.cells}
    assert {"约谈建议", "19.5", "已落实", "尚未导入本系统"} <= cells


def test_without_a_chinese_font_no_pdf_and_the_rest_written(
    sqlite_engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_city(sqlite_engine)
    monkeypatch.setattr(documents, "cjk_font", lambda: None)
    with db.session(sqlite_engine) as session:
        done = city.write(
            session=session,
            city=CITY,
            period="2021H1",
            folder=tmp_path / "out",
            home=tmp_path,
            templates=TEMPLATES,
            now=NOW,
            send=False,
        )
    assert sorted(done.files) == ["docx", "html", "xlsx"]
    assert "no font with Chinese characters" in done.problems[0]


# --- 3. the outbox and delivery -------------------------------------------------------------


def messages(engine: sa.Engine) -> list[Notification]:
    with db.session(engine) as session:
        found = list(session.exec(select(Notification).order_by(col(Notification.id))).all())
        session.expunge_all()
    return found


def test_the_city_league_and_each_pilots_office_get_it_once(written: Written) -> None:
    assert (written.first.queued, written.again.queued) == (4, 0)
    with db.session(written.engine) as session:
        ids = dict(session.exec(select(Program.code, Program.id)).all())
    sent = messages(written.engine)
    assert [(m.dedup_key, m.target, m.program_id) for m in sent] == [
        ("city-report:testcity:half_year:2021H1:city", "city:testcity role:city", None),
        ("city-report:testcity:half_year:2021H1:leader", "city:testcity role:leader", None),
        ("city-report:testcity:half_year:2021H1:office:demo", "role:office", ids["demo"]),
        ("city-report:testcity:half_year:2021H1:office:other", "role:office", ids["other"]),
    ]
    files = written.first.files
    for message in sent:
        assert message.subject == "【试点汇总】测试市 · 2021年上半年半年度汇总报告"
        assert message.attachments == [
            str(files[kind].relative_to(written.home)) for kind in ("pdf", "xlsx", "docx")
        ]
        assert "综合排名：第1名 演示县试点（72.7分）" in message.body
        assert "testcity-2021H1-试点汇总.pdf" in message.body


def test_no_send_queues_nothing(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    build_city(sqlite_engine)
    with db.session(sqlite_engine) as session:
        done = city.write(
            session=session,
            city=CITY,
            period="2021Q1",
            folder=tmp_path / "out",
            home=tmp_path,
            templates=TEMPLATES,
            now=NOW,
            send=False,
        )
    assert done.queued == 0 and messages(sqlite_engine) == []


def test_delivery_routes_by_city_and_program_tags(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    """The league gets its own; the city's leader has no address, so the league gets that
    one too, with a note (never every office); each office gets the one of its program."""
    build_city(sqlite_engine)
    with db.session(sqlite_engine) as session:
        outbox_items = city.write(
            session=session,
            city=CITY,
            period="2021Q1",
            folder=tmp_path / "out",
            home=tmp_path,
            templates=TEMPLATES,
            now=NOW,
        ).queued
    assert outbox_items == 4
    with receiver() as server:
        config = write_config(
            tmp_path,
            {
                json_url(server, "/league"): "city:testcity, role:city",
                json_url(server, "/other-city"): "city:elsewhere, role:city",
                json_url(server, "/demo-office"): "program:demo, role:office",
                json_url(server, "/other-office"): "program:other, role:office",
            },
        )
        result = deliver(sqlite_engine, config, tmp_path, Now(NOW))
        posts = sorted((post["path"], post["json"]["title"]) for post in server.posts)
        bodies = {post["path"]: post["json"]["message"] for post in server.posts}
    assert result.sent == 4 and result.failed == 0
    assert [path for path, _ in posts] == ["/demo-office", "/league", "/league", "/other-office"]
    assert all(title.startswith("【试点汇总】测试市") for _, title in posts)
    assert "/other-city" not in bodies
    league = [post for post in server.posts if post["path"] == "/league"]
    notes = [p["json"]["message"] for p in league if "未配置其接收地址" in p["json"]["message"]]
    assert len(notes) == 1 and "本消息应发送给领导" in notes[0] and "现转团市委处理" in notes[0]


# --- 4. which cities a scheduled run writes --------------------------------------------------


def test_a_scheduled_run_writes_a_city_the_working_day_after_its_pilots(
    sqlite_engine: sa.Engine,
) -> None:
    build_city(sqlite_engine)
    with db.session(sqlite_engine) as session:
        calendar = workdays.calendar_of(session=session)
    evaluations = schedule.writing_day(calendar, "2021H1")
    day = schedule.city_writing_day(calendar, "2021H1")
    assert (evaluations, day) == (date(2021, 7, 9), date(2021, 7, 12))  # Fri, then Mon

    def due(when: date, **kwargs: Any) -> list[tuple[str, str]]:
        now = datetime(when.year, when.month, when.day, 3, 0, tzinfo=UTC)  # 11:00 Shanghai
        with db.session(sqlite_engine) as session:
            return city.due(session=session, now=now, kind="half", **kwargs)

    assert due(day, scheduled=True) == [(CITY, "2021H1")]
    assert due(evaluations, scheduled=True) == []
    assert due(date(2021, 7, 13), scheduled=True) == []
    assert due(date(2021, 7, 13)) == [(CITY, "2021H1")]  # asked for, any day
    assert due(date(2021, 7, 13), period="2020H2") == []  # no pilot of it ran then


# --- 5. the command line ----------------------------------------------------------------------


runner = CliRunner()


def cli(*args: Any, code: int = 0) -> Any:
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.fixture
def city_home(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data home with the city's pilots, through the database the command line uses."""
    cli("init")
    engine = db.make_engine(f"sqlite:///{isolated_environment / 'pilot-tracker.db'}")
    build_city(engine)
    engine.dispose()
    # No PDF: a PDF takes seconds, and the module's fixture reads one back already.
    monkeypatch.setattr(documents, "cjk_font", lambda: "WenQuanYi Micro Hei")
    monkeypatch.setattr(documents, "pdf", fake_pdf)
    return isolated_environment


def fake_pdf(document: str, path: Path, sections: Any = (), assets: Any = None) -> dict[str, Any]:
    path.write_bytes(b"%PDF-1.7 stand-in\n")
    return {}


def test_report_city_writes_and_says_what_it_left_out(city_home: Path) -> None:
    done = cli("report", "city", "--city", CITY, "--half", "2021H1")
    folder = city_home / "reports" / "cities" / CITY / "2021H1"
    assert done.stdout.splitlines() == [
        "left out: absent (not loaded)",
        "left out: later (runs from 2022-01-01 to 2022-12-31, outside the period)",
        *(
            f"{kind}: {folder / f'testcity-2021H1-试点汇总.{kind}'}"
            for kind in ("html", "pdf", "xlsx", "docx")
        ),
        "queued for delivery: 4 messages",
    ]
    again = json.loads(cli("report", "city", "--city", CITY, "--half", "2021H1", "--json").stdout)
    assert (again["city"], again["kind"], again["period"], again["queued"]) == (
        CITY,
        "half_year",
        "2021H1",
        0,
    )
    elsewhere = city_home / "elsewhere"
    quarter = json.loads(
        cli(
            "report",
            "city",
            "--city",
            CITY,
            "--quarter",
            "2021Q2",
            "-o",
            elsewhere,
            "--no-send",
            "--json",
        ).stdout
    )
    assert Path(quarter["files"]["xlsx"]).parent == elsewhere and quarter["queued"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--city", "nowhere", "--half", "2021H1"], 'no city "nowhere"; loaded cities: testcity'),
        (["--city", CITY, "--half", "2021H3"], '"2021H3" is neither a quarter nor a half year'),
        (["--city", CITY], "give the period as one of --half (e.g. 2021H1) or --quarter"),
        (["--city", CITY, "--half", "2021H1", "--quarter", "2021Q1"], "give the period as one of"),
        (["--city", CITY, "--half", "2030H1"], "2030H1 has not begun: today is"),
        (["--city", CITY, "--half", "2023H1"], "none of the loaded pilots of the city testcity"),
    ],
)
def test_report_city_refuses_clearly_and_writes_nothing(
    city_home: Path, args: list[str], message: str
) -> None:
    done = cli("report", "city", *args, code=1)
    assert message in done.stderr
    assert not (city_home / "reports" / "cities").exists()


def test_report_city_has_help_with_an_example() -> None:
    helped = cli("report", "city", "--help")
    assert "Example: pilot-tracker report city --city ningbo --half 2021H1" in helped.stdout


# --- 6. the demo's addresses ------------------------------------------------------------------


def test_the_demo_gives_each_city_its_league_and_leader_on_loopback(tmp_path: Path) -> None:
    from pilot_tracker.demo.playthrough import apprise_config
    from pilot_tracker.ledger.city_file import CityContactSpec

    from .city_fixtures import city_spec

    # An address for each role the city's contacts name: the league's office here, and its
    # leader once a contact names one.
    city = city_spec()
    path = apprise_config([], 2525, tmp_path / "apprise.yml", [city])
    urls = yaml.safe_load(path.read_text(encoding="utf-8"))["urls"]
    tags = {tags["tag"]: url for entry in urls for url, tags in entry.items()}
    assert set(tags) == {"city:testcity, role:city"}
    leader = CityContactSpec(role="leader", title="团市委分管领导")
    city = city.model_copy(update={"contacts": [*city.contacts, leader]})
    path = apprise_config([], 2525, tmp_path / "apprise.yml", [city])
    urls = yaml.safe_load(path.read_text(encoding="utf-8"))["urls"]
    tags = {tags["tag"]: url for entry in urls for url, tags in entry.items()}
    assert set(tags) == {"city:testcity, role:city", "city:testcity, role:leader"}
    assert all(url.startswith("mailto://127.0.0.1:2525?") for url in tags.values())


def test_a_city_leaders_address_takes_no_pilots_message(
    sqlite_engine: sa.Engine, tmp_path: Path
) -> None:
    """Tagged role:leader, a city's leader would match every pilot's role:leader; its
    city: tag keeps it to the city's own messages."""
    from pilot_tracker.alerts import outbox

    build_city(sqlite_engine)
    with db.session(sqlite_engine) as session:
        demo = session.exec(select(Program).where(Program.code == "demo")).one()
        for key, program_id, target in (
            ("pilot", demo.id, "role:leader"),
            ("city", None, "city:testcity role:leader"),
        ):
            outbox.enqueue(
                session=session,
                program_id=program_id,
                dedup_key=key,
                target=target,
                subject=key,
                body="正文\n",
                now=NOW,
            )
    with receiver() as server:
        config = write_config(
            tmp_path,
            {
                json_url(server, "/city-leader"): "city:testcity, role:leader",
                json_url(server, "/leader"): "role:leader",
            },
        )
        assert deliver(sqlite_engine, config, tmp_path, Now(NOW)).sent == 2
        posts = sorted((post["path"], post["json"]["title"]) for post in server.posts)
    assert posts == [("/city-leader", "city"), ("/leader", "pilot")]
