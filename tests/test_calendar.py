"""The installation's calendar: a year entered once from the notice serves every program;
``calendar`` commands; the warning before the year turns."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.alerts.outbox import Templates
from pilot_tracker.cli import app
from pilot_tracker.ledger import store
from pilot_tracker.models import Notification, Program
from pilot_tracker.settings import PROJECT_TEMPLATES
from pilot_tracker.supervise import workdays

from .conftest import EXAMPLES

NOTICES = Path(__file__).parent / "fixtures" / "notices"
TEST_2027 = NOTICES / "2027-test.txt"  # a notice in the official form; its dates are a test's
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
FIRST_UNCOVERED = max(workdays.package_years()) + 1

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def load_examples(engine: sa.Engine) -> None:
    with db.session(engine) as session:
        for path in sorted(EXAMPLES.glob("*.yaml")):
            spec, sha256 = store.read_program_source(path)
            store.load_program(
                session=session, spec=spec, source_name=path.name, source_sha256=sha256, now=NOW
            )


def enter(engine: sa.Engine, path: Path, year: int, **options: bool) -> workdays.Arrangement:
    from pilot_tracker.supervise import holiday_notice

    arrangement = holiday_notice.read(path.read_bytes(), name=path.name, year=year)
    with db.session(engine) as session:
        return workdays.enter_year(session=session, arrangement=arrangement, now=NOW, **options)


def program_calendars(engine: sa.Engine) -> dict[str, workdays.WorkCalendar]:
    with db.session(engine) as session:
        return {
            item["code"]: workdays.calendar_of(
                session=session, spec=store.read_program(session=session, code=item["code"])
            )
            for item in store.list_programs(session=session)
        }


@pytest.mark.skipif(FIRST_UNCOVERED != 2027, reason="the installed calendar package covers 2027")
def test_entering_2027_once_serves_every_program_without_touching_a_program_file(
    engine: sa.Engine,
) -> None:
    load_examples(engine)
    with db.session(engine) as session:
        files_before = [p.calendar for p in session.exec(select(Program)).all()]
    spring_festival = [date(2027, 2, d) for d in (5, 8, 9, 10, 11, 12)]  # weekdays off
    for calendar in program_calendars(engine).values():
        assert all(calendar.is_workday(day) for day in spring_festival)  # guessed
        assert calendar.status == "unofficial"

    enter(engine, TEST_2027, 2027)

    calendars = program_calendars(engine)
    assert sorted(calendars) == ["fenghua", "haishu", "xiangshan", "yinzhou"]
    for calendar in calendars.values():
        assert not any(calendar.is_workday(day) for day in spring_festival)
        assert calendar.is_workday(date(2027, 2, 20))  # the make-up Saturday
        assert calendar.roll_forward(date(2027, 2, 5)) == date(2027, 2, 15)
        assert calendar.status == "official"
    with db.session(engine) as session:
        assert [p.calendar for p in session.exec(select(Program)).all()] == files_before


def test_a_programs_own_overrides_still_apply_on_top(sqlite_engine: sa.Engine) -> None:
    enter(sqlite_engine, TEST_2027, 2027)
    with db.session(sqlite_engine) as session:
        base = workdays.calendar_of(session=session)
    calendar = workdays.WorkCalendar(
        holidays=[date(2027, 3, 3)], workdays=[date(2027, 2, 8)], entered=base.entered
    )
    assert not calendar.is_workday(date(2027, 3, 3))
    assert calendar.is_workday(date(2027, 2, 8))
    assert not calendar.is_workday(date(2027, 2, 9))


def test_a_year_is_replaced_only_when_asked_and_amended_by_a_later_notice(
    sqlite_engine: sa.Engine,
) -> None:
    from pilot_tracker.errors import CalendarError

    enter(sqlite_engine, NOTICES / "2019.txt", 2019)
    with pytest.raises(CalendarError, match="already entered"):
        enter(sqlite_engine, NOTICES / "2019.txt", 2019)
    amended = enter(sqlite_engine, NOTICES / "2019-adjustment.txt", 2019, amend=True)
    assert amended.holidays[date(2019, 5, 4)] == "劳动节"
    assert "调整2019年劳动节假期安排" in amended.source
    with db.session(sqlite_engine) as session:
        stored = workdays.entered_years(session=session)[2019]
    assert stored.holidays == amended.holidays and stored.workdays == amended.workdays
    replaced = enter(sqlite_engine, NOTICES / "2019.txt", 2019, replace=True)
    assert date(2019, 5, 4) not in replaced.holidays
    with pytest.raises(CalendarError, match="nothing to amend"):
        enter(sqlite_engine, NOTICES / "2020-extension.txt", 2020, amend=True)
    with pytest.raises(CalendarError, match="enter the year first"):
        enter(sqlite_engine, NOTICES / "2020-extension.txt", 2020)


def test_an_entered_year_the_package_also_covers_is_compared_day_by_day(
    sqlite_engine: sa.Engine,
) -> None:
    text = (NOTICES / "2026.txt").read_text(encoding="utf-8")
    altered = text.replace("9月20日（周日）、10月10日（周六）上班", "9月20日（周日）上班")
    notice = sqlite_engine.url.database + ".txt"  # type: ignore[operator]
    Path(notice).write_text(altered, encoding="utf-8")
    entered = enter(sqlite_engine, Path(notice), 2026)
    assert workdays.differences(entered) == [(date(2026, 10, 10), False, True)]
    with db.session(sqlite_engine) as session:
        calendar = workdays.calendar_of(session=session)
    assert not calendar.is_workday(date(2026, 10, 10))  # the entered year stays in force
    with db.session(sqlite_engine) as session:
        workdays.retire_year(session=session, year=2026)
        assert workdays.calendar_of(session=session).is_workday(date(2026, 10, 10))


# --- the commands --------------------------------------------------------------------------


def years(*extra: str) -> dict[int, dict]:
    return {
        line["year"]: line
        for line in json.loads(run("calendar", "list", "--all", "--json", *extra))
    }


def test_calendar_list_before_init_shows_official_and_guessed_years() -> None:
    listed = years()
    assert listed[FIRST_UNCOVERED - 1]["status"] == "official"
    assert listed[FIRST_UNCOVERED - 1]["source"].startswith("chinese-calendar ")
    assert listed[FIRST_UNCOVERED]["status"] == "guessed"
    assert "calendar add" in listed[FIRST_UNCOVERED]["note"]
    assert "pilot-tracker init" in run("calendar", "list")

    # Entering a year is the first thing an installation may do: it sets up the database.
    run("calendar", "add", "2026", str(NOTICES / "2026.txt"))
    entered = years()[2026]
    assert entered["status"] == "entered"
    assert "covers it too and agrees" in entered["note"]


@pytest.mark.skipif(FIRST_UNCOVERED != 2027, reason="the installed calendar package covers 2027")
def test_calendar_add_then_show_and_list(isolated_environment: Path) -> None:
    run("init")
    dry = run("calendar", "add", "2027", str(TEST_2027), "--dry-run")
    assert (
        "dry run: nothing was stored" in dry and "春节: 02-05 to 02-13 (共9天); 上班 02-20" in dry
    )
    assert years()[2027]["status"] == "guessed"

    added = run("calendar", "add", "2027", str(TEST_2027))
    assert "2027: entered (29 days off, 5 make-up workdays)" in added

    listed = years()[2027]
    assert listed["status"] == "entered"
    assert listed["source"] == "国务院办公厅关于2027年部分节假日安排的通知 (2026-11-20)"
    shown = json.loads(run("calendar", "show", "2027", "--json"))
    assert shown["status"] == "entered" and shown["year"] == 2027
    assert shown["source"] == "国务院办公厅关于2027年部分节假日安排的通知"
    spring = [h["date"] for h in shown["holidays"] if h["name"] == "春节"]
    assert spring == [f"2027-02-{d:02d}" for d in range(5, 14)]
    assert "2027-02-20" in shown["workdays"]

    grid = run("calendar", "show", "2027")
    assert "2027: entered, from 国务院办公厅关于2027年部分节假日安排的通知" in grid
    february = grid.split("2027-02")[1]
    assert " 5* 6* 7*" in february and "20+" in february  # the festival, the 调休 Saturday
    assert "春节: 02-05 to 02-13 (共9天); 上班 02-20" in grid

    again = run("calendar", "add", "2027", str(TEST_2027), code=1)
    assert "already entered" in again and "--replace" in again
    run("calendar", "add", "2027", str(TEST_2027), "--replace")

    retired = run("calendar", "retire", "2027")
    assert "Monday to Friday are guessed" in retired
    assert years()[2027]["status"] == "guessed"


def test_calendar_add_refuses_a_bad_notice_and_stores_nothing(
    isolated_environment: Path, tmp_path: Path
) -> None:
    run("init")
    text = (NOTICES / "2026.txt").read_text(encoding="utf-8")
    bad = tmp_path / "通知.txt"
    bad.write_text(text.replace("共9天", "共8天"), encoding="utf-8")
    output = run("calendar", "add", "2026", str(bad), code=1)
    assert "通知.txt: refused, 1 problem; nothing was stored" in output
    assert "says 共8天 but the days given are 9" in output
    assert "“2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共8天”" in output
    assert years()[2026]["status"] == "official"  # not entered
    assert "Traceback" not in output

    missing = run("calendar", "add", "2026", str(tmp_path / "nowhere.txt"), code=3)
    assert "no such file" in missing


def test_calendar_add_from_standard_input(isolated_environment: Path) -> None:
    run("init")
    result = runner.invoke(
        app, ["calendar", "add", "2099", "-"], input=(NOTICES / "2026.txt").read_text()
    )
    assert result.exit_code == 1 and "the notice is for 2026, not 2099" in result.output


# --- before the year turns ------------------------------------------------------------------


def warn(engine: sa.Engine, day: date) -> tuple[int | None, bool]:
    with db.session(engine) as session:
        return workdays.year_end_warning(
            session=session,
            program="xiangshan",
            today=day,
            now=NOW,
            templates=Templates(PROJECT_TEMPLATES),
        )


def calendar_warnings(engine: sa.Engine) -> list[tuple[str, str, str]]:
    """(target, subject, body) of each calendar warning in the outbox."""
    with db.session(engine) as session:
        return [
            (n.target, n.subject, n.body)
            for n in session.exec(select(Notification).order_by(Notification.id)).all()
            if n.dedup_key.startswith("calendar:")
        ]


def test_the_office_is_warned_at_most_once_a_week_until_the_year_is_entered(
    sqlite_engine: sa.Engine,
) -> None:
    load_examples(sqlite_engine)
    year = FIRST_UNCOVERED
    assert warn(sqlite_engine, date(year - 1, 10, 31)) == (None, False)  # not yet November
    assert warn(sqlite_engine, date(year - 1, 11, 2)) == (year, True)
    assert warn(sqlite_engine, date(year - 1, 11, 3)) == (year, False)
    assert warn(sqlite_engine, date(year - 1, 11, 8)) == (year, False)
    assert warn(sqlite_engine, date(year - 1, 11, 9)) == (year, True)  # a week later
    sent = calendar_warnings(sqlite_engine)
    assert len(sent) == 2 and {target for target, _, _ in sent} == {"role:office"}
    _, subject, body = sent[0]
    assert subject == f"【工作日历提醒】{year}年节假日安排尚未录入 · 象山县试点"
    assert f"自{year}年1月1日起，系统将把周一至周五一律当作工作日" in body
    assert f"pilot-tracker calendar add {year} 通知文件" in body

    if year == 2027:
        enter(sqlite_engine, TEST_2027, 2027)
        assert warn(sqlite_engine, date(2026, 11, 20)) == (None, False)


def test_status_warns_before_the_year_turns(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PILOT_TRACKER_CALENDAR_WARNING_FROM", "01-01")
    run("init")
    today = date.today()
    shown = json.loads(runner.invoke(app, ["status", "--json"]).output)
    following = str(today.year + 1)
    assert shown["calendar"][following] == workdays.WorkCalendar().source_of(today.year + 1)
    if shown["calendar"][following] == "guessed":
        assert any(f"calendar add {following} NOTICE" in w for w in shown["warnings"])


def test_a_warning_day_that_is_not_a_day_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILOT_TRACKER_CALENDAR_WARNING_FROM", "11-31")
    output = run("status", code=3)
    assert "PILOT_TRACKER_CALENDAR_WARNING_FROM" in output and "MM-DD" in output


@pytest.mark.skipif(FIRST_UNCOVERED != 2027, reason="the installed calendar package covers 2027")
def test_a_report_on_guessed_days_says_so_until_the_year_is_entered(
    sqlite_engine: sa.Engine,
) -> None:
    from pilot_tracker.reports import documents, figures

    from .test_reports import demo_document, load_program

    document = json.loads(json.dumps(demo_document()).replace('"2021-', '"2027-'))
    document["start"], document["end"] = "2027-01-01", "2027-12-31"
    load_program(sqlite_engine, document)

    def quarterly() -> figures.Quarterly:
        with db.session(sqlite_engine) as session:
            snapshot = figures.load(
                session=session, program="demo", as_of=date(2027, 3, 31), quarter="2027Q1"
            )
        return figures.quarterly(snapshot, "2027Q1")

    guessed = quarterly()
    assert guessed.calendar_note.startswith("注：2027年的法定节假日安排尚未录入系统")
    page = documents.html(
        PROJECT_TEMPLATES, "reports/quarterly.html.j2", q=guessed, generated="2027-04-08"
    )
    assert guessed.calendar_note in page

    enter(sqlite_engine, TEST_2027, 2027)
    assert quarterly().calendar_note == ""
