"""Board: how long the battle map (挂图作战) takes to render, server-side.

The board's app (``create_app``, on a clock fixed at the data's last day) answers
``GET /p/<code>`` for an office account signed in, in this process through Starlette's
TestClient: session checked, the map read (``board.battle_map.battle_map``), the template
rendered, the security headers added. No network, no browser. Two programs:

(a) **the examples**, on the data of a demo played before (``pilot-tracker demo -o DIR``:
    both example programs and half a year of reports, flags and escalations), copied to a
    temporary folder with one office account added: the busiest example program (the
    most member units: yinzhou, 37 units × 25 tasks) and the other one (xiangshan, 30 × 31);
(b) **a synthetic program** of 40 units × 60 tasks made here: its ledger loaded through
    ``ledger.store.load_program``, six months of monthly reports by every lead unit (some
    tasks never reported) and by a third of the co-units, one submission per unit and
    month, and flagged through ``supervise.flags.flag`` on its last day.

Each map is fetched N times (100 by default) after 10 untimed; the script prints the
median, p95, min and max wall time of one answer, the same for ``battle_map()`` alone
(the database reads, without HTTP and template), and how many SQL statements one map
takes. Every answer must be 200 with every cell of the map, or it stops. The aims (#12):
(a) median at most 150 ms, (b) under 1 s.

Run from the repository root::

    .venv/bin/pilot-tracker demo -o demo
    PYTHONPATH=src .venv/bin/python benchmarks/board_map.py demo
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sqlite3
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import argon2
import sqlalchemy
from sqlalchemy import event
from sqlmodel import select
from timing import summary, timings  # benchmarks/timing.py, beside this script

from pilot_tracker import db
from pilot_tracker.board import accounts
from pilot_tracker.board.battle_map import battle_map
from pilot_tracker.demo import playthrough
from pilot_tracker.ledger import plan, store
from pilot_tracker.ledger.program_file import validate_program
from pilot_tracker.models import Program, StatusReport, Submission, Task, Unit
from pilot_tracker.settings import DATABASE_FILE, PROJECT_TEMPLATES, Settings
from pilot_tracker.supervise import flags
from pilot_tracker.web.app import create_app

BASE = "http://127.0.0.1:8000"
ACCOUNT = "office-bench"
PASSWORD = "benchmark password"
# Argon2 at its cheapest: the benchmark signs in once per program, and times the map only.
CHEAP = accounts.Passwords(argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST))
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@contextmanager
def counted(engine: sqlalchemy.Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block."""
    statements: list[str] = []

    def count(*arguments: Any) -> None:
        statements.append(arguments[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- the data -------------------------------------------------------------------------------


def add_account(engine: sqlalchemy.Engine, programs: list[str], now: datetime) -> None:
    with db.session(engine) as session:
        accounts.add(
            session=session,
            name=ACCOUNT,
            role="office",
            programs=programs,
            password=PASSWORD,
            now=now,
            passwords=CHEAP,
        )


SYNTHETIC = "synthetic"
UNITS, TASKS, MONTHS = 40, 60, 6
KINDS = ["mechanism", "development", "personalised", "key_project"]


def synthetic_document() -> dict[str, Any]:
    """A program file's document: 40 units, 60 tasks over four lists, a third of them with
    milestones, each task with two co-units."""
    units = [{"code": f"u{n:02d}", "name": f"合成成员单位{n:02d}"} for n in range(1, UNITS + 1)]
    tasks = []
    for n in range(TASKS):
        due = date(2021, 3, 31) + timedelta(days=(n * 37) % 270)
        task: dict[str, Any] = {
            "code": f"SY-{n + 1:03d}",
            "title": f"合成任务{n + 1:03d}：推进青年发展重点工作第{n + 1}项",
            "list": KINDS[n * len(KINDS) // TASKS],
            "lead_unit": units[n % UNITS]["code"],
            "co_units": [units[(n + 7) % UNITS]["code"], units[(n + 19) % UNITS]["code"]],
            "start": "2021-01-04",
            "due": due.isoformat(),
        }
        if n % 3 == 0:
            task["milestones"] = [
                {"date": "2021-02-26", "percent": 20},
                {"date": due.isoformat(), "percent": 100},
            ]
        tasks.append(task)
    return {
        "code": SYNTHETIC,
        "name": f"合成试点（{UNITS}个单位×{TASKS}项任务）",
        "level": "municipal",
        "start": "2021-01-01",
        "end": "2021-12-31",
        "units": units,
        "task_lists": [{"kind": kind, "name": f"合成{kind}清单"} for kind in KINDS],
        "tasks": tasks,
    }


def make_synthetic(engine: sqlalchemy.Engine, last: date, now: datetime) -> None:
    """The synthetic program with six months of reports, flagged on ``last``."""
    spec = validate_program(synthetic_document(), "synthetic")
    with db.session(engine) as session:
        store.load_program(
            session=session, spec=spec, source_name="synthetic", source_sha256="", now=now
        )
        program = store.get_program(session=session, code=SYNTHETIC)
        units = {
            u.code: u.id for u in session.exec(select(Unit).where(Unit.program_id == program.id))
        }
        tasks = {t.code: t for t in store.read_program(session=session, code=SYNTHETIC).tasks}
        ids = {
            t.code: t.id for t in session.exec(select(Task).where(Task.program_id == program.id))
        }
        for month in range(1, MONTHS + 1):
            day = date(2021, month, 20)
            submissions = {}
            for code, unit_id in units.items():
                sha = f"{month:02d}{code}".encode().hex().ljust(64, "0")
                submission = Submission(
                    program_id=program.id,  # type: ignore[arg-type]
                    unit_id=unit_id,  # type: ignore[arg-type]
                    source="folder",
                    filename=f"{code}-2021-{month:02d}任务进展.xlsx",
                    sha256=sha,
                    archive_path=f"archive/{sha[:2]}/{sha}",
                    received_at=datetime(2021, month, 20, 1, tzinfo=UTC),
                    status="imported",
                )
                session.add(submission)
                submissions[code] = submission
            session.flush()
            for n, (code, task) in enumerate(tasks.items()):
                if n % 11 == 0:  # never reported
                    continue
                lag = (n * 7) % 30 - 5  # some ahead, most within 15 points, some far behind
                percent = max(0.0, min(100.0, plan.planned_percent(task, day) - lag))
                for unit in [task.lead_unit, *(task.co_units if n % 3 == 0 else [])]:
                    session.add(
                        StatusReport(
                            submission_id=submissions[unit].id,  # type: ignore[arg-type]
                            task_id=ids[code],  # type: ignore[arg-type]
                            unit_id=units[unit],  # type: ignore[arg-type]
                            period=f"2021-{month:02d}",
                            status="completed" if percent >= 100 else "in_progress",
                            percent=round(percent),
                            progress=f"第{month}月进展：按计划推进，累计完成{round(percent)}%。",
                            evidence="会议纪要" if percent >= 100 else "",
                            reported_on=day,
                        )
                    )
        session.flush()
        flags.flag(session=session, program=SYNTHETIC, as_of=last)


# --- timing ----------------------------------------------------------------------------------


def signed_in(client: Any) -> None:
    page = client.get("/login")
    token = _CSRF.search(page.text)
    if token is None:
        raise SystemExit("the login page has no form token")
    answer = client.post(
        "/login",
        data={"csrf": token.group(1), "name": ACCOUNT, "password": PASSWORD, "back": "/"},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise SystemExit(f"sign-in refused: {answer.status_code}")


def time_map(
    engine: sqlalchemy.Engine, settings: Settings, now: datetime, codes: list[str], runs: int
) -> None:
    with warnings.catch_warnings():  # Starlette calls its own TestClient's httpx deprecated
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    app = create_app(settings, engine=engine, clock=lambda: now, passwords=CHEAP)
    with TestClient(app, base_url=BASE) as client:
        signed_in(client)
        for code in codes:
            with db.session(engine) as session:
                program = store.get_program(session=session, code=code)
                spec = store.read_program(session=session, code=code)
                session.expunge(program)
            cells = len(spec.units) * len(spec.tasks)
            today = now.astimezone(ZoneInfo(program.timezone)).date()
            print(
                f"{code}: {len(spec.units)} units × {len(spec.tasks)} tasks ({cells} cells), "
                f"as of {today}"
            )

            def get(code: str = code, cells: int = cells, name: str = program.name) -> object:
                page = client.get(f"/p/{code}")
                shown = page.text.count('<td class="cell ')
                if page.status_code != 200 or name not in page.text or shown != cells:
                    raise SystemExit(f"{code}: {page.status_code}, {shown} of {cells} cells")
                return page

            def read(program: Program = program, today: date = today) -> object:
                with db.session(engine) as session:
                    return battle_map(session=session, program=program, today=today)

            print(f"  GET /p/{code:<10} {summary(timings(get, runs))}")
            print(f"  battle_map()       {summary(timings(read, runs))}")
            with counted(engine) as statements:
                read()
            size = len(get().content)  # type: ignore[attr-defined]
            print(f"  {len(statements)} SQL statements per map; the page is {size // 1024} KB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", type=Path, help="a folder `pilot-tracker demo -o` played into")
    parser.add_argument("--runs", type=int, default=100, help="timed answers per map (100)")
    options = parser.parse_args()
    played = options.demo / "data" / DATABASE_FILE
    if not played.is_file():
        parser.error(f"no demo in {options.demo}: play one with `pilot-tracker demo -o DIR`")
    now = playthrough.finished_at()
    print("pilot-tracker board: the battle map, rendered server-side")
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="board-map-") as folder:
        # (a) the examples, on a copy of the played demo's database
        copy = Path(folder) / "demo.db"
        shutil.copyfile(played, copy)
        url = f"sqlite:///{copy}"
        engine = db.make_engine(url, create=False)
        db.ensure_current(engine)
        with db.session(engine) as session:
            by_units = sorted(
                (len(store.read_program(session=session, code=p.code).units), p.code)
                for p in session.exec(select(Program)).all()
            )
        codes = [code for _, code in reversed(by_units)]  # the busiest first
        add_account(engine, codes, now)
        settings = Settings(
            home=options.demo / "data", database_url=url, templates=PROJECT_TEMPLATES
        )
        print(f"(a) the examples, on {options.demo} (busiest first)")
        time_map(engine, settings, now, codes, options.runs)
        engine.dispose()

        # (b) the synthetic program, in a database of its own
        home = Path(folder) / "synthetic"
        home.mkdir()
        url = f"sqlite:///{home / DATABASE_FILE}"
        engine = db.make_engine(url)
        db.migrate(engine)
        last = date(2021, 6, 30)
        make_synthetic(engine, last, now)
        add_account(engine, [SYNTHETIC], now)
        settings = Settings(home=home, database_url=url, templates=PROJECT_TEMPLATES)
        with db.session(engine) as session:
            reports = len(session.exec(select(StatusReport.id)).all())
        print(f"(b) a synthetic program ({reports} status reports to {last}, flagged on {last})")
        time_map(engine, settings, now, [SYNTHETIC], options.runs)
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
