"""Screenshots of a unit's page on the portal and of the office's board, for the README,
docs/portal.md and docs/board.md.

Plays nothing new: the portal serves the data of a demo played before (``pilot-tracker
demo -o DIR``) on loopback, its clock on the half-year's last day as with ``pilot-tracker
demo --web``, and Debian's Chromium, launched as the browser tests launch it
(tests/browser.py), opens the personal link of the demo's busiest unit (or ``--unit
PROGRAM/UNIT``), then signs in to the board, and saves what the screen shows:

    docs/images/portal-unit-desktop.png   a 1280 × 800 window
    docs/images/portal-unit-phone.png     a phone's 390 × 844 screen, at twice the pixels
    docs/images/board-map.png             the battle map of the program with most units
    docs/images/board-escalations.png     the escalation board of the program with most
                                          open escalations

The board is signed in to with an account made for the purpose in a copy of the demo's
database; the demo's own database is left as it was.

Run from the repository root::

    .venv/bin/pilot-tracker demo -o demo
    .venv/bin/python scripts/screenshots.py demo
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import browser  # noqa: E402

from pilot_tracker import db  # noqa: E402
from pilot_tracker.demo import playthrough  # noqa: E402
from pilot_tracker.ledger import store  # noqa: E402
from pilot_tracker.ledger.links import Links, program_units  # noqa: E402
from pilot_tracker.portal.unit_page import busiest_unit  # noqa: E402
from pilot_tracker.settings import DATABASE_FILE, Settings  # noqa: E402
from pilot_tracker.web.app import create_app  # noqa: E402

SHOTS = {"desktop": browser.DESKTOP, "phone": browser.PHONE}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", type=Path, help="a folder `pilot-tracker demo -o` played into")
    parser.add_argument("--unit", help="PROGRAM/UNIT (default: the unit with the most lines)")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "images")
    options = parser.parse_args()
    home = options.demo / "data"
    if not (home / DATABASE_FILE).is_file():
        parser.error(f"no demo in {options.demo}: play one with `pilot-tracker demo -o DIR`")
    if browser.missing():
        parser.error(browser.missing())
    now = playthrough.finished_at()
    made: list[Settings] = []
    scratch = Path(tempfile.mkdtemp(prefix="screenshots-"))
    database = scratch / DATABASE_FILE
    shutil.copyfile(home / DATABASE_FILE, database)
    password = screenshot_account(database, now)

    def make_app(url: str) -> Any:
        settings = Settings(home=home, database_url=f"sqlite:///{database}", public_url=url)
        made.append(settings)
        return create_app(settings, clock=lambda: now)

    from playwright.sync_api import sync_playwright

    options.output.mkdir(parents=True, exist_ok=True)
    with browser.serving(make_app), sync_playwright() as playwright:
        link = unit_link(made[0], options.unit, now)
        chromium = playwright.chromium.launch(**browser.launch_options())
        for name, screen in SHOTS.items():
            context = chromium.new_context(**browser.CONTEXT, **screen)
            console = browser.Console()
            page = console.watch(context.new_page())
            answer = page.goto(link)
            if answer is None or answer.status != 200:
                raise SystemExit(f"the unit's page answered {answer and answer.status}")
            path = options.output / f"portal-unit-{name}.png"
            page.screenshot(path=path)
            context.close()
            width, height = browser.png_size(path)
            print(f"written: {path} ({width} × {height})")
            if console.errors:
                raise SystemExit(f"the page's console: {console.errors}")
        board_shots(chromium, made[0], password, options.output)
        chromium.close()
    shutil.rmtree(scratch)
    return 0


ACCOUNT = "screenshots"


def screenshot_account(database: Path, now: Any) -> str:
    """An office account over every program in the copy of the demo's database."""
    import secrets

    from sqlmodel import select

    from pilot_tracker.board import accounts
    from pilot_tracker.models import Program

    password = secrets.token_urlsafe(16)
    engine = db.make_engine(f"sqlite:///{database}", create=False)
    try:
        with db.session(engine) as session:
            accounts.add(
                session=session,
                name=ACCOUNT,
                role="office",
                programs=list(session.exec(select(Program.code)).all()),
                password=password,
                now=now,
                passwords=accounts.Passwords(),
            )
    finally:
        engine.dispose()
    return password


def board_pages(settings: Settings) -> dict[str, str]:
    """The pages to take: the battle map of the program with most units, the escalation
    board of the one with most open escalations."""
    from sqlalchemy import func
    from sqlmodel import select

    from pilot_tracker.models import Escalation, Program, Unit

    engine = db.make_engine(settings.resolved_database_url, create=False)
    try:
        with db.session(engine) as session:
            widest = session.exec(
                select(Program.code)
                .join(Unit, Unit.program_id == Program.id)
                .group_by(Program.code)
                .order_by(func.count(Unit.id).desc(), Program.code)
            ).first()
            busiest = session.exec(
                select(Program.code)
                .join(Escalation, Escalation.program_id == Program.id)
                .where(Escalation.status == "open")
                .group_by(Program.code)
                .order_by(func.count(Escalation.id).desc(), Program.code)
            ).first()
    finally:
        engine.dispose()
    return {"map": f"/p/{widest}", "escalations": f"/p/{busiest or widest}/escalations"}


def board_shots(chromium: Any, settings: Settings, password: str, output: Path) -> None:
    context = chromium.new_context(**browser.CONTEXT, **browser.DESKTOP)
    console = browser.Console()
    page = console.watch(context.new_page())
    page.goto(f"{settings.public_url}/login")
    page.fill("#name", ACCOUNT)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{settings.public_url}/")
    for name, path in board_pages(settings).items():
        answer = page.goto(f"{settings.public_url}{path}")
        if answer is None or answer.status != 200:
            raise SystemExit(f"{path} answered {answer and answer.status}")
        shot = output / f"board-{name}.png"
        page.screenshot(path=shot)
        width, height = browser.png_size(shot)
        print(f"written: {shot} ({width} × {height})")
    context.close()
    if console.errors:
        raise SystemExit(f"the board's console: {console.errors}")


def unit_link(settings: Settings, unit: str | None, now: Any) -> str:
    """The personal link of ``unit`` (PROGRAM/UNIT), or of the busiest unit."""
    engine = db.make_engine(settings.resolved_database_url, create=False)
    try:
        with db.session(engine) as session:
            if unit:
                code, _, unit_code = unit.partition("/")
                program = store.get_program(session=session, code=code)
                (row,) = program_units(session=session, program=program, unit=unit_code)
            else:
                program, row = busiest_unit(session=session)
            issuer = Links(settings.link_secret(), settings.public_url, settings.link_days)
            return issuer.issue(program=program, unit=row, now=now).url
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
