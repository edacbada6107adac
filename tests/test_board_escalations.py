"""The escalation board (督办约谈): the played demo's open escalations by level with their
签收 and next step, the closed ones; an interview's outcome recorded, an escalation closed
by hand; refusals at their field with nothing written; who may do what."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.board import escalations
from pilot_tracker.cli import app as cli
from pilot_tracker.ledger import store
from pilot_tracker.models import Escalation, Interview, Unit
from pilot_tracker.settings import PROJECT_TEMPLATES
from pilot_tracker.supervise import flags

from .at_once import while_held
from .board_fixtures import NOW, BoardUnderTest, csrf_of

TODAY = date(2021, 4, 8)  # the board's clock: 10:00 in Shanghai


# --- helpers --------------------------------------------------------------------------------


def record(board: BoardUnderTest, program: str, unit: str) -> Escalation:
    """The latest escalation of a unit of a program."""
    with db.session(board.engine) as session:
        found = session.exec(
            select(Escalation)
            .join(Unit, Escalation.unit_id == Unit.id)
            .where(Unit.code == unit, Escalation.program_id == _program_id(session, program))
            .order_by(col(Escalation.id).desc())
        ).first()
        assert found is not None, (program, unit)
        session.expunge(found)
    return found


def _program_id(session: Any, code: str) -> int:
    return store.get_program(session=session, code=code).id  # type: ignore[return-value]


def interviews(board: BoardUnderTest) -> list[Interview]:
    with db.session(board.engine) as session:
        found = session.exec(select(Interview).order_by(col(Interview.id))).all()
        session.expunge_all()
    return list(found)


def text_of(html: str) -> str:
    """What a reader sees: the tags dropped, entities as typed."""
    plain = re.sub(r"<[^>]+>", " ", html)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&#34;", '"'), ("&#39;", "'")):
        plain = plain.replace(entity, char)
    return " ".join(plain.replace("&amp;", "&").split())


def section(html: str, name: str) -> str:
    """The section of the page with this id (level-interview, level-urge, ..., closed)."""
    start = html.index(f'id="{name}"')
    return html[start : html.index("</section>", start)]


def row(html: str, escalation_id: int) -> str:
    """An escalation's row and the one under it (interviews, forms), as text."""
    start = html.index(f'<tr id="escalation-{escalation_id}"')
    end = min(
        (
            found
            for found in (
                html.find('<tr id="escalation-', start + 1),
                html.find("</table>", start),
            )
            if found != -1
        ),
    )
    return text_of(html[start:end])


def post(browser: TestClient, path: str, **fields: str) -> Any:
    page = browser.get(path.rsplit("/", 2)[0])
    assert page.status_code == 200, page.text
    return browser.post(path, data={"csrf": csrf_of(page.text), **fields}, follow_redirects=False)


def interview_path(program: str, escalation_id: int | str) -> str:
    return f"/p/{program}/escalations/{escalation_id}/interview"


def close_path(program: str, escalation_id: int | str) -> str:
    return f"/p/{program}/escalations/{escalation_id}/close"


# --- the board ------------------------------------------------------------------------------


def test_the_board_lists_the_open_escalations_by_level_with_their_receipts(
    board: BoardUnderTest,
) -> None:
    page = board.client("office-xs").get("/p/xiangshan/escalations")
    assert page.status_code == 200
    html = page.text
    # Highest first: 约谈, 督办, 提醒; then the closed ones.
    places = [html.index(f'id="{name}"') for name in ("level-interview", "level-urge")]
    places += [html.index(f'id="{name}"') for name in ("level-reminder", "closed")]
    assert places == sorted(places)
    assert "暂无约谈事项" in section(html, "level-interview")
    with db.session(board.engine) as session:
        opened = session.exec(
            select(Escalation, Unit)
            .join(Unit, Escalation.unit_id == Unit.id)
            .where(Escalation.program_id == _program_id(session, "xiangshan"))
        ).all()
        session.expunge_all()
    assert opened
    for escalation, unit in opened:
        where = "closed" if escalation.status == "closed" else f"level-{escalation.level}"
        assert f'<tr id="escalation-{escalation.id}"' in section(html, where), escalation
        assert unit.name in row(html, escalation.id)
    # 组织部's urge, raised on 2 April: 3 working days to 签收 (the Qingming holiday between).
    urge = record(board, "xiangshan", "zzb")
    line = row(html, urge.id)  # type: ignore[arg-type]
    assert "2021-02-19" in line and "2021-04-02" in line
    assert "待签收（4月8日前）" in line
    assert "红 1" in line and "黄 0" in line
    assert f"{(TODAY - date(2021, 2, 19)).days}天" in line
    # A reminder needs no 签收; a closed one says the ladder closed it.
    reminder = record(board, "xiangshan", "rlsbj")
    assert "无需签收" in row(html, reminder.id)  # type: ignore[arg-type]
    assert "自动关闭" in section(html, "closed")


def test_an_unacknowledged_and_an_acknowledged_notice_read_as_such(board: BoardUnderTest) -> None:
    from pilot_tracker.models import Acknowledgement

    interview = record(board, "yinzhou", "rcb")
    key: int = interview.id  # type: ignore[assignment]
    shown = board.client("office-yz").get("/p/yinzhou/escalations").text
    assert "待签收（4月13日前）" in row(shown, key)
    board.clock[0] = datetime(2021, 4, 14, 2, tzinfo=UTC)  # a week on: signed in afresh
    browser = board.client("office-yz")
    assert "未签收（4月14日起逾期）" in row(browser.get("/p/yinzhou/escalations").text, key)
    with db.session(board.engine) as session:
        session.add(
            Acknowledgement(
                escalation_id=interview.id,  # type: ignore[arg-type]
                level="interview",
                acknowledged_at=datetime(2021, 4, 9, 3, tzinfo=UTC),
            )
        )
    assert "已签收（4月9日）" in row(browser.get("/p/yinzhou/escalations").text, key)


@pytest.mark.parametrize(
    ("program", "unit", "expected"),
    [
        pytest.param("yinzhou", "rcb", "由专班组织约谈并记录结果。", id="interview"),
        pytest.param(
            "xiangshan",
            "zzb",
            "如红色预警持续：主要负责人未在4月8日前签收督办通知的，将于4月9日升级为约谈；"
            "按时签收的，将于5月6日升级为约谈。",
            id="urge, its notice not yet due",
        ),
        pytest.param(
            "yinzhou",
            "fl",
            "如红色预警持续，将于5月6日升级为督办（2021年5月为第一个督办周期）。",
            id="reminder with a red flag",
        ),
        pytest.param(
            "yinzhou",
            "xcb",
            "如出现红色预警，将于4月9日升级为督办（已满督办所需的报送周期）。",
            id="reminder past its periods, yellow only",
        ),
        pytest.param(
            "xiangshan",
            "tw",
            "如出现红色预警，将于6月1日升级为督办（2021年6月为第一个督办周期）。",
            id="reminder opened this month",
        ),
    ],
)
def test_the_next_step_of_each_level_and_its_day(
    board: BoardUnderTest, program: str, unit: str, expected: str
) -> None:
    browser = board.client("city")
    escalation = record(board, program, unit)
    assert escalation.status == "open"
    html = browser.get(f"/p/{program}/escalations").text
    assert expected in row(html, escalation.id)  # type: ignore[arg-type]


def test_the_next_step_is_what_the_ladder_then_does(board: BoardUnderTest, tmp_path: Path) -> None:
    """The board's day for each escalation, against the ladder run on the days around it
    on this copy of the played data (no unit reports anything more: red flags persist)."""
    with db.session(board.engine) as session:
        shown = {
            program: escalations.escalation_board(
                session=session,
                program=store.get_program(session=session, code=program),
                today=TODAY,
            )
            for program in ("xiangshan", "yinzhou")
        }
    urge = record(board, "xiangshan", "zzb")
    reminder = record(board, "yinzhou", "fl")
    step = shown["xiangshan"].line(urge.id).next_step  # type: ignore[arg-type, union-attr]
    assert (step.level, step.on) == ("interview", date(2021, 4, 9))  # 签收 is not coming
    step = shown["yinzhou"].line(reminder.id).next_step  # type: ignore[arg-type, union-attr]
    assert (step.level, step.on) == ("urge", date(2021, 5, 6))
    templates = outbox.Templates(PROJECT_TEMPLATES)

    def run(program: str, day: date) -> dict[int, str]:
        with db.session(board.engine) as session:
            _, changes = flags.flag_and_escalate(
                session=session,
                program=program,
                as_of=day,
                now=datetime.combine(day, time(1), tzinfo=UTC),
                templates=templates,
                home=tmp_path,
            )
            return {c.escalation.id: f"{c.change} {c.escalation.level}" for c in changes}  # type: ignore[misc]

    assert run("xiangshan", date(2021, 4, 9))[urge.id] == "raised interview"  # type: ignore[index]
    assert reminder.id not in run("yinzhou", date(2021, 4, 30))  # the last working day before
    assert run("yinzhou", date(2021, 5, 6))[reminder.id] == "raised urge"  # type: ignore[index]


# --- recording an interview -----------------------------------------------------------------


def test_recording_an_interview_stores_it_and_shows_it(board: BoardUnderTest) -> None:
    browser = board.client("office-yz")
    escalation = record(board, "yinzhou", "rcb")
    path = interview_path("yinzhou", escalation.id)  # type: ignore[arg-type]
    answer = post(
        browser,
        path,
        held_on="2021-04-08",
        attendees="  区团委书记、\n融媒体中心主要负责人   及联络员 ",
        agreed="4月底前补报一季度进展，\n\n每周向专班报送一次",
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/p/yinzhou/escalations#escalation-{escalation.id}"
    [stored] = interviews(board)
    assert (stored.escalation_id, stored.held_on) == (escalation.id, TODAY)
    assert stored.attendees == "区团委书记、 融媒体中心主要负责人 及联络员"  # whitespace normalised
    assert stored.agreed == "4月底前补报一季度进展， 每周向专班报送一次"
    assert stored.recorded_by == "office-yz"
    assert db.stored_moment(stored.recorded_at) == NOW  # type: ignore[arg-type]
    page = browser.get(answer.headers["location"])
    assert "已记录" in page.text and "的约谈结果" in page.text
    shown = row(page.text, escalation.id)  # type: ignore[arg-type]
    assert "2021-04-08 约谈" in shown and "融媒体中心主要负责人" in shown
    assert "每周向专班报送一次" in shown and "office-yz 记录于 2021-04-08 10:00" in shown
    assert record(board, "yinzhou", "rcb").status == "open"  # recorded, not closed
    # A reload of the page after the redirect posts nothing again.
    browser.get(answer.headers["location"])
    assert len(interviews(board)) == 1
    # The command line shows it too.
    listed = escalation_list(board, "yinzhou")
    assert listed[escalation.id]["interviews"] == [  # type: ignore[index]
        {
            "held_on": "2021-04-08",
            "attendees": stored.attendees,
            "agreed": stored.agreed,
            "recorded_by": "office-yz",
            "recorded_at": NOW.isoformat(),
        }
    ]


def test_an_interview_may_close_its_escalation_the_same_day(board: BoardUnderTest) -> None:
    browser = board.client("office-yz")
    escalation = record(board, "yinzhou", "rcb")
    answer = post(
        browser,
        interview_path("yinzhou", escalation.id),  # type: ignore[arg-type]
        held_on="2021-04-08",
        attendees="区团委书记",
        agreed="限期整改",
        close="1",
    )
    assert answer.status_code == 303, answer.text
    closed = record(board, "yinzhou", "rcb")
    assert (closed.status, closed.closed_on, closed.closed_by) == ("closed", TODAY, "office-yz")
    assert closed.outcome == "约谈：限期整改"
    page = browser.get(answer.headers["location"])
    assert "并关闭该督办事项" in page.text
    line = row(section(page.text, "closed"), escalation.id)  # type: ignore[arg-type]
    assert "约谈：限期整改" in line and "office-yz" in line and "2021-04-08 约谈" in line
    listed = escalation_list(board, "yinzhou")[escalation.id]  # type: ignore[index]
    assert listed["closed_by"] == "office-yz" and listed["status"] == "closed"
    assert len(listed["interviews"]) == 1


GOOD = {"held_on": "2021-04-08", "attendees": "区团委书记", "agreed": "限期整改"}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param("held_on", "", "请填写约谈日期。", id="no date"),
        pytest.param(
            "held_on",
            "2021/04/08",
            "约谈日期应按“年-月-日”填写，例如 2021-04-08。",
            id="date with slashes",
        ),
        pytest.param("held_on", "2021-02-30", "约谈日期应按“年-月-日”填写", id="no such day"),
        pytest.param(
            "held_on", "2021-04-09", "约谈日期不能晚于今天（2021-04-08）。", id="tomorrow"
        ),
        pytest.param(
            "held_on",
            "2021-04-07",
            "约谈日期不能早于该督办事项升级为约谈的日期（2021-04-08）。",
            id="before the interview was called",
        ),
        pytest.param("attendees", " \n ", "请填写参加人员。", id="no attendees"),
        pytest.param("agreed", "", "请填写商定事项。", id="nothing agreed"),
        pytest.param("agreed", "议" * 2001, "商定事项不能超过2000字（现有2001字）", id="too long"),
    ],
)
def test_a_bad_interview_is_refused_at_its_field_and_nothing_is_written(
    board: BoardUnderTest, field: str, value: str, reason: str
) -> None:
    browser = board.client("office-yz")
    escalation = record(board, "yinzhou", "rcb")
    typed = {**GOOD, field: value, "close": "1"}
    if field != "agreed":
        typed["agreed"] = '带<引号>的"商定"事项'
    answer = post(browser, interview_path("yinzhou", escalation.id), **typed)  # type: ignore[arg-type]
    assert answer.status_code == 400
    html = answer.text
    assert reason in text_of(html)
    assert f'id="interview-{escalation.id}-{field}-error"' in html
    assert 'aria-invalid="true"' in html
    # What was typed is shown again (escaped), in the form that was sent.
    if field != "agreed":
        assert "带&lt;引号&gt;的&#34;商定&#34;事项</textarea>" in html
    assert interviews(board) == []
    assert record(board, "yinzhou", "rcb").status == "open"


def test_an_interview_is_recorded_only_for_an_escalation_at_that_level(
    board: BoardUnderTest,
) -> None:
    browser = board.client("office-xs")
    urge = record(board, "xiangshan", "zzb")
    answer = post(browser, interview_path("xiangshan", urge.id), **GOOD)  # type: ignore[arg-type]
    assert answer.status_code == 400
    assert "尚未升级为约谈，不能记录约谈结果" in answer.text
    assert interviews(board) == []


def test_html_typed_in_an_interview_shows_escaped(board: BoardUnderTest) -> None:
    browser = board.client("office-yz")
    escalation = record(board, "yinzhou", "rcb")
    typed = '<script>alert("x")</script><img src=x onerror=alert(1)>=HYPERLINK("http://x")'
    answer = post(
        browser,
        interview_path("yinzhou", escalation.id),  # type: ignore[arg-type]
        held_on="2021-04-08",
        attendees="<b>区团委</b>",
        agreed=typed,
    )
    assert answer.status_code == 303
    html = browser.get("/p/yinzhou/escalations").text
    assert "<script>" not in html and "<img" not in html and "<b>区团委" not in html
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    )
    assert typed in row(html, escalation.id)  # type: ignore[arg-type]
    assert interviews(board)[0].agreed == typed  # stored as typed


# --- closing by hand ------------------------------------------------------------------------


def test_closing_by_hand_with_a_reason(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    reminder = record(board, "xiangshan", "rlsbj")
    answer = post(
        browser,
        close_path("xiangshan", reminder.id),  # type: ignore[arg-type]
        reason="  已电话督促，\n 单位承诺本周补报 ",
        on="",
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/p/xiangshan/escalations#escalation-{reminder.id}"
    closed = record(board, "xiangshan", "rlsbj")
    assert (closed.status, closed.closed_on, closed.closed_by) == ("closed", TODAY, "office-xs")
    assert closed.outcome == "已电话督促， 单位承诺本周补报"
    page = browser.get(answer.headers["location"])
    assert "已关闭" in page.text and "的督办事项" in page.text
    line = row(section(page.text, "closed"), reminder.id)  # type: ignore[arg-type]
    assert "已电话督促， 单位承诺本周补报" in line and "office-xs" in line
    assert f'id="escalation-{reminder.id}"' not in section(page.text, "level-reminder")
    # On a day of one's choosing: the urge on the day it was raised.
    urge = record(board, "xiangshan", "zzb")
    assert "的督办事项。" not in browser.get("/p/xiangshan/escalations").text  # said once
    answer = post(browser, close_path("xiangshan", urge.id), reason="已整改", on="2021-04-02")  # type: ignore[arg-type]
    assert answer.status_code == 303
    assert record(board, "xiangshan", "zzb").closed_on == date(2021, 4, 2)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        pytest.param({"reason": "", "on": ""}, "reason", "请填写关闭理由。", id="no reason"),
        pytest.param(
            {"reason": "   \n  ", "on": "2021-04-08"}, "reason", "请填写关闭理由。", id="blank"
        ),
        pytest.param(
            {"reason": "理" * 2001, "on": ""}, "reason", "关闭理由不能超过2000字", id="too long"
        ),
        pytest.param(
            {"reason": "已整改", "on": "2021-04-09"},
            "on",
            "关闭日期不能晚于今天（2021-04-08）。",
            id="tomorrow",
        ),
        pytest.param(
            {"reason": "已整改", "on": "2021-04-01"},
            "on",
            "关闭日期不能早于该督办事项升级为督办的日期（2021-04-02）。",
            id="before its raise",
        ),
        pytest.param(
            {"reason": "已整改", "on": "4月8日"}, "on", "关闭日期应按“年-月-日”填写", id="in words"
        ),
    ],
)
def test_closing_without_a_reason_or_on_a_wrong_day_is_refused(
    board: BoardUnderTest, fields: dict[str, str], field: str, reason: str
) -> None:
    browser = board.client("office-xs")
    urge = record(board, "xiangshan", "zzb")
    answer = post(browser, close_path("xiangshan", urge.id), **fields)  # type: ignore[arg-type]
    assert answer.status_code == 400
    assert reason in text_of(answer.text)
    assert f'id="close-{urge.id}-{field}-error"' in answer.text
    assert '<details class="act" open>' in answer.text  # the form stays open
    after = record(board, "xiangshan", "zzb")
    assert (after.status, after.closed_on, after.outcome, after.closed_by) == ("open", None, "", "")


def test_closing_twice_says_it_is_already_closed(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    urge = record(board, "xiangshan", "zzb")
    path = close_path("xiangshan", urge.id)  # type: ignore[arg-type]
    assert post(browser, path, reason="已整改", on="").status_code == 303
    again = post(browser, path, reason="再次关闭", on="")
    assert again.status_code == 400
    assert "该督办事项已于2021-04-08关闭（已整改），无需重复关闭。" in text_of(again.text)
    assert record(board, "xiangshan", "zzb").outcome == "已整改"
    # One the ladder closed by itself, likewise.
    with db.session(board.engine) as session:
        auto = session.exec(
            select(Escalation.id).where(
                Escalation.program_id == _program_id(session, "xiangshan"),
                Escalation.status == "closed",
                col(Escalation.id) != urge.id,
            )
        ).first()
    assert auto is not None
    answer = post(browser, close_path("xiangshan", auto), reason="x", on="")
    assert answer.status_code == 400 and "无需重复关闭" in answer.text


# --- who may do what ------------------------------------------------------------------------


def test_a_leader_reads_the_board_and_cannot_post(board: BoardUnderTest) -> None:
    browser = board.client("leader-xs")
    page = browser.get("/p/xiangshan/escalations")
    assert page.status_code == 200
    assert "待签收（4月8日前）" in page.text
    assert "/close" not in page.text and "/interview" not in page.text  # no forms
    urge = record(board, "xiangshan", "zzb")
    token = csrf_of(page.text)
    for path, fields in (
        (close_path("xiangshan", urge.id), {"reason": "已整改", "on": ""}),  # type: ignore[arg-type]
        (interview_path("xiangshan", urge.id), GOOD),  # type: ignore[arg-type]
        (close_path("xiangshan", "abc"), {"reason": "x"}),
    ):
        answer = browser.post(path, data={"csrf": token, **fields}, follow_redirects=False)
        assert answer.status_code == 403, path
        assert "领导账户只能查看" in answer.text
    assert record(board, "xiangshan", "zzb").status == "open"
    assert interviews(board) == []


def test_another_program_s_or_an_unknown_escalation_is_not_found(board: BoardUnderTest) -> None:
    office = board.client("office-xs")
    theirs = record(board, "yinzhou", "rcb")  # yinzhou's interview
    token = csrf_of(office.get("/p/xiangshan/escalations").text)
    for path in (
        interview_path("xiangshan", theirs.id),  # type: ignore[arg-type]
        close_path("xiangshan", theirs.id),  # type: ignore[arg-type]
        close_path("xiangshan", 99999),
        close_path("xiangshan", "abc"),
        close_path("xiangshan", "-1"),
        close_path("xiangshan", "1e3"),
        interview_path("yinzhou", theirs.id),  # not this account's program
    ):
        answer = office.post(
            path, data={"csrf": token, **GOOD, "reason": "x"}, follow_redirects=False
        )
        assert answer.status_code == 404, path
        assert "Traceback" not in answer.text
    assert record(board, "yinzhou", "rcb").status == "open"
    assert interviews(board) == []
    other = board.client("office-yz")
    assert other.get("/p/xiangshan/escalations").status_code == 404
    nobody = other.get("/p/nowhere/escalations")
    assert nobody.status_code == 404 and nobody.text == other.get("/p/xiangshan/escalations").text


def test_a_post_without_the_form_token_is_refused(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    urge = record(board, "xiangshan", "zzb")
    answer = browser.post(
        close_path("xiangshan", urge.id),  # type: ignore[arg-type]
        data={"reason": "已整改"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert record(board, "xiangshan", "zzb").status == "open"


def test_an_anonymous_visitor_is_sent_to_sign_in(board: BoardUnderTest) -> None:
    answer = board.anonymous.get("/p/xiangshan/escalations", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


# --- the command line -----------------------------------------------------------------------


def escalation_list(board: BoardUnderTest, program: str) -> dict[int, dict[str, Any]]:
    """``pilot-tracker escalation list --json`` on the board's database, by id."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("PILOT_TRACKER_DATABASE_URL", board.settings.database_url)
        result = CliRunner().invoke(cli, ["escalation", "list", "--program", program, "--json"])
    assert result.exit_code == 0, result.output
    return {item["id"]: item for item in json.loads(result.stdout)}


def test_the_command_line_keeps_its_keys_and_adds_the_board_s(board: BoardUnderTest) -> None:
    listed = escalation_list(board, "xiangshan")
    urge = record(board, "xiangshan", "zzb")
    item = listed[urge.id]  # type: ignore[index]
    assert set(item) == {
        "id",
        "unit",
        "level",
        "status",
        "opened",
        "closed",
        "notice",
        "acknowledge_by",
        "acknowledged",
        "acknowledged_on",
        "unacknowledged_since",
        "closed_by",
        "interviews",
    }
    assert (item["closed_by"], item["interviews"]) == ("", [])


def test_two_offices_closing_at_once_close_once(engine: Any) -> None:
    """The first close holds the escalation until it is committed; the second then finds
    it closed and says so (on SQLite and on PostgreSQL)."""
    from pilot_tracker.errors import BoardError
    from pilot_tracker.models import Program

    from .conftest import load_examples

    with db.session(engine) as session:
        load_examples(session, "xiangshan")
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        unit = session.exec(select(Unit).where(Unit.code == "tw")).one()
        row = Escalation(
            program_id=program.id,  # type: ignore[arg-type]
            unit_id=unit.id,  # type: ignore[arg-type]
            level="reminder",
            status="open",
            opened_on=date(2021, 4, 1),
            raised_on=date(2021, 4, 1),
        )
        session.add(row)
        session.flush()
        number = str(row.id)
        session.expunge(program)

    outcomes: dict[str, Any] = {}

    def close(who: str, wait: Callable[[], None] = lambda: None) -> None:
        try:
            with db.session(engine) as session:
                outcomes[who] = escalations.close_escalation(
                    session=session,
                    program=program,
                    escalation_id=number,
                    reason=f"{who}已督促",
                    on="",
                    closed_by=who,
                    today=date(2021, 4, 8),
                )
                wait()
        except BoardError as refused:
            outcomes[who] = refused

    while_held(lambda wait: close("office-a", wait), lambda: close("office-b"))
    assert isinstance(outcomes["office-b"], BoardError), outcomes
    with db.session(engine) as session:
        stored = session.get(Escalation, int(number))
        assert (stored.closed_by, stored.outcome) == ("office-a", "office-a已督促")
