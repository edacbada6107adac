"""Flagging a program as of a day: gather what the rules look at, run them, keep the flags.

Flags are kept per day: running again for the same day replaces that day's flags (and
writes nothing when the rules find the same again), so a schedule that fires twice does
no harm. A run for a day before the latest one on record is refused (``EarlierDayError``):
the escalation ladder moves from the state the latest run left, and replaying an earlier
day would close later escalations before they opened.
``preview`` works out an earlier day's flags without writing anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, delete, func, insert
from sqlmodel import Session

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
# What a flag says, beside its program and day: a day flagged again with the same findings
# keeps its flags as they are.
_KEPT = ("unit_id", "task_id", "indicator_id", "rule", "severity", "period", "details")
_OF_DAY = (_FLAG.c.program_id == bindparam("program_id"), _FLAG.c.as_of == bindparam("as_of"))
_DELETE_DAY = delete(_FLAG).where(*_OF_DAY)
# The day's flags as stored, in the order they were written.
_DAY_FLAGS = sa.select(*(_FLAG.c[name] for name in _KEPT)).where(*_OF_DAY).order_by(_FLAG.c.id)
# Sent as one executemany: psycopg sends its rows in one round trip (a pipeline), each a
# statement parsed once; a multi-row INSERT would be new text for psycopg to parse every
# time past 50 parameters (six flags).
_ADD_FLAGS = insert(_FLAG)
_ESCALATION = Escalation.__table__  # type: ignore[attr-defined]


def _latest_days(program_id: Any) -> tuple[Any, ...]:
    """The latest day of a program's flags, and of its escalations opened, raised and
    closed, as scalar subqueries."""
    return tuple(
        sa.select(func.max(column)).where(column.table.c.program_id == program_id).scalar_subquery()
        for column in (
            _FLAG.c.as_of,
            _ESCALATION.c.opened_on,
            _ESCALATION.c.raised_on,
            _ESCALATION.c.closed_on,
        )
    )


_LATEST_DAYS = sa.select(*_latest_days(bindparam("program_id")))
# What flagging a program on a day starts from, in one round trip: the program, its
# latest day on record, how many extensions are in effect (read only when there are
# some), and the entered calendar years (a row each, the program's repeated; one row with
# no year when none is entered).
_PROGRAM_AND_DAYS = (
    Program,
    *_latest_days(Program.id),  # type: ignore[arg-type]
    extensions.count_approved_by(Program.id, bindparam("as_of")),
)
_PROGRAM_DAY = (
    sa.select(*_PROGRAM_AND_DAYS, *workdays.YEAR_COLUMNS)
    .outerjoin(workdays.YEAR_COLUMNS[0].table, sa.true())
    .where(Program.code == bindparam("code"))  # type: ignore[arg-type]
    .order_by(workdays.YEAR_COLUMNS[0])
)
_YEAR_AT = len(_PROGRAM_AND_DAYS)  # where a row's entered year begins


@dataclass(frozen=True)
class _ProgramDay:
    """``_PROGRAM_DAY`` as read."""

    record: Program
    latest: date | None
    extensions: int
    entered: dict[int, workdays.Arrangement]


def _program_day(session: Session, program: str, as_of: date) -> _ProgramDay:
    rows = session.execute(_PROGRAM_DAY, {"code": program, "as_of": as_of}).all()
    if not rows:
        raise store.no_program(session=session, code=program)
    record, *days, extended = rows[0][:_YEAR_AT]
    return _ProgramDay(
        record=record,
        latest=_latest(days),
        extensions=extended,
        entered={
            row[_YEAR_AT]: workdays.Arrangement.stored(*row[_YEAR_AT:])
            for row in rows
            if row[_YEAR_AT] is not None
        },
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
    day = _program_day(session, program, as_of)
    spec, current = _situation(session, day, as_of, unavailable)
    return day.record, spec, current


def _situation(
    session: Session, day: _ProgramDay, as_of: date, unavailable: frozenset[str]
) -> tuple[ProgramSpec, rules.Situation]:
    record = day.record
    dues = (
        extensions.in_effect(session=session, program_id=record.id, as_of=as_of)
        if day.extensions
        else {}
    )
    spec, _ = extensions.applied(store.ledger_of(session=session, program=record), dues)
    status_reports, readings = progress.judged(session=session, program=record, as_of=as_of)
    return (
        spec,
        rules.Situation(
            spec=spec,
            as_of=as_of,
            calendar=workdays.calendar_for(spec, day.entered),
            status_reports=status_reports,
            readings=readings,
            unavailable=unavailable,
        ),
    )


def latest_day(*, session: Session, program_id: int) -> date | None:
    """The latest day on record for a program: of a flag, or of an escalation opened,
    raised or closed."""
    return _latest(session.connection().execute(_LATEST_DAYS, {"program_id": program_id}).one())


def _latest(days: Iterable[date | None]) -> date | None:
    return max((day for day in days if day is not None), default=None)


def check_day(*, session: Session, program: str, as_of: date) -> None:
    """Refuse a writing run for a day before the latest one on record."""
    record = store.get_program(session=session, code=program)
    _refuse_earlier(program, latest_day(session=session, program_id=record.id), as_of)  # type: ignore[arg-type]


def _refuse_earlier(program: str, latest: date | None, as_of: date) -> None:
    if latest is not None and as_of < latest:
        raise EarlierDayError(
            f"{program}: flags and escalations are on record up to {latest}; a run for "
            f"{as_of} would rewrite what came after it, so nothing was written. To see what "
            f"{as_of}'s flags would be without writing anything, run: pilot-tracker flag "
            f"--program {program} --as-of {as_of} --dry-run"
        )


def preview(
    *, session: Session, program: str, as_of: date, unavailable: frozenset[str] = frozenset()
) -> Flagged:
    """What the rules find for a program on a day, any day, writing nothing."""
    return _preview(session, _program_day(session, program, as_of), as_of, unavailable)


def _preview(
    session: Session, day: _ProgramDay, as_of: date, unavailable: frozenset[str]
) -> Flagged:
    spec, current = _situation(session, day, as_of, unavailable)
    findings = rules.evaluate(current)
    if current.calendar.guessed_years:  # a flag on guessed working days says so
        for finding in findings:
            finding.details["calendar"] = current.calendar.status
    return Flagged(program=day.record, spec=spec, situation=current, findings=findings)


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
    day = _program_day(session, program, as_of)
    _refuse_earlier(program, day.latest, as_of)
    if previewed is not None and (
        previewed.program.code != program
        or previewed.situation.as_of != as_of
        or previewed.situation.unavailable != unavailable
    ):
        raise ValueError(f"the preview given is not {program}'s of {as_of}")
    flagged = previewed or _preview(session, day, as_of, unavailable)
    record = day.record
    ids = store.ids_of(session=session, program=record)
    rows = [
        {
            "program_id": record.id,
            "unit_id": ids.units[finding.unit],
            "task_id": ids.tasks.get(finding.task) if finding.task else None,
            "indicator_id": ids.indicators.get(finding.indicator) if finding.indicator else None,
            "rule": finding.rule,
            "severity": finding.severity.value,
            "period": finding.period,
            "as_of": as_of,
            "details": {**finding.details, "message": finding.message},
        }
        for finding in flagged.findings
    ]
    connection = session.connection()
    day_of = {"program_id": record.id, "as_of": as_of}
    if day.latest == as_of:  # the day is on record: its flags, if any, are replaced
        stored = connection.execute(_DAY_FLAGS, day_of).all()
        if [_said(row._mapping) for row in stored] == [_said(row) for row in rows]:
            return flagged  # the same flags, in the same order: nothing to write
        if stored:
            connection.execute(_DELETE_DAY, day_of)
    if rows:
        connection.execute(_ADD_FLAGS, rows)
    return flagged


def _said(flag: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a flag (a row to write, or one read back) says, its details as JSON text."""
    *said, details = (flag[name] for name in _KEPT)
    return (*said, json.dumps(details, sort_keys=True))


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
