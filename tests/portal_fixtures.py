"""The portal under test: the example programs in a fresh SQLite database, the app on a
fixed clock, and a client that opens a unit's page as its liaison's browser would; for the
browser tests, the same portal served on loopback (:func:`portal_server`)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from pilot_tracker import db
from pilot_tracker.ledger import links
from pilot_tracker.ledger.links import Links
from pilot_tracker.models import Program, Unit
from pilot_tracker.settings import PROJECT_TEMPLATES, Settings
from pilot_tracker.web.app import create_app

from .conftest import load_examples

# A working day of the examples' half-year, 09:00 in Shanghai.
NOW = datetime(2021, 4, 20, 1, 0, tzinfo=UTC)
SECRET = "k" * 48
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@dataclass
class PortalUnderTest:
    engine: sa.Engine
    settings: Settings
    client: TestClient
    links: Links
    clock: list[datetime] = field(default_factory=lambda: [NOW])

    def link(self, program: str, unit: str) -> str:
        """The path of a unit's personal link, issued now."""
        url = issue_link(self.engine, self.links, program, unit, self.clock[0])
        return url.removeprefix(self.settings.public_url)

    def csrf(self, path: str) -> str:
        """The form token of a unit's page, as its browser holds it after opening it."""
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        found = _CSRF.search(page.text)
        assert found, "the page has no form token"
        return found.group(1)


def issue_link(engine: sa.Engine, links: Links, program: str, unit: str, now: datetime) -> str:
    """The URL of a unit's personal link, issued at ``now``."""
    with db.session(engine) as session:
        record = session.exec(sa.select(Program).where(Program.code == program)).scalar_one()
        row = session.exec(
            sa.select(Unit).where(Unit.program_id == record.id, Unit.code == unit)
        ).scalar_one()
        return links.issue(program=record, unit=row, now=now).url


def examples_database(path: Path) -> Path:
    """A SQLite database at ``path`` holding the example programs, as loaded on 2021-01-01."""
    engine = db.make_engine(f"sqlite:///{path}")
    db.migrate(engine)
    with db.session(engine) as session:
        load_examples(session, "xiangshan", "yinzhou")
    engine.dispose()
    return path


def examples_engine(home: Path, loaded: Path | None = None) -> sa.Engine:
    """An engine on a copy of ``loaded`` in ``home`` (an examples_database, made once per
    test session: loading the examples takes most of a second), or on a database made
    there."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "portal.db"
    if loaded is None:
        examples_database(path)
    else:
        shutil.copyfile(loaded, path)
    return db.make_engine(f"sqlite:///{path}")


def portal_under_test(home: Path, loaded: Path | None = None) -> Iterator[PortalUnderTest]:
    """The portal on the example programs (:func:`examples_engine`)."""
    engine = examples_engine(home, loaded)
    settings = Settings(home=home, secret_key=SECRET, templates=PROJECT_TEMPLATES)
    clock = [NOW]
    app = create_app(settings, engine=engine, clock=lambda: clock[0])
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield PortalUnderTest(
            engine=engine,
            settings=settings,
            client=client,
            links=Links(SECRET, settings.public_url, settings.link_days),
            clock=clock,
        )
    engine.dispose()


@dataclass
class ServedPortal:
    """The portal served on loopback for a browser, on the example programs: its address
    (PILOT_TRACKER_PUBLIC_URL, what links carry), its database and its clock."""

    url: str
    engine: sa.Engine
    settings: Settings
    links: Links
    clock: list[datetime]

    def link(self, program: str, unit: str) -> str:
        """A unit's personal link, issued now: the URL a message carries."""
        return issue_link(self.engine, self.links, program, unit, self.clock[0])

    def revoke(self, program: str, unit: str) -> None:
        """What `pilot-tracker links revoke` does: every link of the unit so far stops."""
        with db.session(self.engine) as session:
            record = session.exec(sa.select(Program).where(Program.code == program)).scalar_one()
            links.revoke(session=session, program=record, unit=unit)


def portal_server(home: Path, loaded: Path | None = None) -> Iterator[ServedPortal]:
    """The examples' portal (:func:`examples_engine`) on 127.0.0.1 (tests/browser.py serves
    it), on a clock the tests may move; stopped when the generator ends."""
    from .browser import serving

    engine = examples_engine(home, loaded)
    clock = [NOW]
    made: list[Settings] = []

    def make_app(url: str) -> Any:
        settings = Settings(
            home=home, secret_key=SECRET, templates=PROJECT_TEMPLATES, public_url=url
        )
        made.append(settings)
        return create_app(settings, engine=engine, clock=lambda: clock[0])

    try:
        with serving(make_app) as url:
            (settings,) = made
            yield ServedPortal(
                url=url,
                engine=engine,
                settings=settings,
                links=Links(SECRET, url, settings.link_days),
                clock=clock,
            )
    finally:
        engine.dispose()
