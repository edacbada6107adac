"""The portal under test: the example programs in a fresh SQLite database, the app on a
fixed clock, and a client that opens a unit's page as its liaison's browser would."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from pilot_tracker import db
from pilot_tracker.ledger import store
from pilot_tracker.ledger.links import Links
from pilot_tracker.ledger.program_file import read_program_file
from pilot_tracker.models import Program, Unit
from pilot_tracker.settings import PROJECT_TEMPLATES, Settings
from pilot_tracker.web.app import create_app

from .conftest import EXAMPLES

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
        with db.session(self.engine) as session:
            record = session.exec(sa.select(Program).where(Program.code == program)).scalar_one()
            row = session.exec(
                sa.select(Unit).where(Unit.program_id == record.id, Unit.code == unit)
            ).scalar_one()
            url = self.links.issue(program=record, unit=row, now=self.clock[0]).url
        return url.removeprefix(self.settings.public_url)

    def csrf(self, path: str) -> str:
        """The form token of a unit's page, as its browser holds it after opening it."""
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        found = _CSRF.search(page.text)
        assert found, "the page has no form token"
        return found.group(1)


def examples_database(path: Path) -> Path:
    """A SQLite database at ``path`` holding the example programs, as loaded on 2021-01-01."""
    engine = db.make_engine(f"sqlite:///{path}")
    db.migrate(engine)
    with db.session(engine) as session:
        for name in ("xiangshan.yaml", "yinzhou.yaml"):
            store.load_program(
                session=session,
                spec=read_program_file(EXAMPLES / name),
                source_name=name,
                source_sha256="",
                now=datetime(2021, 1, 1, tzinfo=UTC),
            )
    engine.dispose()
    return path


def portal_under_test(home: Path, loaded: Path | None = None) -> Iterator[PortalUnderTest]:
    """The portal on a copy of ``loaded`` (an examples_database, made once per test
    session: loading the examples takes most of a second), or on a database made here."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "portal.db"
    if loaded is None:
        examples_database(path)
    else:
        shutil.copyfile(loaded, path)
    engine = db.make_engine(f"sqlite:///{path}")
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
