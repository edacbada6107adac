"""The board's 经验做法 page: the office enters a period's account of its practice, as the
work bulletin prints it; refusals at their field with nothing written; who may do what."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pilot_tracker import db
from pilot_tracker.ledger import practice

from .board_fixtures import BoardUnderTest, csrf_of
from .test_board_escalations import text_of

ACCOUNT = (
    "# 团象山县委：持续推动试点工作提质生效\n"
    "**一是“象上青年汇智团”建言献策。**面向全县征集青年发展的建议。\n"
    "<script>alert(1)</script> 原样刊登。\n"
)


def enter(browser: TestClient, period: str, text: str, program: str = "xiangshan") -> Any:
    page = browser.get(f"/p/{program}/practice")
    assert page.status_code == 200, page.text
    # As the page's form sends it: multipart, the text as UTF-8 (not percent-encoded, which
    # would take three times the form's bound on a field).
    fields = {"csrf": csrf_of(page.text), "period": period, "text": text}
    return browser.post(
        f"/p/{program}/practice",
        files={name: (None, value) for name, value in fields.items()},
        follow_redirects=False,
    )


def stored(board: BoardUnderTest, period: str = "2021H1") -> dict[str, practice.Account]:
    with db.session(board.engine) as session:
        return practice.accounts(session=session, programs=["xiangshan"], period=period)


def test_the_office_enters_a_periods_account_for_the_bulletin(board: BoardUnderTest) -> None:
    office = board.client("office-xs")
    page = office.get("/p/xiangshan/practice")
    shown = text_of(page.text)
    # The periods begun by 2021-04-08, the latest ending first; none sent yet.
    assert "2021年上半年 未报送 2021年第2季度 未报送 2021年第1季度 未报送" in shown
    assert 'aria-current="page">经验做法</a>' in page.text
    assert '<form method="post" action="/p/xiangshan/practice" enctype="multipart/form-data">' in (
        page.text
    )

    answer = enter(office, "2021H1", ACCOUNT)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/p/xiangshan/practice?period=2021H1"
    after = office.get(answer.headers["location"])
    assert "已保存2021年上半年经验做法（2段），将刊入本期工作简报。" in text_of(after.text)
    assert "已报送 团象山县委：持续推动试点工作提质生效 工作台（office-xs）" in text_of(after.text)
    # What was entered shows escaped in the form, and is what the bulletin prints.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 原样刊登。" in after.text
    account = stored(board)["xiangshan"]
    assert account.title == "团象山县委：持续推动试点工作提质生效"
    assert account.blocks[0] == practice.Block(
        "面向全县征集青年发展的建议。", lead="一是“象上青年汇智团”建言献策。"
    )
    assert account.blocks[1].text == "<script>alert(1)</script> 原样刊登。"

    again = enter(office, "2021H1", ACCOUNT)
    assert "2021年上半年经验做法未改动。" in text_of(office.get(again.headers["location"]).text)
    assert stored(board, "2021Q1") == {}


def test_a_bad_account_is_refused_at_its_field_and_nothing_is_written(
    board: BoardUnderTest,
) -> None:
    office = board.client("office-xs")
    for period, text, said in (
        (
            "2021H1",
            "# 标题\n正文\x07有响铃",
            "第2行第3个字符（U+0007）不能用于公文，请删除后再保存。",
        ),
        ("2021H1", "  \n", "经验做法为空。"),
        ("2021H1", "长" * 20_001, "经验做法共20001字，超过20000字的上限。"),
        ("2021Q3", "正文", "请选择本试点已开始的季度或半年度。"),
        ("2022H1", "正文", "请选择本试点已开始的季度或半年度。"),
        ("abc", "正文", "请选择本试点已开始的季度或半年度。"),
    ):
        answer = enter(office, period, text)
        assert answer.status_code == 400, (period, text[:20])
        assert f"未能保存：{said}" in text_of(answer.text)
        assert said in answer.text.split('class="field-error"')[1]
        assert "Traceback" not in answer.text
    assert stored(board) == {}
    typed = enter(office, "2021H1", "<b>粗</b>\n\x1b")
    assert "&lt;b&gt;粗&lt;/b&gt;" in typed.text  # what was typed, back in the form


def test_a_leader_reads_the_account_and_cannot_post(board: BoardUnderTest) -> None:
    enter(board.client("office-xs"), "2021H1", ACCOUNT)
    leader = board.client("leader-xs")
    page = leader.get("/p/xiangshan/practice?period=2021H1")
    assert page.status_code == 200
    assert 'action="/p/xiangshan/practice"' not in page.text
    assert "一是“象上青年汇智团”建言献策" in page.text
    answer = leader.post(
        "/p/xiangshan/practice",
        data={"csrf": csrf_of(page.text), "period": "2021H1", "text": "改写"},
        follow_redirects=False,
    )
    assert answer.status_code == 403 and "领导账户只能查看" in answer.text
    assert stored(board)["xiangshan"].title == "团象山县委：持续推动试点工作提质生效"


def test_another_programs_page_a_missing_token_and_a_stranger_are_refused(
    board: BoardUnderTest,
) -> None:
    office = board.client("office-yz")
    assert office.get("/p/xiangshan/practice").status_code == 404
    token = csrf_of(office.get("/p/yinzhou/practice").text)
    refused = office.post(
        "/p/xiangshan/practice",
        data={"csrf": token, "period": "2021H1", "text": "正文"},
        follow_redirects=False,
    )
    assert refused.status_code == 404
    own = board.client("office-xs")
    no_token = own.post(
        "/p/xiangshan/practice", data={"period": "2021H1", "text": "正文"}, follow_redirects=False
    )
    assert no_token.status_code == 403
    anonymous = board.anonymous.get("/p/xiangshan/practice", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert stored(board) == {}
