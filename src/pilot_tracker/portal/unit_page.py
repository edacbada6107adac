"""What a unit's page shows: its tasks and indicators for the current period, each with
the last values it reported and the plan."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from pilot_tracker import periods
from pilot_tracker.errors import NotFoundError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.links import program_units
from pilot_tracker.ledger.plan import planned_percent
from pilot_tracker.ledger.program_file import ProgramSpec
from pilot_tracker.models import LABELS, ListKind, Program, TaskStatus, Unit
from pilot_tracker.portal.report_form import ReportForm, prefilled
from pilot_tracker.supervise import extensions
from pilot_tracker.supervise.progress import progress, stored_readings
from pilot_tracker.supervise.rules import expected_value


@dataclass
class TaskLine:
    code: str
    title: str
    list_name: str
    lead: bool  # the unit leads it (and reports it); else it is a co-unit
    start: date
    due: date
    planned_percent: float
    status: str = ""  # the last reported status code, "" if never reported
    status_label: str = ""
    percent: float | None = None
    reported_on: str = ""
    period: str = ""
    original_due: date | None = None  # the ledger's, when an approved extension moved it

    @property
    def gap(self) -> float | None:
        """Points behind plan (negative: ahead), if reported."""
        return None if self.percent is None else round(self.planned_percent - self.percent, 1)


@dataclass
class IndicatorLine:
    code: str
    name: str
    measure: str
    baseline: float
    baseline_year: int
    target: float
    target_year: int
    expected: float
    value: float | None = None
    as_of: str = ""


@dataclass
class UnitPage:
    program: Program
    unit: Unit
    spec: ProgramSpec
    today: date
    period: str
    tasks: list[TaskLine] = field(default_factory=list)
    indicators: list[IndicatorLine] = field(default_factory=list)
    # The online form, prefilled with what the unit last reported; after a post that intake
    # rejected, the form as posted, with the reasons at its fields.
    report: ReportForm = field(default_factory=ReportForm)

    @property
    def reported_tasks(self) -> list[TaskLine]:
        return [task for task in self.tasks if task.lead]


def unit_page(*, session: Session, program: Program, unit: Unit, today: date) -> UnitPage:
    """The page of ``unit`` as of ``today`` (the program's own day); a task's due date and
    plan are the ones in effect today (an approved extension moves them)."""
    spec, original_dues = extensions.effective(
        session=session,
        program_id=program.id,
        spec=store.read_program(session=session, code=program.code),
        as_of=today,
    )
    page = UnitPage(
        program=program,
        unit=unit,
        spec=spec,
        today=today,
        period=periods.period_of(today, spec.reporting.cadence),
    )
    lists = {task_list.kind: task_list.name for task_list in spec.task_lists}
    shown = [
        task for task in spec.tasks if unit.code == task.lead_unit or unit.code in task.co_units
    ]
    # A task is reported by its lead unit: a co-unit's page shows the lead's last report.
    latest = {
        (row["task"], row["unit"]): row
        for lead_unit in sorted({task.lead_unit for task in shown})
        for row in progress(session=session, program=program.code, as_of=today, unit=lead_unit)
    }
    for task in shown:
        lead = task.lead_unit == unit.code
        line = TaskLine(
            code=task.code,
            title=task.title,
            list_name=lists.get(task.list_kind, LABELS[ListKind][task.list_kind]),
            lead=lead,
            start=task.start,
            due=task.due,
            planned_percent=planned_percent(task, today),
            original_due=original_dues.get(task.code),
        )
        reported = latest.get((task.code, task.lead_unit))
        if reported is not None:
            line.status = reported["status"]
            line.status_label = LABELS[TaskStatus][reported["status"]]
            line.percent = reported["percent"]
            line.reported_on = reported["reported_at"]
            line.period = reported["period"]
        page.tasks.append(line)
    readings: dict[str, tuple[date, int, float]] = {}
    for reading in stored_readings(session=session, program_id=program.id, as_of=today):
        key = (reading.as_of, reading.order, reading.value)
        if reading.indicator not in readings or key[:2] > readings[reading.indicator][:2]:
            readings[reading.indicator] = key
    for indicator in spec.indicators:
        if indicator.owner != unit.code:
            continue
        latest_reading = readings.get(indicator.code)
        page.indicators.append(
            IndicatorLine(
                code=indicator.code,
                name=indicator.name,
                measure=indicator.measure,
                baseline=indicator.baseline.value,
                baseline_year=indicator.baseline.year,
                target=indicator.target.value,
                target_year=indicator.target.year,
                expected=expected_value(indicator, today),
                value=latest_reading[2] if latest_reading else None,
                as_of=latest_reading[0].isoformat() if latest_reading else "",
            )
        )
    page.report = prefilled(session=session, page=page)
    return page


def busiest_unit(*, session: Session) -> tuple[Program, Unit]:
    """The unit whose page shows the most lines (the tasks it leads or shares, the
    indicators it owns) of all loaded programs; on a tie, the first program by code and the
    first unit in the ledger's order. The demo prints its link; benchmarks/portal_page.py
    times its page."""
    busiest: tuple[int, Program, Unit] | None = None
    for program in session.exec(select(Program).order_by(Program.code)).all():
        spec = store.read_program(session=session, code=program.code)
        lines: Counter[str] = Counter()
        for task in spec.tasks:
            lines.update({task.lead_unit, *task.co_units})
        lines.update(indicator.owner for indicator in spec.indicators)
        for unit in program_units(session=session, program=program):
            if busiest is None or lines[unit.code] > busiest[0]:
                busiest = (lines[unit.code], program, unit)
    if busiest is None:
        raise NotFoundError("no program is loaded; load one with `pilot-tracker program load`")
    return busiest[1], busiest[2]
