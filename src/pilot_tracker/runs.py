"""How runs go: which programs a scheduled run covers, one writing run per program at a
time, and a record of every run.

The lock is a row in the project's database, so it holds across processes and machines
(workers pulling from one pool); a lock older than its lease is taken over, so a crashed
run never blocks the next one for good.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from pilot_tracker import db, periods
from pilot_tracker.models import (
    Escalation,
    EscalationStatus,
    Notification,
    NotificationStatus,
    Program,
    RunLock,
    RunRecord,
)

LEASE = timedelta(hours=2)


def supervised_programs(*, engine: Engine, now: datetime, as_of: date | None = None) -> list[str]:
    """The programs a supervise run covers: those whose period holds the day (``as_of``, or
    today in each program's own time zone at ``now``). Before its start nothing is due yet;
    after its end nothing more is asked of its units."""
    return _covering(engine, now, lambda today: (as_of or today, as_of or today))


def reported_programs(
    *, engine: Engine, now: datetime, kind: str, period: str | None = None
) -> list[str]:
    """The programs a report run (``kind`` "quarter" or "half") covers: those whose period
    overlaps the one reported (``period``, or the last that ended before each program's own
    today at ``now``). So a program's last report is written after it ended, and none
    after that (``reports.writing`` refuses a period outside the program)."""

    def span(today: date) -> tuple[date, date]:
        return periods.bounds(period or periods.last_ended(today, kind))

    return _covering(engine, now, span)


def _covering(
    engine: Engine, now: datetime, span: Callable[[date], tuple[date, date]]
) -> list[str]:
    with db.session(engine) as session:
        programs = session.exec(select(Program).order_by(Program.code)).all()
        found = []
        for program in programs:
            first, last = span(now.astimezone(ZoneInfo(program.timezone)).date())
            if first <= program.end_date and program.start_date <= last:
                found.append(program.code)
    return found


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.contextmanager
def exclusive(
    *, engine: Engine, program: str, flow: str, now: datetime, lease: timedelta = LEASE
) -> Iterator[RunLock | None]:
    """Hold the program's lock for the block.

    Yields ``None`` when this run holds the lock, or the other run's lock when that run
    holds it (the caller then skips, and says whose run it is).
    """
    me = holder()
    try:
        with db.session(engine) as session:
            session.execute(
                delete(RunLock).where(
                    col(RunLock.program) == program, col(RunLock.expires_at) < now
                )
            )
        with db.session(engine) as session:
            session.add(
                RunLock(
                    program=program, flow=flow, holder=me, acquired_at=now, expires_at=now + lease
                )
            )
    except IntegrityError:
        with db.session(engine) as session:
            current = session.exec(select(RunLock).where(RunLock.program == program)).first()
            session.expunge_all()
        yield current if current is not None and current.holder != me else None
        return
    try:
        yield None
    finally:
        with db.session(engine) as session:
            session.execute(
                delete(RunLock).where(col(RunLock.program) == program, col(RunLock.holder) == me)
            )


def record(
    *,
    engine: Engine,
    program: str,
    flow: str,
    as_of: date | None,
    started: datetime,
    finished: datetime,
    outcome: str,
    summary: dict[str, Any],
) -> None:
    with db.session(engine) as session:
        session.add(
            RunRecord(
                program=program,
                flow=flow,
                as_of=as_of,
                started_at=started,
                finished_at=finished,
                outcome=outcome,
                summary=summary,
            )
        )


def status(*, engine: Engine) -> dict[str, Any]:
    """What an operator checks: last runs, the outbox, open escalations, sources down."""
    with db.session(engine) as session:
        programs = session.exec(select(Program).order_by(Program.code)).all()
        runs = session.exec(select(RunRecord).order_by(col(RunRecord.id))).all()
        last: dict[str, dict[str, Any]] = {}
        for run in runs:
            last.setdefault(run.program, {})[run.flow] = {
                "as_of": run.as_of.isoformat() if run.as_of else None,
                "finished": run.finished_at.isoformat() if run.finished_at else None,
                "outcome": run.outcome,
                # Why a run failed (a fan-out records it for the program whose run failed).
                "error": run.summary.get("error", "") if run.outcome == "failed" else "",
            }
        unavailable = {
            run.program: run.summary.get("unavailable", [])
            for run in runs
            if run.flow == "collect-status"
        }
        outbox = {
            state: len(
                session.exec(select(Notification.id).where(Notification.status == state)).all()
            )
            for state in (NotificationStatus.PENDING.value, NotificationStatus.FAILED.value)
        }
        report = []
        for program in programs:
            levels: dict[str, int] = {"reminder": 0, "urge": 0, "interview": 0}
            for level in session.exec(
                select(Escalation.level).where(
                    Escalation.program_id == program.id,
                    Escalation.status == EscalationStatus.OPEN.value,
                )
            ).all():
                levels[level] += 1
            report.append(
                {
                    "program": program.code,
                    "last_runs": last.get(program.code, {}),
                    "open_escalations": levels,
                    "unavailable_sources": unavailable.get(program.code, []),
                }
            )
    return {"programs": report, "notifications": outbox}
