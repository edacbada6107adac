"""The ``pilot-tracker`` command: parses arguments, calls the library, prints the outcome.

This is an entry point: it reads the settings and the clock and hands them down. An error
becomes one clear line on stderr and the exit code of its class (:func:`fail`, errors.py,
the table in docs/operations.md); usage errors exit 2; a bug exits 70 and names the log
that holds its traceback.

A command imports what it uses: the modules behind Apprise, WeasyPrint, python-docx,
openpyxl, httpx and Prefect are imported inside the commands that need them, and so are
the settings (pydantic), the database (SQLAlchemy, SQLModel) and rich, which prints through
:data:`out` and :data:`err` made on first use; so ``--help`` imports Typer and little else,
and the commands that only read start in a fraction of a second (tests/test_layout.py
holds the lists; benchmarks/cli_startup.py the timings).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer

from pilot_tracker import __version__, errors, logs, telemetry
from pilot_tracker.errors import (
    ConfigurationError,
    PilotTrackerError,
    ProgramFileError,
    Refusal,
    ReportError,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from pilot_tracker.alerts import outbox
    from pilot_tracker.collect import collection
    from pilot_tracker.demo.playthrough import LastDayResult
    from pilot_tracker.ledger import store
    from pilot_tracker.ledger.links import Link
    from pilot_tracker.ledger.program_file import ProgramSpec
    from pilot_tracker.models import ConfirmationStatus
    from pilot_tracker.reports import writing
    from pilot_tracker.settings import Settings
    from pilot_tracker.supervise import workdays

# Before any command can import Prefect (serve, the flows): its telemetry stays off in this
# process and in every process it starts, unless PILOT_TRACKER_PREFECT_TELEMETRY=1.
telemetry.switch_off()

app = typer.Typer(
    name="pilot-tracker",
    help="Supervise youth-development pilot programs: ledger, collection, flags, alerts, "
    "reports.\n\nExample: pilot-tracker init && pilot-tracker program load "
    "examples/programs/xiangshan.yaml",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
program_app = typer.Typer(
    help="The program ledger (台账): load, list, show and export programs.\n\n"
    "Example: pilot-tracker program show xiangshan",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(program_app, name="program")


class LazyConsole:
    """A rich ``Console`` made when a command first prints through it, so that ``--help``
    and a command that fails before printing start without rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The console itself, for rich's own widgets (a progress bar)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out = LazyConsole(highlight=False)
err = LazyConsole(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])

# The options several commands share, declared once.
ProgramOption = Annotated[str, typer.Option("--program", help="The program code.")]
QuarterOption = Annotated[str, typer.Option("--quarter", help="The quarter, e.g. 2021Q1.")]
UnitOption = Annotated[str, typer.Option("--unit", help="The unit code.")]
ReportFolderOption = Annotated[
    Path | None, typer.Option("-o", "--output", help="Folder (default: data home/reports).")
]
NoSendOption = Annotated[bool, typer.Option("--no-send", help="Do not queue delivery.")]
WrittenJsonOption = Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")]
HostOption = Annotated[
    str, typer.Option("--host", help="Address the portal listens on (0.0.0.0: every one).")
]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="The portal's port.")]


def handles_errors(command: F) -> F:
    """Run the command; an error ends it as :func:`fail` says, never with a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except Exception as error:
            raise typer.Exit(fail(error, f"{command.__name__} {kwargs}")) from None

    return wrapper  # type: ignore[return-value]


def fail(error: Exception, doing: str = "pilot-tracker") -> int:
    """Say what went wrong on stderr and give the exit code: the one place the command
    maps the error tree (errors.py) to messages and exit codes (docs/operations.md).

    A domain error is one clear line (a refused file, one more per problem); the operating
    system refusing a file or folder says which; anything else is a bug: one line naming
    the log that holds its traceback and ``doing`` (the command and its arguments).
    """
    if isinstance(error, Refusal):
        print_problems(error)
    elif isinstance(error, PilotTrackerError):
        say_error(str(error))
    elif isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        say_error(f"{where}{error.strerror or error}")
    elif isinstance(error, database_errors()):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        say_error(f"database error: {reason}")
        return errors.EXIT_DATABASE
    else:
        reason = (str(error).strip().splitlines() or [""])[0]
        say_error(
            f"a bug in pilot-tracker: {type(error).__name__}: {reason} "
            f"(the traceback is in {record_bug(error, doing)}; please report it)"
        )
        if os.environ.get("PILOT_TRACKER_DEBUG"):
            traceback.print_exception(error)
    return errors.exit_code(error)


def say_error(message: str) -> None:
    err.print(f"error: {message}", markup=False, soft_wrap=True)


def record_bug(error: Exception, doing: str) -> Path | str:
    """Write the traceback of ``error`` to DATA_HOME/logs/errors.log (or, with no usable
    data home, the temporary folder's pilot-tracker-errors.log); the file written."""
    try:
        from pilot_tracker.settings import Settings

        folder = Settings().home / "logs"
        candidates = [folder / "errors.log"]
    except Exception:  # the settings are wrong too: the bug still leaves its traceback
        candidates = []
    candidates.append(Path(tempfile.gettempdir()) / "pilot-tracker-errors.log")
    for path in candidates:
        try:
            with logs.to_file(path, "pilot_tracker.cli") as written:
                logging.getLogger("pilot_tracker.cli").error("%s failed", doing, exc_info=error)
            return written
        except OSError:
            continue
    return "no log: set PILOT_TRACKER_DEBUG=1 to see it here"


def database_errors() -> type[Exception]:
    """SQLAlchemy's errors; imported when an error is being handled (an ``except`` clause
    is evaluated only then), so that ``--help`` starts without SQLAlchemy."""
    from sqlalchemy.exc import SQLAlchemyError

    return SQLAlchemyError


# --- plumbing -----------------------------------------------------------------------------


def load_settings() -> Settings:
    """The settings from the environment, or a ``ConfigurationError`` naming the variable."""
    from pydantic import ValidationError

    from pilot_tracker.settings import Settings

    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        variable = "PILOT_TRACKER_" + str(first["loc"][0]).upper() if first["loc"] else "?"
        raise ConfigurationError(f"{variable}: {first['msg']}") from None


def open_database(settings: Settings, *, migrate: bool = False) -> Engine:
    """An engine on the configured database, checked to be at the current schema; with
    ``migrate``, a new database may be created."""
    from pilot_tracker import db

    engine = db.make_engine(settings.resolved_database_url, create=migrate)
    if not migrate:
        db.ensure_current(engine)
    return engine


@contextlib.contextmanager
def database_session(settings: Settings) -> Iterator[Session]:
    """A session on the configured database, at the current schema, whose transaction
    commits when the block ends; the engine's connections are closed after it."""
    from pilot_tracker import db

    engine = open_database(settings)
    try:
        with db.session(engine) as session:
            yield session
    finally:
        engine.dispose()


def create_database(settings: Settings) -> tuple[Engine, tuple[str | None, str | None]]:
    """The data home's folders and the database at the current schema (created or
    migrated); the engine, and the schema revisions before and after."""
    from pilot_tracker import db

    for folder in (settings.home, settings.inbox, settings.archive, settings.reports):
        folder.mkdir(parents=True, exist_ok=True)
    engine = open_database(settings, migrate=True)
    return engine, db.migrate(engine)


def now_utc() -> datetime:
    return datetime.now(UTC)


def today_in(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def table(*columns: str) -> Table:
    from rich.table import Table

    grid = Table(header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def row(grid: Table, *values: Any) -> None:
    from rich.text import Text

    grid.add_row(*(Text("" if value is None else str(value)) for value in values))


# --- commands -----------------------------------------------------------------------------


@app.command()
@handles_errors
def init() -> None:
    """Create the data home and create or migrate the database schema. Safe to run again.

    Example: pilot-tracker init
    """
    from pilot_tracker import db

    settings = load_settings()
    engine, (before, after) = create_database(settings)
    if before == after:
        state = f"already at schema revision {after}"
    elif before is None:
        state = f"created at schema revision {after}"
    else:
        state = f"migrated from schema revision {before} to {after}"
    out.print(f"database: {db.redact(str(engine.url))} ({state})", markup=False, soft_wrap=True)
    out.print(f"data home: {settings.home.resolve()}", markup=False, soft_wrap=True)


@program_app.command("load")
@handles_errors
def program_load(
    files: Annotated[
        list[Path],
        typer.Argument(help="Program files (.yaml) or ledger workbooks (.xlsx).", min=1),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show what would change; write nothing.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON, a list with one per file.")
    ] = False,
) -> None:
    """Validate program files whole, then create or update the programs in one transaction.

    Every problem of every file is listed with its place; if any file is invalid, nothing
    is written.

    Example: pilot-tracker program load examples/programs/*.yaml --dry-run
    """
    from pilot_tracker.ledger import store

    settings = load_settings()
    codes: set[str] = set()
    refused = False
    results: list[store.LoadResult] = []
    with contextlib.ExitStack() as opened:
        session: Session | None = None
        reads = opened.enter_context(contextlib.closing(store.read_program_sources(files)))
        # Each program is written as soon as it is read (its file read along in a second
        # process), in the one transaction, which rolls back if any file is refused.
        for file, read in zip(files, reads, strict=True):
            if isinstance(read, ProgramFileError):
                print_problems(read)
                refused = True
                continue
            spec, sha256 = read
            if spec.code in codes:
                err.print(
                    f'error: {file.name}: program "{spec.code}" is in two files', markup=False
                )
                refused = True
            codes.add(spec.code)
            if refused:
                continue  # read on, to list every problem of every file
            if session is None:
                session = opened.enter_context(database_session(settings))
            results.append(
                store.load_program(
                    session=session,
                    spec=spec,
                    source_name=file.name,
                    source_sha256=sha256,
                    now=now_utc(),
                    dry_run=dry_run,
                )
            )
        if refused:
            if session is not None:
                session.rollback()
            err.print("nothing was written", markup=False)
            raise typer.Exit(errors.EXIT_ERROR)
    if as_json:
        emit_json([result.as_dict() for result in results])
        return
    for result in results:
        for line in describe_load(result):
            out.print(line, markup=False, soft_wrap=True)


def print_problems(error: Refusal) -> None:
    """A refused file: one line saying so, then each problem with its place."""
    say_error(str(error))
    for problem in error.problems:
        err.print(f"  {problem}", markup=False, soft_wrap=True)


def describe_load(result: store.LoadResult) -> list[str]:
    """The outcome of a load in a few lines."""
    counts = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in result.counts.items())
    would = "would be " if result.dry_run else ""
    suffix = " (dry run: nothing written)" if result.dry_run else ""
    if result.created:
        return [f"{result.program}: {would}created with {counts}{suffix}"]
    if result.unchanged:
        return [f"{result.program}: unchanged ({counts}); nothing written"]
    lines = [f"{result.program}: {would}updated{suffix}"]
    if result.header_changed:
        lines.append(f"  program: changed {', '.join(result.header_changed)}")
    for name, changes in result.sections.items():
        for verb in ("added", "changed", "removed"):
            codes = getattr(changes, verb)
            if codes:
                lines.append(
                    f"  {name.replace('_', ' ')}: {len(codes)} {verb} ({', '.join(codes)})"
                )
    return lines


@program_app.command("list")
@handles_errors
def program_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the programs as JSON.")] = False,
) -> None:
    """List the loaded programs with the size of each ledger.

    Example: pilot-tracker program list --json
    """
    from pilot_tracker.ledger import store

    with database_session(load_settings()) as session:
        programs = store.list_programs(session=session)
    if as_json:
        emit_json(programs)
        return
    if not programs:
        out.print("no program is loaded yet; load one with `pilot-tracker program load FILE`")
        return
    grid = table("code", "name", "level", "start", "end", "units", "tasks", "indicators")
    for program in programs:
        row(grid, *program.values())
    out.print(grid)


@program_app.command("show")
@handles_errors
def program_show(
    code: Annotated[str, typer.Argument(help="The program code, e.g. xiangshan.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the ledger as JSON.")] = False,
) -> None:
    """Show a program's units, tasks and indicators.

    Example: pilot-tracker program show yinzhou --json
    """
    from pilot_tracker.ledger import store

    with database_session(load_settings()) as session:
        spec = store.read_program(session=session, code=code)
    if as_json:
        emit_json(program_json(spec))
        return
    print_program(spec)


def program_json(spec: ProgramSpec) -> dict[str, Any]:
    """The ledger of a program as ``program show --json`` prints it."""
    document = spec.model_dump(mode="json", by_alias=True)
    document["reporting"] = spec.reporting.model_dump(mode="json")
    return document


def print_program(spec: ProgramSpec) -> None:
    from rich.text import Text

    from pilot_tracker.models import LABELS, IndicatorLevel, ListKind

    unit_names = {unit.code: unit.name for unit in spec.units}
    out.print(Text(f"{spec.name} ({spec.code})", style="bold"))
    out.print(
        f"level {spec.level.value} · {spec.start} to {spec.end} · reporting "
        f"{spec.reporting.cadence.value}, by day {spec.reporting.deadline} · {spec.timezone}",
        markup=False,
    )
    kinds = {kind: sum(task.list_kind is kind for task in spec.tasks) for kind in ListKind}
    out.print(
        f"{len(spec.units)} units · {len(spec.tasks)} tasks ("
        + ", ".join(f"{count} {kind.value}" for kind, count in kinds.items() if count)
        + f") · {len(spec.indicators)} indicators",
        markup=False,
    )
    if spec.mailbox is not None:
        box = spec.mailbox
        out.print(
            f"mailbox: {box.security} {box.user}@{box.host}:{box.effective_port}, reads "
            f"{box.folder}, files into {box.processed} (password from ${box.password_env})",
            markup=False,
        )

    units = table("unit", "name", "leads", "co-leads", "indicators")
    for unit in spec.units:
        row(
            units,
            unit.code,
            unit.name,
            sum(task.lead_unit == unit.code for task in spec.tasks),
            sum(unit.code in task.co_units for task in spec.tasks),
            sum(indicator.owner == unit.code for indicator in spec.indicators),
        )
    out.print(units)

    tasks = table("task", "list", "title", "lead unit", "co-units", "start", "due")
    for task in spec.tasks:
        row(
            tasks,
            task.code,
            LABELS[ListKind][task.list_kind.value],
            task.title,
            unit_names[task.lead_unit],
            "、".join(unit_names[code] for code in task.co_units),
            task.start,
            task.due,
        )
    out.print(tasks)

    if spec.indicators:
        indicators = table("indicator", "level", "name", "baseline", "target", "owner")
        for indicator in spec.indicators:
            row(
                indicators,
                indicator.code,
                LABELS[IndicatorLevel][indicator.level.value],
                indicator.name,
                f"{indicator.baseline.value:g}{indicator.measure} ({indicator.baseline.year})",
                f"{indicator.target.value:g}{indicator.measure} ({indicator.target.year})",
                unit_names[indicator.owner],
            )
        out.print(indicators)


@program_app.command("export")
@handles_errors
def program_export(
    code: Annotated[str, typer.Argument(help="The program code, e.g. xiangshan.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write: a .xlsx ledger or a .yaml file.")
    ],
) -> None:
    """Export a program as a ledger workbook (台账, .xlsx) or a program file (.yaml).

    Either loads back with `program load`.

    Example: pilot-tracker program export xiangshan -o xiangshan-ledger.xlsx
    """
    from pilot_tracker.ledger import store

    with database_session(load_settings()) as session:
        spec = store.read_program(session=session, code=code)
    store.write_program_source(spec, output)
    out.print(f"{code}: written to {output}", markup=False, soft_wrap=True)


# --- cities -------------------------------------------------------------------------------

city_app = typer.Typer(
    help="Cities (团市委) over several pilots: load a city file, list the cities.\n\n"
    "Example: pilot-tracker city load examples/cities/ningbo.yaml",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(city_app, name="city")


@city_app.command("load")
@handles_errors
def city_load(
    files: Annotated[list[Path], typer.Argument(help="City files (.yaml).", min=1)],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome as JSON, a list with one per file.")
    ] = False,
) -> None:
    """Validate city files whole, then create or update the cities in one transaction.

    A city names its pilots by program code; programs may be loaded before or after it.
    If any file is invalid, nothing is written.

    Example: pilot-tracker city load examples/cities/ningbo.yaml
    """
    from pilot_tracker.ledger import cities

    settings = load_settings()
    sources = []
    refused = False
    for file in files:
        try:
            sources.append((file, *cities.read_city_source(file)))
        except ProgramFileError as error:
            print_problems(error)
            refused = True
    if refused:
        err.print("nothing was written", markup=False)
        raise typer.Exit(errors.EXIT_ERROR)
    with database_session(settings) as session:
        results = [
            cities.load_city(
                session=session, spec=spec, source_name=file.name, source_sha256=sha, now=now_utc()
            )
            for file, spec, sha in sources
        ]
    if as_json:
        emit_json([result.as_dict() for result in results])
        return
    for result in results:
        verb = "created" if result.created else "unchanged" if result.unchanged else "updated"
        line = (
            f"{result.city}: {verb}, {len(result.programs)} pilots ({', '.join(result.programs)})"
        )
        out.print(line, markup=False, soft_wrap=True)
        if result.missing:
            out.print(
                f"  not loaded yet: {', '.join(result.missing)}; load them with "
                "`pilot-tracker program load FILE`",
                markup=False,
                soft_wrap=True,
            )


@city_app.command("list")
@handles_errors
def city_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the cities as JSON.")] = False,
) -> None:
    """List the loaded cities with their pilots.

    Example: pilot-tracker city list
    """
    from pilot_tracker.ledger import cities

    with database_session(load_settings()) as session:
        rows = cities.list_cities(session=session)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print("no city is loaded yet; load one with `pilot-tracker city load FILE`")
        return
    grid = table("code", "name", "office", "pilots", "not loaded")
    for city in rows:
        row(
            grid,
            city["code"],
            city["name"],
            city["office"],
            ", ".join(city["programs"]),
            ", ".join(city["missing"]),
        )
    out.print(grid)


@city_app.command("bulletins")
@handles_errors
def city_bulletins(
    city: Annotated[str, typer.Option("--city", help="The city code, e.g. ningbo.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the issues as JSON.")] = False,
) -> None:
    """List the register of a city's work bulletin (工作简报): each issue written here, its
    period, 第N期, 总第M期 and date.

    Example: pilot-tracker city bulletins --city ningbo
    """
    from pilot_tracker.reports import bulletin

    with database_session(load_settings()) as session:
        issues = bulletin.register(session=session, city=city)
    if as_json:
        emit_json(issues)
        return
    if not issues:
        out.print(
            f"{city}: no bulletin written yet; write one with `pilot-tracker report bulletin "
            f"--city {city} --half 2021H1`",
            markup=False,
            soft_wrap=True,
        )
        return
    grid = table("period", "number", "total", "issued on")
    for issue in issues:
        row(
            grid,
            issue["period"],
            f"第{issue['number']}期",
            f"总第{issue['total']}期",
            issue["issued_on"],
        )
    out.print(grid)


# --- the districts' accounts of their practice ----------------------------------------------

practice_app = typer.Typer(
    help="A district office's account of its practice (经验做法) for a quarter or half year, "
    "printed as it is sent in the city's work bulletin: load, list, remove.\n\n"
    "Example: pilot-tracker practice load --program haishu --half 2021H1 haishu.md",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(practice_app, name="practice")

HalfOption = Annotated[str | None, typer.Option("--half", help="The half year, e.g. 2021H1.")]
OrQuarterOption = Annotated[
    str | None, typer.Option("--quarter", help="Or the quarter, e.g. 2021Q2.")
]


def one_period(half: str | None, quarter: str | None) -> str:
    """The one period given as --half or --quarter."""
    if (half is None) == (quarter is None):
        raise ReportError(
            "give the period as one of --half (e.g. 2021H1) or --quarter (e.g. 2021Q2)"
        )
    from pilot_tracker import periods

    return periods.quarter_or_half(half or quarter or "")


@practice_app.command("load")
@handles_errors
def practice_load(
    program: ProgramOption,
    file: Annotated[
        Path, typer.Argument(help="The account: a text or Markdown file (UTF-8 or GBK).")
    ],
    half: HalfOption = None,
    quarter: OrQuarterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Load a district office's account of its practice for a period, replacing the one it
    had. One paragraph a line; a first line "# …" is the article's headline; "**…**" at a
    paragraph's start is its lead-in. Refused whole, with the line of each problem.

    Example: pilot-tracker practice load --program haishu --half 2021H1 haishu-2021H1.md
    """
    from pilot_tracker.ledger import practice

    period = one_period(half, quarter)
    try:
        text = practice.read_account_file(file)
    except errors.PracticeFileError as error:
        print_problems(error)
        err.print("nothing was written", markup=False)
        raise typer.Exit(errors.EXIT_ERROR) from None
    with database_session(load_settings()) as session:
        result = practice.load_account(
            session=session,
            program=program,
            period=period,
            text=text,
            source_name=file.name,
            now=now_utc(),
        )
    if as_json:
        emit_json(result.as_dict())
        return
    verb = "loaded" if result.created else "unchanged" if result.unchanged else "replaced"
    out.print(
        f"{program} {period}: {verb}, {result.paragraphs} paragraphs"
        + (f", headline {result.title}" if result.title else ", no headline (# …)"),
        markup=False,
        soft_wrap=True,
    )


@practice_app.command("list")
@handles_errors
def practice_list(
    city: Annotated[str, typer.Option("--city", help="The city code, e.g. ningbo.")],
    half: HalfOption = None,
    quarter: OrQuarterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List which of a city's pilots sent an account of their practice for a period, and
    which did not.

    Example: pilot-tracker practice list --city ningbo --half 2021H1
    """
    from pilot_tracker.ledger import cities, practice

    period = one_period(half, quarter)
    with database_session(load_settings()) as session:
        codes = cities.read_city(session=session, code=city).programs
        found = practice.accounts(session=session, programs=codes, period=period)
    rows = [
        {
            "program": code,
            "sent": code in found,
            "title": found[code].title if code in found else "",
            "file": found[code].source_name if code in found else "",
        }
        for code in codes
    ]
    if as_json:
        emit_json(rows)
        return
    grid = table("program", "account", "headline", "file")
    for item in rows:
        row(grid, item["program"], "sent" if item["sent"] else "none", item["title"], item["file"])
    out.print(grid)


@practice_app.command("remove")
@handles_errors
def practice_remove(
    program: ProgramOption,
    half: HalfOption = None,
    quarter: OrQuarterOption = None,
) -> None:
    """Withdraw a district's account of its practice for a period.

    Example: pilot-tracker practice remove --program haishu --half 2021H1
    """
    from pilot_tracker.ledger import practice

    period = one_period(half, quarter)
    with database_session(load_settings()) as session:
        practice.remove_account(session=session, program=program, period=period)
    out.print(f"{program} {period}: account removed", markup=False)


@app.command()
@handles_errors
def template(
    program: ProgramOption,
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="The .xlsx to write; with --all-units, a folder for them all."
        ),
    ],
    unit: Annotated[
        str | None, typer.Option("--unit", help="The unit code whose workbook to write.")
    ] = None,
    all_units: Annotated[
        bool, typer.Option("--all-units", help="Write one workbook per unit into the -o folder.")
    ] = False,
) -> None:
    """Write a unit's submission workbook (填报表): its tasks and indicators, prefilled.

    Example: pilot-tracker template --program xiangshan --unit jyj -o jyj.xlsx
    """
    from pilot_tracker.collect.submission_workbook import find_unit, write_submission_template
    from pilot_tracker.ledger import store

    if (unit is None) == (not all_units):
        raise typer.BadParameter("give either --unit CODE or --all-units")
    with database_session(load_settings()) as session:
        spec = store.read_program(session=session, code=program)
    today = today_in(spec.timezone)
    if unit is not None:
        find_unit(spec, unit)
        if output.suffix.lower() != ".xlsx":
            raise ConfigurationError(f'"{output.name}" must end in .xlsx')
        count = write_submission_template(spec, unit, output, generated_on=today)
        out.print(f"{program}/{unit}: {count} tasks, written to {output}", markup=False)
        return
    output.mkdir(parents=True, exist_ok=True)
    for each in spec.units:
        # Unit codes are validated as [A-Za-z0-9][A-Za-z0-9_.-]*, so they are safe file names.
        path = output / f"{spec.code}-{each.code}.xlsx"
        write_submission_template(spec, each.code, path, generated_on=today)
    out.print(f"{program}: {len(spec.units)} workbooks written to {output}", markup=False)


def parse_day_option(value: str | None, zone: str) -> date:
    """``--as-of``: a date as 2021-03-31, or today in the program's time zone."""
    if value is None:
        return today_in(zone)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f'"{value}" is not a date; write it as 2021-03-31') from None


def program_timezone(engine: Engine, code: str) -> str:
    from pilot_tracker import db
    from pilot_tracker.ledger import store

    with db.session(engine) as session:
        return store.get_program(session=session, code=code).timezone


def message_templates(settings: Settings) -> outbox.Templates:
    """The message templates, with the issuer of the units' links the messages carry."""
    from pilot_tracker.alerts import outbox

    if not (settings.templates / "alerts").is_dir():
        raise ConfigurationError(
            f"no message templates in {settings.templates}; set PILOT_TRACKER_TEMPLATES "
            "to the project's templates/ folder"
        )
    return outbox.Templates(settings.templates, links=settings.link_issuer())


@app.command()
@handles_errors
def collect(
    program: ProgramOption,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The day to collect for (default: today).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the import summary as JSON.")
    ] = False,
) -> None:
    """Pull every unit's sources once and take in what they sent.

    Rejected rows are reported, not fatal: the exit code is 0 unless the run itself failed,
    or 70 when a payload could not be taken in (a fault of pilot-tracker, not of the file:
    the file is archived and recorded as rejected, the traceback is in
    DATA_HOME/logs/collect.log).

    Example: pilot-tracker collect --program xiangshan --as-of 2021-03-26
    """
    from pilot_tracker.collect import collection
    from pilot_tracker.collect.reader import ReaderProcess

    settings = load_settings()
    engine = open_database(settings)
    day = parse_day_option(as_of, program_timezone(engine, program))
    with (
        logs.to_file(settings.home / "logs" / "collect.log") as log_file,
        ReaderProcess() as reader,
    ):
        result = collection.collect(
            engine=engine,
            program=program,
            as_of=day,
            now=now_utc(),
            home=settings.home,
            environ=os.environ,
            templates=message_templates(settings),
            inbox_wait=timedelta(minutes=settings.inbox_wait_minutes),
            reader=reader,
        )
    if as_json:
        emit_json(result.as_dict())
    else:
        print_collection(result)
    if result.errors:
        err.print(
            f"error: {len(result.errors)} payload(s) or source(s) could not be taken in, a "
            f"fault of pilot-tracker rather than of the units; see the traceback in {log_file}",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(errors.EXIT_BUG)


@app.command()
@handles_errors
def supervise(
    program: Annotated[
        str | None, typer.Option("--program", help="The program code (or --all-programs).")
    ] = None,
    all_programs: Annotated[
        bool,
        typer.Option(
            "--all-programs", help="Every program whose period holds its day, one after another."
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The day to supervise for (default: each program's today, on working days).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each program's day as JSON.")
    ] = False,
) -> None:
    """Collect, flag and escalate for a program, or for every program, in this one
    process, as the supervise flow does; the notices are queued (send them with
    `pilot-tracker alerts send`).

    Each program stands alone: one that fails is put on record (`pilot-tracker status`
    names it, with the reason) and the others go on; the exit code is then 1 (70 for a
    fault of pilot-tracker, its traceback in DATA_HOME/logs/supervise.log).

    Example: pilot-tracker supervise --all-programs --as-of 2021-04-06
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from pilot_tracker import runs
    from pilot_tracker.collect.reader import ReaderProcess
    from pilot_tracker.supervise import day as supervised

    if (program is None) == (not all_programs):
        raise typer.BadParameter("name one program with --program, or use --all-programs")
    day = None if as_of is None else parse_day_option(as_of, "UTC")
    settings = load_settings()
    engine = open_database(settings)
    templates = message_templates(settings)
    if program is not None:
        program_timezone(engine, program)  # a program that is not loaded is said at once
        programs = [program]
    else:
        programs = runs.supervised_programs(engine=engine, now=now_utc(), as_of=day)
    done: list[dict[str, Any]] = []
    failed: list[str] = []
    bugs = 0
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err.console,
        transient=True,
        disable=as_json or not err.is_terminal,
    )
    log_path = settings.home / "logs" / "supervise.log"
    with logs.to_file(log_path) as log_file, progress, ReaderProcess() as reader:
        job = progress.add_task("supervising", total=len(programs))
        for code in programs:
            progress.update(job, description=f"supervising {code}")
            try:
                result = supervised.supervise(
                    engine=engine,
                    program=code,
                    as_of=day,
                    clock=now_utc,
                    home=settings.home,
                    environ=os.environ,
                    templates=templates,
                    warn_from=settings.calendar_warning_day,
                    inbox_wait=timedelta(minutes=settings.inbox_wait_minutes),
                    reader=reader,
                )
            except Exception as error:  # the program's failure; the others go on
                if not isinstance(error, PilotTrackerError):
                    bugs += 1
                    logging.getLogger("pilot_tracker").error(
                        "supervise %s failed", code, exc_info=error
                    )
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                reason = reason or type(error).__name__
                supervised.record_failure(
                    engine=engine, program=code, as_of=day, now=now_utc(), error=reason
                )
                failed.append(code)
                done.append({"program": code, "failed": reason})
                if not as_json:
                    out.print(f"{code}: failed: {reason}", markup=False, soft_wrap=True)
            else:
                bugs += bool(result.errors)
                done.append(result.as_dict())
                if not as_json:
                    out.print(supervised_line(result), markup=False, soft_wrap=True)
            progress.advance(job)
    if as_json:
        emit_json({"programs": done})
    elif not programs:
        out.print("no program's period holds the day: nothing to supervise", markup=False)
    if failed:
        others = "; the others completed" if len(failed) < len(programs) else ""
        traceback_at = f"; a fault of pilot-tracker's traceback is in {log_file}" if bugs else ""
        err.print(
            f"error: supervise failed for {len(failed)} of {len(programs)} programs: "
            f"{', '.join(failed)}{others} (`pilot-tracker status` shows each failure and its "
            f"reason{traceback_at})",
            markup=False,
            soft_wrap=True,
        )
    elif bugs:
        err.print(
            "error: a payload or source could not be taken in, a fault of pilot-tracker "
            f"rather than of the units; see the traceback in {log_file}",
            markup=False,
            soft_wrap=True,
        )
    if bugs:
        raise typer.Exit(errors.EXIT_BUG)
    if failed:
        raise typer.Exit(errors.EXIT_ERROR)


def supervised_line(result: Any) -> str:
    """One program's supervised day, in one line."""
    if result.skipped:
        return f"{result.program} {result.day}: skipped ({result.skipped})"
    parts = [
        f"{result.submissions} submissions",
        f"{result.flags} flags",
        f"{result.moved} escalations moved",
    ]
    if result.unavailable:
        down = [f"{item['unit']} ({item['source']})" for item in result.unavailable]
        parts.append(f"unavailable: {', '.join(down)}")
    if result.errors:
        parts.append(f"{result.errors} not taken in (a fault of pilot-tracker)")
    return f"{result.program} {result.day}: " + ", ".join(parts)


def print_collection(result: collection.CollectionResult) -> None:
    out.print(f"{result.program}: collection as of {result.as_of}", markup=False)
    if result.submissions:
        grid = table(
            "unit", "source", "file", "status", "imported", "updated", "ignored", "rejected"
        )
        for s in result.submissions:
            row(
                grid,
                s.unit,
                s.source,
                s.file,
                s.status,
                s.imported,
                s.updated,
                s.ignored,
                s.rejected,
            )
        out.print(grid)
    else:
        out.print("nothing new in any source", markup=False)
    for s in result.submissions:
        for line in s.rejections:
            where = " ".join(
                part
                for part in (
                    line.sheet,
                    f"row {line.row}" if line.row else "",
                    line.column,
                )
                if part
            )
            shown = f' "{line.value}"' if line.value else ""
            out.print(
                f"  {s.unit} {s.file}: {where}{shown}: {line.reason}", markup=False, soft_wrap=True
            )
    for s in result.submissions:
        for note in s.notes:
            out.print(f"  {s.unit} {s.file}: {note}", markup=False, soft_wrap=True)
    for item in result.unavailable:
        out.print(
            f"unavailable: {item.unit} ({item.source}): {item.error}", markup=False, soft_wrap=True
        )
    for line in result.error_lines():
        out.print(line, markup=False, soft_wrap=True)
    for item in result.waiting:
        out.print(
            f"left for the next run: {item['unit']}/{item['file']} ({item['reason']})",
            markup=False,
            soft_wrap=True,
        )
    for left in result.not_taken:
        out.print(f"not taken: {left.path}: {left.reason}", markup=False, soft_wrap=True)
    for line in result.mail:
        out.print(line, markup=False, soft_wrap=True)
    if result.mailbox_error is not None:
        out.print(
            f"mailbox unavailable: {result.mailbox_error}; its mail stays there for the next "
            "run, and no unit is flagged on this run's evidence",
            markup=False,
            soft_wrap=True,
        )


@app.command("progress")
@handles_errors
def progress_command(
    program: ProgramOption,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit's tasks.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The day to look at (default: today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the progress as JSON.")] = False,
) -> None:
    """Show where each task stands as of a day: the latest report per task and unit.

    Example: pilot-tracker progress --program xiangshan --unit jyj --as-of 2021-03-31
    """
    from pilot_tracker import db
    from pilot_tracker.supervise import progress

    engine = open_database(load_settings())
    day = parse_day_option(as_of, program_timezone(engine, program))
    with db.session(engine) as session:
        rows = progress.progress(session=session, program=program, as_of=day, unit=unit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print(f"{program}: no reports as of {day}", markup=False)
        return
    grid = table("task", "unit", "period", "status", "percent", "reported", "submission")
    for item in rows:
        row(
            grid,
            item["task"],
            item["unit"],
            item["period"],
            item["status"],
            f"{item['percent']:g}",
            item["reported_at"],
            item["submission"][:12],
        )
    out.print(grid)


@app.command()
@handles_errors
def simulate(
    program: ProgramOption,
    until: Annotated[str, typer.Option("--until", help="The last day of submissions to write.")],
    since: Annotated[
        str | None, typer.Option("--since", help="Write only what was sent after this day.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Another seed, other submissions.")] = 2021,
) -> None:
    """Write into the inbox the demo submissions the program's units would send.

    Most units on time and on track, some late or behind plan, a few messy files, one
    unit silent. For trying pilot-tracker out; never run it against a live program.

    Example: pilot-tracker simulate --program xiangshan --until 2021-03-31
    """
    from pilot_tracker.demo import submissions
    from pilot_tracker.ledger import store

    settings = load_settings()
    with database_session(settings) as session:
        spec = store.read_program(session=session, code=program)
    first = parse_day_option(since, spec.timezone) if since else None
    landed = submissions.deliver(
        spec=spec, inbox=settings.inbox, since=first, until=parse_day_option(until, spec.timezone)
    )
    out.print(
        f"{program}: {len(landed.written)} files written to {settings.inbox / program}",
        markup=False,
        soft_wrap=True,
    )
    if landed.http:
        out.print(
            f"HTTP sources would answer for: {', '.join(sorted(landed.http))}"
            + (f" (down: {', '.join(landed.down)})" if landed.down else ""),
            markup=False,
        )


escalation_app = typer.Typer(
    help="The escalation ladder (督办): list escalations, close one with its outcome.\n\n"
    "Example: pilot-tracker escalation list --program xiangshan",
    no_args_is_help=True,
    rich_markup_mode=None,
)
alerts_app = typer.Typer(
    help="The notification outbox: send what is due, list what is there.\n\n"
    "Example: pilot-tracker alerts send",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(escalation_app, name="escalation")
app.add_typer(alerts_app, name="alerts")


@app.command()
@handles_errors
def flag(
    program: ProgramOption,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The day to flag for (default: today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the flags as JSON.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the flags of that day, any day, and write nothing: no flags, no "
            "escalations, no notices.",
        ),
    ] = False,
) -> None:
    """Run the lag rules, move units on the escalation ladder, queue the notices.

    A day before the latest one on record is refused (it would rewrite later
    escalations); --dry-run shows what that day's flags would be.

    Example: pilot-tracker flag --program xiangshan --as-of 2021-04-06
    """
    from pilot_tracker import db
    from pilot_tracker.supervise import escalation, flags

    settings = load_settings()
    engine = open_database(settings)
    day = parse_day_option(as_of, program_timezone(engine, program))
    if dry_run:
        with db.session(engine) as session:
            preview = flags.preview(session=session, program=program, as_of=day)
        _print_flags(program, day, preview.calendar, preview.findings, as_json, dry_run=True)
        return
    with db.session(engine) as session:
        flagged, changes = flags.flag_and_escalate(
            session=session,
            program=program,
            as_of=day,
            now=now_utc(),
            templates=message_templates(settings),
            home=settings.home,
        )
        listed = escalation.list_escalations(
            session=session, program=flagged.program, spec=flagged.spec, as_of=day
        )
        shown = [
            item for item in listed if item["status"] == "open" or item["closed"] == day.isoformat()
        ]
        moved = [
            (change.change, escalation.escalation_dict(change.escalation, change.unit))
            for change in changes
        ]
    if as_json:
        emit_json(
            {
                "as_of": day.isoformat(),
                "program": program,
                "calendar": flagged.calendar,
                "flags": [flags.finding_dict(finding) for finding in flagged.findings],
                "escalations": shown,
            }
        )
        return
    _print_flags(program, day, flagged.calendar, flagged.findings, as_json=False)
    for what, item in moved:
        out.print(
            f"escalation {item['id']} {what}: {item['unit']} at {item['level']}", markup=False
        )


def _print_flags(
    program: str,
    day: date,
    calendar: str,
    findings: list[Any],
    as_json: bool,
    dry_run: bool = False,
) -> None:
    from pilot_tracker.supervise import flags

    if as_json:
        emit_json(
            {
                "as_of": day.isoformat(),
                "program": program,
                "calendar": calendar,
                "dry_run": dry_run,
                "flags": [flags.finding_dict(finding) for finding in findings],
            }
        )
        return
    out.print(
        f"{program}: {len(findings)} flags as of {day} (calendar: {calendar})"
        + (" (dry run: nothing was written)" if dry_run else ""),
        markup=False,
        soft_wrap=True,
    )
    if findings:
        grid = table("unit", "severity", "rule", "task / indicator", "finding")
        for finding in findings:
            row(
                grid,
                finding.unit,
                finding.severity.value,
                finding.rule,
                finding.task or finding.indicator or "",
                finding.message,
            )
        out.print(grid)


@escalation_app.command("list")
@handles_errors
def escalation_list(
    program: ProgramOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the escalations as JSON.")] = False,
) -> None:
    """List the escalations of a program, open and closed.

    An urge or interview notice the unit's head has not acknowledged (签收) through its
    link within the program's acknowledge_within_workdays (3) working days shows as
    "unacknowledged since" the day after. With --json, each escalation also carries who
    closed it on the board (closed_by) and the interviews (约谈) recorded there.

    Example: pilot-tracker escalation list --program xiangshan --json
    """
    from pilot_tracker.ledger import store
    from pilot_tracker.supervise import escalation

    with database_session(load_settings()) as session:
        record = store.get_program(session=session, code=program)
        items = escalation.list_escalations(
            session=session,
            program=record,
            spec=store.read_program(session=session, code=program),
            as_of=today_in(record.timezone),
        )
    if as_json:
        emit_json(items)
        return
    if not items:
        out.print(f"{program}: no escalations", markup=False)
        return
    grid = table("id", "unit", "level", "status", "opened", "closed", "acknowledged")
    for item in items:
        row(
            grid,
            *(item[key] for key in ("id", "unit", "level", "status", "opened", "closed")),
            receipt_text(item),
        )
    out.print(grid)


def receipt_text(item: dict[str, Any]) -> str:
    """An escalation's 签收 as the table shows it."""
    if item["notice"] is None:
        return ""
    if item["acknowledged_on"]:
        late = " (late)" if item["acknowledged_on"] > item["acknowledge_by"] else ""
        return f"{item['notice']} acknowledged {item['acknowledged_on']}{late}"
    if item["unacknowledged_since"]:
        return f"{item['notice']} unacknowledged since {item['unacknowledged_since']}"
    return f"{item['notice']} due by {item['acknowledge_by']}"


@escalation_app.command("close")
@handles_errors
def escalation_close(
    escalation_id: Annotated[int, typer.Argument(help="The escalation's id (see `list`).")],
    outcome: Annotated[str, typer.Option("--outcome", help="What came of it.")],
    on: Annotated[
        str | None, typer.Option("--on", help="The day it closed (default: today).")
    ] = None,
) -> None:
    """Close an escalation by hand and record its outcome, e.g. after the interview.

    Example: pilot-tracker escalation close 12 --outcome "已约谈主要负责人，明确整改时限"
    """
    from pilot_tracker import db
    from pilot_tracker.supervise import escalation

    settings = load_settings()
    engine = open_database(settings)
    day = parse_day_option(on, settings.timezone)
    with db.session(engine) as session:
        item = escalation.close(
            session=session, escalation_id=escalation_id, outcome=outcome, on=day
        )
    out.print(
        f"escalation {item['id']} ({item['unit']}, {item['level']}) closed on {day}", markup=False
    )


@alerts_app.command("send")
@handles_errors
def alerts_send(
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Deliver every pending message now, whatever its backoff, through Apprise.

    Addresses come from the Apprise file named by PILOT_TRACKER_APPRISE_CONFIG
    (e.g. export PILOT_TRACKER_APPRISE_CONFIG=apprise.yml).

    Example: pilot-tracker alerts send --json
    """
    from pilot_tracker.alerts import delivery  # imports Apprise

    settings = load_settings()
    if settings.apprise_config is None:
        raise ConfigurationError(
            "PILOT_TRACKER_APPRISE_CONFIG is not set; point it at an Apprise YAML file "
            "whose urls are tagged unit:<code>, role:liaison / role:head / role:office"
        )
    engine = open_database(settings)
    result = delivery.send(
        engine=engine,
        targets=delivery.load_targets(settings.apprise_config),
        templates=message_templates(settings),
        home=settings.home,
        now=now_utc,
        force=True,
    )
    if as_json:
        emit_json(result.as_dict())
        return
    counts = result.as_dict()
    out.print(", ".join(f"{value} {name}" for name, value in counts.items()), markup=False)
    for error in result.errors:
        out.print(f"  {error}", markup=False, soft_wrap=True)


@alerts_app.command("list")
@handles_errors
def alerts_list(
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only pending, sent, failed or merged (into a digest)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the messages as JSON.")] = False,
) -> None:
    """List the messages in the outbox, with their status, attempts and last error.

    Example: pilot-tracker alerts list --status failed
    """
    from pilot_tracker.alerts import delivery

    if status is not None and status not in ("pending", "sent", "failed", "merged"):
        raise typer.BadParameter("--status is pending, sent, failed or merged")
    with database_session(load_settings()) as session:
        items = delivery.list_notifications(session=session, status=status)
    if as_json:
        emit_json(items)
        return
    if not items:
        out.print(
            "the outbox is empty" if status is None else f"no {status} messages", markup=False
        )
        return
    grid = table("id", "target", "subject", "status", "attempts", "last error")
    for item in items:
        row(
            grid,
            item["id"],
            item["target"],
            item["subject"],
            item["status"],
            item["attempts"],
            item["last_error"],
        )
    out.print(grid)


@alerts_app.command("show")
@handles_errors
def alerts_show(
    notification_id: Annotated[int, typer.Argument(help="The message's id (see `list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the message as JSON.")] = False,
) -> None:
    """Show one message whole: subject, body, status and last error.

    Example: pilot-tracker alerts show 12
    """
    from pilot_tracker.alerts import delivery

    with database_session(load_settings()) as session:
        item = delivery.show_notification(session=session, notification_id=notification_id)
    if as_json:
        emit_json(item)
        return
    out.print(f"#{item['id']} to {item['target']} ({item['status']})", markup=False)
    out.print(item["subject"], markup=False, soft_wrap=True)
    out.print("", markup=False)
    out.print(item["body"], markup=False, soft_wrap=True)


report_app = typer.Typer(
    help="Reports: the quarterly reconciliation (季度对账), the half-year evaluation (半年度评估), "
    "the annual blue book (青年发展蓝皮书), a city's roll-up over its pilots (试点汇总).\n\n"
    "Example: pilot-tracker report half-year --program yinzhou --half 2021H1",
    no_args_is_help=True,
    rich_markup_mode=None,
)
reconcile_app = typer.Typer(
    help="A unit's answer to its quarterly statement (对账单): confirm or dispute for a unit, "
    "list the answers (units answer through their links too).\n\n"
    "Example: pilot-tracker reconcile confirm --program xiangshan --quarter 2021Q1 --unit jyj",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(report_app, name="report")
app.add_typer(reconcile_app, name="reconcile")


def print_written(written: writing.Written, as_json: bool) -> None:
    if as_json:
        emit_json(written.as_dict())
    else:
        for kind, path in written.files.items():
            out.print(f"{kind}: {path}", markup=False, soft_wrap=True)
        if written.statements:
            out.print(f"statements: {len(written.statements)} in {written.folder}", markup=False)
        out.print(f"queued for delivery: {written.queued} messages", markup=False)
    for problem in written.problems:
        err.print(f"warning: {problem}", markup=False, soft_wrap=True)
    if written.problems:
        raise typer.Exit(errors.EXIT_ERROR)


def report_folder(settings: Settings, program: str, period: str, output: Path | None) -> Path:
    # Program codes and periods are validated, so they are safe in a path.
    return output if output is not None else settings.reports / program / period


@report_app.command("quarterly")
@handles_errors
def report_quarterly(
    program: ProgramOption,
    quarter: QuarterOption,
    output: ReportFolderOption = None,
    no_send: NoSendOption = False,
    as_json: WrittenJsonOption = False,
) -> None:
    """Write the quarterly reconciliation: the office summary and each unit's statement.

    Example: pilot-tracker report quarterly --program xiangshan --quarter 2021Q1
    """
    from pilot_tracker.reports import figures

    write_report("quarterly", program, figures.parse_quarter(quarter), output, no_send, as_json)


def write_report(
    kind: str, program: str, period: str, output: Path | None, no_send: bool, as_json: bool
) -> None:
    from pilot_tracker.reports import writing  # openpyxl, python-docx; WeasyPrint for the PDF

    settings = load_settings()
    with database_session(settings) as session:
        written = writing.write(
            session=session,
            kind=kind,
            program=program,
            period=period,
            folder=report_folder(settings, program, period, output),
            home=settings.home,
            templates=settings.templates,
            now=now_utc(),
            send=not no_send,
            links=settings.link_issuer(),
        )
    print_written(written, as_json)


@report_app.command("half-year")
@handles_errors
def report_half_year(
    program: ProgramOption,
    half: Annotated[str, typer.Option("--half", help="The half year, e.g. 2021H1.")],
    output: ReportFolderOption = None,
    no_send: NoSendOption = False,
    as_json: WrittenJsonOption = False,
) -> None:
    """Write the half-year evaluation as HTML, PDF, XLSX and DOCX.

    Example: pilot-tracker report half-year --program yinzhou --half 2021H1 -o reports/
    """
    from pilot_tracker.reports import figures

    write_report("half_year", program, figures.parse_half(half), output, no_send, as_json)


@report_app.command("annual")
@handles_errors
def report_annual(
    program: ProgramOption,
    year: Annotated[str, typer.Option("--year", help="The year, e.g. 2021.")],
    output: ReportFolderOption = None,
    no_send: NoSendOption = False,
    as_json: WrittenJsonOption = False,
) -> None:
    """Write the annual blue book (青年发展蓝皮书) of a program as HTML, PDF and DOCX: its
    indicators with the year's readings and charts, the year's tasks and key projects.
    Written again, it replaces the year's files and record; it is sent once a year.

    Example: pilot-tracker report annual --program yinzhou --year 2021 -o reports/
    """
    from pilot_tracker.reports import blue_book

    write_report("annual", program, blue_book.parse_year(year), output, no_send, as_json)


@report_app.command("city")
@handles_errors
def report_city(
    city: Annotated[str, typer.Option("--city", help="The city code, e.g. ningbo.")],
    half: Annotated[str | None, typer.Option("--half", help="The half year, e.g. 2021H1.")] = None,
    quarter: Annotated[
        str | None, typer.Option("--quarter", help="Or the quarter, e.g. 2021Q2.")
    ] = None,
    output: ReportFolderOption = None,
    no_send: NoSendOption = False,
    as_json: WrittenJsonOption = False,
) -> None:
    """Write a city's roll-up over its pilots (试点汇总) as HTML, PDF, XLSX and DOCX.

    One section per pilot and the comparison across them, with a ranking whose method is
    stated; it goes to the city league (city:CODE role:city, role:leader) and each pilot's
    office. Files go to DATA_HOME/reports/cities/CODE/PERIOD unless -o says otherwise.

    Example: pilot-tracker report city --city ningbo --half 2021H1
    """
    from pilot_tracker.reports import city as city_report  # openpyxl, python-docx, WeasyPrint

    period = one_period(half, quarter)
    written = write_city_document(city_report.write, city, period, output, no_send)
    if not as_json:
        print_left_out(written.absent)
    print_written(written, as_json)


def write_city_document(
    write: Callable[..., Any],
    city: str,
    period: str,
    output: Path | None,
    no_send: bool,
    **given: Any,
) -> Any:
    """A city's document for a period, written by ``write`` (the roll-up's or the
    bulletin's) into DATA_HOME/reports/cities/CITY/PERIOD unless -o says otherwise."""
    settings = load_settings()
    with database_session(settings) as session:
        return write(
            session=session,
            city=city,
            period=period,
            # Checked against the loaded cities before anything is written there.
            folder=output or settings.reports / "cities" / city / period,
            home=settings.home,
            templates=settings.templates,
            now=now_utc(),
            send=not no_send,
            **given,
        )


def print_left_out(absent: list[Any]) -> None:
    for pilot in absent:
        out.print(f"left out: {pilot.code} ({pilot.why})", markup=False, soft_wrap=True)


@report_app.command("bulletin")
@handles_errors
def report_bulletin(
    city: Annotated[str, typer.Option("--city", help="The city code, e.g. ningbo.")],
    half: HalfOption = None,
    quarter: OrQuarterOption = None,
    number: Annotated[
        int | None,
        typer.Option("--number", help="This issue's number in its year (第N期), if not the next."),
    ] = None,
    total: Annotated[
        int | None,
        typer.Option(
            "--total", help="This issue's number over the run (总第M期), if not the next."
        ),
    ] = None,
    output: ReportFolderOption = None,
    no_send: NoSendOption = False,
    as_json: WrittenJsonOption = False,
) -> None:
    """Write a city's work bulletin (工作简报) for a period in Word and PDF (and HTML).

    The masthead from the city file's bulletin: section; 第N期 and 总第M期 from the city's
    register (a period written again keeps its numbers; the next takes the next ones); one
    article per district pilot with its figures (those of `report city`) and its office's
    account of its practice as loaded (`pilot-tracker practice load`); 分送, 责任编辑 and the
    印发 date. Sent to the city league (city:CODE role:city, role:leader) and each pilot's
    office. Files go to DATA_HOME/reports/cities/CODE/PERIOD unless -o says otherwise.

    Example: pilot-tracker report bulletin --city ningbo --half 2021H1
    """
    from pilot_tracker.reports import bulletin  # python-docx, WeasyPrint

    period = one_period(half, quarter)
    written = write_city_document(
        bulletin.write, city, period, output, no_send, number=number, total=total
    )
    if not as_json:
        out.print(f"{city} {period}: 第{written.number}期 (总第{written.total}期)", markup=False)
        print_left_out(written.absent)
        if written.without_account:
            out.print(
                f"no account of their practice from: {', '.join(written.without_account)} "
                "(their articles have the figures alone; load one with `pilot-tracker practice "
                "load`)",
                markup=False,
                soft_wrap=True,
            )
    print_written(written, as_json)


def _reconcile(
    program: str, quarter: str, unit: str, note: str, status: ConfirmationStatus
) -> None:
    from pilot_tracker.reports import reconciliation

    settings = load_settings()
    with database_session(settings) as session:
        answer = reconciliation.reconcile(
            session=session,
            program=program,
            quarter=quarter,
            unit=unit,
            status=status,
            note=note,
            now=now_utc(),
        )
    out.print(f"{program} {answer['quarter']} {unit}: {answer['status']}", markup=False)


@reconcile_app.command("confirm")
@handles_errors
def reconcile_confirm(
    program: ProgramOption,
    quarter: QuarterOption,
    unit: UnitOption,
    note: Annotated[str, typer.Option("--note", help="Anything the unit adds.")] = "",
) -> None:
    """Record that a unit confirmed its quarterly statement.

    Example: pilot-tracker reconcile confirm --program xiangshan --quarter 2021Q1 --unit jyj
    """
    from pilot_tracker.models import ConfirmationStatus

    _reconcile(program, quarter, unit, note, ConfirmationStatus.CONFIRMED)


@reconcile_app.command("dispute")
@handles_errors
def reconcile_dispute(
    program: ProgramOption,
    quarter: QuarterOption,
    unit: UnitOption,
    note: Annotated[str, typer.Option("--note", help="What the unit disputes.")] = "",
) -> None:
    """Record that a unit disputed its quarterly statement, and why.

    Example: pilot-tracker reconcile dispute --program xiangshan --quarter 2021Q1 --unit jyj
    --note "XS-FZ-01 已于3月完成"
    """
    from pilot_tracker.models import ConfirmationStatus

    _reconcile(program, quarter, unit, note, ConfirmationStatus.DISPUTED)


@reconcile_app.command("list")
@handles_errors
def reconcile_list(
    program: ProgramOption,
    quarter: QuarterOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answers as JSON.")] = False,
) -> None:
    """List each unit's answer to its statement of a quarter: confirmed or disputed, when,
    how (typed in by the office, or sent by the unit through its link) and its note; a unit
    that has not answered is listed as such.

    Example: pilot-tracker reconcile list --program xiangshan --quarter 2021Q1
    """
    from pilot_tracker.reports import reconciliation

    with database_session(load_settings()) as session:
        items = reconciliation.answers(session=session, program=program, quarter=quarter)
    if as_json:
        emit_json(items)
        return
    grid = table("unit", "name", "answer", "when", "via", "note")
    for item in items:
        row(
            grid,
            item["unit"],
            item["name"],
            item["status"] or "not answered",
            item["recorded_at"] or "",
            item["via"] or "",
            item["note"],
        )
    out.print(grid)
    answered = sum(1 for item in items if item["status"])
    out.print(f"{program} {quarter}: {answered} of {len(items)} units answered", markup=False)


extension_app = typer.Typer(
    help="Units' requests to move a task's due date (延期申请), sent through their links: "
    "list them, approve or reject them.\n\n"
    "Example: pilot-tracker extension list --program xiangshan --status pending",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(extension_app, name="extension")
ExtensionIdArgument = Annotated[int, typer.Argument(help="The request's id (see `list`).")]
DecidedOnOption = Annotated[
    str | None,
    typer.Option("--on", help="The day of the decision (default: today in the program's zone)."),
]


@extension_app.command("list")
@handles_errors
def extension_list(
    program: Annotated[str | None, typer.Option("--program", help="Only this program.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only pending, approved or rejected ones.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the requests as JSON.")] = False,
) -> None:
    """List the extension requests, oldest first.

    Example: pilot-tracker extension list --program xiangshan --status pending --json
    """
    from pilot_tracker.ledger import store
    from pilot_tracker.models import ExtensionStatus
    from pilot_tracker.supervise import extensions

    wanted = None
    if status is not None:
        try:
            wanted = ExtensionStatus(status)
        except ValueError:
            raise typer.BadParameter(
                f'"{status}" is not a status; write pending, approved or rejected',
                param_hint="--status",
            ) from None
    with database_session(load_settings()) as session:
        record = store.get_program(session=session, code=program) if program else None
        items = extensions.list_extensions(session=session, program=record, status=wanted)
    if as_json:
        emit_json([item.as_dict() for item in items])
        return
    if not items:
        out.print("no extension requests", markup=False)
        return
    grid = table("id", "program", "unit", "task", "due", "asked", "status", "reason", "note")
    for item in items:
        row(
            grid,
            item.id,
            item.program,
            item.unit,
            item.task,
            item.previous_due,
            item.proposed_due,
            item.status,
            item.reason,
            item.note,
        )
    out.print(grid)


def _decide(extension_id: int, approve: bool, note: str, day: date | None) -> None:
    from pilot_tracker.models import ExtensionStatus
    from pilot_tracker.supervise import extensions

    settings = load_settings()
    templates = message_templates(settings)
    with database_session(settings) as session:
        item = extensions.decide(
            session=session,
            extension_id=extension_id,
            approve=approve,
            note=note,
            now=now_utc(),
            on=day,
            templates=templates,
        )
    if item.status == ExtensionStatus.APPROVED.value:
        said = f"approved: due {item.proposed_due} (was {item.previous_due}) from {item.decided_on}"
    else:
        said = f"rejected on {item.decided_on}: {item.task} stays due {item.previous_due}"
    out.print(
        f"extension {item.id} ({item.program} {item.unit} {item.task}) {said}; "
        f"message queued for {item.unit}'s liaison",
        markup=False,
        soft_wrap=True,
    )


def _day_option(value: str | None) -> date | None:
    """``--on``: a date as 2021-03-31, or None for the default."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f'"{value}" is not a date; write it as 2021-03-31', param_hint="--on"
        ) from None


@extension_app.command("approve")
@handles_errors
def extension_approve(
    extension_id: ExtensionIdArgument,
    note: Annotated[str, typer.Option("--note", help="Anything the office adds.")] = "",
    on: DecidedOnOption = None,
) -> None:
    """Approve an extension request: the task's due date moves to the one asked for, for
    the rules from the day of the decision on; reports show both dates. The unit's liaison
    is told by a message in the outbox, with the unit's link.

    Example: pilot-tracker extension approve 3 --note "同意延期，请按新时限推进"
    """
    _decide(extension_id, True, note, _day_option(on))


@extension_app.command("reject")
@handles_errors
def extension_reject(
    extension_id: ExtensionIdArgument,
    note: Annotated[str, typer.Option("--note", help="Why, for the unit (required).")] = "",
    on: DecidedOnOption = None,
) -> None:
    """Reject an extension request, saying why; the task keeps its due date. The unit's
    liaison is told why by a message in the outbox, with the unit's link.

    Example: pilot-tracker extension reject 3 --note "该任务为年度重点，请按原定时限完成"
    """
    _decide(extension_id, False, note, _day_option(on))


mail_app = typer.Typer(
    help="The mail the office's mailbox brought: list it, and release a held file as a "
    "unit's submission.\n\nExample: pilot-tracker mail list --program yinzhou --held",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(mail_app, name="mail")


@mail_app.command("list")
@handles_errors
def mail_list(
    program: ProgramOption,
    held: Annotated[
        bool, typer.Option("--held", help="Only mail the office must look at (held, refused).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the mail as JSON.")] = False,
) -> None:
    """List the mail taken from the program's mailbox, newest first, with each file and
    what became of it (submitted, held for the office, quoted back, skipped).

    Example: pilot-tracker mail list --program yinzhou --held
    """
    from pilot_tracker.collect import replies
    from pilot_tracker.ledger import store

    with database_session(load_settings()) as session:
        record = store.get_program(session=session, code=program)
        items = replies.list_mail(session=session, program=record, held=held)
    if as_json:
        emit_json(items)
        return
    if not items:
        out.print("no mail held" if held else "no mail", markup=False)
        return
    say = functools.partial(out.print, markup=False, soft_wrap=True)
    for item in items:
        received = str(item["received_at"])[:16].replace("T", " ")
        sender = item["sender"] or "an unknown sender"
        say(f"mail {item['id']} · {received} · from {sender} · {item['status']}")
        say(f"  subject: {item['subject']}")
        if item["reason"]:
            say(f"  why: {item['reason']}")
        for file in item["files"]:
            unit = f" as {file['unit']}" if file["unit"] else ""
            why = f": {file['reason']}" if file["outcome"] in ("held", "quoted") else ""
            say(f"  file {file['id']} {file['name']}: {file['outcome']}{unit}{why}")


@mail_app.command("release")
@handles_errors
def mail_release(
    file_id: Annotated[int, typer.Argument(help="The held file's id (see `mail list`).")],
    program: ProgramOption,
    unit: UnitOption,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The day to take it for (default: today).")
    ] = None,
) -> None:
    """Take a held file as a unit's submission, once the office has made sure whose it is
    (a workbook sent from another unit's address, or from an address no unit has). The
    unit's liaison is told of any rejection, as for any submission.

    Example: pilot-tracker mail release 7 --program yinzhou --unit YZ-EDU
    """
    from pilot_tracker.collect import replies
    from pilot_tracker.ledger import store

    settings = load_settings()
    templates = message_templates(settings)
    engine = open_database(settings)
    day = parse_day_option(as_of, program_timezone(engine, program))
    with database_session(settings) as session:
        record = store.get_program(session=session, code=program)
        summary = replies.release(
            session=session,
            program=record,
            part_id=file_id,
            unit_code=unit,
            by="",  # the command line; the board records its account
            as_of=day,
            now=now_utc(),
            home=settings.home,
            templates=templates,
        )
    out.print(
        f"file {file_id} taken as {unit}'s: {summary.status} (imported {summary.imported}, "
        f"updated {summary.updated}, ignored {summary.ignored}, rejected {summary.rejected})",
        markup=False,
        soft_wrap=True,
    )


@app.command()
@handles_errors
def demo(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The folder to play the demo into.")
    ] = Path("demo"),
    web: Annotated[
        bool,
        typer.Option(
            "--web", help="Then keep the portal and board running on its data, until Ctrl-C."
        ),
    ] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Play half a year (2021-01-04 to 2021-07-09) of supervising the example programs.

    The four pilots of the city's work bulletin (Haishu, Yinzhou, Fenghua, Xiangshan) are
    loaded, with the example city over them (`report city --city ningbo` reads it); on
    the last day the city's work bulletin for the half-year is written, with the accounts
    of three districts' practice and none from Fenghua.

    Submissions land, collect, flag, escalate and send run on every working day, and the
    reports are written on their days (under DIR/data/reports/); alerts go by email to an
    SMTP server on loopback, each kept as an .eml file under DIR/mail/. The last working
    day runs through the Prefect flows (supervise-all, the report parents due, send-alerts)
    on Prefect's temporary server, its home DIR/prefect/; the demo lists those runs and how
    to look at them. At the end it prints the personal link of
    one unit (the one with the most tasks and indicators) to its page on the portal, and two
    accounts of the office's board (office, leader) with new passwords. With --web, the
    portal then runs on the demo's data, its clock starting on the half-year's last day,
    until Ctrl-C.

    Example: pilot-tracker demo -o demo --web
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pilot_tracker.demo import playthrough
    from pilot_tracker.settings import EXAMPLE_ACCOUNTS, EXAMPLE_CITIES, EXAMPLE_PROGRAMS

    flows_project()
    from flows import demo_day  # the last day's runner; Prefect loads in its child only

    settings = load_settings()
    examples = sorted(EXAMPLE_PROGRAMS.glob("*.yaml"))
    if not examples:
        raise ConfigurationError(
            f"no example programs in {EXAMPLE_PROGRAMS}; reinstall pilot-tracker"
        )
    if web:  # a port in use is said before the half-year is played, not after it
        from pilot_tracker.web.server import listening_socket

        listening_socket(host, port).close()
    # The last working day runs through Prefect's flows, in a child whose Prefect server
    # starts on the first day (the folder cleared), while the half-year plays.
    flows_runner = demo_day.Runner(output)
    with (
        flows_runner,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} days"),
            TimeElapsedColumn(),
            console=err.console,
            transient=True,
        ) as bar,
    ):
        job = bar.add_task("playing 2021-01-04", total=None)

        def on_day(day: date, index: int, total: int) -> None:
            if index == 1:
                flows_runner.start()
            bar.update(job, description=f"playing {day}", completed=index - 1, total=total)

        handed: list[date] = []

        def last_day(day: playthrough.LastDay) -> playthrough.LastDayResult:
            handed.append(day.day)
            bar.update(job, description=f"playing {day.day} through Prefect's flows")
            return flows_runner.run(day)

        result = playthrough.play(
            folder=output,
            examples=examples,
            templates=settings.templates,
            on_day=on_day,
            # The demo's key lives in its own data home, where a portal on it finds it.
            links=lambda home: settings.model_copy(update={"home": home}).link_issuer(),
            city_files=sorted(EXAMPLE_CITIES.glob("*.yaml")),
            last_day=last_day,
            # The programs shared between the machine's cores, each played in a process.
            workers=os.cpu_count() or 1,
            accounts=EXAMPLE_ACCOUNTS,
        )
    out.print(f"demo played into {output.resolve()}", markup=False)
    out.print(f"  {result.days} working days, {len(result.reports)} report files", markup=False)
    for program, count in result.flagged_units.items():
        levels = result.escalations.get(program, {})
        out.print(
            f"  {program}: {count} units flagged; escalations: "
            + ", ".join(
                f"{levels.get(level, 0)} {level}" for level in ("reminder", "urge", "interview")
            ),
            markup=False,
        )
    out.print(
        f"  messages sent: {result.messages}, emails kept: {result.mails} in {output / 'mail'}",
        markup=False,
    )
    if result.mailbox:
        out.print(f"  mail in: not played ({result.mailbox})", markup=False, soft_wrap=True)
    else:
        out.print(
            f"  mail in: {result.replies} mails from units to the office's mailbox, kept in "
            f"{output / 'mail' / 'replies'}; each taken is answered with a receipt (回复：…) "
            f"in {output / 'mail'}; see them with PILOT_TRACKER_HOME={output / 'data'} "
            f"pilot-tracker mail list --program {result.mail_program}",
            markup=False,
            soft_wrap=True,
        )
    for city, programs in result.cities.items():
        out.print(
            f"  city {city} over {len(programs)} pilots ({', '.join(programs)}): its roll-up "
            f"with PILOT_TRACKER_HOME={output / 'data'} pilot-tracker report city --city "
            f"{city} --half 2021H1",
            markup=False,
            soft_wrap=True,
        )
    for city, issue in result.bulletins.items():
        out.print(
            f"  city {city}'s work bulletin for {issue.period}, 第{issue.number}期 (总第"
            f"{issue.total}期): {issue.files.get('docx', '')}"
            + (
                f"; no account of their practice from {', '.join(issue.without_account)}"
                if issue.without_account
                else ""
            ),
            markup=False,
            soft_wrap=True,
        )
    out.print(f"  reports: {output / 'data' / 'reports'}", markup=False)
    if result.last_day is not None:
        print_last_day(result.last_day, handed[0])
    out.print(
        f"  look around: PILOT_TRACKER_HOME={output / 'data'} pilot-tracker escalation list "
        "--program xiangshan",
        markup=False,
    )
    # Links and the portal on the demo's data home: its database, its key (or
    # PILOT_TRACKER_SECRET_KEY), at PILOT_TRACKER_PUBLIC_URL, else where --web listens.
    address = settings.public_url
    if web and "public_url" not in settings.model_fields_set:
        address = web_address(host, port)
    portal = settings.model_copy(
        update={"home": output / "data", "database_url": "", "public_url": address}
    )
    clock = demo_clock(playthrough.finished_at()) if web else now_utc
    link = demo_link(portal, clock())
    # Whole lines, however narrow the terminal: a link is copied or clicked as printed.
    say = functools.partial(out.print, markup=False, soft_wrap=True)
    say(f"  a unit's page ({link.program} {link.unit}): {link.url}")
    board = playthrough.board_accounts(home=output / "data", now=clock())
    say(
        f"  the office's board: {address}/login as "
        + ", ".join(f"{name} / {password}" for name, password in board.items())
        + " (a leader reads only)"
    )
    if not web:
        say(f"  open them while `PILOT_TRACKER_HOME={portal.home} pilot-tracker web` runs")
    for problem in result.problems:
        err.print(f"warning: {problem}", markup=False)
    if web:
        from pilot_tracker.web.server import PortalServer, web_logging

        server = PortalServer(portal, host, port, log_config=web_logging(), clock=clock)
        today = clock().astimezone(ZoneInfo(portal.timezone)).date()
        say(f"portal on {server.url} (today is {today} there); Ctrl-C stops it")
        server.run()
        say("portal stopped")
    if result.problems:
        raise typer.Exit(errors.EXIT_ERROR)


def flows_project() -> Path | None:
    """Make the package ``flows`` importable: it is installed with the wheel (or an
    editable install); a checkout installed without it has it in its flows/ folder, which
    is then returned."""
    from pilot_tracker.settings import CHECKOUT

    project = None if importlib.util.find_spec("flows") else CHECKOUT
    if project is not None:
        sys.path.insert(0, str(project))
    return project


def print_last_day(done: LastDayResult, day: date) -> None:
    """The demo's last day through Prefect's flows: each run the demo started, with the
    runs under it, their state and duration; then how to look at them."""
    say = functools.partial(out.print, markup=False, soft_wrap=True)
    say(f"  the last working day ({day}) through Prefect's flows:")
    for index, ran in enumerate(done.runs):
        if ran.depth > 1:
            continue
        under = []
        for other in done.runs[index + 1 :]:
            if other.depth <= ran.depth:
                break
            if ran.depth == 1:
                under.append(other)
        line = f"{'    ' * (ran.depth + 1)}{ran.flow}"
        line += f" {ran.program}" if ran.program else f" ({ran.name})"
        line += f": {ran.state}, {ran.seconds:.1f} s"
        if under:
            states = sorted({other.state for other in under})
            line += f"; under it {', '.join(other.flow for other in under)}: {', '.join(states)}"
        say(line)
    for line in done.look:
        say(f"    {line}")


def web_address(host: str, port: int) -> str:
    """The portal's address as a browser writes it (an IPv6 host in brackets; a wildcard
    host as the loopback address)."""
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def demo_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that starts at ``start`` now and runs on."""
    began = now_utc()
    return lambda: start + (now_utc() - began)


def demo_link(settings: Settings, now: datetime) -> Link:
    """The personal link of the demo's busiest unit (most tasks and indicators), issued
    at ``now``."""
    from pilot_tracker.portal.unit_page import busiest_unit

    issuer = settings.link_issuer()
    with database_session(settings) as session:
        program, unit = busiest_unit(session=session)
        return issuer.issue(program=program, unit=unit, now=now)


# --- the calendar ---------------------------------------------------------------------------

calendar_app = typer.Typer(
    help="The working-day calendar (工作日历) every program counts deadlines in: the "
    "official holidays and make-up workdays (调休) by year, and the State Council's notice "
    "entered once for a year the calendar package does not cover yet.\n\n"
    "Example: pilot-tracker calendar add 2027 国务院办公厅关于2027年部分节假日安排的通知.txt",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(calendar_app, name="calendar")

YearArgument = Annotated[int, typer.Argument(min=2000, max=2100, help="The year, e.g. 2027.")]


def installation_calendar(settings: Settings) -> tuple[workdays.WorkCalendar, str]:
    """The calendar with the entered years, and a note when there is no database to hold
    any yet (the package's years are still shown)."""
    from pilot_tracker.settings import DATABASE_FILE
    from pilot_tracker.supervise import workdays

    if not settings.database_url and not (settings.home / DATABASE_FILE).exists():
        return workdays.WorkCalendar(), "no database yet: `pilot-tracker init` creates it"
    with database_session(settings) as session:
        return workdays.calendar_of(session=session), ""


def years_to_list(calendar: workdays.WorkCalendar, today: date, everything: bool) -> list[int]:
    from pilot_tracker.supervise import workdays

    years = {today.year - 1, today.year, today.year + 1, *calendar.entered}
    if everything:
        years |= set(workdays.package_years())
    return sorted(years)


def year_line(calendar: workdays.WorkCalendar, year: int) -> dict[str, Any]:
    """A year as ``calendar list`` shows it."""
    from pilot_tracker.supervise import workdays

    status = calendar.source_of(year)
    arrangement = calendar.year(year)
    note = ""
    if status == workdays.ENTERED:
        differing = workdays.differences(arrangement)
        if year in workdays.package_years():
            note = (
                f"{workdays.package_version()} covers it too and "
                + (f"disagrees on {len(differing)} days" if differing else "agrees")
                + f"; the entered year stays until `pilot-tracker calendar retire {year}`"
            )
        issued = f" ({arrangement.issued})" if arrangement.issued else ""
        source = arrangement.source + issued
    elif status == workdays.PACKAGE:
        source = workdays.package_version()
    else:
        source = "nothing: Monday to Friday are guessed"
        note = f"enter the notice: pilot-tracker calendar add {year} NOTICE"
    return {
        "year": year,
        "status": status,
        "source": source,
        "holidays": len(arrangement.holidays),
        "workdays": len(arrangement.workdays),
        "note": note,
    }


@calendar_app.command("list")
@handles_errors
def calendar_list(
    everything: Annotated[
        bool, typer.Option("--all", help="Every year the calendar package covers, too.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the years as JSON.")] = False,
) -> None:
    """Each year: where its working days come from, official, entered or guessed.

    Last year, this year, next year and every entered year; --all adds every year of the
    calendar package.

    Example: pilot-tracker calendar list
    """
    settings = load_settings()
    calendar, note = installation_calendar(settings)
    lines = [
        year_line(calendar, year)
        for year in years_to_list(calendar, today_in(settings.timezone), everything)
    ]
    if as_json:
        emit_json(lines)
        return
    grid = table("year", "status", "source", "days off", "make-up workdays", "note")
    for line in lines:
        row(grid, *line.values())
    out.print(grid)
    if note:
        out.print(note, markup=False)


@calendar_app.command("show")
@handles_errors
def calendar_show(
    year: YearArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the year as JSON.")] = False,
) -> None:
    """A year as a month grid, its holidays marked with their names and its make-up
    workdays (调休上班).

    Example: pilot-tracker calendar show 2027
    """
    from pilot_tracker.supervise import workdays

    calendar, _ = installation_calendar(load_settings())
    arrangement = calendar.year(year)
    status = calendar.source_of(year)
    if as_json:
        emit_json(arrangement.to_json(status))
        return
    show_arrangement(arrangement, status, calendar)
    for day, entered, package in workdays.differences(arrangement) if status == "entered" else []:
        out.print(
            f"  differs from {workdays.package_version()}: {day} is "
            f"{'a working day' if entered else 'a day off'} here, "
            f"{'a working day' if package else 'a day off'} in the package",
            markup=False,
        )


def show_arrangement(
    arrangement: workdays.Arrangement, status: str, calendar: workdays.WorkCalendar
) -> None:
    """The year's header, its twelve months in a grid, and its holidays by name."""
    from rich.table import Table

    year = arrangement.year
    issued = f", issued {arrangement.issued}" if arrangement.issued else ""
    out.print(f"{year}: {status}, from {arrangement.source}{issued}", markup=False)
    out.print(
        "  [red]n*[/red] holiday (放假)   [bold]n+[/bold] make-up workday (调休上班)   "
        "[dim]n[/dim] weekend",
    )
    grid = Table.grid(padding=(0, 2))
    for first in range(1, 13, 3):
        grid.add_row(
            *(month_block(year, m, arrangement, calendar) for m in (first, first + 1, first + 2))
        )
    out.print(grid)
    for name, days, made_up in arrangement.by_holiday():
        spans = ", ".join(
            f"{a:%m-%d}" if a == b else f"{a:%m-%d} to {b:%m-%d}" for a, b in spans_of(days)
        )
        worked = ", ".join(f"{d:%m-%d}" for d in made_up)
        out.print(
            f"  {name}: {spans} (共{len(days)}天)" + (f"; 上班 {worked}" if worked else ""),
            markup=False,
        )


def spans_of(days: list[date]) -> list[tuple[date, date]]:
    spans: list[tuple[date, date]] = []
    for day in days:
        if spans and (day - spans[-1][1]).days == 1:
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


def month_block(
    year: int, month: int, arrangement: workdays.Arrangement, calendar: workdays.WorkCalendar
) -> Text:
    """One month: Monday first, a holiday with *, a make-up workday with +."""
    import calendar as month_calendar

    from rich.text import Text

    block = Text(f"{year}-{month:02d}".center(21) + "\n", style="bold")
    block.append("Mo Tu We Th Fr Sa Su\n", style="dim")
    for week in month_calendar.Calendar().monthdatescalendar(year, month):
        for day in week:
            if day.month != month:
                block.append("   ")
            elif day in arrangement.holidays:
                block.append(f"{day.day:>2}*", style="red")
            elif day in arrangement.workdays:
                block.append(f"{day.day:>2}+", style="bold")
            elif not calendar.is_workday(day):
                block.append(f"{day.day:>2} ", style="dim")
            else:
                block.append(f"{day.day:>2} ")
        block.append("\n")
    return block


@calendar_app.command("add")
@handles_errors
def calendar_add(
    year: YearArgument,
    notice: Annotated[
        str,
        typer.Argument(
            help="The notice: text as reposted, HTML saved from the web page, or a YAML/CSV "
            "of holidays and make-up workdays; - reads standard input."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be stored; store nothing.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a year that was already entered.")
    ] = False,
    amend: Annotated[
        bool,
        typer.Option(
            "--amend",
            help="A later notice that changes an entered year (调整…假期安排, 延长…假期): the "
            "holidays it names replace theirs, an extension lengthens one.",
        ),
    ] = False,
) -> None:
    """Enter a year's holidays from the State Council's notice, once for every program.

    The notice is read whole before anything is stored: a sentence it does not understand,
    a total (共N天) that disagrees with the days, a weekday that is not the date's, or an
    unknown holiday refuses it, naming the sentence.

    Example: pilot-tracker calendar add 2027 国务院办公厅关于2027年部分节假日安排的通知.txt
    """
    from pilot_tracker import db
    from pilot_tracker.settings import DATABASE_FILE
    from pilot_tracker.supervise import holiday_notice, workdays

    if replace and amend:
        raise typer.BadParameter("--replace and --amend exclude each other; choose one")
    settings = load_settings()
    name, data = read_notice(notice)
    arrangement = holiday_notice.read(data, name=name, year=year)
    if settings.database_url or (settings.home / DATABASE_FILE).exists():
        engine = open_database(settings)
    elif dry_run:  # no database yet, and none is made for a dry run
        engine = db.make_engine("sqlite://")
        db.migrate(engine)
    else:  # the first thing an installation is told may be the calendar: set it up
        engine, _ = create_database(settings)
    with db.session(engine) as session:
        stored = workdays.enter_year(
            session=session, arrangement=arrangement, now=now_utc(), replace=replace, amend=amend
        )
        entered = workdays.entered_years(session=session)
        if dry_run:
            session.rollback()
    calendar = workdays.WorkCalendar(entered={**entered, year: stored})
    show_arrangement(stored, "entered", calendar)
    for day, entered, package in workdays.differences(stored):
        out.print(
            f"  differs from {workdays.package_version()}: {day} "
            f"{'working' if entered else 'off'} here, {'working' if package else 'off'} there",
            markup=False,
        )
    if dry_run:
        out.print("dry run: nothing was stored", markup=False)
    else:
        out.print(
            f"{year}: entered ({len(stored.holidays)} days off, {len(stored.workdays)} make-up "
            "workdays); every program counts its working days by it from now on",
            markup=False,
        )


def read_notice(notice: str) -> tuple[str, bytes]:
    """The notice's name and bytes, from a regular file or standard input, bounded."""
    from pilot_tracker.supervise import holiday_notice

    limit = holiday_notice.MAX_BYTES + 1
    if notice == "-":
        return "standard input", sys.stdin.buffer.read(limit)
    path = Path(notice)
    if not path.is_file():
        raise ConfigurationError(f"{notice}: no such file; give the notice's file, or - for stdin")
    with path.open("rb") as handle:
        return path.name, handle.read(limit)


@calendar_app.command("retire")
@handles_errors
def calendar_retire(year: YearArgument) -> None:
    """Remove an entered year: the calendar package takes over again (or, for a year it does
    not cover, Monday to Friday are guessed).

    Example: pilot-tracker calendar retire 2027
    """
    from pilot_tracker.supervise import workdays

    with database_session(load_settings()) as session:
        retired = workdays.retire_year(session=session, year=year)
    after = (
        workdays.package_version()
        if year in workdays.package_years()
        else "nothing: Monday to Friday are guessed; enter the year again with calendar add"
    )
    out.print(
        f"{year}: retired (was {retired.source}); its days now come from {after}", markup=False
    )


@app.command()
@handles_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """What an operator checks: last runs per program, the outbox, escalations (and the
    urge or interview notices a unit's head has not acknowledged in time), sources.

    Exits 1 when messages have failed for good, a source is down, a last run did not end
    "ok" (e.g. "intake errors"), files lie in the inbox where no run takes them (wrong
    folder, links) or this year's working days are guessed, so a cron job or a systemd
    unit can act on it. From 1 November
    (PILOT_TRACKER_CALENDAR_WARNING_FROM) it warns while next year is not in the calendar.

    Example: pilot-tracker status --json
    """
    from pilot_tracker import db, runs
    from pilot_tracker.collect import collection
    from pilot_tracker.ledger import store
    from pilot_tracker.supervise import escalation, workdays

    settings = load_settings()
    engine = open_database(settings)
    state = runs.status(engine=engine)
    for program in state["programs"]:
        program["not_taken"] = [
            {"path": item.path, "reason": item.reason}
            for item in collection.survey(
                engine=engine, program=program["program"], inbox=settings.inbox
            )
        ]
        with db.session(engine) as session:
            record = store.get_program(session=session, code=program["program"])
            listed = escalation.list_escalations(
                session=session,
                program=record,
                spec=store.read_program(session=session, code=record.code),
                as_of=today_in(record.timezone),
            )
        program["unacknowledged"] = [
            {key: item[key] for key in ("id", "unit", "notice", "unacknowledged_since")}
            for item in escalation.unacknowledged(listed)
        ]
    with db.session(engine) as session:
        calendar = workdays.calendar_of(session=session)
    today = today_in(settings.timezone)
    state["calendar"] = {
        str(year): calendar.source_of(year) for year in (today.year, today.year + 1)
    }
    guessed_now = calendar.source_of(today.year) == workdays.GUESSED
    uncovered = workdays.uncovered_next_year(
        today=today, calendar=calendar, warn_from=settings.calendar_warning_day
    )
    warnings = [workdays.warning_text(year) for year in (today.year,) if guessed_now]
    if uncovered is not None:
        warnings.append(workdays.warning_text(uncovered))
    state["warnings"] = warnings
    state["inbox_not_taken"] = [
        {"path": item.path, "reason": item.reason}
        for item in collection.survey_root(
            inbox=settings.inbox, programs=(program["program"] for program in state["programs"])
        )
    ]
    if as_json:
        emit_json(state)
    else:
        for warning in warnings:
            err.print(f"warning: {warning}", markup=False, soft_wrap=True)
        counts = state["notifications"]
        out.print(
            "calendar: "
            + ", ".join(f"{year} {source}" for year, source in state["calendar"].items()),
            markup=False,
        )
        out.print(f"outbox: {counts['pending']} pending, {counts['failed']} failed", markup=False)
        for program in state["programs"]:
            levels = program["open_escalations"]
            out.print(
                f"{program['program']}: open escalations "
                + ", ".join(f"{n} {level}" for level, n in levels.items()),
                markup=False,
            )
            for item in program["unacknowledged"]:
                out.print(
                    f"  escalation {item['id']} ({item['unit']}): {item['notice']} notice "
                    f"unacknowledged since {item['unacknowledged_since']}",
                    markup=False,
                )
            for flow, run in program["last_runs"].items():
                why = f": {run['error']}" if run["error"] else ""
                out.print(
                    f"  {flow}: {run['outcome']} for {run['as_of']} (finished {run['finished']})"
                    + why,
                    markup=False,
                    soft_wrap=True,
                )
            if program["unavailable_sources"]:
                out.print(
                    f"  sources down: {', '.join(program['unavailable_sources'])}", markup=False
                )
            for item in program["not_taken"]:
                out.print(
                    f"  not taken from the inbox: {item['path']}: {item['reason']}",
                    markup=False,
                    soft_wrap=True,
                )
        for item in state["inbox_not_taken"]:
            out.print(
                f"not taken from the inbox: {item['path']}: {item['reason']}",
                markup=False,
                soft_wrap=True,
            )
    unhealthy = (
        state["notifications"]["failed"]
        or guessed_now
        or state["inbox_not_taken"]
        or any(
            program["unavailable_sources"] or program["not_taken"] for program in state["programs"]
        )
        or any(
            run["outcome"] != "ok"
            for program in state["programs"]
            for run in program["last_runs"].values()
        )
    )
    if unhealthy:
        raise typer.Exit(errors.EXIT_ERROR)


@app.command()
@handles_errors
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    no_web: Annotated[bool, typer.Option("--no-web", help="Do not run the portal.")] = False,
) -> None:
    """Run the schedules of every loaded program, and the unit portal, on this machine
    until Ctrl-C.

    supervise every day at 09:00 (it works on working days only), the quarterly
    reconciliation and the half-year evaluation on their days, each city's roll-up the
    working day after its pilots' evaluations, and delivery retries every 30 minutes, in
    PILOT_TRACKER_TIMEZONE (each program works on its own today); each run covers every
    program loaded when it starts, a program loaded later too; through
    Prefect's serve and a Prefect server of its own on 127.0.0.1: nothing else to install.
    Beside them, the portal (as `pilot-tracker web`) on --host and --port, unless --no-web.
    Prefect's home is DATA_HOME/prefect/, the log (the portal's requests too)
    DATA_HOME/logs/serve.log; Ctrl-C or SIGTERM stops both with a summary of the runs.

    Example: pilot-tracker serve --port 8000
    """
    from pilot_tracker.ledger import store

    settings = load_settings()
    with database_session(settings) as session:
        loaded = store.list_programs(session=session)
    # Each run covers the programs loaded when it starts: one loaded later is served too.
    # None at all is most likely the wrong data home.
    if not loaded:
        raise ConfigurationError("no program is loaded; load one with `pilot-tracker program load`")
    # The flow runs serve starts must find the flows too. Prefect is loaded only there, so
    # the other commands start without it.
    project = flows_project()
    # The portal's address is taken now: a port in use stops serve before anything starts.
    portal = None
    if not no_web:
        from pilot_tracker.web.server import PortalServer

        portal = PortalServer(settings, host, port)
    from flows import serving

    ran = serving.serve(
        zone=settings.timezone,
        home=settings.home,
        project=project,
        say=lambda line: out.print(line, markup=False, soft_wrap=True),
        portal=portal,
    )
    out.print(f"{len(ran)} flow runs started while serving", markup=False)
    for line in ran:
        out.print(f"  {line}", markup=False, soft_wrap=True)
    out.print("stopped", markup=False)


links_app = typer.Typer(
    help="Each unit's personal link (专属链接) to its page on the portal.\n\n"
    "Example: pilot-tracker links --program xiangshan --unit jyj",
    invoke_without_command=True,
    rich_markup_mode=None,
)
app.add_typer(links_app, name="links")


@links_app.callback()
@handles_errors
def links_print(
    context: typer.Context,
    program: Annotated[str | None, typer.Option("--program", help="The program code.")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the links as JSON.")] = False,
) -> None:
    """Print each unit's link, valid PILOT_TRACKER_LINK_DAYS days (90) from now, at
    PILOT_TRACKER_PUBLIC_URL.

    Example: pilot-tracker links --program xiangshan --json
    """
    if context.invoked_subcommand is not None:
        return
    if program is None:
        raise typer.BadParameter("give the program: --program CODE", param_hint="--program")
    from pilot_tracker.ledger import store

    settings = load_settings()
    issuer = settings.link_issuer()
    with database_session(settings) as session:
        record = store.get_program(session=session, code=program)
        issued = issuer.for_units(session=session, program=record, now=now_utc(), unit=unit)
    if as_json:
        emit_json([link.as_dict() for link in issued])
        return
    for link in issued:
        typer.echo(f"{link.unit}\t{link.url}\t(until {link.expires.date()})")


@links_app.command("revoke")
@handles_errors
def links_revoke(program: ProgramOption, unit: UnitOption) -> None:
    """Stop every link of a unit issued so far, at once (a lost phone, a liaison who left);
    the next message, or `pilot-tracker links`, gives the unit a new one.

    Example: pilot-tracker links revoke --program xiangshan --unit jyj
    """
    from pilot_tracker.ledger import links, store

    settings = load_settings()
    with database_session(settings) as session:
        record = store.get_program(session=session, code=program)
        links.revoke(session=session, program=record, unit=unit)
    out.print(
        f"{program} {unit}: every link issued so far is revoked; "
        f"`pilot-tracker links --program {program} --unit {unit}` prints a new one",
        markup=False,
    )


users_app = typer.Typer(
    help="Accounts of the office (专班) and leaders (领导) on the board (pilot-tracker web): "
    "add, list, set a new password, disable. Units need none: they keep their personal links.\n\n"
    "Example: pilot-tracker users add office-xiangshan --role office --program xiangshan "
    "--password-stdin",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(users_app, name="users")


def read_password(from_stdin: bool) -> str:
    """The new account's password: the first line of stdin, or typed twice at a prompt."""
    if from_stdin:
        line = sys.stdin.readline(4096)
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise typer.BadParameter(
            "stdin is not a terminal: pipe the password in with --password-stdin",
            param_hint="--password-stdin",
        )
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
@handles_errors
def users_add(
    name: Annotated[str, typer.Argument(help="The account's name, e.g. office-xiangshan.")],
    role: Annotated[
        str, typer.Option("--role", help="office (acts on its programs) or leader (reads).")
    ],
    programs: Annotated[
        list[str] | None,
        typer.Option("--program", help="A program the account may see (repeatable)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Add an account; its password (12 characters or more, typed twice, or the first line
    of stdin with --password-stdin) is stored as an Argon2id hash.

    Example: pilot-tracker users add leader-ningbo --role leader --program xiangshan
    --program yinzhou --password-stdin < password.txt
    """
    from pilot_tracker.board import accounts

    password = read_password(password_stdin)
    with database_session(load_settings()) as session:
        line = accounts.add(
            session=session,
            name=name,
            role=role,
            programs=programs or [],
            password=password,
            now=now_utc(),
            passwords=accounts.Passwords(),
        )
    out.print(
        f"account {line.name} ({line.role}) added for {', '.join(line.programs)}", markup=False
    )


@users_app.command("list")
@handles_errors
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the accounts as JSON.")] = False,
) -> None:
    """List the accounts: role, programs, disabled or not, last sign-in.

    Example: pilot-tracker users list --json
    """
    from pilot_tracker.board import accounts

    with database_session(load_settings()) as session:
        lines = accounts.listed(session=session)
    if as_json:
        emit_json([line.as_dict() for line in lines])
        return
    if not lines:
        out.print("no accounts; add one with `pilot-tracker users add`", markup=False)
        return
    grid = table("name", "role", "programs", "state", "last sign-in")
    for line in lines:
        row(
            grid,
            line.name,
            line.role,
            ", ".join(line.programs),
            "disabled" if line.disabled else "active",
            line.last_sign_in.isoformat(timespec="minutes") if line.last_sign_in else "never",
        )
    out.print(grid)


@users_app.command("password")
@handles_errors
def users_password(
    name: Annotated[str, typer.Argument(help="The account's name (see `users list`).")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Give an account a new password (forgotten, or given away): its sessions end, a
    lock-out of its name lifts, and a disabled account is enabled again.

    Example: pilot-tracker users password office-xiangshan --password-stdin < password.txt
    """
    from pilot_tracker.board import accounts

    password = read_password(password_stdin)
    with database_session(load_settings()) as session:
        line = accounts.set_password(
            session=session,
            name=name,
            password=password,
            now=now_utc(),
            passwords=accounts.Passwords(),
        )
    out.print(f"account {line.name}: new password set; its sessions have ended", markup=False)


@users_app.command("disable")
@handles_errors
def users_disable(
    name: Annotated[str, typer.Argument(help="The account's name (see `users list`).")],
) -> None:
    """Disable an account: it cannot sign in, and its open sessions end at once.

    Example: pilot-tracker users disable office-xiangshan
    """
    from pilot_tracker.board import accounts

    with database_session(load_settings()) as session:
        line = accounts.disable(session=session, name=name, now=now_utc())
    out.print(f"account {line.name} disabled; its sessions have ended", markup=False)


@app.command()
@handles_errors
def web(host: HostOption = "127.0.0.1", port: PortOption = 8000) -> None:
    """Run the portal: each unit's page behind its personal link, and the office's board
    (accounts: `pilot-tracker users add`), until Ctrl-C.

    Put it behind the office's HTTPS reverse proxy and set PILOT_TRACKER_PUBLIC_URL to the
    address units reach it at; links printed and sent carry that address. Each request is
    logged on stderr with the link token left out.

    Example: pilot-tracker web --port 8000
    """
    from pilot_tracker.web.server import PortalServer, web_logging

    settings = load_settings()
    portal = PortalServer(settings, host, port, log_config=web_logging())
    out.print(
        f"portal on {portal.url} (links point to {settings.public_url}); Ctrl-C stops",
        markup=False,
        soft_wrap=True,
    )
    portal.run()


@app.command()
def version() -> None:
    """Print the version.

    Example: pilot-tracker version
    """
    typer.echo(__version__)


def main() -> None:
    """The console script."""
    app(prog_name="pilot-tracker")


if __name__ == "__main__":
    sys.exit(main())
