"""The answers inbox (单位答复): the units' extension requests, approved or rejected by the
office with the unit's liaison told through the outbox; the answers to the Q1 statements,
and the office's replies to a dispute. On the played demo: 团县委 (tw) asked to move
XS-JZ-01 from 2021-03-31 to 2021-04-30 and disputed its Q1 statement; 县委组织部 (zzb)
confirmed it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from pilot_tracker.board.inbox import LINK_MASKED
from pilot_tracker.cli import app
from pilot_tracker.models import Extension, Notification, Program
from pilot_tracker.supervise import extensions

from .at_once import while_held
from .board_fixtures import SECRET, BoardUnderTest, csrf_of

INBOX = "/p/xiangshan/inbox"
TASK = "XS-JZ-01"
LIAISON = "unit:tw role:liaison"


def pending_id(board: BoardUnderTest) -> int:
    with Session(board.engine) as session:
        (row,) = session.exec(select(Extension).where(Extension.status == "pending")).all()
        assert row.id is not None
        return row.id


def extension(board: BoardUnderTest, number: int) -> Extension:
    with Session(board.engine) as session:
        row = session.get(Extension, number)
        assert row is not None
        return row


def messages(board: BoardUnderTest, prefix: str) -> list[Notification]:
    with Session(board.engine) as session:
        return list(
            session.exec(
                select(Notification)
                .where(col(Notification.dedup_key).startswith(prefix))
                .order_by(col(Notification.id))
            ).all()
        )


def post(browser: TestClient, path: str, **fields: str) -> Any:
    """A form sent from the inbox as the browser has it (its token with it)."""
    token = csrf_of(browser.get(INBOX).text)
    return browser.post(path, data={"csrf": token, **fields})


def decide(browser: TestClient, number: int, action: str, note: str = "") -> Any:
    return post(browser, f"/p/xiangshan/extensions/{number}", action=action, note=note)


def reply(browser: TestClient, unit: str = "tw", quarter: str = "2021Q1", text: str = "") -> Any:
    return post(browser, f"/p/xiangshan/statements/{unit}/{quarter}/reply", text=text)


def due_in_effect(board: BoardUnderTest, day: date) -> date | None:
    with Session(board.engine) as session:
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        return extensions.in_effect(session=session, program_id=program.id, as_of=day).get(TASK)


def unit_link(body: str) -> str:
    """The path of the unit's personal link in a message."""
    found = re.search(r"http://127\.0\.0\.1:8000(/u/[A-Za-z0-9._-]+)", body)
    assert found, body
    return found.group(1)


# --- what the inbox shows ---------------------------------------------------------------------


def test_the_inbox_shows_the_pending_request_and_the_answers_to_the_statements(
    board: BoardUnderTest,
) -> None:
    number = pending_id(board)
    page = board.client("office-xs").get(INBOX)
    assert page.status_code == 200
    text = page.text
    assert 'aria-current="page">单位答复</a>' in text
    assert "待审批 <b>1</b>" in text and "有异议 <b>1</b>" in text and "未答复 <b>28</b>" in text
    request = text[text.index(f'id="extension-{number}"') :]
    assert f'<a href="/p/xiangshan/tasks/{TASK}">{TASK} ' in request
    assert "原定完成 2021-03-31 → 申请延期至 <b>2021-04-30</b>" in request
    assert "2021-04-07 14:00提交 · 单位在线提交" in request
    assert "延期理由：需协调多部门联合推进，申请延期一个月" in request
    assert f'action="/p/xiangshan/extensions/{number}"' in request
    assert 'name="action" value="approve"' in request and 'name="action" value="reject"' in request
    # The Q1 statement: the dispute first, then units that have not answered, then zzb.
    assert "2021年第1季度对账单 <small>有异议 1 · 未答复 28 · 已确认 1</small>" in text
    dispute = text.index('id="statement-2021Q1-tw"')
    unanswered = text.index('id="statement-2021Q1-xcb"')
    confirmed = text.index('id="statement-2021Q1-zzb"')
    assert dispute < unanswered < confirmed
    assert "异议内容：第一季度完成进度应为40%，对账单记为30%" in text[dispute:unanswered]
    assert "2021-04-08 08:00 · 单位在线提交" in text[dispute:unanswered]
    assert 'action="/p/xiangshan/statements/tw/2021Q1/reply"' in text[dispute:unanswered]
    assert "未答复（28个单位）：" in text[dispute:unanswered]
    assert "县委宣传部</span>、" in text[unanswered:confirmed]
    assert '<b class="answer confirmed">已确认</b>' in text[confirmed:]
    assert "2021-04-08 09:00 · 单位在线提交" in text[confirmed:]
    assert "reply" not in text[confirmed : text.index("</section>", confirmed)]


def test_a_leader_reads_the_inbox_without_a_form(board: BoardUnderTest) -> None:
    page = board.client("leader-xs").get(INBOX)
    assert page.status_code == 200
    assert "需协调多部门联合推进" in page.text and "第一季度完成进度应为40%" in page.text
    assert "/extensions/" not in page.text and "/reply" not in page.text
    assert "批准延期" not in page.text and "发送答复" not in page.text


@pytest.mark.parametrize("name", ["office-yz", None])
def test_another_programs_office_gets_the_same_404_and_an_anonymous_visitor_the_login(
    board: BoardUnderTest, name: str | None
) -> None:
    browser = board.client(name)
    page = browser.get(INBOX, follow_redirects=False)
    if name is None:
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    else:
        assert page.status_code == 404
        assert "没有这个页面，或您的账户无权查看" in page.text
        assert browser.get("/p/nowhere/inbox").text == page.text


# --- the office decides an extension request --------------------------------------------------


def test_the_office_approves_and_the_units_liaison_is_told_with_its_link(
    board: BoardUnderTest,
) -> None:
    number = pending_id(board)
    assert due_in_effect(board, date(2021, 4, 8)) is None
    browser = board.client("office-xs")
    answer = decide(browser, number, "approve", "同意，请按新时限推进")
    assert answer.status_code == 200
    # Post/redirect/get: the POST led back to the inbox, which a reload asks for again.
    assert [(step.status_code, step.headers["location"]) for step in answer.history] == [
        (303, "/p/xiangshan/inbox")
    ]
    said = (
        "已批准团县委任务XS-JZ-01的延期申请：完成时限由2021-03-31延至2021-04-30，"
        "自2021-04-08起生效。结果已通知该单位联络员"
    )
    assert said in answer.text
    assert said not in browser.get(INBOX).text  # said once
    row = extension(board, number)
    assert (row.status, row.decided_on, row.decided_by, row.decision_note) == (
        "approved",
        date(2021, 4, 8),
        "office-xs",
        "同意，请按新时限推进",
    )
    assert due_in_effect(board, date(2021, 4, 8)) == date(2021, 4, 30)
    assert due_in_effect(board, date(2021, 4, 7)) is None  # the day before is judged as it was

    (message,) = messages(board, f"extension:{number}:")
    assert (message.target, message.status) == (LIAISON, "pending")
    assert message.subject == "【延期申请】象山县试点 · 团县委 · 任务XS-JZ-01延期已批准"
    assert "完成时限由2021年3月31日延至2021年4月30日，自2021年4月8日起" in message.body
    assert "专班意见：同意，请按新时限推进" in message.body
    # The link in it opens the unit's own page, which shows the decision.
    unit_page = board.anonymous.get(unit_link(message.body))
    assert unit_page.status_code == 200
    assert '<b class="extension approved">已批准</b>' in unit_page.text
    assert "原定完成 2021-03-31 · 延期至 <b>2021-04-30</b>" in unit_page.text

    page = browser.get(INBOX)
    assert "待审批 <b>0</b>" in page.text and "暂无延期申请" not in page.text
    decided = page.text[page.text.index(f'<tr id="extension-{number}">') :]
    assert '<b class="extension approved">已批准</b>' in decided
    assert "<td>office-xs</td>" in decided and "<td>同意，请按新时限推进</td>" in decided
    assert f'action="/p/xiangshan/extensions/{number}"' not in page.text


def test_a_rejection_says_why_escaped_on_the_page_and_neutralised_in_the_message(
    board: BoardUnderTest,
) -> None:
    number = pending_id(board)
    note = '<script>alert("x")</script> 属年度重点任务，请按原定时限完成'
    answer = decide(board.client("office-xs"), number, "reject", note)
    assert answer.status_code == 200
    assert "已不批准团县委任务XS-JZ-01的延期申请，完成时限仍为2021-03-31。" in answer.text
    assert "<script>" not in answer.text
    assert "<td>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; 属年度重点任务" in answer.text
    assert extension(board, number).status == "rejected"
    assert due_in_effect(board, date(2021, 4, 8)) is None
    (message,) = messages(board, f"extension:{number}:")
    assert message.target == LIAISON and "延期未获批准" in message.subject
    assert '未批准的原因：＜script＞alert("x")＜/script＞ 属年度重点任务' in message.body
    assert "<script>" not in message.body
    assert "该任务的完成时限仍为2021年3月31日" in message.body
    assert "/u/" in message.body


@pytest.mark.parametrize(
    ("action", "note", "field", "says"),
    [
        ("reject", " \n ", "note", "不批准时请写明理由，理由将发送给申请单位的联络员。"),
        ("approve", "长" * 1001, "note", "审批意见不能超过1000字（现有1001字）"),
        ("reject", "长" * 1001, "note", "审批意见不能超过1000字（现有1001字）"),
        ("maybe", "", "action", "请点击“批准”或“不批准”按钮办理。"),
    ],
)
def test_a_decision_that_cannot_be_taken_says_why_at_its_field_and_writes_nothing(
    board: BoardUnderTest, action: str, note: str, field: str, says: str
) -> None:
    number = pending_id(board)
    answer = decide(board.client("office-xs"), number, action, note)
    assert answer.status_code == 400
    assert f"未能办理：{says}" in answer.text  # at the top
    if action in ("approve", "reject"):
        at_field = f'id="extension-{number}-{action}-{field}-error">{says}'
        assert at_field in answer.text
    assert extension(board, number).status == "pending"
    assert messages(board, "extension:") == []


def test_a_second_decision_is_refused_clearly(board: BoardUnderTest) -> None:
    number = pending_id(board)
    browser = board.client("office-xs")
    assert decide(browser, number, "approve").status_code == 200
    again = decide(board.client("city"), number, "reject", "不同意")
    assert again.status_code == 400
    assert "该延期申请已于2021-04-08办理（已批准，办理人：office-xs），无需重复办理" in again.text
    assert extension(board, number).status == "approved"
    assert len(messages(board, "extension:")) == 1


@pytest.mark.parametrize("number", ["99999", "abc", "1e3", "-1", "１", "9" * 40, "0"])
def test_a_request_that_is_not_on_record_is_a_404(board: BoardUnderTest, number: str) -> None:
    answer = decide(board.client("office-xs"), number, "approve")  # type: ignore[arg-type]
    assert answer.status_code == 404
    assert "没有这项内容，或它不属于本试点" in answer.text
    assert messages(board, "extension:") == []


def test_a_request_of_another_program_is_a_404_and_nothing_is_written(
    board: BoardUnderTest,
) -> None:
    number = pending_id(board)  # xiangshan's
    city = board.client("city")  # sees both programs
    token = csrf_of(city.get("/p/yinzhou/inbox").text)
    answer = city.post(f"/p/yinzhou/extensions/{number}", data={"csrf": token, "action": "approve"})
    assert answer.status_code == 404
    yz = board.client("office-yz")
    token = csrf_of(yz.get("/p/yinzhou/inbox").text)
    answer = yz.post(f"/p/xiangshan/extensions/{number}", data={"csrf": token, "action": "approve"})
    assert answer.status_code == 404
    assert extension(board, number).status == "pending"
    assert messages(board, "extension:") == []


def test_a_leader_posting_or_a_form_without_its_token_writes_nothing(
    board: BoardUnderTest,
) -> None:
    number = pending_id(board)
    leader = board.client("leader-xs")
    token = csrf_of(leader.get(INBOX).text)  # the logout form's: a leader has no other
    refused = leader.post(
        f"/p/xiangshan/extensions/{number}", data={"csrf": token, "action": "approve"}
    )
    assert refused.status_code == 403
    assert "领导账户只能查看，不能提交或修改" in refused.text
    refused = leader.post(
        "/p/xiangshan/statements/tw/2021Q1/reply", data={"csrf": token, "text": "已核实"}
    )
    assert refused.status_code == 403
    office = board.client("office-xs")
    forged = office.post(f"/p/xiangshan/extensions/{number}", data={"action": "approve"})
    assert forged.status_code == 403
    assert extension(board, number).status == "pending"
    assert messages(board, "extension:") == [] and messages(board, "statement-reply:") == []


def test_the_command_line_approval_tells_the_unit_too(
    board: BoardUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = pending_id(board)
    monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", board.settings.database_url)
    monkeypatch.setenv("PILOT_TRACKER_SECRET_KEY", SECRET)
    done = CliRunner().invoke(app, ["extension", "approve", str(number), "--on", "2021-04-08"])
    assert done.exit_code == 0, done.stdout + done.stderr
    assert done.stdout.strip() == (
        f"extension {number} (xiangshan tw XS-JZ-01) approved: due 2021-04-30 "
        "(was 2021-03-31) from 2021-04-08; message queued for tw's liaison"
    )
    (message,) = messages(board, f"extension:{number}:approved")
    assert message.target == LIAISON and "延至2021年4月30日" in message.body
    assert board.anonymous.get(unit_link(message.body)).status_code == 200
    page = board.client("office-xs").get(INBOX)
    assert "<td>命令行</td>" in page.text  # decided by no account


# --- the office replies to a dispute ----------------------------------------------------------


def test_a_reply_to_a_dispute_reaches_the_liaison_once_and_shows_under_it(
    board: BoardUnderTest,
) -> None:
    browser = board.client("office-xs")
    text = "经核实，<b>3月</b>报送的完成进度为30%，\n如有新的佐证材料请补充报送。"
    answer = reply(browser, text=text)
    assert answer.status_code == 200
    assert "已答复团县委对2021年第1季度对账单的异议" in answer.text
    (message,) = messages(board, "statement-reply:xiangshan:tw:2021Q1:")
    assert (message.target, message.status) == (LIAISON, "pending")
    assert message.subject == "【对账答复】象山县试点 · 团县委 · 2021年第1季度对账单"
    assert "（“第一季度完成进度应为40%，对账单记为30%”）" in message.body
    assert (
        "经核实，＜b＞3月＜/b＞报送的完成进度为30%， 如有新的佐证材料请补充报送。" in message.body
    )
    assert board.anonymous.get(unit_link(message.body)).status_code == 200

    page = answer.text
    shown = page[page.index('id="statement-2021Q1-tw"') : page.index('id="statement-2021Q1-xcb"')]
    assert "专班已发送的答复（1条）" in shown
    assert "2021-04-08 10:00 · 待发送" in shown
    assert "经核实，＜b＞3月＜/b＞报送的完成进度为30%" in shown  # as the unit reads it
    assert "<b>3月</b>" not in page
    assert LINK_MASKED in shown and "/u/" not in page  # the unit's link stays the unit's

    again = reply(browser, text=text)
    assert again.status_code == 200 and "同样的答复此前已发送给团县委，未重复发送" in again.text
    assert len(messages(board, "statement-reply:")) == 1
    reply(browser, text="另：请于4月15日前补充佐证材料。")
    assert len(messages(board, "statement-reply:")) == 2
    assert "专班已发送的答复（2条）" in browser.get(INBOX).text


@pytest.mark.parametrize(
    ("unit", "text", "says"),
    [
        ("tw", "  ", "请填写答复内容。"),
        ("tw", "长" * 2001, "答复不能超过2000字（现有2001字）"),
        (
            "zzb",
            "谢谢确认",
            "县委组织部目前对2021年第1季度对账单的答复是“已确认”，没有待答复的异议。",
        ),
        ("xcb", "请尽快确认", "县委宣传部尚未答复2021年第1季度对账单，没有待答复的异议。"),
    ],
)
def test_a_reply_that_cannot_be_sent_says_why_and_writes_nothing(
    board: BoardUnderTest, unit: str, text: str, says: str
) -> None:
    answer = reply(board.client("office-xs"), unit=unit, text=text)
    assert answer.status_code == 400
    assert f"未能办理：{says}" in answer.text
    if unit == "tw":
        assert f'id="reply-2021Q1-tw-text-error">{says}' in answer.text
    assert messages(board, "statement-reply:") == []


def test_a_refused_reply_is_kept_in_its_form_escaped(board: BoardUnderTest) -> None:
    text = "<i>核实中</i>" + "长" * 2000
    answer = reply(board.client("office-xs"), text=text)
    assert answer.status_code == 400
    assert f">&lt;i&gt;核实中&lt;/i&gt;{'长' * 2000}</textarea>" in answer.text
    assert "<i>核实中" not in answer.text
    assert messages(board, "statement-reply:") == []


@pytest.mark.parametrize(
    ("unit", "quarter"),
    [("nobody", "2021Q1"), ("tw", "2021Q2"), ("tw", "junk"), ("tqw", "2021Q1")],  # tqw: yinzhou's,
)
def test_a_reply_to_what_is_not_on_record_is_a_404(
    board: BoardUnderTest, unit: str, quarter: str
) -> None:
    answer = reply(board.client("office-xs"), unit=unit, quarter=quarter, text="已核实")
    assert answer.status_code == 404
    assert messages(board, "statement-reply:") == []


# --- two offices at once -------------------------------------------------------------------


def test_two_offices_deciding_at_once_decide_once(engine: Any) -> None:
    """The first decision holds the request until it is committed; the second then finds it
    decided and says so (on SQLite and on PostgreSQL)."""
    from datetime import UTC, datetime

    from pilot_tracker import db
    from pilot_tracker.alerts import outbox
    from pilot_tracker.board import inbox
    from pilot_tracker.errors import BoardError
    from pilot_tracker.models import Unit
    from pilot_tracker.settings import PROJECT_TEMPLATES

    from .conftest import load_examples

    now = datetime(2021, 4, 8, 2, 0, tzinfo=UTC)
    with db.session(engine) as session:
        load_examples(session, "xiangshan")
        program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
        unit = session.exec(select(Unit).where(Unit.code == "tw")).one()
        asked = extensions.request(
            session=session,
            program=program,
            unit=unit,
            task=TASK,
            proposed="2021-04-30",
            reason="需协调多部门",
            now=now,
        )
        number = str(asked.extension.id)
        session.expunge(program)

    outcomes: dict[str, Any] = {}

    def decide(who: str, action: str, wait: Callable[[], None] = lambda: None) -> None:
        try:
            with db.session(engine) as session:
                outcomes[who] = inbox.decide_extension(
                    session=session,
                    program=program,
                    extension_id=number,
                    action=action,
                    note="意见" if action == "reject" else "",
                    decided_by=who,
                    now=now,
                    templates=outbox.Templates(PROJECT_TEMPLATES),
                )
                wait()
        except BoardError as refused:
            outcomes[who] = refused

    while_held(
        lambda wait: decide("office-a", "approve", wait), lambda: decide("office-b", "reject")
    )
    assert isinstance(outcomes["office-a"], inbox.Done)
    assert isinstance(outcomes["office-b"], BoardError)
    assert "办理人：office-a" in str(outcomes["office-b"])
    with db.session(engine) as session:
        row = session.get(Extension, int(number))
        assert (row.status, row.decided_by) == ("approved", "office-a")
