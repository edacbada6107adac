"""The office's board under test: the demo's first quarter played once per test run (both
example programs, their submissions, flags, escalations, notices and the Q1
reconciliations), a few answers of units on top, and the board's accounts; each test gets
its own copy of the database, and a client per account.

The accounts (password ``PASSWORD`` each):

- ``office-xs``: the office (专班) of xiangshan; ``office-yz``: the office of yinzhou;
- ``leader-xs``: a leader (领导) of xiangshan;
- ``city``: the city league's office, for both programs (the city view).
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import argon2
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.board import accounts
from pilot_tracker.ledger.links import Links
from pilot_tracker.models import Program, Task, Unit
from pilot_tracker.settings import PROJECT_TEMPLATES, Settings
from pilot_tracker.web.app import create_app

from .conftest import EXAMPLES, ROOT

SOURCE = ROOT / "src" / "pilot_tracker"

# The demo is played to the day its Q1 reconciliations are written (the 5th working day
# after the quarter); the board's clock stands at 10:00 that day in Shanghai.
PLAYED_TO = date(2021, 4, 8)
NOW = datetime(2021, 4, 8, 2, 0, tzinfo=UTC)
SECRET = "b" * 48
PASSWORD = "correct horse battery"
ACCOUNTS = {
    "office-xs": ("office", ["xiangshan"]),
    "office-yz": ("office", ["yinzhou"]),
    "leader-xs": ("leader", ["xiangshan"]),
    "city": ("office", ["xiangshan", "yinzhou"]),
}
# Argon2 at its cheapest: the tests sign in hundreds of times.
CHEAP = accounts.Passwords(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST))
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@dataclass(frozen=True)
class Played:
    """The demo's data home (archive, reports) and its database, read-only for tests."""

    home: Path
    database: Path


# What the played data depends on: a change to any of these plays the demo again.
PLAYED_FROM = [
    *(SOURCE / name for name in ("alerts", "collect", "demo", "ledger", "migrations")),
    *(SOURCE / name for name in ("reports", "supervise", "portal")),
    SOURCE / "board" / "accounts.py",
    *SOURCE.glob("*.py"),
    ROOT / "examples",
    ROOT / "templates" / "alerts",
    ROOT / "templates" / "reports",
    Path(__file__),
]


def fingerprint() -> str:
    """The sha256 of every file the played data depends on."""
    digest = hashlib.sha256()
    for top in PLAYED_FROM:
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def played(root: Path) -> Played:
    """The demo played into ``root/<fingerprint>`` once for the code that plays it,
    whichever test process comes first (the others wait on a lock), with the units' answers
    and the accounts added; older plays are removed."""
    folder = root / fingerprint()
    home = folder / "data"
    result = Played(home=home, database=home / "pilot-tracker.db")
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "ready").exists():
            return result
        for old in root.iterdir():
            if old.is_dir():
                shutil.rmtree(old)
        from pilot_tracker.demo import playthrough

        playthrough.play(
            folder=folder,
            examples=[EXAMPLES / "xiangshan.yaml", EXAMPLES / "yinzhou.yaml"],
            templates=PROJECT_TEMPLATES,
            end=PLAYED_TO,
            links=lambda _: Links(SECRET, "http://127.0.0.1:8000", 90),
        )
        engine = db.make_engine(f"sqlite:///{result.database}")
        with db.session(engine) as session:
            _answers(session)
            add_accounts(session)
        engine.dispose()
        (folder / "ready").touch()
    return result


def add_accounts(session: Any) -> None:
    """The board's test accounts (ACCOUNTS), each with PASSWORD, made a week before NOW."""
    for name, (role, programs) in ACCOUNTS.items():
        accounts.add(
            session=session,
            name=name,
            role=role,
            programs=programs,
            password=PASSWORD,
            now=NOW - timedelta(days=7),
            passwords=CHEAP,
        )


def _answers(session: Any) -> None:
    """What units answer through their pages: xiangshan's first lead unit asks to move its
    first task by a month and disputes its Q1 statement; the second confirms it."""
    from pilot_tracker.portal import answers
    from pilot_tracker.supervise import extensions

    program = session.exec(select(Program).where(Program.code == "xiangshan")).one()
    tasks = session.exec(
        select(Task).where(Task.program_id == program.id).order_by(Task.position)
    ).all()
    first = tasks[0]
    unit = session.get(Unit, first.lead_unit_id)
    extensions.request(
        session=session,
        program=program,
        unit=unit,
        task=first.code,
        proposed=(first.due_date + timedelta(days=30)).isoformat(),
        reason="需协调多部门联合推进，申请延期一个月",
        now=NOW - timedelta(hours=20),
    )
    answers.answer_statement(
        session=session,
        program=program,
        unit=unit,
        quarter="2021Q1",
        action="dispute",
        reason="第一季度完成进度应为40%，对账单记为30%",
        now=NOW - timedelta(hours=2),
    )
    other = session.exec(
        select(Unit)
        .where(Unit.program_id == program.id, Unit.id != unit.id)
        .order_by(Unit.position)
    ).first()
    answers.answer_statement(
        session=session,
        program=program,
        unit=other,
        quarter="2021Q1",
        action="confirm",
        reason="",
        now=NOW - timedelta(hours=1),
    )


@dataclass
class BoardUnderTest:
    """The board on a copy of the played demo: ``client(name)`` is a browser signed in as
    that account; ``anonymous`` one that is not."""

    engine: sa.Engine
    settings: Settings
    app: Any
    anonymous: TestClient
    clock: list[datetime] = field(default_factory=lambda: [NOW])
    _clients: list[TestClient] = field(default_factory=list)

    def client(self, name: str | None = None) -> TestClient:
        """A new browser; signed in as ``name`` if one is given."""
        browser = TestClient(self.app, base_url="http://127.0.0.1:8000")
        browser.__enter__()
        self._clients.append(browser)
        if name is not None:
            sign_in(browser, name)
        return browser

    def close(self) -> None:
        for browser in self._clients:
            browser.__exit__(None, None, None)


def csrf_of(html: str) -> str:
    """The form token of a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def sign_in(browser: TestClient, name: str, password: str = PASSWORD) -> Any:
    """Sign in as a person does: open the login page, send the form; the answer."""
    page = browser.get("/login")
    assert page.status_code == 200, page.text
    return browser.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": name, "password": password, "back": "/"},
        follow_redirects=False,
    )


def board_under_test(tmp_path: Path, source: Played) -> Iterator[BoardUnderTest]:
    database = tmp_path / "board.db"
    shutil.copyfile(source.database, database)
    engine = db.make_engine(f"sqlite:///{database}")
    settings = Settings(
        home=source.home,
        database_url=f"sqlite:///{database}",
        secret_key=SECRET,
        templates=PROJECT_TEMPLATES,
    )
    clock = [NOW]
    app = create_app(settings, engine=engine, clock=lambda: clock[0], passwords=CHEAP)
    anonymous = TestClient(app, base_url="http://127.0.0.1:8000")
    with anonymous:
        board = BoardUnderTest(
            engine=engine, settings=settings, app=app, anonymous=anonymous, clock=clock
        )
        try:
            yield board
        finally:
            board.close()
    engine.dispose()


@dataclass
class ServedBoard:
    """The board served on loopback for a browser: its address, database and clock."""

    url: str
    engine: sa.Engine
    settings: Settings
    clock: list[datetime]


def board_server(tmp_path: Path, source: Played) -> Iterator[ServedBoard]:
    """The board on a copy of the played demo, on 127.0.0.1 (tests/browser.py serves it);
    stopped when the generator ends."""
    from .browser import serving

    database = tmp_path / "board.db"
    shutil.copyfile(source.database, database)
    engine = db.make_engine(f"sqlite:///{database}")
    clock = [NOW]
    made: list[Settings] = []

    def make_app(url: str) -> Any:
        settings = Settings(
            home=source.home,
            database_url=f"sqlite:///{database}",
            secret_key=SECRET,
            templates=PROJECT_TEMPLATES,
            public_url=url,
        )
        made.append(settings)
        return create_app(settings, engine=engine, clock=lambda: clock[0], passwords=CHEAP)

    try:
        with serving(make_app) as url:
            yield ServedBoard(url=url, engine=engine, settings=made[0], clock=clock)
    finally:
        engine.dispose()
