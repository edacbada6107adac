"""The escalation ladder (督办): reminder (提醒) → urge (督办) → interview (约谈).

Per unit and program:

- a **reminder** to the liaison when the unit first has a flag;
- an **urge** to the head, with a copy to the office, when it still has a red flag
  ``urge_after_periods`` reporting periods after the reminder;
- an **interview** recommendation to the leading-group office
  ``interview_after_periods`` periods after the reminder, red flags persisting.

An escalation is a record: opened, raised, closed. It closes by itself on the first day
the unit has no red flag (a reminder: no flag at all, so that a unit with a standing
yellow flag is not reminded afresh on every run), with that date; or by hand with an
outcome. Each step writes its messages into the outbox in the same transaction. No
escalation is raised or closed before it opened (refused here, and a CHECK constraint).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from pilot_tracker import periods
from pilot_tracker.alerts import outbox
from pilot_tracker.collect.submission_workbook import (
    HEADER_ROW,
    TASK_COLUMNS,
    build_submission_template,
)
from pilot_tracker.errors import EarlierDayError, EscalationError, NotFoundError
from pilot_tracker.ledger.program_file import ProgramSpec, short_name
from pilot_tracker.models import (
    LABELS,
    Escalation,
    EscalationLevel,
    EscalationStatus,
    Program,
    Severity,
    TaskStatus,
    Unit,
)
from pilot_tracker.spreadsheet import save_atomically
from pilot_tracker.supervise.progress import progress
from pilot_tracker.supervise.rules import Finding
from pilot_tracker.supervise.workdays import WorkCalendar


@dataclass
class Change:
    escalation: Escalation
    unit: str
    change: str  # opened | raised | closed


def escalation_dict(escalation: Escalation, unit: str) -> dict[str, Any]:
    return {
        "id": escalation.id,
        "unit": unit,
        "level": escalation.level,
        "status": escalation.status,
        "opened": escalation.opened_on.isoformat(),
        "closed": escalation.closed_on.isoformat() if escalation.closed_on else None,
    }


def period_distance(cadence: str, first: date, later: date) -> int:
    """How many reporting periods lie between the periods of two days."""
    return periods.ordinal(periods.period_of(later, cadence)) - periods.ordinal(
        periods.period_of(first, cadence)
    )


def advance(
    *,
    session: Session,
    program: Program,
    spec: ProgramSpec,
    findings: list[Finding],
    as_of: date,
    now: datetime,
    calendar: WorkCalendar,
    templates: outbox.Templates,
    home: Path,
) -> list[Change]:
    """Move every unit one step on the ladder as its flags say; write the messages."""
    units = {
        unit.code: unit
        for unit in session.exec(select(Unit).where(Unit.program_id == program.id)).all()
    }
    by_unit: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_unit[finding.unit].append(finding)
    red = {
        code for code, found in by_unit.items() if any(f.severity is Severity.RED for f in found)
    }
    open_ = {
        escalation.unit_id: escalation
        for escalation in session.exec(
            select(Escalation).where(
                Escalation.program_id == program.id,
                Escalation.status == EscalationStatus.OPEN.value,
            )
        ).all()
    }
    later = [e for e in open_.values() if max(e.opened_on, e.raised_on or e.opened_on) > as_of]
    if later:  # flags.flag refuses first; this keeps any other caller from rewriting too
        raise EarlierDayError(
            f"{program.code}: escalation {later[0].id} moved on "
            f"{max(later[0].opened_on, later[0].raised_on or later[0].opened_on)}, after "
            f"{as_of}; the ladder cannot move for an earlier day"
        )
    settings = spec.rules.escalation
    context = _Context(session, program, spec, as_of, now, calendar, templates, home)
    changes: list[Change] = []
    for code, unit in units.items():
        current = open_.get(unit.id)
        found = by_unit.get(code, [])
        if current is None:
            if found:
                escalation = Escalation(
                    program_id=program.id,  # type: ignore[arg-type]
                    unit_id=unit.id,  # type: ignore[arg-type]
                    level=EscalationLevel.REMINDER.value,
                    status=EscalationStatus.OPEN.value,
                    opened_on=as_of,
                    raised_on=as_of,
                )
                session.add(escalation)
                session.flush()
                context.remind(escalation, unit, found)
                changes.append(Change(escalation, code, "opened"))
            continue
        ends = not found if current.level == EscalationLevel.REMINDER.value else code not in red
        if ends:
            current.status = EscalationStatus.CLOSED.value
            current.closed_on = as_of
            current.outcome = "自动关闭：已无红色预警" if found else "自动关闭：已无预警"
            session.add(current)
            changes.append(Change(current, code, "closed"))
            continue
        if code not in red:
            continue
        distance = period_distance(spec.reporting.cadence, current.opened_on, as_of)
        level = EscalationLevel(current.level)
        target = level
        if distance >= settings.interview_after_periods:
            target = EscalationLevel.INTERVIEW
        elif distance >= settings.urge_after_periods:
            target = max(level, EscalationLevel.URGE, key=lambda rung: rung.rank)
        if target.rank > level.rank:
            current.level = target.value
            current.raised_on = as_of
            session.add(current)
            session.flush()
            if target is EscalationLevel.URGE:
                context.urge(current, unit, found, distance)
            else:
                context.interview(current, unit, found, distance)
            changes.append(Change(current, code, "raised"))
    session.flush()
    return changes


class _Context:
    """What composing the ladder's messages needs."""

    def __init__(
        self,
        session: Session,
        program: Program,
        spec: ProgramSpec,
        as_of: date,
        now: datetime,
        calendar: WorkCalendar,
        templates: outbox.Templates,
        home: Path,
    ):
        self.session = session
        self.program = program
        self.spec = spec
        self.as_of = as_of
        self.now = now
        self.calendar = calendar
        self.templates = templates
        self.home = home

    def _common(self, unit: Unit, found: list[Finding]) -> dict[str, Any]:
        period = periods.period_of(self.as_of, self.spec.reporting.cadence)
        deadline = self.calendar.roll_forward(
            periods.deadline(period, self.spec.reporting.deadline)
        )
        if deadline < self.as_of:
            following = periods.period_of(
                date.fromordinal(periods.bounds(period)[1].toordinal() + 1),
                self.spec.reporting.cadence,
            )
            deadline = self.calendar.roll_forward(
                periods.deadline(following, self.spec.reporting.deadline)
            )
        tasks = {task.code: task for task in self.spec.tasks}
        return {
            "program": self.program,
            "short": short_name(self.program.name),
            "calendar_note": self.calendar.note(),
            "unit": unit,
            "findings": found,
            "tasks": tasks,
            "red": [f for f in found if f.severity is Severity.RED],
            "lagging_tasks": sorted({f.task for f in found if f.task}),
            "as_of": f"{self.as_of.year}年{self.as_of.month}月{self.as_of.day}日",
            "deadline": f"{deadline.year}年{deadline.month}月{deadline.day}日",
        }

    def remind(self, escalation: Escalation, unit: Unit, found: list[Finding]) -> None:
        attachment = self._workbook(unit)
        context = {**self._common(unit, found), "attachment": attachment}
        subject, body = self.templates.render("alerts/reminder.txt.j2", **context)
        outbox.enqueue(
            session=self.session,
            program_id=self.program.id,
            dedup_key=f"escalation:{escalation.id}:reminder",
            target=f"unit:{unit.code} role:liaison",
            subject=subject,
            body=body,
            now=self.now,
            attachments=[attachment] if attachment else [],
        )

    def urge(self, escalation: Escalation, unit: Unit, found: list[Finding], distance: int) -> None:
        context = {**self._common(unit, found), "periods": distance, "escalation": escalation}
        subject, body = self.templates.render("alerts/urge.txt.j2", **context)
        for target, key in (
            (f"unit:{unit.code} role:head", "head"),
            ("role:office", "office"),
        ):
            outbox.enqueue(
                session=self.session,
                program_id=self.program.id,
                dedup_key=f"escalation:{escalation.id}:urge:{key}",
                target=target,
                subject=subject if key == "head" else f"{subject}（抄送）",
                body=body,
                now=self.now,
            )

    def interview(
        self, escalation: Escalation, unit: Unit, found: list[Finding], distance: int
    ) -> None:
        context = {**self._common(unit, found), "periods": distance, "escalation": escalation}
        subject, body = self.templates.render("alerts/interview.txt.j2", **context)
        outbox.enqueue(
            session=self.session,
            program_id=self.program.id,
            dedup_key=f"escalation:{escalation.id}:interview",
            target="role:office",
            subject=subject,
            body=body,
            now=self.now,
        )

    def _workbook(self, unit: Unit) -> str | None:
        """The unit's submission workbook, prefilled with what it last reported."""
        workbook = build_submission_template(self.spec, unit.code, generated_on=self.as_of)
        latest = {
            row["task"]: row
            for row in progress(
                session=self.session, program=self.spec.code, as_of=self.as_of, unit=unit.code
            )
        }
        headers = [header for header, _, _ in TASK_COLUMNS]
        sheet = workbook["任务进展"]
        for number in range(HEADER_ROW + 1, sheet.max_row + 1):
            row = latest.get(sheet.cell(row=number, column=1).value)
            if row is None:
                continue
            sheet.cell(
                row=number,
                column=headers.index("进展状态") + 1,
                value=LABELS[TaskStatus][row["status"]],
            )
            sheet.cell(row=number, column=headers.index("完成进度") + 1, value=row["percent"])
        relative = f"outbox/{self.spec.code}/{unit.code}-{self.as_of.isoformat()}-填报表.xlsx"
        save_atomically(workbook, self.home / relative)
        return relative


def list_escalations(*, session: Session, program: Program) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Escalation, Unit.code)
        .join(Unit, Escalation.unit_id == Unit.id)
        .where(Escalation.program_id == program.id)
        .order_by(col(Escalation.id))
    ).all()
    return [escalation_dict(escalation, code) for escalation, code in rows]


def close(*, session: Session, escalation_id: int, outcome: str, on: date) -> dict[str, Any]:
    """Close an escalation by hand, recording the outcome (e.g. of the interview)."""
    escalation = session.get(Escalation, escalation_id)
    if escalation is None:
        raise NotFoundError(
            f"no escalation {escalation_id}; see `pilot-tracker escalation list --program CODE`"
        )
    if escalation.status == EscalationStatus.CLOSED.value:
        raise EscalationError(
            f"escalation {escalation_id} was already closed on {escalation.closed_on}"
        )
    last = max(escalation.opened_on, escalation.raised_on or escalation.opened_on)
    if on < last:
        raise EarlierDayError(
            f"escalation {escalation_id} was opened on {escalation.opened_on}"
            + (f" and raised on {escalation.raised_on}" if escalation.raised_on else "")
            + f"; it cannot close on {on}, before that: give --on {last} or later"
        )
    outcome = " ".join(outcome.split())
    if not outcome:
        raise EscalationError('say what came of it: --outcome "..."')
    escalation.status = EscalationStatus.CLOSED.value
    escalation.closed_on = on
    escalation.outcome = outcome[:2000]
    session.add(escalation)
    unit = session.get(Unit, escalation.unit_id)
    return escalation_dict(escalation, unit.code if unit else "")
