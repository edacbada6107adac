"""Intake throughput: rows per second through ``intake.take_payload``, CSV and XLSX.

Builds a synthetic program (N units, M tasks led by each, monthly reporting, 2021) in a
fresh SQLite database, generates K monthly submissions per unit, and times:

* the intake of every CSV payload, each in its own ``db.session`` transaction, as a
  collection run takes them (program and unit looked up, payload archived, read,
  checked against the ledger, stored);
* the same for XLSX payloads, into another fresh database;
* a bare ``executemany`` INSERT of the same number of rows into ``status_report`` of a
  third fresh database: the floor that SQLite itself sets;
* a "40-unit weekly collection": 40 units sending one payload of 8 rows each.

Run from the repository root::

    .venv/bin/python benchmarks/intake_benchmark.py --units 40 --tasks 8 --periods 4

``--profile`` also runs the CSV intake once under cProfile and prints the functions
with the largest cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import sqlalchemy as sa
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.collect.intake import take_payload
from pilot_tracker.collect.payload import Payload
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, validate_program
from pilot_tracker.models import Task, Unit

PROGRAM = "bench"
HEADERS = [
    "任务编号",
    "进展状态",
    "完成进度",
    "进展情况",
    "存在问题",
    "下步计划",
    "佐证材料",
    "填报日期",
]
TASK_SHEET = "任务进展"
STATUSES = ["推进中", "推进中", "滞后", "未启动"]
AS_OF = date(2021, 12, 31)
NOW = datetime(2022, 1, 3, 1, 0, tzinfo=UTC)
WEEKLY_UNITS, WEEKLY_TASKS = 40, 8

# (unit code, payload, rows in it)
Batch = list[tuple[str, Payload, int]]


# --- the program and its submissions ---------------------------------------------------


def unit_code(unit: int) -> str:
    return f"u{unit:03d}"


def task_code(unit: int, task: int) -> str:
    return f"U{unit:03d}-T{task:02d}"


def build_spec(units: int, tasks: int) -> ProgramSpec:
    """A valid program: ``units`` units, each leading ``tasks`` tasks, reported monthly."""
    document: dict[str, Any] = {
        "code": PROGRAM,
        "name": "基准测试试点",
        "level": "provincial",
        "start": "2021-01-01",
        "end": "2021-12-31",
        "reporting": {"cadence": "monthly", "deadline": 25},
        "units": [
            {"code": unit_code(unit), "name": f"成员单位{unit:03d}"} for unit in range(units)
        ],
        "task_lists": [{"kind": "development", "name": "发展任务清单"}],
        "tasks": [
            {
                "code": task_code(unit, task),
                "title": f"成员单位{unit:03d}牵头的第{task + 1}项发展任务",
                "list": "development",
                "lead_unit": unit_code(unit),
                "start": "2021-01-04",
                "due": "2021-12-31",
                "milestones": [
                    {"date": "2021-06-30", "percent": 50},
                    {"date": "2021-12-31", "percent": 100},
                ],
            }
            for unit in range(units)
            for task in range(tasks)
        ],
        "indicators": [],
        "rules": {},
    }
    return validate_program(document, "benchmark.yaml")


def report_rows(unit: int, tasks: int, period: int) -> list[list[Any]]:
    """One period's rows of a unit: every task it leads, reported on the 15th of the month."""
    month = period + 1
    rows = []
    for task in range(tasks):
        percent = min(95, 5 + 10 * period + task)
        rows.append(
            [
                task_code(unit, task),
                STATUSES[(unit + task + period) % len(STATUSES)],
                percent,
                f"{month}月份召开专题推进会，第{task + 1}项任务完成阶段性工作，"
                f"累计完成进度{percent}%。",
                "部分配套资金尚未到位，跨部门协调需进一步加强。",
                "下月完成方案修订并报领导小组审议，推动任务按期完成。",
                f"会议纪要〔2021〕{month}号；工作简报第{task + 1}期",
                date(2021, month, 15),
            ]
        )
    return rows


def csv_payload(unit: int, tasks: int, period: int) -> Payload:
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(HEADERS)
    for row in report_rows(unit, tasks, period):
        writer.writerow([value.isoformat() if isinstance(value, date) else value for value in row])
    return Payload(
        name=f"{unit_code(unit)}-2021-{period + 1:02d}.csv",
        data=stream.getvalue().encode("utf-8"),
        source="folder",
        content_type="text/csv",
    )


def xlsx_payload(unit: int, tasks: int, period: int) -> Payload:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = TASK_SHEET
    sheet.cell(row=1, column=1, value=f"基准测试试点 · 成员单位{unit:03d} · 任务进展填报表")
    for column, header in enumerate(HEADERS, start=1):
        sheet.cell(row=2, column=column, value=header)
    for number, row in enumerate(report_rows(unit, tasks, period), start=3):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=number, column=column, value=value)
    stream = io.BytesIO()
    workbook.save(stream)
    return Payload(
        name=f"{unit_code(unit)}-2021-{period + 1:02d}.xlsx",
        data=stream.getvalue(),
        source="folder",
    )


def batch(make: Callable[[int, int, int], Payload], units: int, tasks: int, periods: int) -> Batch:
    """Every unit's payloads, period by period (the order collection runs would see)."""
    return [
        (unit_code(unit), make(unit, tasks, period), tasks)
        for period in range(periods)
        for unit in range(units)
    ]


# --- databases --------------------------------------------------------------------------


def fresh_database(folder: Path, spec: ProgramSpec) -> sa.Engine:
    """A new SQLite database at the newest schema, with the program loaded."""
    folder.mkdir(parents=True)
    engine = db.make_engine(f"sqlite:///{folder / 'pilot.db'}")
    db.migrate(engine)
    with db.session(engine) as session:
        store.load_program(
            session=session,
            spec=spec,
            source_name="benchmark.yaml",
            source_sha256="0" * 64,
            now=NOW,
        )
    return engine


def count_reports(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM status_report").scalar_one()


# --- what is timed ------------------------------------------------------------------------


def take_all(engine: sa.Engine, home: Path, payloads: Batch) -> None:
    """Each payload in its own transaction, as ``collection`` takes them."""
    for code, payload, rows in payloads:
        with db.session(engine) as session:
            program = store.get_program(session=session, code=PROGRAM)
            unit = session.exec(
                select(Unit).where(Unit.program_id == program.id, Unit.code == code)
            ).one()
            summary = take_payload(
                session=session,
                program=program,
                unit=unit,
                payload=payload,
                as_of=AS_OF,
                now=NOW,
                home=home,
                templates=None,
            )
        if summary.imported != rows or summary.rejected:
            raise SystemExit(
                f"{payload.name}: expected {rows} new reports, got {summary.imported} "
                f"(rejected {summary.rejected}: {summary.rejections[:3]})"
            )


def time_intake(folder: Path, spec: ProgramSpec, payloads: Batch) -> float:
    """Seconds to take every payload into a fresh database (set-up not included)."""
    engine = fresh_database(folder, spec)
    try:
        start = time.perf_counter()
        take_all(engine, folder / "home", payloads)
        elapsed = time.perf_counter() - start
        expected = sum(rows for _, _, rows in payloads)
        if count_reports(engine) != expected:
            raise SystemExit(f"expected {expected} status reports, found {count_reports(engine)}")
        return elapsed
    finally:
        engine.dispose()


INSERT_REPORT = (
    "INSERT INTO status_report (submission_id, task_id, unit_id, period, status, percent, "
    "progress, problems, next_steps, evidence, reported_on) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def bare_rows(engine: sa.Engine, submission_id: int, periods: int) -> list[tuple[Any, ...]]:
    """The same reports as the payloads hold, as plain tuples for the DBAPI."""
    with engine.connect() as connection:
        tasks = connection.execute(select(Task.id, Task.lead_unit_id).order_by(Task.position)).all()
    rows = []
    for period in range(periods):
        month = period + 1
        for index, (task_id, unit_id) in enumerate(tasks):
            rows.append(
                (
                    submission_id,
                    task_id,
                    unit_id,
                    f"2021-{month:02d}",
                    "in_progress",
                    float(min(95, 5 + 10 * period + index % 10)),
                    f"{month}月份召开专题推进会，任务完成阶段性工作。",
                    "部分配套资金尚未到位，跨部门协调需进一步加强。",
                    "下月完成方案修订并报领导小组审议，推动任务按期完成。",
                    f"会议纪要〔2021〕{month}号",
                    date(2021, month, 15).isoformat(),
                )
            )
    return rows


def time_bare(folder: Path, spec: ProgramSpec, periods: int, chunk: int | None) -> float:
    """Seconds to INSERT the rows with ``executemany``: in one transaction, or in one
    transaction per ``chunk`` rows (a payload's worth). One submission row is written
    first (not timed), since every report needs one."""
    engine = fresh_database(folder, spec)
    try:
        with engine.begin() as connection:
            program_id, unit_id = connection.exec_driver_sql(
                "SELECT program.id, unit.id FROM program JOIN unit ON unit.program_id = program.id"
                " ORDER BY unit.position LIMIT 1"
            ).one()
            submission_id = connection.exec_driver_sql(
                "INSERT INTO submission (program_id, unit_id, source, filename, sha256, "
                "archive_path, received_at, status, imported, updated, ignored, rejected) "
                "VALUES (?, ?, 'folder', 'bare', ?, 'archive/bare', ?, 'imported', 0, 0, 0, 0)",
                (program_id, unit_id, "f" * 64, NOW.isoformat()),
            ).lastrowid
        rows = bare_rows(engine, submission_id, periods)
        chunks = (
            [rows] if chunk is None else [rows[i : i + chunk] for i in range(0, len(rows), chunk)]
        )
        start = time.perf_counter()
        for part in chunks:
            with engine.begin() as connection:
                connection.exec_driver_sql(INSERT_REPORT, part)
        elapsed = time.perf_counter() - start
        if count_reports(engine) != len(rows):
            raise SystemExit(f"expected {len(rows)} bare rows, found {count_reports(engine)}")
        return elapsed
    finally:
        engine.dispose()


# --- running ------------------------------------------------------------------------------


def spread(times: list[float]) -> str:
    if len(times) < 2:
        return ""
    return f"  (min {min(times):.4f} s, max {max(times):.4f} s over {len(times)})"


def profile_csv(root: Path, spec: ProgramSpec, payloads: Batch, top: int) -> None:
    engine = fresh_database(root / "profile", spec)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        take_all(engine, root / "profile" / "home", payloads)
        profiler.disable()
    finally:
        engine.dispose()
    print(f"\n--- cProfile of the CSV intake: top {top} by cumulative time ---")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats(pstats.SortKey.CUMULATIVE).print_stats(top)
    print(f"--- top {top} by own (total) time ---")
    stats.sort_stats(pstats.SortKey.TIME).print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=40, help="units in the program (N)")
    parser.add_argument("--tasks", type=int, default=8, help="tasks led by each unit (M)")
    parser.add_argument(
        "--periods", type=int, default=4, help="monthly submissions per unit (K, 1-12)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="times each measurement runs; the median is shown"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile the CSV intake with cProfile"
    )
    parser.add_argument("--top", type=int, default=30, help="functions the profile lists")
    args = parser.parse_args(argv)
    if not 1 <= args.periods <= 12:
        parser.error("--periods must be between 1 and 12 (one month of 2021 each)")
    if args.units < 1 or args.tasks < 1 or args.repeat < 1:
        parser.error("--units, --tasks and --repeat must be at least 1")

    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"SQLite {sqlite3.sqlite_version}, SQLAlchemy {sa.__version__}, "
        f"openpyxl {openpyxl.__version__}, os.cpu_count() = {os.cpu_count()}"
    )
    print(f"{platform.platform()}")
    rows = args.units * args.tasks * args.periods
    print(
        f"program: {args.units} units x {args.tasks} tasks, {args.periods} monthly periods "
        f"-> {args.units * args.periods} payloads, {rows} rows per format; "
        f"repeat {args.repeat}"
    )

    spec = build_spec(args.units, args.tasks)
    csv_batch = batch(csv_payload, args.units, args.tasks, args.periods)
    xlsx_batch = batch(xlsx_payload, args.units, args.tasks, args.periods)
    weekly_spec = build_spec(WEEKLY_UNITS, WEEKLY_TASKS)
    weekly_csv = batch(csv_payload, WEEKLY_UNITS, WEEKLY_TASKS, 1)
    weekly_xlsx = batch(xlsx_payload, WEEKLY_UNITS, WEEKLY_TASKS, 1)

    measurements: dict[str, Callable[[Path], float]] = {
        "CSV intake": lambda f: time_intake(f, spec, csv_batch),
        "XLSX intake": lambda f: time_intake(f, spec, xlsx_batch),
        "bare executemany": lambda f: time_bare(f, spec, args.periods, None),
        "  one commit per payload": lambda f: time_bare(f, spec, args.periods, args.tasks),
        "weekly CSV": lambda f: time_intake(f, weekly_spec, weekly_csv),
        "weekly XLSX": lambda f: time_intake(f, weekly_spec, weekly_xlsx),
    }
    with tempfile.TemporaryDirectory(prefix="intake-benchmark-") as temporary:
        root = Path(temporary)
        seconds: dict[str, float] = {}
        runs: dict[str, list[float]] = {}
        for index, (label, measure) in enumerate(measurements.items()):
            runs[label] = [measure(root / f"{index}-{n}") for n in range(args.repeat)]
            seconds[label] = statistics.median(runs[label])

        print()
        for label in ("CSV intake", "XLSX intake", "bare executemany", "  one commit per payload"):
            print(
                f"{label:<26}{rows / seconds[label]:>12,.0f} rows/s"
                f"{seconds[label]:>10.4f} s{spread(runs[label])}"
            )
        for name in ("CSV", "XLSX"):
            ratio = seconds["bare executemany"] / seconds[f"{name} intake"]
            print(f"{name + ' / bare':<26}{ratio:>12.4f}")
        print(
            f"{WEEKLY_UNITS}-unit weekly collection "
            f"({WEEKLY_UNITS} payloads x {WEEKLY_TASKS} rows):"
        )
        for name in ("CSV", "XLSX"):
            label = f"weekly {name}"
            print(f"  {name:<24}{seconds[label]:>22.4f} s{spread(runs[label])}")
        if args.profile:
            profile_csv(root, spec, csv_batch, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
