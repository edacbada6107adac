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
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.collect_status import collect_status
from pilot_tracker import db, runs
from pilot_tracker.alerts import delivery, outbox
from pilot_tracker.ledger import store
from pilot_tracker.settings import Settings
from pilot_tracker.supervise import flags, workdays


def _engine(settings: Settings):
    engine = db.make_engine(settings.resolved_database_url)
    db.ensure_current(engine)
    return engine


def _today(settings: Settings, program: str) -> date:
    engine = _engine(settings)
    with db.session(engine) as session:
        zone = store.get_program(session=session, code=program).timezone
    return datetime.now(ZoneInfo(zone)).date()


@task(name="flag-and-escalate", timeout_seconds=600, cache_policy=NO_CACHE)
def flag_and_escalate(program: str, as_of: date, unavailable: list[str]) -> dict[str, object]:
    settings = Settings()
    engine = _engine(settings)
    with db.session(engine) as session:
        flagged, changes = flags.flag_and_escalate(
            session=session,
            program=program,
            as_of=as_of,
            now=datetime.now(UTC),
            templates=outbox.Templates(settings.templates),
            home=settings.home,
            unavailable=frozenset(unavailable),
        )
        moved = [f"{c.unit}: {c.change} {c.escalation.level}" for c in changes]
    return {
        "as_of": as_of.isoformat(),
        "program": program,
        "calendar": flagged.calendar,
        "flags": [flags.finding_dict(finding) for finding in flagged.findings],
        "escalations": moved,
    }


@flow(name="flag-laggards", timeout_seconds=900)
def flag_laggards(
    program: str, as_of: date | None = None, unavailable: list[str] | None = None
) -> dict[str, object]:
    """Flag the lagging units of ``program`` and queue their notices."""
    logger = get_run_logger()
    day = as_of or _today(Settings(), program)
    result = flag_and_escalate(program, day, unavailable or [])
    for line in result["escalations"]:  # type: ignore[union-attr]
        logger.info("escalation %s", line)
    logger.info(
        "%s: %d flags as of %s (calendar: %s)",
        program,
        len(result["flags"]),  # type: ignore[arg-type]
        day,
        result["calendar"],
    )
    return result


# Chat services take about 20 messages a minute: a full outbox takes minutes, not hours.
@flow(name="send-alerts", timeout_seconds=1800)
def send_alerts(force: bool = False) -> dict[str, int]:
    """Deliver the outbox messages that are due (all of them with ``force``)."""
    logger = get_run_logger()
    settings = Settings()
    if settings.apprise_config is None:
        logger.warning("PILOT_TRACKER_APPRISE_CONFIG is not set: messages stay in the outbox")
        pending = delivery.pending_count(engine=_engine(settings))
        return {"sent": 0, "failed": 0, "pending": pending, "deduplicated": 0}
    result = delivery.send(
        engine=_engine(settings),
        targets=delivery.load_targets(settings.apprise_config),
        templates=outbox.Templates(settings.templates),
        home=settings.home,
        now=lambda: datetime.now(UTC),
        force=force,
    )
    for error in result.errors:
        logger.warning("delivery: %s", error)
    logger.info("alerts: %s", result.as_dict())
    return result.as_dict()


@task(name="check-calendar", timeout_seconds=120, cache_policy=NO_CACHE)
def check_calendar(program: str, day: date) -> int | None:
    """Warn the office, at most weekly, while next year's holidays are not in the calendar."""
    settings = Settings()
    with db.session(_engine(settings)) as session:
        year, queued = workdays.year_end_warning(
            session=session,
            program=program,
            today=day,
            now=datetime.now(UTC),
            templates=outbox.Templates(settings.templates),
            warn_from=settings.calendar_warning_day,
        )
    if year is not None:
        logger = get_run_logger()
        logger.warning("%s: %s", program, workdays.warning_text(year))
        if queued:
            logger.info("%s: the office is told (role:office, at most once a week)", program)
    return year


# Collect, flag and send in turn, each within its own limit.
@flow(name="supervise", timeout_seconds=7200)
def supervise(
    program: str, as_of: date | None = None, settle_seconds: float = 1.0
) -> dict[str, object]:
    """Collect, flag and send for one program and day.

    Scheduled every day, it runs only on working days of the official Chinese calendar
    (with the program's own overrides), which cron cannot know; and never alongside
    another run for the same program.
    """
    logger = get_run_logger()
    settings = Settings()
    engine = _engine(settings)
    day = as_of or _today(settings, program)
    with db.session(engine) as session:
        spec = store.read_program(session=session, code=program)
        calendar = workdays.calendar_of(session=session, spec=spec)
        # A re-run for a day before the latest one on record fails here, writing nothing.
        flags.check_day(session=session, program=program, as_of=day)
    check_calendar(program, day)
    if as_of is None and not calendar.is_workday(day):
        logger.info("%s: %s is not a working day; nothing to do", program, day)
        return {"skipped": f"{day} is not a working day"}
    started = datetime.now(UTC)
    with runs.exclusive(engine=engine, program=program, flow="supervise", now=started) as other:
        if other is not None:
            message = (
                f"another {other.flow} run for {program} ({other.holder}, since "
                f"{other.acquired_at}) is writing; this one skips"
            )
            logger.warning(message)
            return {"skipped": message}
        collected = collect_status(program, as_of=day, settle_seconds=settle_seconds)
        unavailable = sorted({item["unit"] for item in collected["unavailable"]})  # type: ignore[union-attr]
        flagged = flag_laggards(program, as_of=day, unavailable=unavailable)
        sent = send_alerts()
    summary = {
        "submissions": len(collected["submissions"]),  # type: ignore[arg-type]
        "unavailable": collected["unavailable"],
        "flags": len(flagged["flags"]),  # type: ignore[arg-type]
        "sent": sent,
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
    logger.info("%s %s: %s", program, day, summary)
    return {"collected": collected, "flagged": flagged, "sent": sent}
