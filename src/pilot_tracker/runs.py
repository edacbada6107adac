"""How runs go: one writing run per program at a time, and a record of every run.

The lock is a row in the project's database, so it holds across processes and machines
(workers pulling from one pool); a lock older than its lease is taken over, so a crashed
run never blocks the next one for good.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from pilot_tracker import db
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
