"""Flows ``flag-laggards``, ``send-alerts`` and ``supervise`` (collect → flag → send).

``flag-laggards`` runs the rules and moves units on the escalation ladder, writing the
notices into the outbox in the same transaction; running it twice for a day replaces that
day's flags and writes no notice twice. A run (or a re-run) for a day before the latest one
on record fails with ``EarlierDayError`` and writes nothing. ``send-alerts`` delivers what
is due; a retried run never sends a message twice, since each address that took a message
is on record.
"""

from __future__ import annotations

import flows  # noqa: F401  first: Prefect's telemetry off before Prefect loads

# isort: split
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.collect_status import collect_status
from flows.common import opened
from pilot_tracker import runs
from pilot_tracker.alerts import delivery
from pilot_tracker.alerts.delivery import SendResult
from pilot_tracker.collect.collection import CollectionResult
from pilot_tracker.ledger import store
from pilot_tracker.supervise import flags, workdays


@dataclass
class Flagged:
    """What one flag run found and how the escalations moved."""

    as_of: date
    program: str
    calendar: str
    flags: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)


@dataclass
class Supervised:
    """One supervise run: what was collected, flagged and sent, or why it was skipped."""

    program: str
    as_of: date
    collected: CollectionResult | None = None
    flagged: Flagged | None = None
    sent: SendResult | None = None
    skipped: str = ""


@task(name="flag-and-escalate", timeout_seconds=600, cache_policy=NO_CACHE)
def flag_and_escalate(program: str, as_of: date, unavailable: list[str]) -> Flagged:
    with opened() as run, run.session() as session:
        found, changes = flags.flag_and_escalate(
            session=session,
            program=program,
            as_of=as_of,
            now=datetime.now(UTC),
            templates=run.templates,
            home=run.settings.home,
            unavailable=frozenset(unavailable),
        )
        return Flagged(
            as_of=as_of,
            program=program,
            calendar=found.calendar,
            flags=[flags.finding_dict(finding) for finding in found.findings],
            escalations=[f"{c.unit}: {c.change} {c.escalation.level}" for c in changes],
        )


@flow(name="flag-laggards", timeout_seconds=900)
def flag_laggards(
    program: str, as_of: date | None = None, unavailable: list[str] | None = None
) -> Flagged:
    """Flag the lagging units of ``program`` and queue their notices."""
    logger = get_run_logger()
    if as_of is None:
        with opened() as run:
            as_of = run.today(program)
    result = flag_and_escalate(program, as_of, unavailable or [])
    for line in result.escalations:
        logger.info("escalation %s", line)
    logger.info(
        "%s: %d flags as of %s (calendar: %s)", program, len(result.flags), as_of, result.calendar
    )
    return result


# Chat services take about 20 messages a minute: a full outbox takes minutes, not hours.
@flow(name="send-alerts", timeout_seconds=1800)
def send_alerts(force: bool = False) -> SendResult:
    """Deliver the outbox messages that are due (all of them with ``force``)."""
    logger = get_run_logger()
    with opened() as run:
        if run.settings.apprise_config is None:
            logger.warning("PILOT_TRACKER_APPRISE_CONFIG is not set: messages stay in the outbox")
            return SendResult(pending=delivery.pending_count(engine=run.engine))
        result = delivery.send(
            engine=run.engine,
            targets=delivery.load_targets(run.settings.apprise_config),
            templates=run.templates,
            home=run.settings.home,
            now=lambda: datetime.now(UTC),
            force=force,
        )
    for error in result.errors:
        logger.warning("delivery: %s", error)
    logger.info("alerts: %s", result.as_dict())
    return result


@task(name="check-calendar", timeout_seconds=120, cache_policy=NO_CACHE)
def check_calendar(program: str, day: date) -> int | None:
    """Warn the office, at most weekly, while next year's holidays are not in the calendar."""
    with opened() as run, run.session() as session:
        year, queued = workdays.year_end_warning(
            session=session,
            program=program,
            today=day,
            now=datetime.now(UTC),
            templates=run.templates,
            warn_from=run.settings.calendar_warning_day,
        )
    if year is not None:
        logger = get_run_logger()
        logger.warning("%s: %s", program, workdays.warning_text(year))
        if queued:
            logger.info("%s: the office is told (role:office, at most once a week)", program)
    return year


# Collect, flag and send in turn, each within its own limit.
@flow(name="supervise", timeout_seconds=7200)
def supervise(program: str, as_of: date | None = None, settle_seconds: float = 1.0) -> Supervised:
    """Collect, flag and send for one program and day.

    Scheduled every day, it runs only on working days of the official Chinese calendar
    (with the program's own overrides), which cron cannot know; and never alongside
    another run for the same program.
    """
    logger = get_run_logger()
    with opened() as run:
        day = as_of or run.today(program)
        with run.session() as session:
            spec = store.read_program(session=session, code=program)
            calendar = workdays.calendar_of(session=session, spec=spec)
            # A re-run for a day before the latest one on record fails here, writing nothing.
            flags.check_day(session=session, program=program, as_of=day)
        check_calendar(program, day)
        if as_of is None and not calendar.is_workday(day):
            logger.info("%s: %s is not a working day; nothing to do", program, day)
            return Supervised(program, day, skipped=f"{day} is not a working day")
        started = datetime.now(UTC)
        with runs.exclusive(
            engine=run.engine, program=program, flow="supervise", now=started
        ) as other:
            if other is not None:
                message = (
                    f"another {other.flow} run for {program} ({other.holder}, since "
                    f"{other.acquired_at}) is writing; this one skips"
                )
                logger.warning(message)
                return Supervised(program, day, skipped=message)
            collected = collect_status(program, as_of=day, settle_seconds=settle_seconds)
            excused = sorted(collected.excused())
            flagged = flag_laggards(program, as_of=day, unavailable=excused)
            sent = send_alerts()
        summary = {
            "submissions": len(collected.submissions),
            "unavailable": collected.as_dict()["unavailable"],
            "flags": len(flagged.flags),
            "sent": sent.as_dict(),
        }
        runs.record(
            engine=run.engine,
            program=program,
            flow="supervise",
            as_of=day,
            started=started,
            finished=datetime.now(UTC),
            outcome="ok",
            summary=summary,
        )
    logger.info("%s %s: %s", program, day, summary)
    return Supervised(program, day, collected=collected, flagged=flagged, sent=sent)
