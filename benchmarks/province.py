"""A province: a day's supervision of N programs, through Prefect and without it.

**The workload.** A synthetic province of N programs (100 by default), each shaped like the
example programs: Yinzhou's 37 member units and 13 indicators (2 national, 5 provincial,
6 self-set), Xiangshan's 31 tasks in three lists (10 mechanism, 15 development,
6 personalised) led by those units, their dates stretched threefold so that the program runs
three years (2021-02-01 to 2024-01-31) and its tasks fall due across them. Every unit reads
an inbox folder (no HTTP source, no mailbox). The builder writes, fast, through the models
and SQLAlchemy Core (never through intake):

- the ledger, each program through ``ledger.store.load_program``, and a city of all of them
  (``ledger.cities.load_city``) for the city report;
- two years of monthly history, 2021-02 to 2023-01: for each unit and month one submission
  with the unit's status reports (its tasks) and readings (its indicators), the unit's
  behaviour fixed as the demo fixes it (``demo.submissions.behaviours``: most on track,
  some late, some behind plan, one silent, one far behind until it recovers) and 3% of the
  unit-months missing at random;
- the escalation history: ``supervise.flags.flag_and_escalate`` for every program on the
  two days of FLAG_DAYS (flags, reminders and urges opened, their notices in the outbox);
- the measured day's inbox: every February workbook the units send up to DAY, generated
  as the demo generates them (``demo.submissions.deliver``: real .xlsx workbooks, some
  messy, a GBK CSV, a row that cannot be read), about 26 a program.

**The figures**, each with its floor measured in the same run, each part in a child process
of its own (peak memory: its ``ru_maxrss``, through a launcher; for a tree of processes the
sum of their RSS, sampled from /proc every 0.2 s):

(a) a day's supervise (collect, flag and escalate, send) of every program on DAY:
    - **domain**: the calls the ``supervise`` flow makes (flows/supervise.py), program after
      program in one process, without Prefect: the floor;
    - **serve**: ``pilot-tracker serve --no-web`` (its own Prefect server on 127.0.0.1), the
      served ``supervise-all`` deployment triggered once through the API;
    - **workers**: ``prefect server start`` on 127.0.0.1 (a temporary PREFECT_HOME; on
      PostgreSQL, a database of its own), a process work pool, prefect.yaml deployed, two
      workers (``--limit 1``), ``supervise-all`` triggered once.
    Each starts from the same copy of the built province (the SQLite file copied, or a
    PostgreSQL database made from the built one as its template) and the same inbox. Timed:
    the parent run from its start to its end as Prefect records it, and from the trigger to
    its end (which adds the runner's or worker's polling); every program must end with a
    ``supervise`` run on record, ``ok``, and the inbox must be empty.
(b) the flag step for one program (``supervise.flags.flag``, the day's flags replaced) against
    one indexed SELECT of its status rows (``status_report`` joined to ``task`` on its
    program), on the state the domain run left; medians of repeated calls.
(c) the half-year evaluation's PDF of one program (2022H2: the figures read, the HTML
    rendered, ``reports.documents.pdf``) against WeasyPrint alone printing the same HTML.
(d) the city report over the N programs, where ``pilot_tracker.reports.city`` exists.

The aims (#14): the province supervised in under 10 minutes; Prefect at most 1.5× the domain
calls; flagging at most 3× the scan; the PDF at most 1.3× WeasyPrint alone. ``--profile``
adds cProfile's top functions for (a) domain, (b) and (c).

**Running it** (from the repository root; nothing leaves 127.0.0.1)::

    PYTHONPATH=src:. .venv/bin/python benchmarks/province.py --programs 5
    PYTHONPATH=src:. timeout 7200 .venv/bin/python benchmarks/province.py --programs 100 \\
        --backend both --profile --results province.json

PostgreSQL: ``--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` (the
default), where the script creates ``province_bench`` and its copies, and drops them.
``--keep`` leaves the temporary folder (and prints it).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "programs"
ZONE = "Asia/Shanghai"
START, END = date(2021, 2, 1), date(2024, 1, 31)
HISTORY = [(2021 + (1 + n) // 12, (1 + n) % 12 + 1) for n in range(24)]  # 2021-02 .. 2023-01
FLAG_DAYS = (date(2022, 12, 27), date(2023, 1, 30))
DAY = date(2023, 2, 24)  # a Friday, a working day; February's deadline is the 25th
INBOX_SINCE = date(2023, 1, 31)  # the inbox holds what units sent after this day
HALF = "2022H2"
MISSING = 0.03  # unit-months with no submission at all
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BASE_DATABASE = "province_bench"
PREFECT = str(Path(sys.executable).parent / "prefect")
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ENDED = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
AIMS = {"province_seconds": 600, "prefect_ratio": 1.5, "flag_ratio": 3.0, "pdf_ratio": 1.3}


def _moment(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# --- the province ----------------------------------------------------------------------------


def _stretched(value: Any) -> str:
    """A 2021 date of the examples, on the synthetic program's three years."""
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return (START + (day - date(2021, 1, 1)) * 3).isoformat()


def program_document(number: int) -> dict[str, Any]:
    """Program ``p<number>``: Yinzhou's units and indicators, Xiangshan's task lists."""
    yinzhou = yaml.safe_load((EXAMPLES / "yinzhou.yaml").read_text(encoding="utf-8"))
    xiangshan = yaml.safe_load((EXAMPLES / "xiangshan.yaml").read_text(encoding="utf-8"))
    units = [{k: v for k, v in unit.items() if k != "sources"} for unit in yinzhou["units"]]
    # Xiangshan's units, in order, stand for Yinzhou's first ones.
    same = {u["code"]: units[n]["code"] for n, u in enumerate(xiangshan["units"])}
    tasks = []
    for task in xiangshan["tasks"]:
        copy = dict(task)
        copy["lead_unit"] = same[task["lead_unit"]]
        copy["co_units"] = [same[code] for code in task.get("co_units", [])]
        copy["start"], copy["due"] = _stretched(task["start"]), _stretched(task["due"])
        copy["milestones"] = [
            {"date": _stretched(m["date"]), "percent": m["percent"]}
            for m in task.get("milestones", [])
        ]
        tasks.append(copy)
    return {
        "code": f"p{number:03d}",
        "name": f"合成试点{number:03d}中长期青年发展规划实施试点",
        "level": ("national", "provincial", "municipal")[number % 3],
        "start": START.isoformat(),
        "end": END.isoformat(),
        "timezone": ZONE,
        "reporting": {"cadence": "monthly", "deadline": 25},
        "units": units,
        "task_lists": xiangshan["task_lists"],
        "tasks": tasks,
        "indicators": yinzhou["indicators"],
        "rules": {},
    }


@dataclass
class Built:
    """What the builder wrote."""

    programs: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    inbox_files: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _history(
    spec: Any,
    units: dict[str, int],
    tasks: dict[str, int],
    indicators: dict[str, int],
    months: list[tuple[int, int]],
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    """Submissions (with their reports and readings) of every unit in ``months``."""
    from pilot_tracker import periods
    from pilot_tracker.demo.submissions import Behaviour, behaviours, recovery_day
    from pilot_tracker.ledger.plan import planned_percent

    plan = behaviours(spec)
    recovered = recovery_day(spec) + timedelta(days=365)  # far behind for its first year
    led = {code: [t for t in spec.tasks if t.lead_unit == code] for code in plan}
    owned = {code: [i for i in spec.indicators if i.owner == code] for code in plan}
    for year, month in months:
        period = f"{year}-{month:02d}"
        first, last = periods.bounds(period)
        deadline = periods.deadline(period, spec.reporting.deadline)
        for code, behaviour in plan.items():
            rng = _rng(spec.code, code, period)
            if behaviour is Behaviour.SILENT or rng.random() < MISSING:
                continue
            late = behaviour is Behaviour.LATE or rng.random() < 0.05
            day = (
                min(deadline + timedelta(days=rng.randint(1, 5)), last)
                if late
                else max(first, deadline - timedelta(days=rng.randint(0, 6)))
            )
            behind = behaviour is Behaviour.BEHIND or (
                behaviour is Behaviour.RECOVERING and day < recovered
            )
            reports = []
            for task in led[code]:
                lag = (
                    _rng(spec.code, code, task.code).uniform(15, 40)
                    if behind
                    else rng.uniform(-6, 3)
                )
                planned = planned_percent(task, day)
                percent = 0 if day < task.start else int(max(0, min(100, planned - lag)))
                status = (
                    "not_started"
                    if percent == 0
                    else "completed"
                    if percent >= 100
                    else "delayed"
                    if behind and planned - percent > 25
                    else "in_progress"
                )
                reports.append(
                    {
                        "task_id": tasks[task.code],
                        "unit_id": units[code],
                        "period": period,
                        "status": status,
                        "percent": float(percent),
                        "progress": f"累计完成{percent}%。",
                        "problems": "部门协调有待加强。" if status == "delayed" else "",
                        "next_steps": "" if status == "completed" else "加大推进力度。",
                        "evidence": f"《{task.deliverable or task.title}》"
                        if status == "completed" and rng.random() > 0.125
                        else "",
                        "reported_on": day,
                    }
                )
            readings = []
            for indicator in owned[code]:
                span = (
                    date(indicator.target.year, 12, 31) - date(indicator.baseline.year, 12, 31)
                ).days
                share = (day - date(indicator.baseline.year, 12, 31)).days / max(span, 1)
                pace = 0.4 if behind else 1.05
                value = (
                    indicator.baseline.value
                    + (indicator.target.value - indicator.baseline.value) * min(1.0, share) * pace
                )
                readings.append(
                    {
                        "indicator_id": indicators[indicator.code],
                        "value": round(value, 2),
                        "as_of": day,
                    }
                )
            sha = hashlib.sha256(f"{spec.code}:{code}:{period}".encode()).hexdigest()
            yield (
                {
                    "program_id": None,
                    "unit_id": units[code],
                    "source": "folder",
                    "filename": f"{code}-{period}任务进展.xlsx",
                    "sha256": sha,
                    "archive_path": f"archive/{sha[:2]}/{sha}.xlsx",
                    "received_at": datetime.combine(day, datetime.min.time(), tzinfo=UTC)
                    + timedelta(hours=2),
                    "status": "imported",
                    "imported": len(reports) + len(readings),
                    "size": 9000,
                    "archived": "whole",
                },
                reports,
                readings,
            )


def build(
    *,
    url: str,
    home: Path,
    programs: int,
    say: Callable[[str], None],
    months: int = len(HISTORY),
    flag_days: tuple[date, ...] = FLAG_DAYS,
    inbox: tuple[date, date] = (INBOX_SINCE, DAY),
) -> Built:
    """The province in the database at ``url`` (migrated here), data home ``home``: the
    last ``months`` of HISTORY, flagged on ``flag_days``, and in the inbox the workbooks
    the units send after the first day of ``inbox`` up to its second."""
    from sqlmodel import select

    from pilot_tracker import db
    from pilot_tracker.alerts import outbox
    from pilot_tracker.demo import submissions
    from pilot_tracker.ledger import cities, store
    from pilot_tracker.ledger.city_file import CityContactSpec, CitySpec
    from pilot_tracker.ledger.program_file import validate_program
    from pilot_tracker.models import (
        Escalation,
        Flag,
        Indicator,
        IndicatorReading,
        Notification,
        StatusReport,
        Submission,
        Task,
        Unit,
    )
    from pilot_tracker.settings import PROJECT_TEMPLATES, Settings
    from pilot_tracker.supervise import flags

    home.mkdir(parents=True, exist_ok=True)
    built = Built([f"p{n:03d}" for n in range(1, programs + 1)])
    engine = db.make_engine(url)
    db.migrate(engine)
    settings = Settings(home=home, database_url=url)
    templates = outbox.Templates(PROJECT_TEMPLATES, links=settings.link_issuer())
    started = time.perf_counter()
    specs = {}
    submission_table = Submission.__table__  # type: ignore[attr-defined]
    returning = sa.insert(submission_table).returning(
        submission_table.c.id, sort_by_parameter_order=True
    )
    for number, code in enumerate(built.programs, start=1):
        spec = validate_program(program_document(number), f"{code}.yaml")
        specs[code] = spec
        with db.session(engine) as session:
            store.load_program(
                session=session,
                spec=spec,
                source_name=f"{code}.yaml",
                source_sha256="",
                now=_moment(START),
            )
            program = store.get_program(session=session, code=code)
            ids = {
                model: dict(
                    session.exec(
                        select(model.code, model.id).where(model.program_id == program.id)
                    ).all()
                )
                for model in (Unit, Task, Indicator)
            }
            made = list(
                _history(
                    spec, ids[Unit], ids[Task], ids[Indicator], HISTORY[len(HISTORY) - months :]
                )
            )
            for row, _, _ in made:
                row["program_id"] = program.id
            if made:  # none where no history is asked for
                new = session.execute(returning, [row for row, _, _ in made]).scalars().all()
                reports = [
                    {**report, "submission_id": sid}
                    for sid, (_, rows, _) in zip(new, made, strict=True)
                    for report in rows
                ]
                readings = [
                    {**reading, "submission_id": sid}
                    for sid, (_, _, rows) in zip(new, made, strict=True)
                    for reading in rows
                ]
                session.execute(sa.insert(StatusReport), reports)
                session.execute(sa.insert(IndicatorReading), readings)
        if number % 10 == 0 or number == programs:
            say(f"  {number} programs loaded with their history")
    with db.session(engine) as session:
        cities.load_city(
            session=session,
            spec=CitySpec(
                code="province",
                name="合成省",
                office="共青团合成省委办公室",
                programs=built.programs,
                contacts=[CityContactSpec(role="city", title="团省委青年发展部")],
            ),
            source_name="province.yaml",
            source_sha256="",
            now=_moment(START),
        )
    built.seconds["ledger and history"] = time.perf_counter() - started
    started = time.perf_counter()
    for day in flag_days:
        for code in built.programs:
            with db.session(engine) as session:
                flags.flag_and_escalate(
                    session=session,
                    program=code,
                    as_of=day,
                    now=_moment(day),
                    templates=templates,
                    home=home,
                )
        say(f"  flagged and escalated every program on {day}")
    built.seconds["escalation history"] = time.perf_counter() - started
    started = time.perf_counter()
    for spec in specs.values():
        landed = submissions.deliver(
            spec=spec, inbox=settings.inbox, since=inbox[0], until=inbox[1]
        )
        built.inbox_files += len(landed.written)
    built.seconds["inbox"] = time.perf_counter() - started
    # The planner's statistics, as after the database's routine maintenance (PostgreSQL's
    # autovacuum would analyze the freshly loaded tables within minutes).
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    with db.session(engine) as session:
        for name, model in (
            ("submissions", Submission),
            ("status reports", StatusReport),
            ("indicator readings", IndicatorReading),
            ("flags", Flag),
            ("escalations", Escalation),
            ("notifications", Notification),
        ):
            built.counts[name] = session.exec(select(sa.func.count()).select_from(model)).one()
        built.counts["escalations open"] = session.exec(
            select(sa.func.count()).select_from(Escalation).where(Escalation.status == "open")
        ).one()
    engine.dispose()
    return built


# --- the day's supervise, without Prefect ------------------------------------------------------


def supervise_program(
    *, engine: Any, settings: Any, templates: Any, program: str, day: date
) -> dict[str, Any]:
    """What the ``supervise`` flow calls for one program and day (flows/supervise.py,
    flows/collect_status.py), in the same order, without Prefect."""
    from pilot_tracker import db, runs
    from pilot_tracker.alerts import delivery
    from pilot_tracker.ledger import store
    from pilot_tracker.supervise import flags, workdays

    with db.session(engine) as session:
        spec = store.read_program(session=session, code=program)
        workdays.calendar_of(session=session, spec=spec)
        flags.check_day(session=session, program=program, as_of=day)
    with db.session(engine) as session:
        workdays.year_end_warning(
            session=session,
            program=program,
            today=day,
            now=datetime.now(UTC),
            templates=templates,
            warn_from=settings.calendar_warning_day,
        )
    started = datetime.now(UTC)
    with runs.exclusive(engine=engine, program=program, flow="supervise", now=started) as other:
        if other is not None:
            raise SystemExit(f"{program}: another run holds the lock")
        collected = collect_program(
            engine=engine, settings=settings, templates=templates, program=program, day=day
        )
        runs.record(
            engine=engine,
            program=program,
            flow="collect-status",
            as_of=day,
            started=started,
            finished=datetime.now(UTC),
            outcome=collected.outcome,
            summary={"submissions": len(collected.submissions)},
        )
        with db.session(engine) as session:
            found, _ = flags.flag_and_escalate(
                session=session,
                program=program,
                as_of=day,
                now=datetime.now(UTC),
                templates=templates,
                home=settings.home,
                unavailable=collected.excused(),
            )
        pending = delivery.pending_count(engine=engine)  # no Apprise config: send-alerts
        summary = {
            "submissions": len(collected.submissions),
            "flags": len(found.findings),
            "pending": pending,
        }
        runs.record(
            engine=engine,
            program=program,
            flow="supervise",
            as_of=day,
            started=started,
            finished=datetime.now(UTC),
            outcome="ok",
            summary=summary,
        )
    return summary


def collect_program(
    *, engine: Any, settings: Any, templates: Any, program: str, day: date, reader: Any = None
) -> Any:
    """``collection.collect`` as the ``collect-status`` flow calls it (with ``reader``, as
    ``supervise`` calls it), without waiting for files still being copied (the builder
    wrote them long before)."""
    from pilot_tracker.collect import collection

    return collection.collect(
        engine=engine,
        program=program,
        as_of=day,
        now=datetime.now(UTC),
        home=settings.home,
        environ=os.environ,
        templates=templates,
        settle_seconds=0,
        attempts=1,
        inbox_wait=timedelta(minutes=settings.inbox_wait_minutes),
        reader=reader,
    )


def supervise_all(day: date) -> dict[str, Any]:
    """Every program the day covers, one after another, in this process."""
    from pilot_tracker import db, runs
    from pilot_tracker.alerts import outbox
    from pilot_tracker.settings import Settings

    settings = Settings()
    engine = db.make_engine(settings.resolved_database_url)
    db.ensure_current(engine)
    templates = outbox.Templates(settings.templates, links=settings.link_issuer())
    started = time.perf_counter()
    programs = runs.supervised_programs(engine=engine, now=datetime.now(UTC), as_of=day)
    each = []
    totals = {"submissions": 0, "flags": 0}
    for program in programs:
        began = time.perf_counter()
        done = supervise_program(
            engine=engine, settings=settings, templates=templates, program=program, day=day
        )
        each.append(time.perf_counter() - began)
        totals["submissions"] += done["submissions"]
        totals["flags"] += done["flags"]
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "programs": len(programs), "per_program": each, **totals}


# --- (b) flag against a scan, (c) the PDF against WeasyPrint, (d) the city report ---------------


def _engine() -> Any:
    from pilot_tracker import db
    from pilot_tracker.settings import Settings

    engine = db.make_engine(Settings().resolved_database_url)
    db.ensure_current(engine)
    return engine


def _timed(
    *calls: Callable[[], Any], times: int, before: Callable[[], Any] = lambda: None
) -> list[list[float]]:
    """Seconds of each of ``times`` calls of each of ``calls``, taken in turn (so the load
    of a shared machine falls on all alike), after one untimed call of each; ``before``
    runs, untimed, before each turn."""
    for call in calls:
        call()  # imports, caches, the first queries compiled
    spent: list[list[float]] = [[] for _ in calls]
    for _ in range(times):
        before()
        for call, into in zip(calls, spent, strict=True):
            began = time.perf_counter()
            call()
            into.append(time.perf_counter() - began)
    return spent


SCAN = (
    "SELECT status_report.* FROM status_report JOIN task ON task.id = status_report.task_id "
    "WHERE task.program_id = :program"
)


def flag_against_scan(program: str, day: date, times: int, profile: bool) -> dict[str, Any]:
    """``flags.flag`` for one program, the day's first and the day again, against one
    SELECT of its status rows."""
    from sqlalchemy import event

    from pilot_tracker import db
    from pilot_tracker.ledger import store
    from pilot_tracker.supervise import flags

    engine = _engine()
    with db.session(engine) as session:
        program_id = store.get_program(session=session, code=program).id

    def flag() -> int:
        with db.session(engine) as session:
            return len(flags.flag(session=session, program=program, as_of=day).findings)

    rows: list[Any] = []

    def scan() -> None:
        with engine.connect() as connection:
            rows[:] = connection.execute(sa.text(SCAN), {"program": program_id}).fetchall()

    statements: list[str] = []

    def count(*arguments: Any) -> None:
        statements.append(arguments[2])

    def forget_day() -> None:  # the day's flags gone, as before its first run
        with engine.begin() as connection:
            connection.execute(
                sa.text("DELETE FROM flag WHERE program_id = :program AND as_of = :day"),
                {"program": program_id, "day": day},
            )

    # In turn: the day's first flag (its flags written), the same day flagged again (the
    # flags found the same: read back, nothing written), the scan.
    first, flagged, scanned = _timed(flag, flag, scan, times=times, before=forget_day)
    forget_day()
    event.listen(engine, "before_cursor_execute", count)
    flag()
    first_statements = len(statements)
    findings = flag()
    event.remove(engine, "before_cursor_execute", count)
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        plan = [
            " ".join(str(part) for part in row)
            for row in connection.execute(sa.text(explain + SCAN), {"program": program_id})
        ]
    found = {"profile": profiled(flag)} if profile else {}
    engine.dispose()
    return {
        **found,
        "first_flag_seconds": median(first),
        "first_flag_runs": first,
        "flag_seconds": median(flagged),
        "flag_runs": flagged,
        "scan_seconds": median(scanned),
        "scan_runs": scanned,
        "rows": len(rows),
        "findings": findings,
        "first_flag_statements": first_statements,
        "statements": len(statements) - first_statements,
        "plan": plan,
    }


def pdf_against_weasyprint(program: str, times: int, folder: Path, profile: bool) -> dict[str, Any]:
    """The half-year evaluation's PDF as ``reports.evaluation.write`` makes it (the figures
    read, the HTML rendered, ``documents.pdf``) against WeasyPrint alone on that HTML."""
    from weasyprint import HTML

    from pilot_tracker import db, periods
    from pilot_tracker.reports import charts, documents, figures
    from pilot_tracker.settings import PROJECT_TEMPLATES

    engine = _engine()
    end = periods.bounds(HALF)[1]
    folder.mkdir(parents=True, exist_ok=True)
    pages: list[str] = []

    def page() -> str:
        # As reports/evaluation.py's write builds the page it prints.
        with db.session(engine) as session:
            snapshot = figures.load(session=session, program=program, as_of=end)
        data = figures.evaluation(snapshot, HALF)
        return documents.html(
            PROJECT_TEMPLATES,
            "reports/half_year.html.j2",
            e=data,
            chart_lists=charts.completion_by_list(data),
            chart_map=charts.battle_map(data),
            generated=documents.stamp(end),
        )

    def product() -> None:
        pages[:] = [page()]
        documents.pdf(pages[0], folder / "product.pdf", assets=PROJECT_TEMPLATES)

    pages[:] = [page()]
    base = (PROJECT_TEMPLATES / "reports").as_uri() + "/"

    def printed() -> None:
        documents.pdf(pages[0], folder / "printed.pdf", assets=PROJECT_TEMPLATES)

    def alone() -> None:
        HTML(string=pages[0], base_url=base).write_pdf(folder / "alone.pdf")

    made, only_pdf, weasy, html = _timed(product, printed, alone, page, times=times)
    found = {"profile": profiled(product)} if profile else {}
    engine.dispose()
    return {
        **found,
        "product_seconds": median(made),
        "product_runs": made,
        "documents_pdf_seconds": median(only_pdf),
        "weasyprint_seconds": median(weasy),
        "weasyprint_runs": weasy,
        "html_seconds": median(html),
        "html_kb": len(pages[0].encode()) // 1024,
        "pdf_kb": (folder / "product.pdf").stat().st_size // 1024,
    }


def city_report(folder: Path) -> dict[str, Any]:
    """The city report of the province's city over every program (HALF), in its four
    formats, where this checkout has one (``reports/city.py``); not sent."""
    try:
        from pilot_tracker.reports import city
    except ImportError:
        return {"missing": "pilot_tracker.reports.city is not in this checkout"}
    from pilot_tracker import db
    from pilot_tracker.settings import PROJECT_TEMPLATES, Settings

    settings = Settings()
    engine = _engine()
    began = time.perf_counter()
    with db.session(engine) as session:
        written = city.write(
            session=session,
            city="province",
            period=HALF,
            folder=folder,
            home=settings.home,
            templates=PROJECT_TEMPLATES,
            now=_moment(DAY),
            send=False,
        )
    seconds = time.perf_counter() - began
    engine.dispose()
    files = getattr(written, "files", {})
    return {
        "seconds": seconds,
        "files": {key: Path(path).stat().st_size // 1024 for key, path in files.items()},
        "problems": list(getattr(written, "problems", [])),
    }


# --- children: each measured part in a process of its own ----------------------------------


def child_main(what: str, arguments: dict[str, Any]) -> None:
    """Run one part, print its figures as JSON on the last line of stdout."""
    day = date.fromisoformat(arguments["day"]) if "day" in arguments else DAY
    profile = bool(arguments.get("profile"))
    if what == "supervise":
        result = supervise_all(day)
    elif what == "flag":
        result = flag_against_scan(arguments["program"], day, arguments["times"], profile)
    elif what == "pdf":
        folder = Path(arguments["folder"])
        result = pdf_against_weasyprint(arguments["program"], arguments["times"], folder, profile)
    elif what == "city":
        result = city_report(Path(arguments["folder"]))
    elif what == "profile":
        result = profile_supervise(day, arguments["programs"])
    else:
        raise SystemExit(f"no part {what!r}")
    print(json.dumps(result, default=str))


def profiled(call: Callable[[], Any]) -> str:
    """cProfile's top functions of one call, by cumulative and by own time."""
    profile = cProfile.Profile()
    profile.enable()
    call()
    profile.disable()
    return _top(profile, 25)


def profile_supervise(day: date, programs: int) -> dict[str, Any]:
    """Where a day's supervise spends its time: the domain calls for ``programs`` programs
    under cProfile, then the ``supervise`` flow for one more, in this process, on a
    temporary Prefect server. Each is run once unprofiled first, for another program, so
    that neither profile holds the imports and the server's start."""
    from pilot_tracker import db, runs
    from pilot_tracker.alerts import outbox
    from pilot_tracker.settings import Settings

    settings = Settings()
    engine = db.make_engine(settings.resolved_database_url)
    templates = outbox.Templates(settings.templates, links=settings.link_issuer())
    codes = runs.supervised_programs(engine=engine, now=datetime.now(UTC), as_of=day)
    warm, mine = codes[0], codes[1 : 1 + programs]
    warm_flow, flowed = codes[1 + programs], codes[2 + programs]

    def domain(codes: list[str]) -> None:
        for code in codes:
            supervise_program(
                engine=engine, settings=settings, templates=templates, program=code, day=day
            )

    domain([warm])
    began = time.perf_counter()
    domain_profile = profiled(lambda: domain(mine))
    domain_seconds = (time.perf_counter() - began) / len(mine)
    engine.dispose()

    from flows.supervise import supervise

    supervise(warm_flow, as_of=day, settle_seconds=0)
    began = time.perf_counter()
    flow_profile = profiled(lambda: supervise(flowed, as_of=day, settle_seconds=0))
    return {
        "domain_programs": mine,
        "domain_seconds_per_program": domain_seconds,
        "domain": domain_profile,
        "flow_program": flowed,
        "flow_seconds": time.perf_counter() - began,
        "flow": flow_profile,
    }


def _top(profile: cProfile.Profile, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def environment(home: Path, database_url: str, prefect_home: Path) -> dict[str, str]:
    """A child's environment: this checkout first, the data home and database, Prefect at
    home and quiet, no proxy (everything goes to 127.0.0.1), no Apprise config."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PILOT_TRACKER_", "PREFECT_"))
        and key.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "PYTHONUNBUFFERED": "1",
            "PILOT_TRACKER_HOME": str(home),
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            # A loaded machine starts a temporary server slowly (the profile's flow run).
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
            "NO_PROXY": "127.0.0.1,localhost,::1",
            "no_proxy": "127.0.0.1,localhost,::1",
        }
    )
    if database_url:
        env["PILOT_TRACKER_DATABASE_URL"] = database_url
    return env


@dataclass
class Ran:
    """A child process's end: its figures, wall time, peak RSS in MB."""

    figures: dict[str, Any]
    wall: float
    peak_mb: float


def run_child(what: str, arguments: dict[str, Any], env: dict[str, str], timeout: float) -> Ran:
    """This script as a child, under prlimit (2 GB), killed after ``timeout`` seconds; its
    peak RSS its own (``timing.measured``: a child of this process would report this
    process's peak as its own)."""
    from timing import measured  # benchmarks/timing.py, beside this script

    command = [
        "prlimit",
        "--as=2147483648",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        what,
        json.dumps(arguments),
    ]
    ran = measured(command, env=env, cwd=ROOT, timeout=timeout)
    if ran is None:
        raise SystemExit(f"{what}: not done within {timeout:.0f} s")
    if ran["code"] != 0:
        raise SystemExit(f"{what} failed ({ran['code']}):\n{ran['err'][-3000:]}")
    return Ran(json.loads(ran["out"].strip().splitlines()[-1]), ran["wall"], ran["peak_mb"])


# --- through Prefect ---------------------------------------------------------------------------


class Lines:
    """What a process prints, read in a thread as it comes (so its pipe never fills)."""

    def __init__(self, process: subprocess.Popen[str]):
        import threading

        self.lines: list[str] = []
        self.process = process
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> str:
        def seen() -> str:
            if self.process.poll() is not None and not self._thread.is_alive():
                raise SystemExit("it stopped:\n" + "".join(self.lines)[-3000:])
            return next((line for line in self.lines if text in line), "")

        return _wait(seen, timeout, f"a line with {text!r}", every=0.2)


class TreeMemory:
    """The summed RSS of a process and its descendants, sampled every 0.2 s from /proc."""

    def __init__(self, *roots: int):
        self.roots = list(roots)
        self.peak_kb = 0
        self.largest_kb = 0
        self._stop = False
        import threading

        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join(timeout=5)

    def _sample(self) -> None:
        while not self._stop:
            sizes = [_rss_kb(pid) for pid in self._tree()]
            self.peak_kb = max(self.peak_kb, sum(sizes))
            self.largest_kb = max([self.largest_kb, *sizes])
            time.sleep(0.2)

    def _tree(self) -> list[int]:
        found, queue = [], list(self.roots)
        while queue:
            pid = queue.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    queue += [int(c) for c in (task / "children").read_text().split()]
        return found


def _rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _api(url: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    deadline = time.monotonic() + timeout
    while True:
        try:
            with LOOPBACK.open(request, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            if error.code != 503 or time.monotonic() > deadline:  # 503: a busy SQLite
                raise
            time.sleep(1)


def _wait(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(api: str) -> bool:
    try:
        with LOOPBACK.open(f"{api}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen[Any], group: bool = False) -> None:
    """SIGINT (a worker ignores SIGTERM), then SIGTERM, then SIGKILL, 20 s each."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signum)
            else:
                process.send_signal(signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)


def _time_parent(api: str, deployment: str, day: date, timeout: float) -> dict[str, Any]:
    """Trigger ``deployment`` for ``day`` once; its run's times and its children's."""
    found = _api(f"{api}/deployments/name/{deployment}")
    triggered = time.perf_counter()
    run = _api(
        f"{api}/deployments/{found['id']}/create_flow_run",
        {"parameters": {"as_of": day.isoformat(), "settle_seconds": 0}},
    )

    def ended() -> str:
        state = _api(f"{api}/flow_runs/{run['id']}")["state_type"]
        return state if state in ENDED else ""

    state = _wait(ended, timeout, f"{deployment} ending", every=1)
    waited = time.perf_counter() - triggered
    parent = _api(f"{api}/flow_runs/{run['id']}")
    children = _api(
        f"{api}/flow_runs/filter",
        {"flow_runs": {"parent_flow_run_id": {"any_": [run["id"]]}}, "limit": 200},
    )
    return {
        "state": state,
        "trigger_to_end": waited,
        "run_seconds": _seconds(parent),
        "children": len(children),
        "children_completed": sum(c["state_type"] == "COMPLETED" for c in children),
        "child_seconds": sorted(_seconds(c) for c in children),
        "failed": [
            {
                "program": c["parameters"].get("program"),
                "state": c["state_name"],
                "message": (c.get("state") or {}).get("message", "")[:300],
            }
            for c in children
            if c["state_type"] != "COMPLETED"
        ],
    }


def _seconds(run: dict[str, Any]) -> float:
    if not run.get("start_time") or not run.get("end_time"):
        return float("nan")
    began = datetime.fromisoformat(run["start_time"])
    return (datetime.fromisoformat(run["end_time"]) - began).total_seconds()


def through_serve(env: dict[str, str], day: date, timeout: float) -> dict[str, Any]:
    """``pilot-tracker serve --no-web``; supervise-all triggered once through its API."""
    command = [
        sys.executable,
        "-c",
        "from pilot_tracker.cli import app; app()",
        "serve",
        "--no-web",
    ]
    env = {key: value for key, value in env.items() if key != "PREFECT_HOME"}  # serve's own
    served = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Lines(served)
    try:
        line = output.wait_for("Prefect server on http://127.0.0.1:", 180)
        api = line.split("Prefect server on ")[1].split()[0]
        output.wait_for("Ctrl-C or SIGTERM stops", 180)

        def registered() -> bool:
            try:
                return bool(_api(f"{api}/deployments/name/supervise-all/supervise-all"))
            except urllib.error.HTTPError:
                return False

        _wait(registered, 120, "supervise-all registered by serve")
        with TreeMemory(served.pid) as memory:
            timed = _time_parent(api, "supervise-all/supervise-all", day, timeout)
        timed["tree_peak_mb"] = memory.peak_kb / 1024
        timed["largest_process_mb"] = memory.largest_kb / 1024
        return timed
    finally:
        _stop(served, group=True)


def through_workers(
    env: dict[str, str], day: date, timeout: float, server_database: str, folder: Path
) -> dict[str, Any]:
    """A Prefect server on 127.0.0.1, a process work pool, prefect.yaml deployed, two
    workers; supervise-all triggered once."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **env,
        "PREFECT_API_URL": api,
        # No scheduled runs beside the one measured (send-alerts comes every 30 minutes).
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    }
    if server_database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = server_database
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        _wait(lambda: _healthy(api), 120, "the Prefect server answering")

        def prefect(*args: str) -> str:
            done = subprocess.run(
                [PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
            )
            if done.returncode != 0:
                raise SystemExit(f"prefect {args}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
            return done.stdout

        prefect("work-pool", "create", "pilot-tracker", "--type", "process")
        prefect("--no-prompt", "deploy", "--all")
        for number in range(2):
            output = (folder / f"worker-{number}.log").open("wb")
            workers.append(
                subprocess.Popen(
                    [PREFECT, "worker", "start", "--pool", "pilot-tracker", "--limit", "1"],
                    cwd=folder,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            )

        def polling() -> bool:
            found = _api(f"{api}/work_pools/pilot-tracker/workers/filter", {})
            return len(found) >= 2

        _wait(polling, 120, "two workers polling")
        with TreeMemory(server.pid, *(worker.pid for worker in workers)) as memory:
            timed = _time_parent(api, "supervise-all/supervise-all", day, timeout)
        timed["tree_peak_mb"] = memory.peak_kb / 1024
        timed["largest_process_mb"] = memory.largest_kb / 1024
        return timed
    finally:
        for worker in workers:
            _stop(worker)
        _stop(server)
        log.close()


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Backend:
    """Where the province lives: a SQLite file in the data home, or PostgreSQL databases
    made from the built one."""

    name: str
    work: Path
    admin_url: str = ""
    made: list[str] = field(default_factory=list)

    @property
    def base_home(self) -> Path:
        return self.work / "base"

    def url(self, database: str, home: Path) -> str:
        if self.name == "sqlite":
            return ""  # the data home's own file
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def create(self, database: str, template: str = "") -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._admin(
            f'CREATE DATABASE "{database}"' + (f' TEMPLATE "{template}"' if template else "")
        )
        self.made.append(database)

    def copy(self, variant: str) -> tuple[Path, str]:
        """A fresh copy of the built province: its data home and its database URL."""
        home = self.work / variant
        shutil.copytree(self.base_home, home)
        if self.name == "sqlite":
            return home, ""
        database = f"{BASE_DATABASE}_{variant}"
        self.create(database, template=BASE_DATABASE)
        return home, self.url(database, home)

    def drop_all(self) -> None:
        for database in reversed(self.made):
            with contextlib.suppress(Exception):
                self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def check_supervised(home: Path, url: str, programs: int, inbox_files: int) -> dict[str, Any]:
    """Every program supervised on DAY, ok, and the inbox taken."""
    from pilot_tracker import db
    from pilot_tracker.models import RunRecord
    from pilot_tracker.settings import Settings

    settings = Settings(home=home, database_url=url)
    engine = db.make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(RunRecord.__table__.c.outcome, RunRecord.__table__.c.summary).where(
                RunRecord.__table__.c.flow == "supervise", RunRecord.__table__.c.as_of == DAY
            )
        ).all()
    engine.dispose()
    left = [p for p in (home / "inbox").rglob("*") if p.is_file()]
    summaries = [json.loads(s) if isinstance(s, str) else s for _, s in rows]
    taken = sum(s.get("submissions", 0) for s in summaries)
    problems = []
    if len(rows) != programs or any(outcome != "ok" for outcome, _ in rows):
        problems.append(f"{len(rows)} supervise runs on record for {programs} programs")
    if left:
        problems.append(f"{len(left)} files left in the inbox")
    if taken != inbox_files:
        problems.append(f"{taken} submissions taken of {inbox_files} files")
    return {"runs": len(rows), "taken": taken, "problems": problems}


def machine() -> dict[str, Any]:
    import prefect  # noqa: F401  (only its version)

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    memory = next(
        (
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_mb": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "prefect": sys.modules["prefect"].__version__,
        "sqlalchemy": sa.__version__,
        "load": os.getloadavg(),
    }


def run_backend(
    name: str, options: argparse.Namespace, work: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    backend = Backend(name, work / name, options.postgres)
    backend.work.mkdir(parents=True)
    result: dict[str, Any] = {"backend": name, "load_before": os.getloadavg()}
    try:
        if name == "postgresql":
            backend.create(BASE_DATABASE)
        url = backend.url(BASE_DATABASE, backend.base_home)
        from pilot_tracker.settings import DATABASE_FILE

        build_url = url or f"sqlite:///{backend.base_home / DATABASE_FILE}"
        say(f"[{name}] building a province of {options.programs} programs")
        began = time.perf_counter()
        built = build(url=build_url, home=backend.base_home, programs=options.programs, say=say)
        result["build"] = {
            "seconds": time.perf_counter() - began,
            "parts": built.seconds,
            "counts": built.counts,
            "inbox_files": built.inbox_files,
        }
        say(
            f"[{name}] built in {result['build']['seconds']:.0f} s: {built.counts}, "
            f"{built.inbox_files} files in the inbox"
        )
        timeout = options.deadline
        variants = [v for v in ("domain", "serve", "workers") if v not in options.skip]
        for variant in variants:
            home, variant_url = backend.copy(variant)
            env = environment(home, variant_url, work / f"prefect-{name}-{variant}")
            say(f"[{name}] {variant}: a day's supervise of every program")
            if variant == "domain":
                ran = run_child("supervise", {"day": DAY.isoformat()}, env, timeout)
                figures = {**ran.figures, "wall": ran.wall, "peak_mb": ran.peak_mb}
            elif variant == "serve":
                figures = through_serve(env, DAY, timeout)
            else:
                server_database = ""
                if name == "postgresql":
                    backend.create(f"{BASE_DATABASE}_prefect")
                    server_database = (
                        make_url(options.postgres)
                        .set(drivername="postgresql+asyncpg", database=f"{BASE_DATABASE}_prefect")
                        .render_as_string(hide_password=False)
                    )
                figures = through_workers(
                    env, DAY, timeout, server_database, work / f"server-{name}"
                )
            figures["check"] = check_supervised(
                home, variant_url, options.programs, built.inbox_files
            )
            result[variant] = figures
            say(f"[{name}] {variant}: {_brief(figures)}")
            if variant != "domain":
                shutil.rmtree(home, ignore_errors=True)
        # (b), (c), (d) on the state the domain run left (the day's reports in).
        home, analysis_url = (work / name / "domain", backend.url(f"{BASE_DATABASE}_domain", work))
        if "domain" in options.skip:
            home, analysis_url = backend.copy("analysis")
        env = environment(home, analysis_url, work / f"prefect-{name}-analysis")
        common = {"day": DAY.isoformat(), "program": "p001", "profile": options.profile}
        say(f"[{name}] flag against a scan")
        ran = run_child("flag", {**common, "times": options.times}, env, timeout)
        result["flag"] = {**ran.figures, "peak_mb": ran.peak_mb}
        say(f"[{name}] the half-year evaluation's PDF against WeasyPrint alone")
        ran = run_child(
            "pdf",
            {**common, "times": max(3, options.times // 2), "folder": str(work / f"pdf-{name}")},
            env,
            timeout,
        )
        result["pdf"] = {**ran.figures, "peak_mb": ran.peak_mb}
        say(f"[{name}] the city report")
        ran = run_child("city", {"folder": str(work / f"city-{name}")}, env, timeout)
        result["city"] = {**ran.figures, "wall": ran.wall, "peak_mb": ran.peak_mb}
        if options.profile and options.programs >= 4:
            say(f"[{name}] profiles of the domain calls and of the supervise flow")
            home, profile_url = backend.copy("profile")
            env = environment(home, profile_url, work / f"prefect-{name}-profile")
            arguments = {"day": DAY.isoformat(), "programs": min(3, options.programs - 3)}
            result["profile"] = run_child("profile", arguments, env, timeout).figures
    finally:
        if name == "postgresql" and not options.keep:
            backend.drop_all()
    result["load_after"] = os.getloadavg()
    return result


def _brief(figures: dict[str, Any]) -> str:
    if "seconds" in figures:
        return (
            f"{figures['seconds']:.1f} s for {figures['programs']} programs, "
            f"{figures['submissions']} submissions, peak {figures['peak_mb']:.0f} MB; "
            f"{figures['check']['problems'] or 'checked'}"
        )
    return (
        f"{figures['state']}: run {figures['run_seconds']:.1f} s, trigger to end "
        f"{figures['trigger_to_end']:.1f} s, {figures['children_completed']}/{figures['children']} "
        f"children, tree peak {figures['tree_peak_mb']:.0f} MB; "
        f"{figures['check']['problems'] or 'checked'}"
    )


def report(results: dict[str, Any]) -> list[str]:
    """The figures and the aims, as lines."""
    lines = [f"machine: {results['machine']}"]
    for name, found in results["backends"].items():
        lines.append(f"== {name} (N={results['programs']}) ==")
        domain = found.get("domain")
        for variant in ("domain", "serve", "workers"):
            if variant not in found:
                continue
            figures = found[variant]
            lines.append(f"  (a) {variant}: {_brief(figures)}")
            if variant != "domain":
                each = figures["child_seconds"] or [float("nan")]
                lines.append(
                    f"      child supervise runs: median {median(each):.2f} s, "
                    f"sum {sum(each):.1f} s"
                    + (
                        f"; domain per program: median {median(domain['per_program']):.2f} s"
                        if domain
                        else ""
                    )
                )
            if domain and variant != "domain":
                lines.append(
                    "      ratio to domain: "
                    f"run {figures['run_seconds'] / domain['seconds']:.2f}×, "
                    f"trigger to end {figures['trigger_to_end'] / domain['seconds']:.2f}× "
                    f"(aim ≤ {AIMS['prefect_ratio']}×)"
                )
        flag = found["flag"]
        lines.append(
            f"  (b) flag {flag['flag_seconds'] * 1000:.0f} ms ({flag['findings']} flags, "
            f"{flag['statements']} statements) / scan {flag['scan_seconds'] * 1000:.1f} ms "
            f"({flag['rows']} rows) = {flag['flag_seconds'] / flag['scan_seconds']:.1f}× "
            f"(aim ≤ {AIMS['flag_ratio']}×); peak {flag['peak_mb']:.0f} MB; plan: {flag['plan']}"
        )
        pdf = found["pdf"]
        lines.append(
            f"  (c) PDF {pdf['product_seconds']:.2f} s (documents.pdf alone "
            f"{pdf['documents_pdf_seconds']:.2f} s, the page {pdf['html_seconds']:.2f} s) / "
            f"WeasyPrint {pdf['weasyprint_seconds']:.2f} s = "
            f"{pdf['product_seconds'] / pdf['weasyprint_seconds']:.2f}× "
            f"(aim ≤ {AIMS['pdf_ratio']}×); {pdf['html_kb']} KB HTML, {pdf['pdf_kb']} KB PDF; "
            f"peak {pdf['peak_mb']:.0f} MB"
        )
        lines.append(f"  (d) city: {found['city']}")
        if "profile" in found:
            profiles = found["profile"]
            lines.append(
                f"  profiled: the domain calls {profiles['domain_seconds_per_program']:.2f} s a "
                f"program, the supervise flow {profiles['flow_seconds']:.2f} s for one"
            )
    return lines


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(sys.argv[2], json.loads(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=100, help="programs in the province (100)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument(
        "--postgres", default=POSTGRES, help="an admin URL of PostgreSQL on 127.0.0.1"
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["domain", "serve", "workers"])
    parser.add_argument("--times", type=int, default=10, help="timed calls of flag (10)")
    parser.add_argument("--deadline", type=float, default=3600, help="seconds any part may take")
    parser.add_argument("--profile", action="store_true", help="cProfile's top functions too")
    parser.add_argument("--results", type=Path, help="write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    if not 1 <= options.programs <= 500:
        parser.error("--programs: 1 to 500")
    if make_url(options.postgres).host not in ("127.0.0.1", "::1"):
        parser.error("--postgres: only a server on 127.0.0.1")
    os.environ.update({"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"})

    def say(line: str) -> None:
        print(f"{datetime.now():%H:%M:%S} {line}", flush=True)

    results: dict[str, Any] = {
        "programs": options.programs,
        "date": date.today().isoformat(),
        "machine": machine(),
        "backends": {},
    }
    work = Path(tempfile.mkdtemp(prefix="province-"))
    try:
        names = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
        for name in names:
            results["backends"][name] = run_backend(name, options, work, say)
            if options.results:
                options.results.write_text(json.dumps(results, indent=1, default=str))
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for line in report(results):
        print(line)
    if options.profile:
        for name, found in results["backends"].items():
            profiles = found.get("profile", {})
            texts = {
                "supervise, domain calls": profiles.get("domain"),
                "supervise, the flow": profiles.get("flow"),
                "flag": found["flag"].get("profile"),
                "PDF": found["pdf"].get("profile"),
            }
            for part, text in texts.items():
                if text:
                    print(f"--- profile: {name}, {part} ---\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
