"""Where each task stands as of a day: the latest report of each unit on each task."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

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


def stored_reports(
    *, session: Session, program_id: int | None, as_of: date
) -> list[tuple[StatusReport, str, str, str]]:
    """Every report filed by a day: (report, task code, unit code, submission sha256),
    in the order they were filed."""
    return list(
        session.exec(
            select(StatusReport, Task.code, Unit.code, Submission.sha256)
            .join(Task, StatusReport.task_id == Task.id)
            .join(Unit, StatusReport.unit_id == Unit.id)
            .join(Submission, StatusReport.submission_id == Submission.id)
            .where(Task.program_id == program_id, StatusReport.reported_on <= as_of)
            .order_by(col(StatusReport.reported_on), col(StatusReport.submission_id))
        ).all()
    )


def stored_readings(
    *, session: Session, program_id: int | None, as_of: date
) -> list[rules.Reading]:
    """Every indicator reading taken by a day."""
    return [
        rules.Reading(
            indicator=code, value=reading.value, as_of=reading.as_of, order=reading.submission_id
        )
        for reading, code in session.exec(
            select(IndicatorReading, Indicator.code)
            .join(Indicator, IndicatorReading.indicator_id == Indicator.id)
            .where(Indicator.program_id == program_id, IndicatorReading.as_of <= as_of)
        ).all()
    ]


def progress(
    *, session: Session, program: str, as_of: date, unit: str | None = None
) -> list[dict[str, Any]]:
    """The latest report (by report date, then by submission) per task and unit, as of a day.

    A report counts from the day it was filed, so any past day can be looked at again.
    """
    record = store.get_program(session=session, code=program)
    query = (
        select(StatusReport, Task.code, Unit.code, Submission.sha256)
        .join(Task, StatusReport.task_id == Task.id)
        .join(Unit, StatusReport.unit_id == Unit.id)
        .join(Submission, StatusReport.submission_id == Submission.id)
        .where(Task.program_id == record.id, StatusReport.reported_on <= as_of)
        .order_by(
            col(Task.position),
            col(Unit.position),
            col(StatusReport.reported_on),
            col(StatusReport.submission_id),
        )
    )
    if unit is not None:
        unit_id = session.exec(
            select(Unit.id).where(Unit.program_id == record.id, Unit.code == unit)
        ).first()
        if unit_id is None:
            raise NotFoundError(f'no unit "{unit}" in program {program}')
        query = query.where(StatusReport.unit_id == unit_id)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for report, task_code, unit_code, sha256 in session.exec(query).all():
        latest[(task_code, unit_code)] = {
            "task": task_code,
            "unit": unit_code,
            "period": report.period,
            "status": report.status,
            "percent": report.percent,
            "reported_at": report.reported_on.isoformat(),
            "submission": sha256,
        }
    return list(latest.values())
