"""Screenshots of a unit's page on the portal, for the README and docs/portal.md.

Plays nothing new: the portal serves the data of a demo played before (``pilot-tracker
demo -o DIR``) on loopback, its clock on the half-year's last day as with ``pilot-tracker
demo --web``, and Debian's Chromium, launched as the browser tests launch it
(tests/browser.py), opens the personal link of the demo's busiest unit (or ``--unit
PROGRAM/UNIT``) and saves what the screen shows:

    docs/images/portal-unit-desktop.png   a 1280 × 800 window
    docs/images/portal-unit-phone.png     a phone's 390 × 844 screen, at twice the pixels

Run from the repository root::

    .venv/bin/pilot-tracker demo -o demo
    .venv/bin/python scripts/screenshots.py demo
"""

from __future__ import annotations

import argparse
import sys
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

    def make_app(url: str) -> Any:
        settings = Settings(home=home, database_url="", public_url=url)
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
        chromium.close()
    return 0


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
