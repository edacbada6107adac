"""Who may do what on the board, for every route of a program's board (found in the app,
so that a route added later is covered too): an anonymous visitor is sent to the login
page, an account that may not see the program gets the same 404 as for a program that
does not exist, a leader's POST is refused (403) and writes nothing, and a POST without
the session's form token is refused (403)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from .board_fixtures import BoardUnderTest, csrf_of


def board_routes() -> list[tuple[str, str]]:
    """(method, path) of every route under /p/{code}, from a fresh app."""
    from pilot_tracker.settings import PROJECT_TEMPLATES, Settings
    from pilot_tracker.web.app import api_routes, create_app

    from .board_fixtures import CHEAP, SECRET

    app = create_app(
        Settings(secret_key=SECRET, templates=PROJECT_TEMPLATES),
        engine=__import__("sqlalchemy").create_engine("sqlite://"),
        passwords=CHEAP,
    )
    return sorted(
        (method, route.path)
        for route in api_routes(app)
        if route.path.startswith("/p/{code}")
        for method in route.methods
        if method in ("GET", "POST")
    )


ROUTES = board_routes()
GETS = [path for method, path in ROUTES if method == "GET"]
POSTS = [path for method, path in ROUTES if method == "POST"]


def filled(path: str, code: str = "xiangshan") -> str:
    """A route's path with its program and every other parameter filled in (ids that exist
    in the played data: 1; mail 1 and its file 1 are xiangshan's, from a unit that answers
    by mail)."""
    return re.sub(r"\{[^}]+\}", "1", path.replace("{code}", code))


def database_fingerprint(board: BoardUnderTest) -> str:
    """Every row of every table the board writes to, hashed: to show nothing was written."""
    import sqlalchemy as sa

    tables = (
        *("escalation", "interview", "extension", "notification", "reconciliation"),
        *("mail", "mailpart", "submission", "status_report"),  # a held mail's file released
    )
    digest = hashlib.sha256()
    with board.engine.connect() as connection:
        for table in tables:
            for row in connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1")):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_the_walk_finds_every_page_and_form_of_the_board() -> None:
    tabs = {"/p/{code}", "/p/{code}/indicators", "/p/{code}/escalations", "/p/{code}/inbox"}
    assert tabs | {"/p/{code}/reports", "/p/{code}/tasks/{task}"} <= set(GETS), GETS
    assert "/p/{code}/extensions/{extension}" in POSTS, POSTS
    assert "/p/{code}/mail/{mail}/original" in GETS, GETS
    assert "/p/{code}/mail/{part}/release" in POSTS, POSTS
    assert len(POSTS) >= 5, POSTS


@pytest.mark.parametrize("path", GETS + POSTS)
def test_an_anonymous_visitor_is_sent_to_the_login_page(board: BoardUnderTest, path: str) -> None:
    method = "POST" if path in POSTS and path not in GETS else "GET"
    answer = board.anonymous.request(method, filled(path), follow_redirects=False)
    assert answer.status_code == 303, (method, path, answer.status_code)
    assert answer.headers["location"].startswith("/login")


@pytest.mark.parametrize("path", GETS)
def test_a_program_not_given_to_the_account_is_not_there(board: BoardUnderTest, path: str) -> None:
    browser = board.client("office-yz")
    other = browser.get(filled(path))
    missing = browser.get(filled(path, "nowhere"))
    assert other.status_code == missing.status_code == 404, path
    assert other.text == missing.text  # nothing tells the two apart


@pytest.mark.parametrize("path", POSTS)
def test_a_post_to_a_program_not_given_to_the_account_is_not_there(
    board: BoardUnderTest, path: str
) -> None:
    browser = board.client("office-yz")
    home = browser.get("/")
    before = database_fingerprint(board)
    answer = browser.post(filled(path), data={"csrf": csrf_of(home.text), "note": "x"})
    assert answer.status_code == 404, path
    assert database_fingerprint(board) == before


@pytest.mark.parametrize("path", POSTS)
def test_a_leader_posts_nothing(board: BoardUnderTest, path: str) -> None:
    browser = board.client("leader-xs")
    home = browser.get("/")
    before = database_fingerprint(board)
    answer = browser.post(
        filled(path),
        data={"csrf": csrf_of(home.text), "action": "approve", "note": "x", "text": "x"},
    )
    assert answer.status_code == 403, path
    assert "领导账户只能查看" in answer.text
    assert database_fingerprint(board) == before


@pytest.mark.parametrize("path", POSTS)
def test_a_post_without_the_sessions_token_is_refused(board: BoardUnderTest, path: str) -> None:
    browser = board.client("office-xs")
    stranger = board.client("city")
    token_of_another_session = csrf_of(stranger.get("/").text)
    before = database_fingerprint(board)
    for sent in ({}, {"csrf": "0" * 64}, {"csrf": token_of_another_session}):
        answer = browser.post(filled(path), data={**sent, "action": "approve", "note": "x"})
        assert answer.status_code == 403, (path, sent)
    assert database_fingerprint(board) == before


@pytest.mark.parametrize("path", GETS)
def test_a_leader_reads_every_page_and_is_offered_no_form(board: BoardUnderTest, path: str) -> None:
    browser = board.client("leader-xs")
    answer = browser.get(filled(path))
    assert answer.status_code in (200, 404), path  # 404: an id of the path not on record
    posting = [
        form
        for form in re.findall(r"<form[^>]*>", answer.text)
        if 'method="get"' not in form and 'action="/logout"' not in form
    ]
    assert not posting, (path, posting)


def test_board_pages_carry_the_security_headers(board: BoardUnderTest) -> None:
    answer: Any = board.client("office-xs").get("/")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-frame-options"] == "DENY"
