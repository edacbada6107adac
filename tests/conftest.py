"""Shared fixtures: an isolated data home, and a fresh database on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pilot_tracker import db

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "programs"
POSTGRES_URL = os.environ.get("PILOT_TRACKER_TEST_DATABASE_URL", "")
NO_POSTGRES = "PILOT_TRACKER_TEST_DATABASE_URL is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"


def load_examples(session: Any, *names: str) -> None:
    """Load example programs (``xiangshan``, ``yinzhou``) in the session, as on 2021-01-01."""
    from datetime import UTC, datetime

    from pilot_tracker.ledger import store
    from pilot_tracker.ledger.program_file import read_program_file

    for name in names:
        store.load_program(
            session=session,
            spec=read_program_file(EXAMPLES / f"{name}.yaml"),
            source_name=f"{name}.yaml",
            source_sha256="",
            now=datetime(2021, 1, 1, tzinfo=UTC),
        )


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data home; nothing leaks from the developer's environment."""
    for name in list(os.environ):
        if name.startswith("PILOT_TRACKER_") and name != "PILOT_TRACKER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("PILOT_TRACKER_HOME", str(home))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return home


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"pilot_tracker_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, and (where configured) a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """A migrated, empty database."""
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated, empty SQLite database, for tests that need no second backend."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server for every flow test of the session."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def portal_examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example programs in a SQLite file, loaded once per test process."""
    from .portal_fixtures import examples_database

    return examples_database(tmp_path_factory.mktemp("portal-examples") / "examples.db")


@pytest.fixture
def portal(tmp_path: Path, portal_examples: Path) -> Iterator[Any]:
    """The portal on the example programs, on a fixed clock (tests/portal_fixtures.py)."""
    from .portal_fixtures import portal_under_test

    yield from portal_under_test(tmp_path, portal_examples)


# --- the office's board: the demo's first quarter, played once per test run -----------------


@pytest.fixture(scope="session")
def board_demo(request: pytest.FixtureRequest) -> Any:
    """The demo played to its Q1 reconciliations, with units' answers and the board's
    accounts (tests/board_fixtures.py); made once for the code that plays it, kept in
    pytest's cache, shared by the test processes."""
    from .board_fixtures import played

    return played(request.config.cache.mkdir("board-demo"))


@pytest.fixture
def board(tmp_path: Path, board_demo: Any) -> Iterator[Any]:
    """The board on a copy of the played demo, on a fixed clock: ``board.client(name)``."""
    from .board_fixtures import board_under_test

    yield from board_under_test(tmp_path, board_demo)


@pytest.fixture(scope="module")
def board_server(tmp_path_factory: pytest.TempPathFactory, board_demo: Any) -> Iterator[Any]:
    """The board on a copy of the played demo, served on 127.0.0.1 for a module's browser
    tests (``url``, ``engine``, ``clock``)."""
    from .board_fixtures import board_server

    with pytest.MonkeyPatch.context() as environment:
        for name in list(os.environ):
            if name.startswith("PILOT_TRACKER_") and name != "PILOT_TRACKER_TEST_DATABASE_URL":
                environment.delenv(name)
        yield from board_server(tmp_path_factory.mktemp("board-server"), board_demo)


# --- the browser tests: pytest-playwright's fixtures on Debian's Chromium (tests/browser.py)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives the browser is marked ``browser`` (``-m "not browser"``)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, kept off the network; where it is missing, a browser test skips,
    and fails in CI (CI=true)."""
    from . import browser

    reason = browser.missing()
    if reason and os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI needs the browser: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)
    return {**browser_type_launch_args, **browser.launch_options()}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    from . import browser

    return {**browser_context_args, **browser.CONTEXT}


@pytest.fixture
def console() -> Iterator[Any]:
    """What the test's pages print on their console; a test fails if the Content Security
    Policy blocked anything or a script failed."""
    from .browser import Console

    seen = Console()
    yield seen
    assert not seen.blocked, f"the CSP blocked: {seen.blocked}"
    assert not [line for line in seen.errors if line.startswith("uncaught")], seen.errors


@pytest.fixture
def page(new_context: Any, console: Any) -> Any:
    """A page in a desktop browser window (1280 × 800)."""
    from .browser import DESKTOP

    return console.watch(new_context(**DESKTOP).new_page())


@pytest.fixture
def phone_page(new_context: Any, console: Any) -> Any:
    """A page on a phone's screen (390 × 844, touch, twice the pixels)."""
    from .browser import PHONE

    return console.watch(new_context(**PHONE).new_page())


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory: pytest.TempPathFactory, portal_examples: Path) -> Iterator[Any]:
    """The portal on the example programs, served on 127.0.0.1 for the module's browser
    tests (tests/portal_fixtures.py: ``url``, ``link(program, unit)``, ``engine``,
    ``clock``)."""
    from .portal_fixtures import portal_server

    with pytest.MonkeyPatch.context() as environment:
        for name in list(os.environ):
            if name.startswith("PILOT_TRACKER_") and name != "PILOT_TRACKER_TEST_DATABASE_URL":
                environment.delenv(name)
        yield from portal_server(tmp_path_factory.mktemp("portal-server"), portal_examples)


# --- the office's mailbox: Debian's Dovecot on loopback (tests/imap_fixtures.py) -----------


@pytest.fixture(scope="session")
def dovecot_installed() -> None:
    """Debian's Dovecot is here (pilot_tracker.demo.mail_server runs it); where it is
    missing, a test skips, and fails in CI."""
    from pilot_tracker.demo import mail_server

    reason = mail_server.missing()
    if reason and os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI needs the IMAP server: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def imap_server(dovecot_installed: None) -> Iterator[Any]:
    """Dovecot on 127.0.0.1 for the test process (plain with STARTTLS, and TLS, with a
    trustme CA in ``ca_file``)."""
    from . import imap_fixtures

    with imap_fixtures.dovecot() as server:
        yield server


@pytest.fixture
def mail_user(imap_server: Any) -> Any:
    """A new user of the test IMAP server: an empty mailbox, a random password."""
    return imap_server.new_user()
