"""Flows ``supervise-all``, ``quarterly-reconciliation-all`` and ``half-year-evaluation-all``:
one deployment each, for every program; and ``city-rollup-all``, the roll-up of every city
over its pilots.

Each lists the programs its run covers from the database (``runs.supervised_programs``,
``runs.reported_programs``: the loaded programs whose period holds the day, or overlaps
the period reported, each on its own day in its own time zone), so a program loaded
today is supervised tomorrow with no edit to prefect.yaml, and a program that ended gets
its last reports and nothing after. For each it runs the per-program flow (``supervise``,
``quarterly-reconciliation``, ``half-year-evaluation``) as a child flow run, whose run,
logs and state show in Prefect as before, inside a task that holds a slot of Prefect's
global concurrency limit ``pilot-tracker-programs`` for it: the limit bounds the programs
run at once across every parent and worker (the database and the sources are shared).
The first parent to run creates the limit with ``SLOTS`` slots; an operator changes it
with ``prefect gcl update pilot-tracker-programs --limit N``, and no run overwrites it.

One program's failure does not stop the others: the parent waits for every child, puts
each failure on record as that program's run (so ``pilot-tracker status`` names it, with
the reason), then ends Failed with ``ProgramsFailed`` naming the programs that failed, so
Prefect's own notifications on a failed run fire.

``city-rollup-all`` writes, one city after another, the roll-up of each loaded city for
the period that just ended (``reports.city.due``: on schedule, the working day after its
pilots' evaluations), then sends; each city's outcome is on record as a run
``city-rollup <city>`` of each of its pilots, and a city that failed fails the parent,
naming it, after the others.
"""

from __future__ import annotations

import flows  # noqa: F401  first: Prefect's telemetry off before Prefect loads

# isort: split
import contextlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.futures import PrefectFuture
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner
from sqlalchemy.exc import OperationalError

from flows.common import opened, retry_on
from flows.reports import half_year_evaluation, quarterly_reconciliation
from flows.supervise import send_alerts, supervise
from pilot_tracker import periods, runs
from pilot_tracker.errors import ProgramsFailed
from pilot_tracker.reports import city as city_report

LIMIT = "pilot-tracker-programs"
# Programs run at once when the limit is first created: supervise mostly waits on sources,
# mail and the database, so more than this 2-core machine's cores, not a province at once.
SLOTS = 4
# Threads of one parent: a thread waits for a slot before its child starts, so this only
# caps what a limit raised above it can use.
THREADS = 16
# A slot frees when a child run ends (each within its own limit, at most 2 hours): a
# province of 100 programs at 4 at a time takes well under this.
SLOT_WAIT_SECONDS = 6 * 3600
CHILDREN: dict[str, Flow[..., Any]] = {
    "supervise": supervise,
    "quarterly-reconciliation": quarterly_reconciliation,
    "half-year-evaluation": half_year_evaluation,
}
RUN_PROGRAM_SECONDS = SLOT_WAIT_SECONDS + max(
    child.timeout_seconds or 0 for child in CHILDREN.values()
)
# Listing the programs, recording the failures.
PARENT_SECONDS = RUN_PROGRAM_SECONDS + 600
# What a failure on record keeps of a child's message.
MAX_ERROR = 500
# A parent's threads ask for their slots one at a time. Asked at once, a Prefect server on
# SQLite (serve's, the demo's) answers all but one with 503 ("database is locked": each
# request reads the limit, then writes it), and the client asks again after 2, 4, 8 s:
# the demo's four programs began 2-14 s apart with slots free. One at a time, each gets
# its slot in a fraction of a second; a thread waits here while the limit is full, as it
# would in the request, and the slots go in turn.
_ASKING = threading.Lock()


@dataclass
class ProgramRun:
    """How one program's child run ended: Prefect's state name and message."""

    program: str
    state: str
    message: str = ""
    flow_run: str = ""

    @property
    def failed(self) -> bool:
        return self.state != "Completed"


@dataclass
class FannedOut:
    """One parent run: the child run of every program it covered."""

    flow: str
    programs: list[ProgramRun] = field(default_factory=list)

    @property
    def failed(self) -> list[ProgramRun]:
        return [run for run in self.programs if run.failed]


def ensure_limit(slots: int = SLOTS) -> int:
    """The slots of the global concurrency limit, which is created with ``slots`` where it
    does not exist yet (a new Prefect server, ``serve``'s own); an existing one is kept as
    the operator set it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_global_concurrency_limit_by_name(LIMIT).limit
        except ObjectNotFound:
            pass
        # Two parents may start together (the reports, on the same morning).
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=LIMIT, limit=slots)
            )
        return client.read_global_concurrency_limit_by_name(LIMIT).limit


@task(
    name="run-program",
    task_run_name="{child}-{program}",
    timeout_seconds=RUN_PROGRAM_SECONDS,
    cache_policy=NO_CACHE,
)
def run_program(child: str, program: str, parameters: dict[str, Any]) -> ProgramRun:
    """Run ``child`` for ``program`` as a child flow run once a slot of the limit is free;
    how it ended, without raising (a failure is the parent's to record)."""
    with contextlib.ExitStack() as slot:
        with _ASKING:
            slot.enter_context(
                concurrency(LIMIT, occupy=1, timeout_seconds=SLOT_WAIT_SECONDS, strict=True)
            )
        state = CHILDREN[child](program, **parameters, return_state=True)
    return ProgramRun(
        program=program,
        state=state.name or state.type.value,
        message=state.message or "",
        flow_run=str(state.state_details.flow_run_id or ""),
    )


def _ended(program: str, future: PrefectFuture[ProgramRun]) -> ProgramRun:
    """The child's end; a task that failed (no slot in time, its own limit) is the
    program's failure too."""
    future.wait()
    if future.state.is_completed():
        return future.result()
    return ProgramRun(program, future.state.name or "Failed", future.state.message or "")


def fan_out(child: str, programs: list[str], parameters: dict[str, Any]) -> FannedOut:
    """Run ``child`` for every program, at most the limit's slots at once; record each
    failure as that program's run; fail naming them once all have ended."""
    logger = get_run_logger()
    slots = ensure_limit()
    logger.info(
        "%s for %d programs (%s), at most %d at once (global concurrency limit %s)",
        child,
        len(programs),
        ", ".join(programs) or "none",
        slots,
        LIMIT,
    )
    futures = [(program, run_program.submit(child, program, parameters)) for program in programs]
    done = FannedOut(child, [_ended(program, future) for program, future in futures])
    if not done.failed:
        logger.info("%s: all %d programs completed", child, len(done.programs))
        return done
    finished = datetime.now(UTC)
    with opened() as run:
        for failed in done.failed:
            error = (failed.message or failed.state)[:MAX_ERROR]
            runs.record(
                engine=run.engine,
                program=failed.program,
                flow=child,
                as_of=parameters.get("as_of") or run.today(failed.program),
                started=finished,
                finished=finished,
                outcome="failed",
                summary={"error": error, "state": failed.state, "flow_run": failed.flow_run},
            )
            logger.error("%s %s: %s", child, failed.program, error)
    names = ", ".join(failed.program for failed in done.failed)
    raise ProgramsFailed(
        f"{child} failed for {len(done.failed)} of {len(done.programs)} programs: {names}; "
        "the others completed (`pilot-tracker status` shows each failure and its reason)"
    )


@flow(
    name="supervise-all",
    timeout_seconds=PARENT_SECONDS,
    task_runner=ThreadPoolTaskRunner(max_workers=THREADS),
)
def supervise_all(as_of: date | None = None, settle_seconds: float = 1.0) -> FannedOut:
    """Supervise every program whose period holds its day (``as_of``, or its own today)."""
    with opened() as run:
        programs = runs.supervised_programs(engine=run.engine, now=datetime.now(UTC), as_of=as_of)
    parameters = {"as_of": as_of, "settle_seconds": settle_seconds}
    return fan_out("supervise", programs, parameters)


@flow(
    name="quarterly-reconciliation-all",
    timeout_seconds=PARENT_SECONDS,
    task_runner=ThreadPoolTaskRunner(max_workers=THREADS),
)
def quarterly_reconciliation_all(
    quarter: str | None = None, send: bool = True, scheduled: bool = False
) -> FannedOut:
    """The quarterly reconciliation of every program the quarter overlaps (``quarter``, or
    the last one that ended; on schedule, each program writes on its own working day)."""
    with opened() as run:
        programs = runs.reported_programs(
            engine=run.engine, now=datetime.now(UTC), kind="quarter", period=quarter
        )
    parameters = {"quarter": quarter, "send": send, "scheduled": scheduled}
    return fan_out("quarterly-reconciliation", programs, parameters)


@flow(
    name="half-year-evaluation-all",
    timeout_seconds=PARENT_SECONDS,
    task_runner=ThreadPoolTaskRunner(max_workers=THREADS),
)
def half_year_evaluation_all(
    half: str | None = None, send: bool = True, scheduled: bool = False
) -> FannedOut:
    """The half-year evaluation of every program the half year overlaps (``half``, or the
    last one that ended; on schedule, each program writes on its own working day)."""
    with opened() as run:
        programs = runs.reported_programs(
            engine=run.engine, now=datetime.now(UTC), kind="half", period=half
        )
    parameters = {"half": half, "send": send, "scheduled": scheduled}
    return fan_out("half-year-evaluation", programs, parameters)


# --- the city roll-up of every city ---------------------------------------------------------


def city_flow(city: str) -> str:
    """What a city's roll-up is on record as, for each of its pilots (``status`` shows it
    under each): one name per city, as a pilot may be named by several."""
    return f"city-rollup {city}"


@dataclass
class CityRun:
    """How one city's roll-up ended."""

    city: str
    period: str
    state: str
    message: str = ""
    files: list[str] = field(default_factory=list)
    queued: int = 0

    @property
    def failed(self) -> bool:
        return self.state != "Completed"

    @property
    def outcome(self) -> str:
        """As a run's record says it: ok, report problems (no PDF), or failed."""
        if self.failed:
            return "failed"
        return "report problems" if self.message else "ok"


# A locked SQLite file or a full disk may pass; a bug or a refusal would fail the same way.
@task(
    name="write-city-report",
    task_run_name="city-rollup-{city}-{period}",
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=retry_on(OSError, OperationalError),
    timeout_seconds=1800,
    cache_policy=NO_CACHE,
)
def write_city_report(city: str, period: str, send: bool) -> city_report.CityWritten:
    """Write every format of a city's roll-up, record it, and queue it with ``send``."""
    with opened() as run, run.session() as session:
        return city_report.write(
            session=session,
            city=city,
            period=period,
            folder=run.settings.reports / "cities" / city / period,
            home=run.settings.home,
            templates=run.settings.templates,
            now=datetime.now(UTC),
            send=send,
        )


def _city_run(city: str, period: str, state: State[Any]) -> CityRun:
    if not state.is_completed():
        return CityRun(city, period, state.name or "Failed", state.message or "")
    written = state.result()
    return CityRun(
        city,
        period,
        "Completed",
        "; ".join(written.problems),
        sorted(written.files),
        written.queued,
    )


@flow(name="city-rollup-all", timeout_seconds=2 * 3600)
def city_rollup_all(
    period: str | None = None, kind: str = "half", send: bool = True, scheduled: bool = False
) -> list[CityRun]:
    """The roll-up of every loaded city for ``period`` (a quarter or a half year), or the
    last quarter or half year (``kind``) that ended; on schedule, a city writes on the
    working day after its pilots' reports of the period."""
    logger = get_run_logger()
    with opened() as run, run.session() as session:
        chosen = city_report.due(
            session=session, now=datetime.now(UTC), kind=kind, period=period, scheduled=scheduled
        )
    logger.info(
        "city roll-up for %d cities (%s)",
        len(chosen),
        ", ".join(f"{city} {when}" for city, when in chosen) or "none due",
    )
    done = []
    for city, when in chosen:
        started = datetime.now(UTC)
        ended = _city_run(city, when, write_city_report(city, when, send, return_state=True))
        finished = datetime.now(UTC)
        with opened() as run:
            with run.session() as session:
                pilots = city_report.running_pilots(session=session, city=city, period=when)
            for program in pilots:
                runs.record(
                    engine=run.engine,
                    program=program,
                    flow=city_flow(city),
                    as_of=periods.bounds(when)[1],
                    started=started,
                    finished=finished,
                    outcome=ended.outcome,
                    summary={
                        "city": city,
                        "period": when,
                        "files": ended.files,
                        "queued": ended.queued,
                        "error": ended.message[:MAX_ERROR] if ended.failed else "",
                    },
                )
        if ended.failed:
            logger.error("city roll-up %s %s: %s", city, when, ended.message or ended.state)
        else:
            logger.info("city roll-up %s %s: %s written", city, when, ", ".join(ended.files))
        done.append(ended)
    if send and any(not ended.failed for ended in done):
        send_alerts()
    failed = [ended for ended in done if ended.failed]
    if failed:
        names = ", ".join(ended.city for ended in failed)
        raise ProgramsFailed(
            f"city-rollup failed for {len(failed)} of {len(done)} cities: {names}; the others "
            "completed (`pilot-tracker status` shows it for each pilot of the city)"
        )
    return done
