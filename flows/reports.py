"""Flows ``quarterly-reconciliation`` and ``half-year-evaluation``.

Each writes its report (HTML, PDF, XLSX, and DOCX for the evaluation), records it, queues
it for the office and the leaders (and each unit's statement for its liaison), then
delivers what is due. Without a period, the last one that has ended is reported.
"""

from __future__ import annotations

import flows  # noqa: F401  first: Prefect's telemetry off before Prefect loads

# isort: split
from dataclasses import dataclass
from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import OperationalError

from flows.common import Opened, opened, retry_on
from flows.supervise import send_alerts
from pilot_tracker import periods, runs
from pilot_tracker.alerts.delivery import SendResult
from pilot_tracker.ledger import store
from pilot_tracker.reports import schedule, writing
from pilot_tracker.supervise import workdays


@dataclass
class Reported:
    """One report run: what was written and sent, or why it was skipped."""

    program: str
    period: str
    written: writing.Written | None = None
    sent: SendResult | None = None
    skipped: str = ""


# A locked SQLite file or a full disk may pass; a bug or a refusal would fail the same way.
@task(
    name="write-report",
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=retry_on(OSError, OperationalError),
    timeout_seconds=600,
    cache_policy=NO_CACHE,
)
def write_report(kind: str, program: str, period: str, send: bool) -> writing.Written:
    """Write every format of the report (and each unit's statement), record it, and queue
    it for delivery with ``send``."""
    with opened() as run, run.session() as session:
        return writing.write(
            session=session,
            kind="quarterly" if kind == "quarter" else "half_year",
            program=program,
            period=period,
            folder=run.settings.reports / program / period,
            home=run.settings.home,
            templates=run.settings.templates,
            now=datetime.now(UTC),
            send=send,
            links=run.links,
        )


def _report(kind: str, program: str, period: str, send: bool) -> Reported:
    logger = get_run_logger()
    started = datetime.now(UTC)
    written = write_report(kind, program, period, send)
    with opened() as run:
        runs.record(
            engine=run.engine,
            program=program,
            flow="quarterly-reconciliation" if kind == "quarter" else "half-year-evaluation",
            as_of=periods.bounds(period)[1],
            started=started,
            finished=datetime.now(UTC),
            outcome="report problems" if written.problems else "ok",
            summary={"period": period, "files": sorted(written.files), "queued": written.queued},
        )
    for problem in written.problems:
        logger.error("%s %s: %s", program, period, problem)
    logger.info(
        "%s %s: %s written, %d messages queued",
        program,
        period,
        ", ".join(sorted(written.files)),
        written.queued,
    )
    return Reported(program, period, written=written, sent=send_alerts() if send else None)


def _due(run: Opened, program: str, kind: str) -> str | None:
    """The period whose report is due today, the n-th working day after it ended; or None
    (the schedule runs on the first days of the month, cron cannot count working days)."""
    with run.session() as session:
        spec = store.read_program(session=session, code=program)
        calendar = workdays.calendar_of(session=session, spec=spec)
    today = run.today(program)
    period = periods.last_ended(today, kind)
    return period if schedule.writing_day(calendar, period) == today else None


def _period(program: str, period: str | None, scheduled: bool, kind: str) -> str | None:
    """The period asked for; else the last one that ended (on schedule: only on its day)."""
    if period is not None:
        return period
    with opened() as run:
        if scheduled:
            return _due(run, program, kind)
        return periods.last_ended(run.today(program), kind)


# Writing every format of every unit's statement, then sending them.
@flow(name="quarterly-reconciliation", timeout_seconds=3600)
def quarterly_reconciliation(
    program: str, quarter: str | None = None, send: bool = True, scheduled: bool = False
) -> Reported:
    """The quarterly reconciliation (季度对账) of ``program``.

    ``scheduled``: run daily early in each quarter by cron, it writes only on the 5th
    working day after the quarter ended (cron cannot count working days).
    """
    period = _period(program, quarter, scheduled, "quarter")
    if period is None:
        return Reported(program, "", skipped="not the 5th working day after the quarter")
    return _report("quarter", program, period, send)


@flow(name="half-year-evaluation", timeout_seconds=3600)
def half_year_evaluation(
    program: str, half: str | None = None, send: bool = True, scheduled: bool = False
) -> Reported:
    """The half-year evaluation (半年度评估) of ``program``; on schedule, the 7th working day
    after the half year ended."""
    period = _period(program, half, scheduled, "half")
    if period is None:
        return Reported(program, "", skipped="not the 7th working day after the half year")
    return _report("half", program, period, send)
