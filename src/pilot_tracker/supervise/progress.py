"""Where each task stands as of a day: the units' status reports (填报) as stored, read
back once for every reader (the rules, the figures, ``progress``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select
from sqlmodel import Session, select

from pilot_tracker.errors import NotFoundError
from pilot_tracker.ledger import store
from pilot_tracker.models import (
    Indicator,
    IndicatorReading,
    Program,
    StatusReport,
    Submission,
    Task,
    Unit,
)
from pilot_tracker.supervise import rules

_REPORT = StatusReport.__table__  # type: ignore[attr-defined]
_TASK = Task.__table__  # type: ignore[attr-defined]
_UNIT = Unit.__table__  # type: ignore[attr-defined]
_SUBMISSION = Submission.__table__  # type: ignore[attr-defined]
_INDICATOR = Indicator.__table__  # type: ignore[attr-defined]
_READING = IndicatorReading.__table__  # type: ignore[attr-defined]


# What a status report says, in ``rules.StatusReport``'s order after its task and unit.
_SAYS = (
    _REPORT.c.period,
    _REPORT.c.status,
    _REPORT.c.percent,
    _REPORT.c.reported_on,
    _REPORT.c.evidence,
    _REPORT.c.submission_id,
)


def _filed_by(program_id: Any, as_of: Any) -> Select:
    """Every status report of a program filed by a day, with the codes and the submission
    that say what it is about and where it came from: the columns ``rules.StatusReport``
    holds, as plain rows. A Core statement: no ORM object, nor the ORM's loading, for the
    thousands of a program's history."""
    return (
        sa.select(_TASK.c.code, _UNIT.c.code, *_SAYS, _SUBMISSION.c.sha256)
        .join_from(_REPORT, _TASK, _REPORT.c.task_id == _TASK.c.id)
        .join(_UNIT, _REPORT.c.unit_id == _UNIT.c.id)
        .join(_SUBMISSION, _REPORT.c.submission_id == _SUBMISSION.c.id)
        .where(_TASK.c.program_id == program_id, _REPORT.c.reported_on <= as_of)
    )


# Built once, their program and day bound at each execution: a program's flag, figures and
# progress read through them every run.
_PROGRAM, _DAY = sa.bindparam("program_id"), sa.bindparam("as_of")
_IN_ORDER = (_REPORT.c.reported_on, _REPORT.c.submission_id)  # as they were filed
_FILED = _filed_by(_PROGRAM, _DAY).order_by(*_IN_ORDER)
_READ_BY = (
    sa.select(_INDICATOR.c.code, _READING.c.value, _READING.c.as_of, _READING.c.submission_id)
    .join_from(_READING, _INDICATOR, _READING.c.indicator_id == _INDICATOR.c.id)
    .where(_INDICATOR.c.program_id == _PROGRAM, _READING.c.as_of <= _DAY)
)
# What the rules read of a program's history, in one round trip: each status report,
# then each indicator reading as a row with no unit, its value where a report has its
# percent. Found by the ledger's ids (``store.ids_of``, kept under the program's revision)
# and named from them, so no join: the server reads each table's index on those ids, which
# it would not choose for a join to a small province's indicators (it scanned every
# reading). No file (the figures name it), and in no order (the rules put each task's
# reports in the order they were filed).
_JUDGED_AND_READ = sa.union_all(
    sa.select(_REPORT.c.task_id, _REPORT.c.unit_id, *_SAYS).where(
        _REPORT.c.task_id.in_(sa.bindparam("tasks", expanding=True)),
        _REPORT.c.reported_on <= _DAY,
    ),
    sa.select(
        _READING.c.indicator_id,
        sa.null(),
        sa.null(),
        sa.null(),
        _READING.c.value,
        _READING.c.as_of,
        sa.null(),
        _READING.c.submission_id,
    ).where(
        _READING.c.indicator_id.in_(sa.bindparam("indicators", expanding=True)),
        _READING.c.as_of <= _DAY,
    ),
)


def _status_report(row: Any) -> rules.StatusReport:
    """A stored status report, as ``_filed_by`` reads it, as the rules and the figures read it."""
    return rules.StatusReport(*row)


def stored_status_reports(
    *, session: Session, program_id: int | None, as_of: date
) -> list[rules.StatusReport]:
    """Every status report filed by a day, in the order they were filed."""
    rows = session.connection().execute(_FILED, {"program_id": program_id, "as_of": as_of})
    return [_status_report(row) for row in rows.all()]


def judged(
    *, session: Session, program: Program, as_of: date
) -> tuple[list[rules.StatusReport], list[rules.Reading]]:
    """What the rules read of a program's history by a day, in one query: its status
    reports as ``stored_status_reports`` has them but without the file each came in, in
    no particular order, and its indicator readings (``stored_readings``)."""
    ids = store.ids_of(session=session, program=program)
    tasks, units, indicators = ids.task_codes, ids.unit_codes, ids.indicator_codes
    rows = session.connection().execute(
        _JUDGED_AND_READ,
        {"tasks": list(tasks), "indicators": list(indicators), "as_of": as_of},
    )
    reports: list[rules.StatusReport] = []
    readings: list[rules.Reading] = []
    # Built as tuples of every field (a named tuple's own constructor takes twice as long,
    # and a program's history is a thousand rows a flag).
    new, report, reading = tuple.__new__, rules.StatusReport, rules.Reading
    for of, unit, period, status, percent, day, evidence, order in rows.all():
        if unit is None:
            readings.append(new(reading, (indicators[of], percent, day, order)))
        else:
            said = (tasks[of], units[unit], period, status, percent, day, evidence, order, "")
            reports.append(new(report, said))
    return reports, readings


def stored_readings(
    *, session: Session, program_id: int | None, as_of: date
) -> list[rules.Reading]:
    """Every indicator reading taken by a day."""
    rows = session.connection().execute(_READ_BY, {"program_id": program_id, "as_of": as_of})
    return [rules.Reading(*row) for row in rows.all()]


def progress(
    *, session: Session, program: str, as_of: date, unit: str | None = None
) -> list[dict[str, Any]]:
    """The latest status report (by report date, then by submission) per task and unit, as
    of a day, in the ledger's order.

    A status report counts from the day it was filed, so any past day can be looked at again.
    """
    record = store.get_program(session=session, code=program)
    query = _filed_by(record.id, as_of).order_by(
        _TASK.c.position, _UNIT.c.position, _REPORT.c.reported_on, _REPORT.c.submission_id
    )
    if unit is not None:
        unit_id = session.exec(
            select(Unit.id).where(Unit.program_id == record.id, Unit.code == unit)
        ).first()
        if unit_id is None:
            raise NotFoundError(f'no unit "{unit}" in program {program}')
        query = query.where(_REPORT.c.unit_id == unit_id)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for report in (_status_report(row) for row in session.connection().execute(query)):
        latest[(report.task, report.unit)] = {
            "task": report.task,
            "unit": report.unit,
            "period": report.period,
            "status": report.status,
            "percent": report.percent,
            "reported_at": report.reported_on.isoformat(),
            "submission": report.submission,
        }
    return list(latest.values())
