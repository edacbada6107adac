"""Unit page: how long the portal takes to answer a unit's personal link.

On the data of a demo played before (``pilot-tracker demo -o DIR``: the example programs
and half a year of reports), the portal's app (``create_app``, on a clock fixed at the
demo's last day) answers ``GET /u/<token>`` in this process through Starlette's
TestClient: link checked, page data read (``portal.unit_page``, ``portal.answers``),
template rendered, security headers added. Nothing else runs: no network, no browser.

The unit is the busiest of the examples (``portal.unit_page.busiest_unit``: the most tasks
and indicators on its page), or ``--unit PROGRAM/UNIT``. Its page is fetched N times (200
by default) after 10 untimed, and the script prints the median, p95, min and max wall
time of one answer, and the same for ``unit_page`` alone (the database reads, without the
HTTP and the template). ``--all`` also fetches every unit's page 10 times and prints the
slowest units by median. Every answer must be 200 with the unit's name, or it stops.

Run from the repository root::

    .venv/bin/pilot-tracker demo -o demo
    PYTHONPATH=src .venv/bin/python benchmarks/portal_page.py demo
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy
from sqlmodel import select
from timing import summary, timings  # benchmarks/timing.py, beside this script

from pilot_tracker import db
from pilot_tracker.demo import playthrough
from pilot_tracker.ledger import store
from pilot_tracker.ledger.links import Links, program_units
from pilot_tracker.models import Program, Unit
from pilot_tracker.portal.unit_page import busiest_unit, unit_page
from pilot_tracker.settings import DATABASE_FILE, Settings
from pilot_tracker.web.app import create_app

BASE = "http://127.0.0.1:8000"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", type=Path, help="a folder `pilot-tracker demo -o` played into")
    parser.add_argument("--runs", type=int, default=200, help="timed answers (200)")
    parser.add_argument("--unit", help="PROGRAM/UNIT (default: the busiest unit)")
    parser.add_argument("--all", action="store_true", help="also every unit, 10 answers each")
    options = parser.parse_args()
    home = options.demo / "data"
    if not (home / DATABASE_FILE).is_file():
        parser.error(f"no demo in {options.demo}: play one with `pilot-tracker demo -o DIR`")

    now = playthrough.finished_at()
    settings = Settings(home=home, database_url="", public_url=BASE)
    engine = db.make_engine(settings.resolved_database_url, create=False)
    links = Links(settings.link_secret(), BASE, settings.link_days)
    with db.session(engine) as session:
        if options.unit:
            code, _, unit_code = options.unit.partition("/")
            program = store.get_program(session=session, code=code)
            (unit,) = program_units(session=session, program=program, unit=unit_code)
        else:
            program, unit = busiest_unit(session=session)
        reports = session.exec(sqlalchemy.text("select count(*) from status_report")).one()[0]
        session.expunge_all()
    today = now.astimezone(ZoneInfo(program.timezone)).date()
    print(f"pilot-tracker portal: the unit page, on {options.demo} ({reports} status reports)")
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    with warnings.catch_warnings():  # Starlette calls its own TestClient's httpx deprecated
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    app = create_app(settings, engine=engine, clock=lambda: now)
    with TestClient(app, base_url=BASE) as client:

        def answer(program: Program, unit: Unit) -> Callable[[], object]:
            path = links.issue(program=program, unit=unit, now=now).url.removeprefix(BASE)

            def get() -> object:
                page = client.get(path)
                if page.status_code != 200 or unit.name not in page.text:
                    raise SystemExit(f"{program.code} {unit.code}: {page.status_code}")
                return page

            return get

        with db.session(engine) as session:
            lines = unit_page(session=session, program=program, unit=unit, today=today)
        print(
            f"unit: {program.code} {unit.code} {unit.name}: {len(lines.tasks)} tasks, "
            f"{len(lines.indicators)} indicators"
        )
        print(f"  GET /u/<token>  {summary(timings(answer(program, unit), options.runs))}")

        def page_data() -> object:
            with db.session(engine) as session:
                return unit_page(session=session, program=program, unit=unit, today=today)

        print(f"  unit_page()     {summary(timings(page_data, options.runs))}")

        if options.all:
            medians = []
            with db.session(engine) as session:
                pairs = [
                    (record, row)
                    for record in session.exec(select(Program).order_by(Program.code)).all()
                    for row in program_units(session=session, program=record)
                ]
                session.expunge_all()
            for record, row in pairs:
                spent = timings(answer(record, row), 10)
                medians.append((statistics.median(spent), record.code, row.code))
            medians.sort(reverse=True)
            print(f"every unit ({len(medians)}), median of 10 answers, the slowest five:")
            for median, code, unit_code in medians[:5]:
                print(f"  {code} {unit_code}: {median:.1f} ms")
            print(f"  all: median {statistics.median(m for m, _, _ in medians):.1f} ms")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
