"""Flows ``quarterly-reconciliation`` and ``half-year-evaluation``.

Each writes its report (HTML, PDF, XLSX, and DOCX for the evaluation), records it, queues
it for the office and the leaders (and each unit's statement for its liaison), then
delivers what is due. Without a period, the last one that has ended is reported.
"""

from __future__ import annotations

import flows  # noqa: F401  first: Prefect's telemetry off before Prefect loads

# isort: split
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger

from flows.supervise import send_alerts
from pilot_tracker import db, periods
from pilot_tracker.ledger import store
from pilot_tracker.reports import schedule, writing
from pilot_tracker.settings import Settings
from pilot_tracker.supervise import workdays


def _last_ended(program: str, settings: Settings, kind: str) -> str:
    engine = db.make_engine(settings.resolved_database_url, create=False)
    with db.session(engine) as session:
        zone = store.get_program(session=session, code=program).timezone
    today = datetime.now(ZoneInfo(zone)).date()
    day = today.replace(day=1) - timedelta(days=1)
    if kind == "quarter":
        while day.month % 3:
            day = day.replace(day=1) - timedelta(days=1)
        return periods.quarter_of(day)
    while day.month % 6:
        day = day.replace(day=1) - timedelta(days=1)
    return periods.half_of(day)


def _write(kind: str, program: str, period: str, send: bool) -> dict[str, object]:
    logger = get_run_logger()
    settings = Settings()
    engine = db.make_engine(settings.resolved_database_url)
    db.ensure_current(engine)
    with db.session(engine) as session:
        written = writing.write(
            session=session,
            kind="quarterly" if kind == "quarter" else "half_year",
            program=program,
            period=period,
            folder=settings.reports / program / period,
            home=settings.home,
            templates=settings.templates,
            now=datetime.now(UTC),
            send=send,
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
    result: dict[str, object] = written.as_dict()
    if send:
        result["sent"] = send_alerts()
    return result


def _due_today(program: str, settings: Settings, kind: str) -> bool:
    """Whether today is the day the schedule means: the n-th working day after the period."""
    engine = db.make_engine(settings.resolved_database_url, create=False)
    with db.session(engine) as session:
        spec = store.read_program(session=session, code=program)
        calendar = workdays.calendar_of(session=session, spec=spec)
    today = datetime.now(ZoneInfo(spec.timezone)).date()
    period = _last_ended(program, settings, kind)
    return schedule.writing_day(calendar, period) == today


# Writing every format of every unit's statement, then sending them.
@flow(name="quarterly-reconciliation", timeout_seconds=3600)
def quarterly_reconciliation(
    program: str, quarter: str | None = None, send: bool = True, scheduled: bool = False
) -> dict[str, object]:
    """The quarterly reconciliation (季度对账) of ``program``.

    ``scheduled``: run daily early in each quarter by cron, it writes only on the 5th
    working day after the quarter ended (cron cannot count working days).
    """
    settings = Settings()
    if scheduled and quarter is None and not _due_today(program, settings, "quarter"):
        return {"skipped": "not the 5th working day after the quarter"}
    return _write("quarter", program, quarter or _last_ended(program, settings, "quarter"), send)


@flow(name="half-year-evaluation", timeout_seconds=3600)
def half_year_evaluation(
    program: str, half: str | None = None, send: bool = True, scheduled: bool = False
) -> dict[str, object]:
    """The half-year evaluation (半年度评估) of ``program``; on schedule, the 7th working day
    after the half year ended."""
    settings = Settings()
    if scheduled and half is None and not _due_today(program, settings, "half"):
        return {"skipped": "not the 7th working day after the half year"}
    return _write("half", program, half or _last_ended(program, settings, "half"), send)
