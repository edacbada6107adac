"""The city view (the board's ``/``): one row per program the account may see, its figures
checked against the database by other means than the page's own; and the roll-ups of a
city whose every loaded pilot the account may see, downloaded through their record."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from pilot_tracker import db
from pilot_tracker.ledger import plan, store
from pilot_tracker.models import (
    CityDocument,
    Document,
    Escalation,
    Flag,
    Program,
    RunRecord,
    Submission,
)
from pilot_tracker.supervise import extensions
from pilot_tracker.supervise.progress import progress

from .board_fixtures import NOW, PLAYED_TO, BoardUnderTest
from .test_city_report import fake_pdf

PROGRAMS = ("xiangshan", "yinzhou")


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _row(page: str, code: str) -> str:
    found = re.search(rf'<tr id="program-{code}">(.*?)</tr>', page, re.S)
    assert found, f"no row of {code}"
    return found.group(1)


def _cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="[^"]*\b{name}\b[^"]*">(.*?)</td>', row, re.S)
    assert found, f"no cell {name}"
    return _text(found.group(1))


def _open_escalations(session: Session, program_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Escalation.level, func.count())
        .where(Escalation.program_id == program_id, Escalation.status == "open")
        .group_by(Escalation.level)
    ).all()
    return {"interview": 0, "urge": 0, "reminder": 0, **dict(rows)}


def _flagged(session: Session, program_id: int) -> tuple[int, int]:
    day = session.exec(select(func.max(Flag.as_of)).where(Flag.program_id == program_id)).one()
    flags = session.exec(select(Flag).where(Flag.program_id == program_id, Flag.as_of == day)).all()
    return len({f.unit_id for f in flags}), len({f.unit_id for f in flags if f.severity == "red"})


def _on_plan(session: Session, code: str, today: date) -> tuple[int, int]:
    """The tasks on plan as the battle map would count them: the whole ledger read back,
    the extensions in effect, the lead units' latest reports through supervise.progress."""
    program = session.exec(select(Program).where(Program.code == code)).one()
    spec, _ = extensions.effective(
        session=session,
        program_id=program.id,
        spec=store.read_program(session=session, code=code),
        as_of=today,
    )
    latest = {
        (row["task"], row["unit"]): row["percent"]
        for row in progress(session=session, program=code, as_of=today)
    }
    begun = [task for task in spec.tasks if task.start <= today]
    on_plan = [
        task
        for task in begun
        if plan.gap_band(latest.get((task.code, task.lead_unit)), plan.planned_percent(task, today))
        == plan.ON_PLAN
    ]
    return len(on_plan), len(begun)


def test_the_city_sees_every_program_side_by_side_with_figures_from_the_database(
    board: BoardUnderTest,
) -> None:
    page = board.client("city").get("/")
    assert page.status_code == 200
    assert "<h1>全市试点总览</h1>" in page.text
    totals = {"escalations": {"interview": 0, "urge": 0, "reminder": 0}, "flagged": [0, 0]}
    on_plan_total = [0, 0]
    with Session(board.engine) as session:
        for code in PROGRAMS:
            program = session.exec(select(Program).where(Program.code == code)).one()
            row = _row(page.text, code)
            assert f'<a href="/p/{code}">{program.name}</a>' in row
            escalations = _open_escalations(session, program.id)
            assert _cell(row, "escalations") == (
                f"约谈 {escalations['interview']} · 督办 {escalations['urge']} · "
                f"提醒 {escalations['reminder']}"
            )
            flagged, red = _flagged(session, program.id)
            assert flagged > 0
            assert _cell(row, "flagged") == f"{flagged} （红色 {red}） {PLAYED_TO.isoformat()}"
            on_plan, begun = _on_plan(session, code, PLAYED_TO)
            assert 0 < on_plan < begun
            assert _cell(row, "on-plan") == f"{on_plan} / {begun}"
            received = session.exec(
                select(func.max(Submission.received_at)).where(Submission.program_id == program.id)
            ).one()
            local = db.local_moment(received, program.timezone).strftime("%Y-%m-%d %H:%M")
            assert _cell(row, "collect") == f"{local} 最近收到报送"
            report = session.exec(select(Document).where(Document.program_id == program.id)).one()
            assert f'href="/p/{code}/reports#report-{report.id}"' in row
            assert _cell(row, "report").startswith("季度对账（2021年第1季度） 2021-04-08 09:00")
            for level, count in escalations.items():
                totals["escalations"][level] += count
            totals["flagged"][0] += flagged
            totals["flagged"][1] += red
            on_plan_total[0] += on_plan
            on_plan_total[1] += begun
    footer = re.search(r'<tr class="totals">(.*?)</tr>', page.text, re.S)
    assert footer, "no totals row"
    assert "合计（2个试点）" in _text(footer.group(1))
    assert _cell(footer.group(1), "on-plan") == f"{on_plan_total[0]} / {on_plan_total[1]}"
    flagged, red = totals["flagged"]
    assert _cell(footer.group(1), "flagged") == f"{flagged} （红色 {red}）"
    e = totals["escalations"]
    assert _cell(footer.group(1), "escalations") == (
        f"约谈 {e['interview']} · 督办 {e['urge']} · 提醒 {e['reminder']}"
    )


def test_an_office_sees_only_its_own_program(board: BoardUnderTest) -> None:
    page = board.client("office-xs").get("/")
    assert page.status_code == 200
    assert "<h1>我的试点</h1>" in page.text and "全市试点总览" not in page.text
    assert 'id="program-xiangshan"' in page.text
    assert "yinzhou" not in page.text and "鄞州" not in page.text
    assert 'class="totals"' not in page.text


def test_a_leader_sees_the_figures_of_its_program(board: BoardUnderTest) -> None:
    page = board.client("leader-xs").get("/")
    assert page.status_code == 200
    row = _row(page.text, "xiangshan")
    assert "约谈" in _cell(row, "escalations")
    assert "yinzhou" not in page.text


def test_the_rows_link_to_each_board_and_library(board: BoardUnderTest) -> None:
    browser = board.client("city")
    page = browser.get("/").text
    for code in PROGRAMS:
        row = _row(page, code)
        assert f'href="/p/{code}"' in row
        link = re.search(rf'href="(/p/{code}/reports)#report-\d+"', row)
        assert link, f"no library link in the row of {code}"
        library = browser.get(link.group(1))
        assert library.status_code == 200
        assert f'id="report-{link.group(0).split("#report-")[1][:-1]}"' in library.text


def test_the_last_collect_is_the_collect_flows_latest_run_where_there_is_one(
    board: BoardUnderTest,
) -> None:
    finished = datetime(2021, 4, 7, 23, 30, tzinfo=UTC)  # 07:30 on the 8th in Shanghai
    with Session(board.engine) as session:
        for at, outcome in (
            (datetime(2021, 4, 6, 23, 30, tzinfo=UTC), "ok"),
            (finished, "source errors"),
        ):
            session.add(
                RunRecord(
                    program="xiangshan",
                    flow="collect-status",
                    as_of=at.date(),
                    started_at=at,
                    finished_at=at,
                    outcome=outcome,
                    summary={},
                )
            )
        # A later run of another flow is no collect.
        session.add(
            RunRecord(
                program="xiangshan",
                flow="supervise",
                as_of=PLAYED_TO,
                started_at=datetime(2021, 4, 8, 1, 0, tzinfo=UTC),
                finished_at=datetime(2021, 4, 8, 1, 5, tzinfo=UTC),
                outcome="ok",
                summary={},
            )
        )
        session.commit()
    page = board.client("city").get("/").text
    assert _cell(_row(page, "xiangshan"), "collect") == (
        "2021-04-08 07:30 采集运行（有错误，请查看运行日志）"
    )
    assert "最近收到报送" in _cell(_row(page, "yinzhou"), "collect")


def test_a_program_without_flags_reports_or_submissions_reads_so(board: BoardUnderTest) -> None:
    with Session(board.engine) as session:
        program = session.exec(select(Program).where(Program.code == "yinzhou")).one()
        for table in (Flag, Document):
            session.execute(sa.delete(table).where(table.program_id == program.id))
        session.commit()
    page = board.client("city").get("/")
    assert page.status_code == 200
    row = _row(page.text, "yinzhou")
    assert _cell(row, "flagged") == "暂无预警"
    assert _cell(row, "report") == "尚未生成"
    assert 'href="/p/yinzhou/reports"' in row


def test_the_last_report_is_the_newest_of_the_library(board: BoardUnderTest) -> None:
    with Session(board.engine) as session:
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        half = Document(
            program_id=program.id,
            kind="half_year",
            period="2021H1",
            formats=[],
            paths={},
            sha256={},
            generated_at=datetime(2021, 4, 8, 1, 30, tzinfo=UTC),
        )
        session.add(half)
        session.commit()
        newest = half.id
    row = _row(board.client("city").get("/").text, "xiangshan")
    assert f'href="/p/xiangshan/reports#report-{newest}"' in row
    assert _cell(row, "report") == "半年度评估（2021年上半年） 2021-04-08 09:30"


def _queries(board: BoardUnderTest, account: str) -> list[str]:
    """The SQL statements of one visit of ``/`` by a signed-in account."""
    browser = board.client(account)
    browser.get("/")  # the session touched
    statements: list[str] = []

    def count(*event: Any) -> None:  # connection, cursor, statement, ...
        statements.append(event[2])

    sa.event.listen(board.engine, "before_cursor_execute", count)
    try:
        assert browser.get("/").status_code == 200
    finally:
        sa.event.remove(board.engine, "before_cursor_execute", count)
    return statements


def test_the_city_view_reads_a_few_queries_per_program(board: BoardUnderTest) -> None:
    """The figures of all programs are read together: a program more costs two queries (its
    extensions in effect and its latest reports), not a query per task or unit."""
    one, two = _queries(board, "office-xs"), _queries(board, "city")
    assert len(one) <= 15, one
    assert len(two) - len(one) <= 2, two


def test_the_city_view_is_in_the_programs_zone(board: BoardUnderTest) -> None:
    """The page's figures are of each program's own day: at 23:30 UTC on the 8th it is the
    9th in Shanghai, and the page still answers."""
    board.clock[0] = datetime(2021, 4, 8, 23, 30, tzinfo=UTC)
    page = board.client("city").get("/")
    assert page.status_code == 200
    today = board.clock[0].astimezone(ZoneInfo("Asia/Shanghai")).date()
    with Session(board.engine) as session:
        on_plan, begun = _on_plan(session, "xiangshan", today)
    assert _cell(_row(page.text, "xiangshan"), "on-plan") == f"{on_plan} / {begun}"


# --- the city's roll-ups ----------------------------------------------------------------------


def _city_written(board: BoardUnderTest, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Ningbo over the played programs (haishu and fenghua not loaded), and its 2021Q1
    roll-up written outside the data home (a stand-in PDF: the real one is read back in
    tests/test_city_report.py)."""
    from pilot_tracker.ledger import cities
    from pilot_tracker.ledger.city_file import CitySpec
    from pilot_tracker.reports import city as city_report
    from pilot_tracker.reports import documents
    from pilot_tracker.settings import PROJECT_TEMPLATES

    monkeypatch.setattr(documents, "cjk_font", lambda: "WenQuanYi Micro Hei")
    monkeypatch.setattr(documents, "pdf", fake_pdf)
    spec = CitySpec(
        code="ningbo",
        name="宁波市",
        office="共青团宁波市委办公室",
        programs=["haishu", "yinzhou", "fenghua", "xiangshan"],
    )
    with db.session(board.engine) as session:
        cities.load_city(session=session, spec=spec, source_name="", source_sha256="", now=NOW)
    with db.session(board.engine) as session:
        return city_report.write(
            session=session,
            city="ningbo",
            period="2021Q1",
            folder=folder,
            home=board.settings.home,
            templates=PROJECT_TEMPLATES,
            now=NOW,
            send=False,
        )


def _city_report_id(board: BoardUnderTest) -> int:
    with Session(board.engine) as session:
        return session.exec(select(CityDocument.id)).one()


def test_the_city_league_downloads_its_roll_ups_from_the_city_view(
    board: BoardUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _city_written(board, tmp_path / "ningbo", monkeypatch)
    browser = board.client("city")
    page = browser.get("/")
    assert page.status_code == 200
    found = re.search(r'<section class="card" id="city-ningbo">(.*?)</section>', page.text, re.S)
    assert found, "no section of the city"
    section = found.group(1)
    assert "宁波市试点汇总报告" in section
    assert "尚未导入：haishu、fenghua" in _text(section)
    report = _city_report_id(board)
    row = re.search(rf'<tr id="city-report-{report}">(.*?)</tr>', section, re.S)
    assert row and _text(row.group(1)).startswith("季度汇总（2021年第1季度） 2021-04-08 10:00")
    links = re.findall(rf'href="(/city/ningbo/reports/{report}/(\w+))"', row.group(1))
    assert [key for _, key in links] == ["html", "pdf", "xlsx", "docx"]
    for link, key in links:
        answer = browser.get(link)
        assert answer.status_code == 200, link
        assert answer.content == written.files[key].read_bytes()
        disposition = answer.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        name = unquote(disposition.split("filename*=utf-8''")[1])
        assert name == f"宁波市-2021年第1季度-试点汇总.{key}"


@pytest.mark.parametrize("account", ["office-xs", "office-yz", "leader-xs"])
def test_an_account_that_may_not_see_every_pilot_sees_no_city(
    board: BoardUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, account: str
) -> None:
    """A district's office sees its own pilot, not its neighbours' figures through the
    city's report; the download is the same 404 as for a city that does not exist."""
    _city_written(board, tmp_path / "ningbo", monkeypatch)
    report = _city_report_id(board)
    browser = board.client(account)
    page = browser.get("/")
    assert page.status_code == 200
    assert "city-ningbo" not in page.text and "试点汇总报告" not in page.text
    theirs = browser.get(f"/city/ningbo/reports/{report}/pdf")
    missing = browser.get(f"/city/nowhere/reports/{report}/pdf")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text == missing.text


def test_a_visitor_who_has_not_signed_in_is_sent_to_the_login_page(
    board: BoardUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _city_written(board, tmp_path / "ningbo", monkeypatch)
    answer = board.anonymous.get(
        f"/city/ningbo/reports/{_city_report_id(board)}/pdf", follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_only_the_files_a_roll_up_records_are_served(
    board: BoardUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _city_written(board, tmp_path / "ningbo", monkeypatch)
    report = _city_report_id(board)
    browser = board.client("city")
    for path in (
        f"/city/ningbo/reports/{report}/exe",
        f"/city/ningbo/reports/{report}/statement:jyj",
        f"/city/ningbo/reports/{report + 1}/pdf",
        "/city/ningbo/reports/abc/pdf",
        f"/city/ningbo/reports/{'9' * 40}/pdf",
    ):
        assert browser.get(path).status_code == 404, path
    # A record led astray: a path that climbs out of the data home, a file of another kind.
    with Session(board.engine) as session:
        row = session.get(CityDocument, report)
        row.paths = {
            **row.paths,
            "pdf": "../../../../etc/hostname.pdf",
            "xlsx": str(written.files["html"]),
        }
        session.add(row)
        session.commit()
    for key in ("pdf", "xlsx"):
        assert browser.get(f"/city/ningbo/reports/{report}/{key}").status_code == 404, key
    written.files["docx"].unlink()
    assert browser.get(f"/city/ningbo/reports/{report}/docx").status_code == 404
    page = browser.get("/").text
    assert "Word 文档（文件已不在）" in _text(page)
    assert browser.get(f"/city/ningbo/reports/{report}/html").status_code == 200


def _bulletin_written(board: BoardUnderTest, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Ningbo with its bulletin, and the bulletin of 2021Q1 written outside the data home."""
    from pilot_tracker.ledger import cities
    from pilot_tracker.ledger.city_file import BulletinSpec, CitySpec
    from pilot_tracker.reports import bulletin, documents
    from pilot_tracker.settings import PROJECT_TEMPLATES

    monkeypatch.setattr(documents, "pdf", fake_pdf)
    spec = CitySpec(
        code="ningbo",
        name="宁波市",
        office="共青团宁波市委办公室",
        programs=["haishu", "yinzhou", "fenghua", "xiangshan"],
        bulletin=BulletinSpec(name="宁波市共青团工作简报", first_number=2, first_total=167),
    )
    with db.session(board.engine) as session:
        cities.load_city(session=session, spec=spec, source_name="", source_sha256="", now=NOW)
    with db.session(board.engine) as session:
        return bulletin.write(
            session=session,
            city="ningbo",
            period="2021Q1",
            folder=folder,
            home=board.settings.home,
            templates=PROJECT_TEMPLATES,
            now=NOW,
            send=False,
        )


def test_the_city_league_downloads_its_bulletins_from_the_city_view(
    board: BoardUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pilot_tracker.models import BulletinIssue

    written = _bulletin_written(board, tmp_path / "ningbo", monkeypatch)
    with Session(board.engine) as session:
        issue = session.exec(select(BulletinIssue.id)).one()
    browser = board.client("city")
    section = browser.get("/").text.split('id="city-ningbo"')[1].split("</section>")[0]
    row = re.search(rf'<tr id="city-bulletin-{issue}">(.*?)</tr>', section, re.S)
    assert row and _text(row.group(1)).startswith(
        "2021年第2期（总第167期） 2021年第1季度 2021-04-08"
    )
    links = re.findall(rf'href="(/city/ningbo/bulletins/{issue}/(\w+))"', row.group(1))
    assert [key for _, key in links] == ["html", "pdf", "docx"]
    for link, key in links:
        answer = browser.get(link)
        assert answer.status_code == 200, link
        assert answer.content == written.files[key].read_bytes()
        name = unquote(answer.headers["content-disposition"].split("filename*=utf-8''")[1])
        assert name == f"宁波市-工作简报-2021年第2期.{key}"
    for path in (
        f"/city/ningbo/bulletins/{issue}/exe",
        f"/city/ningbo/bulletins/{issue + 1}/pdf",
        "/city/ningbo/bulletins/abc/pdf",
        f"/city/nowhere/bulletins/{issue}/pdf",
    ):
        assert browser.get(path).status_code == 404, path
    # A district's office does not read its neighbours through the city's bulletin.
    office = board.client("office-xs")
    assert "city-bulletin" not in office.get("/").text
    assert office.get(f"/city/ningbo/bulletins/{issue}/pdf").status_code == 404
