"""Where each task stands as of a day: the units' status reports (填报) as stored, read
back once for every reader (the rules, the figures, ``progress``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from pilot_tracker.errors import NotFoundError
from pilot_tracker.ledger import store
from pilot_tracker.models import (
    Indicator,
    IndicatorReading,
    StatusReport,
    Submission,
    Task,
    Unit,
)
from pilot_tracker.supervise import rules


def _filed_by(program_id: int | None, as_of: date) -> Select[Any]:
    """Every status report of a program filed by a day, with the codes and the submission
    that say what it is about and where it came from: the columns ``rules.StatusReport``
    holds, as plain rows (no ORM object is built for the thousands of a program's history)."""
    return (
        select(
            Task.code,
            Unit.code,
            StatusReport.period,
            StatusReport.status,
            StatusReport.percent,
            StatusReport.reported_on,
            StatusReport.evidence,
            StatusReport.submission_id,
            Submission.sha256,
        )
        .join(Task, StatusReport.task_id == Task.id)
        .join(Unit, StatusReport.unit_id == Unit.id)
        .join(Submission, StatusReport.submission_id == Submission.id)
        .where(Task.program_id == program_id, StatusReport.reported_on <= as_of)
    )


def _status_report(row: Any) -> rules.StatusReport:
    """A stored status report, as ``_filed_by`` reads it, as the rules and the figures read it."""
    return rules.StatusReport(*row)


def stored_status_reports(
    *, session: Session, program_id: int | None, as_of: date
) -> list[rules.StatusReport]:
    """Every status report filed by a day, in the order they were filed."""
    query = _filed_by(program_id, as_of).order_by(
        col(StatusReport.reported_on), col(StatusReport.submission_id)
    )
    return [_status_report(row) for row in session.exec(query).all()]


def stored_readings(
    *, session: Session, program_id: int | None, as_of: date
) -> list[rules.Reading]:
    """Every indicator reading taken by a day."""
    return [
        rules.Reading(*row)
        for row in session.exec(
            select(
                Indicator.code,
                IndicatorReading.value,
                IndicatorReading.as_of,
                IndicatorReading.submission_id,
            )
            .join(Indicator, IndicatorReading.indicator_id == Indicator.id)
            .where(Indicator.program_id == program_id, IndicatorReading.as_of <= as_of)
        ).all()
    ]


def progress(
    *, session: Session, program: str, as_of: date, unit: str | None = None
) -> list[dict[str, Any]]:
    """The latest status report (by report date, then by submission) per task and unit, as
    of a day, in the ledger's order.

    A status report counts from the day it was filed, so any past day can be looked at again.
    """
    record = store.get_program(session=session, code=program)
    query = _filed_by(record.id, as_of).order_by(
        col(Task.position),
        col(Unit.position),
        col(StatusReport.reported_on),
        col(StatusReport.submission_id),
    )
    if unit is not None:
        unit_id = session.exec(
            select(Unit.id).where(Unit.program_id == record.id, Unit.code == unit)
        ).first()
        if unit_id is None:
            raise NotFoundError(f'no unit "{unit}" in program {program}')
        query = query.where(StatusReport.unit_id == unit_id)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for report in (_status_report(row) for row in session.exec(query).all()):
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
