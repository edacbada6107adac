"""The board's front door: signing in and out, sessions, lock-out, and who sees what."""

from __future__ import annotations

from .board_fixtures import BoardUnderTest, sign_in


def test_an_anonymous_visitor_of_the_root_lands_on_the_login_page(board: BoardUnderTest) -> None:
    answer = board.anonymous.get("/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    page = board.anonymous.get("/")
    assert "试点工作台登录" in page.text
    assert "专属链接" in page.text  # units are told they need no account


def test_the_office_signs_in_and_sees_its_program(board: BoardUnderTest) -> None:
    browser = board.client()
    answer = sign_in(browser, "office-xs")
    assert answer.status_code == 303, answer.text
    home = browser.get("/")
    assert home.status_code == 200
    assert "象山" in home.text and 'href="/p/xiangshan"' in home.text
    assert "/p/yinzhou" not in home.text
