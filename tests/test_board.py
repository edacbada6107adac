"""The board's front door: signing in and out, sessions that end, lock-out without telling
names apart, and the accounts' commands (`pilot-tracker users add | list | disable`)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.board import accounts
from pilot_tracker.cli import app
from pilot_tracker.models import Account, LoginSession, LoginThrottle

from .board_fixtures import CHEAP, PASSWORD, BoardUnderTest, csrf_of, sign_in
from .conftest import EXAMPLES

REFUSED = "用户名或密码不正确"
_TOKEN = re.compile(r'name="csrf" value="[0-9a-f]{64}"')


def refusal_page(answer: Any, name: str) -> str:
    """A refused sign-in's page with its fresh form token and the name typed (shown back in
    its field) taken out: what must not differ between a wrong name and a wrong password."""
    return _TOKEN.sub("", answer.text).replace(f'value="{name}"', "")


# --- signing in --------------------------------------------------------------------------


def test_an_anonymous_visitor_of_the_root_lands_on_the_login_page(board: BoardUnderTest) -> None:
    answer = board.anonymous.get("/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    page = board.anonymous.get("/")
    assert "试点工作台登录" in page.text
    assert "专属链接" in page.text  # units are told they need no account


def test_a_board_page_asked_for_anonymously_comes_back_after_signing_in(
    board: BoardUnderTest,
) -> None:
    browser = board.client()
    answer = browser.get("/p/xiangshan/escalations", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?back=/p/xiangshan/escalations"
    page = browser.get(answer.headers["location"])
    signed = browser.post(
        "/login",
        data={
            "csrf": csrf_of(page.text),
            "name": "office-xs",
            "password": PASSWORD,
            "back": "/p/xiangshan/escalations",
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/p/xiangshan/escalations"


@pytest.mark.parametrize("back", ["https://example.org/", "//example.org/p/x", "/\\example.org"])
def test_signing_in_never_leads_to_another_site(board: BoardUnderTest, back: str) -> None:
    browser = board.client()
    page = browser.get("/login")
    signed = browser.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": "office-xs", "password": PASSWORD, "back": back},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/"


def test_the_office_signs_in_and_sees_its_programs_only(board: BoardUnderTest) -> None:
    browser = board.client()
    answer = sign_in(browser, "office-xs")
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "pt_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Path=/" in cookie
    home = browser.get("/")
    assert home.status_code == 200
    assert 'href="/p/xiangshan"' in home.text
    assert "/p/yinzhou" not in home.text
    assert "office-xs（专班）" in home.text


def test_the_name_is_read_as_typed_in_any_case(board: BoardUnderTest) -> None:
    assert sign_in(board.client(), " Office-XS ").status_code == 303


def test_a_wrong_name_and_a_wrong_password_read_the_same(board: BoardUnderTest) -> None:
    wrong_password = sign_in(board.client(), "office-xs", "not the password at all")
    wrong_name = sign_in(board.client(), "office-nobody", "not the password at all")
    assert wrong_password.status_code == wrong_name.status_code == 401
    assert REFUSED in wrong_password.text
    assert refusal_page(wrong_password, "office-xs") == refusal_page(wrong_name, "office-nobody")


class CountingPasswords(accounts.Passwords):
    """The board's password checks, counted: the work a refusal costs."""

    def __init__(self) -> None:
        super().__init__(CHEAP.hasher)
        self.checks = 0

    def check(self, stored: str | None, password: str) -> bool:
        self.checks += 1
        return super().check(stored, password)


def test_every_refusal_costs_one_password_check_as_a_success_does(
    board: BoardUnderTest,
) -> None:
    """The same work for a wrong name, a wrong password, a disabled and a locked-out
    account: nobody can time which names exist."""
    counting = CountingPasswords()
    board.app.state.portal.passwords = counting
    with db.session(board.engine) as session:
        accounts.disable(session=session, name="office-yz", now=board.clock[0])
    attempts = [
        ("office-xs", PASSWORD),  # a success
        ("office-xs", "wrong password!"),
        ("nobody-at-all", "wrong password!"),
        ("office-yz", PASSWORD),  # disabled
    ]
    for name, password in attempts:
        sign_in(board.client(), name, password)
    for _ in range(accounts.MAX_FAILURES):
        sign_in(board.client(), "leader-xs", "wrong password!")
    sign_in(board.client(), "leader-xs", PASSWORD)  # locked out
    assert counting.checks == len(attempts) + accounts.MAX_FAILURES + 1


def test_repeated_failures_lock_the_name_out_whether_it_exists_or_not(
    board: BoardUnderTest,
) -> None:
    for name in ("office-xs", "office-nobody"):
        for _ in range(accounts.MAX_FAILURES):
            assert sign_in(board.client(), name, "wrong password!").status_code == 401
    locked = sign_in(board.client(), "office-xs", PASSWORD)
    unknown = sign_in(board.client(), "office-nobody", PASSWORD)
    assert locked.status_code == unknown.status_code == 401
    assert refusal_page(locked, "office-xs") == refusal_page(unknown, "office-nobody")
    assert "锁定15分钟" in locked.text
    # The throttle keeps no name, only its sha256.
    with db.session(board.engine) as session:
        kept = [row.name_sha256 for row in session.exec(select(LoginThrottle)).all()]
    assert len(kept) == 2 and all(re.fullmatch("[0-9a-f]{64}", key) for key in kept)
    # Another name is not locked by these; and the lock lifts after its minutes.
    assert sign_in(board.client(), "leader-xs").status_code == 303
    board.clock[0] += timedelta(minutes=accounts.LOCK_MINUTES, seconds=1)
    assert sign_in(board.client(), "office-xs").status_code == 303


def test_a_client_that_keeps_failing_is_slowed_down(board: BoardUnderTest) -> None:
    browser = board.client()
    limit = board.app.state.portal.sign_in_limiter.attempts
    for number in range(limit):
        sign_in(browser, f"someone-{number}", "wrong password!")
    answer = sign_in(browser, "office-xs")
    assert answer.status_code == 429
    assert "登录失败次数过多" in answer.text
    assert answer.headers["retry-after"]


def test_a_login_form_not_from_the_login_page_is_refused(board: BoardUnderTest) -> None:
    answer = board.anonymous.post(
        "/login", data={"csrf": "0" * 64, "name": "office-xs", "password": PASSWORD}
    )
    assert answer.status_code == 403
    assert "登录页面已过期" in answer.text
    assert "pt_session" not in answer.headers.get("set-cookie", "")


def test_a_password_too_long_is_refused(board: BoardUnderTest) -> None:
    assert sign_in(board.client(), "office-xs", "x" * 10_000).status_code == 401
    too_long = sign_in(board.client(), "office-xs", "x" * 100_000)  # past a field's bound
    assert too_long.status_code == 400 and "过长" in too_long.text


# --- sessions ------------------------------------------------------------------------------


def session_cookie(browser: Any) -> str:
    return browser.cookies.get("pt_session")


def test_an_altered_session_cookie_opens_nothing(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    token = session_cookie(browser)
    browser.cookies.set("pt_session", token[:-1] + ("A" if token[-1] != "A" else "B"))
    answer = browser.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_a_cookie_replayed_after_logout_opens_nothing(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    token = session_cookie(browser)
    home = browser.get("/")
    out = browser.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    replay = board.client()
    replay.cookies.set("pt_session", token)
    assert replay.get("/", follow_redirects=False).status_code == 303
    with db.session(board.engine) as session:
        ended = session.exec(select(LoginSession.ended_at)).all()
    assert all(moment is not None for moment in ended)


def test_logout_needs_the_pages_token(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    answer = browser.post("/logout", data={"csrf": "0" * 64}, follow_redirects=False)
    assert answer.status_code == 403
    assert browser.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_a_session_ends_after_its_hours_and_when_left_idle(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    hours = board.settings.session_hours
    idle = board.settings.session_idle_minutes
    # Kept alive by a request every half of the idle time, it still ends after its hours.
    steps = int(hours * 60 / (idle / 2))
    for _ in range(steps - 1):
        board.clock[0] += timedelta(minutes=idle / 2)
        assert browser.get("/", follow_redirects=False).status_code == 200
    board.clock[0] += timedelta(minutes=idle / 2)
    assert browser.get("/", follow_redirects=False).status_code == 303
    other = board.client("office-xs")
    board.clock[0] += timedelta(minutes=idle, seconds=1)
    assert other.get("/", follow_redirects=False).status_code == 303


def test_a_disabled_account_is_signed_out_at_once(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    with db.session(board.engine) as session:
        accounts.disable(session=session, name="office-xs", now=board.clock[0])
    assert browser.get("/", follow_redirects=False).status_code == 303
    assert sign_in(board.client(), "office-xs").status_code == 401


def test_the_city_account_sees_every_program_it_was_given(board: BoardUnderTest) -> None:
    home = board.client("city").get("/")
    assert 'href="/p/xiangshan"' in home.text and 'href="/p/yinzhou"' in home.text
    assert "全市试点总览" in home.text


# --- the accounts' commands -------------------------------------------------------------------


@pytest.fixture
def installation(isolated_environment: Path) -> CliRunner:
    """An initialised data home with the example programs loaded."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    for name in ("xiangshan", "yinzhou"):
        loaded = runner.invoke(app, ["program", "load", str(EXAMPLES / f"{name}.yaml")])
        assert loaded.exit_code == 0, loaded.output
    return runner


def users(runner: CliRunner, *args: str, password: str | None = None) -> Any:
    return runner.invoke(app, ["users", *args], input=password)


def test_users_are_added_listed_and_disabled(installation: CliRunner) -> None:
    added = users(
        installation,
        "add",
        "Leader-Ningbo",
        "--role",
        "leader",
        "--program",
        "xiangshan",
        "--program",
        "yinzhou",
        "--password-stdin",
        password="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    assert "account leader-ningbo (leader) added for xiangshan, yinzhou" in added.output
    listed = users(installation, "list", "--json")
    (line,) = __import__("json").loads(listed.output)
    assert line["name"] == "leader-ningbo" and line["role"] == "leader"
    assert line["programs"] == ["xiangshan", "yinzhou"] and line["disabled"] is False
    assert line["last_sign_in"] is None
    table = users(installation, "list")
    assert "leader-ningbo" in table.output and "never" in table.output
    disabled = users(installation, "disable", "leader-ningbo")
    assert disabled.exit_code == 0 and "disabled" in disabled.output
    assert "disabled" in users(installation, "list").output


def test_the_password_is_stored_as_an_argon2id_hash(
    installation: CliRunner, isolated_environment: Path
) -> None:
    users(
        installation,
        *("add", "office-xs", "--role", "office", "--program", "xiangshan"),
        "--password-stdin",
        password="a long enough password\n",
    )
    engine = db.make_engine(f"sqlite:///{isolated_environment / 'pilot-tracker.db'}")
    with db.session(engine) as session:
        stored = session.exec(select(Account.password_hash)).one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and "a long enough password" not in stored


@pytest.mark.parametrize(
    ("args", "password", "said"),
    [
        (("--role", "office", "--program", "xiangshan"), "short\n", "at least 12"),
        (("--role", "office", "--program", "xiangshan"), " padded password \n", "space"),
        (("--role", "chief", "--program", "xiangshan"), "a long enough password\n", "office or"),
        (("--role", "office"), "a long enough password\n", "--program CODE"),
        (("--role", "office", "--program", "nowhere"), "a long enough password\n", "no program"),
    ],
)
def test_an_account_that_cannot_be_added_says_why(
    installation: CliRunner, args: tuple[str, ...], password: str, said: str
) -> None:
    answer = users(installation, "add", "office-x", *args, "--password-stdin", password=password)
    assert answer.exit_code == 1
    assert said in answer.output
    assert "Traceback" not in answer.output
    assert "no accounts" in users(installation, "list").output


def test_a_name_taken_or_malformed_is_refused(installation: CliRunner) -> None:
    first = ("add", "office-x", "--role", "office", "--program", "xiangshan", "--password-stdin")
    assert users(installation, *first, password="a long enough password\n").exit_code == 0
    again = users(installation, *first, password="a long enough password\n")
    assert again.exit_code == 1 and "exists already" in again.output
    bad = users(
        installation,
        *("add", "office x/../", "--role", "office", "--program", "xiangshan"),
        "--password-stdin",
        password="a long enough password\n",
    )
    assert bad.exit_code == 1 and "is not an account name" in bad.output


def test_disabling_an_unknown_account_says_so(installation: CliRunner) -> None:
    answer = users(installation, "disable", "nobody")
    assert answer.exit_code == 1 and 'no account "nobody"' in answer.output


def test_a_new_password_ends_the_sessions_and_lifts_the_lock(board: BoardUnderTest) -> None:
    browser = board.client("office-xs")
    for _ in range(accounts.MAX_FAILURES):
        sign_in(board.client(), "office-xs", "wrong password!")
    with db.session(board.engine) as session:
        accounts.disable(session=session, name="office-xs", now=board.clock[0])
        accounts.set_password(
            session=session,
            name="Office-XS",
            password="another long password",
            now=board.clock[0],
            passwords=CHEAP,
        )
    assert browser.get("/", follow_redirects=False).status_code == 303  # signed out
    assert sign_in(board.client(), "office-xs").status_code == 401  # the old password
    assert sign_in(board.client(), "office-xs", "another long password").status_code == 303


def test_users_password_sets_a_new_one(installation: CliRunner) -> None:
    first = ("add", "office-x", "--role", "office", "--program", "xiangshan", "--password-stdin")
    assert users(installation, *first, password="a long enough password\n").exit_code == 0
    changed = users(
        installation, "password", "office-x", "--password-stdin", password="a new long password\n"
    )
    assert changed.exit_code == 0, changed.output
    assert "new password set" in changed.output
    short = users(installation, "password", "office-x", "--password-stdin", password="short\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    unknown = users(installation, "password", "nobody", "--password-stdin", password="x" * 20)
    assert unknown.exit_code == 1 and 'no account "nobody"' in unknown.output
