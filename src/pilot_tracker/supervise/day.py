"""A program's supervised day without Prefect: what the ``supervise`` flow does (the
calendar's checks, collect, flag and escalate, the run on record), as one call, for the
command that supervises every program in one process (``pilot-tracker supervise
--all-programs``). Messages are queued, not sent: ``pilot-tracker alerts send`` sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from pilot_tracker import db, runs
from pilot_tracker.alerts import outbox
from pilot_tracker.collect import collection
from pilot_tracker.collect.reader import ReaderProcess
from pilot_tracker.ledger import store
from pilot_tracker.supervise import flags, workdays

FLOW = "supervise"  # the run on record is the flow's: ``status`` shows either the same way


@dataclass
class Day:
    """One program's supervised day: what came in, what was flagged, what moved."""

    program: str
    day: date
    skipped: str = ""  # why nothing was done: not a working day, another run is writing
    submissions: int = 0
    unavailable: list[str] = field(default_factory=list)
    errors: int = 0  # payloads or sources pilot-tracker could not take in (its own fault)
    flags: int = 0
    moved: int = 0  # escalations raised, climbed or closed
    calendar_warning: int | None = None  # next year, while its holidays are not entered

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "as_of": self.day.isoformat(),
            "skipped": self.skipped,
            "submissions": self.submissions,
            "unavailable": self.unavailable,
            "errors": self.errors,
            "flags": self.flags,
            "escalations_moved": self.moved,
            "calendar_warning": self.calendar_warning,
        }


def today_of(*, engine: Engine, program: str, now: datetime) -> date:
    """The day it is at ``now`` in the program's own time zone."""
    with db.session(engine) as session:
        zone = store.get_program(session=session, code=program).timezone
    return now.astimezone(ZoneInfo(zone)).date()


def supervise(
    *,
    engine: Engine,
    program: str,
    as_of: date | None,
    clock: Callable[[], datetime],
    home: Path,
    environ: Mapping[str, str],
    templates: outbox.Templates,
    warn_from: tuple[int, int],
    inbox_wait: timedelta,
    settle_seconds: float = 1.0,
    reader: ReaderProcess | None = None,
) -> Day:
    """Supervise ``program`` for ``as_of`` (its own today when None, and then only on a
    working day): collect, flag and escalate, queue the notices, and put the run on
    record. A day before the latest on record is refused (``EarlierDayError``), as the
    flow refuses it; a run of the flow writing for the program meanwhile makes this one
    skip. ``clock`` gives the time (the run's start and end on record); ``reader``, when
    given, reads the payloads in its process (``collect.reader``)."""
    now = clock()
    day = as_of or today_of(engine=engine, program=program, now=now)
    with db.session(engine) as session:
        spec = store.read_program(session=session, code=program)
        calendar = workdays.calendar_of(session=session, spec=spec)
        flags.check_day(session=session, program=program, as_of=day)
        warning, _ = workdays.year_end_warning(
            session=session,
            program=program,
            today=day,
            now=now,
            templates=templates,
            warn_from=warn_from,
        )
    done = Day(program, day, calendar_warning=warning)
    if as_of is None and not calendar.is_workday(day):
        done.skipped = f"{day} is not a working day"
        return done
    with runs.exclusive(engine=engine, program=program, flow=FLOW, now=now) as other:
        if other is not None:
            done.skipped = (
                f"another {other.flow} run ({other.holder}, since {other.acquired_at}) is writing"
            )
            return done
        collected = collection.collect(
            engine=engine,
            program=program,
            as_of=day,
            now=now,
            home=home,
            environ=environ,
            templates=templates,
            settle_seconds=settle_seconds,
            inbox_wait=inbox_wait,
            reader=reader,
        )
        with db.session(engine) as session:
            flagged, changes = flags.flag_and_escalate(
                session=session,
                program=program,
                as_of=day,
                now=now,
                templates=templates,
                home=home,
                unavailable=collected.excused(),
            )
        done.submissions = len(collected.submissions)
        done.unavailable = collected.as_dict()["unavailable"]
        done.errors = len(collected.errors)
        done.flags = len(flagged.findings)
        done.moved = len(changes)
        runs.record(
            engine=engine,
            program=program,
            flow=FLOW,
            as_of=day,
            started=now,
            finished=clock(),
            outcome="ok",
            summary={
                "submissions": done.submissions,
                "unavailable": done.unavailable,
                "flags": done.flags,
            },
        )
    return done


def record_failure(
    *, engine: Engine, program: str, as_of: date | None, now: datetime, error: str
) -> None:
    """A program whose run failed, on record as the flow records it, so ``status`` names
    it with the reason."""
    runs.record(
        engine=engine,
        program=program,
        flow=FLOW,
        as_of=as_of or today_of(engine=engine, program=program, now=now),
        started=now,
        finished=now,
        outcome="failed",
        summary={"error": error[:500]},
    )
