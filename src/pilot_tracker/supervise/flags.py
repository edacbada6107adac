"""Flagging a program as of a day: gather what the rules look at, run them, keep the flags.

Flags are kept per day: running again for the same day replaces that day's flags, so a
schedule that fires twice does no harm. A run for a day before the latest one on record is
refused (``EarlierDayError``): the escalation ladder moves from the state the latest run
left, and replaying an earlier day would close later escalations before they opened.
``preview`` works out an earlier day's flags without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, insert
from sqlmodel import Session, select

from pilot_tracker.alerts import outbox
from pilot_tracker.errors import EarlierDayError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec
from pilot_tracker.models import (
    Escalation,
    Flag,
    Program,
)
from pilot_tracker.supervise import escalation, extensions, progress, rules, workdays

_FLAG = Flag.__table__  # type: ignore[attr-defined]
_DELETE_DAY = delete(_FLAG).where(
    _FLAG.c.program_id == bindparam("program_id"), _FLAG.c.as_of == bindparam("as_of")
)
# RETURNING makes SQLAlchemy send the rows as one multi-row INSERT ("insertmanyvalues"):
# on PostgreSQL one statement, not one a flag.
_ADD_FLAGS = insert(_FLAG).returning(_FLAG.c.id)
_ESCALATION = Escalation.__table__  # type: ignore[attr-defined]
_LATEST_DAYS = select(
    select(func.max(_FLAG.c.as_of))
    .where(_FLAG.c.program_id == bindparam("program_id"))
    .scalar_subquery(),
    *select(
        func.max(_ESCALATION.c.opened_on),
        func.max(_ESCALATION.c.raised_on),
        func.max(_ESCALATION.c.closed_on),
    )
    .where(_ESCALATION.c.program_id == bindparam("program_id"))
    .subquery()
    .c,
)


@dataclass
class Flagged:
    """The outcome of flagging one program on one day."""

    program: Program
    spec: ProgramSpec
    situation: rules.Situation
    findings: list[rules.Finding]

    @property
    def calendar(self) -> str:
        return self.situation.calendar.status


def situation(
    *, session: Session, program: str, as_of: date, unavailable: frozenset[str] = frozenset()
) -> tuple[Program, ProgramSpec, rules.Situation]:
    """What the rules need for a program on a day, read from the database; a task's due
    date is the one in effect that day (an approved extension moves it)."""
    record = store.get_program(session=session, code=program)
    spec, current = _situation(session, record, as_of, unavailable)
    return record, spec, current


def _situation(
    session: Session, record: Program, as_of: date, unavailable: frozenset[str]
) -> tuple[ProgramSpec, rules.Situation]:
    spec, _ = extensions.effective(
        session=session,
        program_id=record.id,
        spec=store.ledger_of(session=session, program=record),
        as_of=as_of,
    )
    status_reports = progress.status_reports_judged(session=session, program=record, as_of=as_of)
    readings = progress.stored_readings(session=session, program_id=record.id, as_of=as_of)
    return (
        spec,
        rules.Situation(
            spec=spec,
            as_of=as_of,
            calendar=workdays.calendar_of(session=session, spec=spec),
            status_reports=status_reports,
            readings=readings,
            unavailable=unavailable,
        ),
    )


def latest_day(*, session: Session, program_id: int) -> date | None:
    """The latest day on record for a program: of a flag, or of an escalation opened,
    raised or closed."""
    days = session.connection().execute(_LATEST_DAYS, {"program_id": program_id}).one()
    return max((day for day in days if day is not None), default=None)


def check_day(*, session: Session, program: str, as_of: date) -> None:
    """Refuse a writing run for a day before the latest one on record."""
    _check_day(session, store.get_program(session=session, code=program), as_of)


def _check_day(session: Session, record: Program, as_of: date) -> date | None:
    """``check_day`` of a program record already read; the latest day on record."""
    latest = latest_day(session=session, program_id=record.id)  # type: ignore[arg-type]
    if latest is not None and as_of < latest:
        program = record.code
        raise EarlierDayError(
            f"{program}: flags and escalations are on record up to {latest}; a run for "
            f"{as_of} would rewrite what came after it, so nothing was written. To see what "
            f"{as_of}'s flags would be without writing anything, run: pilot-tracker flag "
            f"--program {program} --as-of {as_of} --dry-run"
        )
    return latest


def preview(
    *, session: Session, program: str, as_of: date, unavailable: frozenset[str] = frozenset()
) -> Flagged:
    """What the rules find for a program on a day, any day, writing nothing."""
    return _preview(session, store.get_program(session=session, code=program), as_of, unavailable)


def _preview(
    session: Session, record: Program, as_of: date, unavailable: frozenset[str]
) -> Flagged:
    spec, current = _situation(session, record, as_of, unavailable)
    findings = rules.evaluate(current)
    if current.calendar.guessed_years:  # a flag on guessed working days says so
        for finding in findings:
            finding.details["calendar"] = current.calendar.status
    return Flagged(program=record, spec=spec, situation=current, findings=findings)


def flag(
    *,
    session: Session,
    program: str,
    as_of: date,
    unavailable: frozenset[str] = frozenset(),
    previewed: Flagged | None = None,
) -> Flagged:
    """Run the rules for a program on a day and keep the flags (replacing that day's);
    with ``previewed``, keep what that ``preview`` of the day found.

    Raises ``EarlierDayError`` for a day before the latest one on record.
    """
    record = store.get_program(session=session, code=program)
    latest = _check_day(session, record, as_of)
    if previewed is not None and (
        previewed.program.code != program
        or previewed.situation.as_of != as_of
        or previewed.situation.unavailable != unavailable
    ):
        raise ValueError(f"the preview given is not {program}'s of {as_of}")
    flagged = previewed or _preview(session, record, as_of, unavailable)
    findings = flagged.findings
    if latest == as_of:  # the day has been flagged before: its flags are replaced
        session.execute(_DELETE_DAY, {"program_id": record.id, "as_of": as_of})
    if findings:
        ids = store.ids_of(session=session, program=record)
        session.execute(
            _ADD_FLAGS,
            [
                {
                    "program_id": record.id,
                    "unit_id": ids.units[finding.unit],
                    "task_id": ids.tasks.get(finding.task) if finding.task else None,
                    "indicator_id": (
                        ids.indicators.get(finding.indicator) if finding.indicator else None
                    ),
                    "rule": finding.rule,
                    "severity": finding.severity.value,
                    "period": finding.period,
                    "as_of": as_of,
                    "details": {**finding.details, "message": finding.message},
                }
                for finding in findings
            ],
        )
    return flagged


def finding_dict(finding: rules.Finding) -> dict[str, Any]:
    """A finding as ``flag --json`` prints it."""
    return {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "unit": finding.unit,
        "task": finding.task,
        "indicator": finding.indicator,
        "details": {**finding.details, "message": finding.message},
    }


def flag_and_escalate(
    *,
    session: Session,
    program: str,
    as_of: date,
    now: datetime,
    templates: outbox.Templates,
    home: Path,
    unavailable: frozenset[str] = frozenset(),
    previewed: Flagged | None = None,
) -> tuple[Flagged, list[escalation.Change]]:
    """Flag a program and move its units on the escalation ladder, in one transaction.

    ``previewed``: the day's ``preview``, read before this transaction (which then holds
    the write lock for the writing only), where nothing else writes the program between."""
    flagged = flag(
        session=session,
        program=program,
        as_of=as_of,
        unavailable=unavailable,
        previewed=previewed,
    )
    changes = escalation.advance(
        session=session,
        program=flagged.program,
        spec=flagged.spec,
        findings=flagged.findings,
        as_of=as_of,
        now=now,
        calendar=flagged.situation.calendar,
        templates=templates,
        home=home,
    )
    return flagged, changes
