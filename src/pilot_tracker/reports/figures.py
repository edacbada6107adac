"""The figures of the documents, computed from stored status reports only.

A ``Snapshot`` is everything a report reads, as of the last day of its period; the
quarterly reconciliation and the half-year evaluation are pure functions of it, so the
same data and period always give the same figures, and any past period can be redone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from sqlmodel import Session, col, select

from pilot_tracker import periods
from pilot_tracker.errors import ReportError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.plan import planned_percent
from pilot_tracker.ledger.program_file import SIX_HAS, ProgramSpec, TaskSpec
from pilot_tracker.models import (
    LABELS,
    ConfirmationStatus,
    Escalation,
    EscalationLevel,
    HasState,
    IndicatorLevel,
    IndicatorState,
    ListKind,
    Reconciliation,
    TaskStatus,
    Unit,
)
from pilot_tracker.supervise import escalation as ladder
from pilot_tracker.supervise import extensions, progress, rules, workdays
from pilot_tracker.supervise.rules import expected_value
from pilot_tracker.supervise.workdays import WorkCalendar

COMPLETED = TaskStatus.COMPLETED.value
NOT_REPORTED = "未报送"  # shown for a task nobody has reported on
NOT_CONFIRMED = "未确认"  # shown for a statement its unit has not answered


def parse_quarter(text: str) -> str:
    if not periods.QUARTER.match(text):
        raise ReportError(f'"{text}" is not a quarter; write it as 2021Q1 (Q1 to Q4)')
    return text


def parse_half(text: str) -> str:
    if not periods.HALF.match(text):
        raise ReportError(f'"{text}" is not a half year; write it as 2021H1 or 2021H2')
    return text


@dataclass
class Snapshot:
    spec: ProgramSpec
    as_of: date
    status_reports: list[rules.StatusReport]
    readings: list[rules.Reading]
    escalations: list[dict[str, Any]]
    confirmations: dict[str, dict[str, Any]] = field(default_factory=dict)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    # The ledger's due date of each task whose due date an approved extension moved by
    # ``as_of`` (``spec`` holds the moved one).
    original_dues: dict[str, date] = field(default_factory=dict)

    @property
    def names(self) -> dict[str, str]:
        return {unit.code: unit.name for unit in self.spec.units}

    def situation(self, day: date) -> rules.Situation:
        return rules.Situation(
            spec=self.spec,
            as_of=day,
            calendar=self.calendar,
            status_reports=self.status_reports,
            readings=self.readings,
        )

    def latest(
        self, task: TaskSpec, unit: str | None = None, day: date | None = None
    ) -> rules.StatusReport | None:
        day = day or self.as_of
        unit = unit or task.lead_unit
        mine = [
            e
            for e in self.status_reports
            if e.task == task.code and e.unit == unit and e.reported_on <= day
        ]
        return max(mine, key=lambda e: (e.reported_on, e.order), default=None)


def load(*, session: Session, program: str, as_of: date, quarter: str | None = None) -> Snapshot:
    """What the documents read, as of a day, from the database; a task's due date is the
    one in effect that day (an approved extension moves it)."""
    record = store.get_program(session=session, code=program)
    spec, original_dues = extensions.effective(
        session=session,
        program_id=record.id,
        spec=store.read_program(session=session, code=program),
        as_of=as_of,
    )
    status_reports = progress.stored_status_reports(
        session=session, program_id=record.id, as_of=as_of
    )
    readings = progress.stored_readings(session=session, program_id=record.id, as_of=as_of)
    calendar = workdays.calendar_of(session=session, spec=spec)
    rows = session.exec(
        select(Escalation, Unit.code)
        .join(Unit, Escalation.unit_id == Unit.id)
        .where(Escalation.program_id == record.id, Escalation.opened_on <= as_of)
        .order_by(col(Escalation.id))
    ).all()
    receipts = ladder.receipts(
        session=session,
        program=record,
        spec=spec,
        calendar=calendar,
        escalations=[escalation for escalation, _ in rows],
        as_of=as_of,
    )
    escalations = []
    for escalation, code in rows:
        receipt = receipts.get(escalation.id)  # type: ignore[arg-type]
        escalations.append(
            {
                "id": escalation.id,
                "unit": code,
                "level": escalation.level,
                "opened": escalation.opened_on,
                "closed": escalation.closed_on
                if escalation.closed_on and escalation.closed_on <= as_of
                else None,
                # the head's 签收 of its urge or interview notice, as of the day
                "receipt": receipt.label if receipt else "",
                "unacknowledged_since": receipt.unacknowledged_since if receipt else None,
            }
        )
    confirmations: dict[str, dict[str, Any]] = {}
    if quarter is not None:
        for answer, code in session.exec(
            select(Reconciliation, Unit.code)
            .join(Unit, Reconciliation.unit_id == Unit.id)
            .where(Reconciliation.program_id == record.id, Reconciliation.quarter == quarter)
            .order_by(col(Reconciliation.id))
        ).all():
            confirmations[code] = {
                "status": answer.status,
                "note": answer.note,
                "recorded_at": answer.recorded_at,
                "via": answer.via,
            }
    return Snapshot(
        spec, as_of, status_reports, readings, escalations, confirmations, calendar, original_dues
    )


# --- the quarterly reconciliation ----------------------------------------------------------


@dataclass
class UnitLine:
    unit: str
    name: str
    tasks: int
    done: int
    on_time: int
    flags: int
    open_escalations: int
    confirmation: str | None  # a ConfirmationStatus, None before the unit answers
    note: str
    submissions: list[str]

    @property
    def confirmation_label(self) -> str:
        return _confirmation_label(self.confirmation)


@dataclass
class StatementRow:
    task: str
    title: str
    lead: bool  # the unit leads the task, or is a co-unit of it
    due: date
    status: str | None  # a TaskStatus, None if the unit has not reported on the task
    percent: float | None
    history: str
    original_due: date | None = None  # the ledger's, when an approved extension moved it

    @property
    def role(self) -> str:
        return "牵头" if self.lead else "配合"

    @property
    def status_label(self) -> str:
        return LABELS[TaskStatus][self.status] if self.status else NOT_REPORTED


@dataclass
class Discrepancy:
    task: str
    kind: str
    text: str


@dataclass
class Statement:
    unit: str
    name: str
    rows: list[StatementRow]
    discrepancies: list[Discrepancy]
    submissions: list[str]
    confirmation: str | None  # a ConfirmationStatus, None before the unit answers

    @property
    def confirmation_label(self) -> str:
        return _confirmation_label(self.confirmation)


@dataclass
class Quarterly:
    program: str
    name: str
    quarter: str
    start: date
    end: date
    lines: list[UnitLine]
    statements: list[Statement]
    totals: dict[str, int]
    calendar_note: str = ""


def _confirmation_label(status: str | None) -> str:
    return LABELS[ConfirmationStatus][status] if status else NOT_CONFIRMED


def quarterly(snapshot: Snapshot, quarter: str) -> Quarterly:
    spec = snapshot.spec
    start, end = periods.bounds(quarter)
    findings = rules.evaluate(snapshot.situation(end)) if end >= spec.start else []
    flags_by_unit: dict[str, int] = defaultdict(int)
    for finding in findings:
        flags_by_unit[finding.unit] += 1
    months = _months(start, end)
    lines, statements = [], []
    for unit in spec.units:
        statement, done, on_time = _statement(snapshot, unit.code, unit.name, months, start, end)
        answer = snapshot.confirmations.get(unit.code)
        open_escalations = sum(
            1
            for e in snapshot.escalations
            if e["unit"] == unit.code
            and e["opened"] <= end
            and (e["closed"] is None or e["closed"] > end)
        )
        lines.append(
            UnitLine(
                unit=unit.code,
                name=unit.name,
                tasks=sum(row.lead for row in statement.rows),
                done=done,
                on_time=on_time,
                flags=flags_by_unit[unit.code],
                open_escalations=open_escalations,
                confirmation=statement.confirmation,
                note=answer["note"] if answer else "",
                submissions=statement.submissions,
            )
        )
        statements.append(statement)
    totals = {
        "units": len(lines),
        "tasks": sum(line.tasks for line in lines),
        "done": sum(line.done for line in lines),
        "on_time": sum(line.on_time for line in lines),
        "flags": sum(line.flags for line in lines),
        "open_escalations": sum(line.open_escalations for line in lines),
        "confirmed": sum(line.confirmation == ConfirmationStatus.CONFIRMED for line in lines),
        "discrepancies": sum(len(s.discrepancies) for s in statements),
    }
    return Quarterly(
        spec.code,
        spec.name,
        quarter,
        start,
        end,
        lines,
        statements,
        totals,
        snapshot.calendar.note(),
    )


def statement(snapshot: Snapshot, quarter: str, unit: str) -> Statement:
    """One unit's statement (对账单) of a quarter, as the quarterly reconciliation has it."""
    start, end = periods.bounds(quarter)
    name = snapshot.names.get(unit, unit)
    return _statement(snapshot, unit, name, _months(start, end), start, end)[0]


def _statement(
    snapshot: Snapshot, unit: str, name: str, months: list[str], start: date, end: date
) -> tuple[Statement, int, int]:
    """A unit's statement of a quarter, and how many of its tasks it reported done, and
    done on time."""
    tasks = snapshot.spec.tasks
    led = [t for t in tasks if t.lead_unit == unit and t.start <= end and t.due >= start]
    co = [t for t in tasks if unit in t.co_units and t.start <= end and t.due >= start]
    rows, problems, shas = [], [], set()
    done = on_time = 0
    for task in led + co:
        lead = task in led
        mine = [
            e
            for e in snapshot.status_reports
            if e.task == task.code and e.unit == unit and start <= e.reported_on <= end
        ]
        shas.update(e.submission for e in mine)
        latest = snapshot.latest(task, unit, end)
        if lead and latest and latest.status == COMPLETED:
            done += 1
            first_done = min(
                e.reported_on
                for e in snapshot.status_reports
                if e.task == task.code and e.unit == unit and e.status == COMPLETED
            )
            on_time += first_done <= task.due
        rows.append(
            StatementRow(
                task=task.code,
                title=task.title,
                lead=lead,
                due=task.due,
                status=latest.status if latest else None,
                percent=latest.percent if latest else None,
                history="；".join(
                    f"{e.reported_on.month}月{e.reported_on.day}日 {e.percent:g}%" for e in mine
                ),
                original_due=snapshot.original_dues.get(task.code),
            )
        )
        if lead:
            problems += _discrepancies(snapshot, task, unit, mine, months, start, end)
    answer = snapshot.confirmations.get(unit)
    confirmation = answer["status"] if answer else None
    return Statement(unit, name, rows, problems, sorted(shas), confirmation), done, on_time


def _md(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _months(start: date, end: date, cadence: str = "monthly") -> list[str]:
    """The periods (months, by default) from the one ``start`` is in to the one of ``end``."""
    found, day = [], start
    while day <= end:
        found.append(periods.period_of(day, cadence))
        day = periods.bounds(found[-1])[1] + timedelta(days=1)
    return found


def _discrepancies(
    snapshot: Snapshot,
    task: TaskSpec,
    unit: str,
    mine: list[rules.StatusReport],
    months: list[str],
    start: date,
    end: date,
) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    latest = snapshot.latest(task, unit, end)
    if latest and latest.status == COMPLETED and not latest.evidence:
        found.append(Discrepancy(task.code, "无佐证", f"{task.code} 报送已完成，但未提供佐证材料"))
    for before, after in pairwise(mine):
        if after.percent < before.percent:
            found.append(
                Discrepancy(
                    task.code,
                    "进度回退",
                    f"{task.code} 完成进度由{before.percent:g}%（{_md(before.reported_on)}）"
                    f"回退至{after.percent:g}%（{_md(after.reported_on)}）",
                )
            )
    completions = [e for e in mine if e.status == COMPLETED]
    if completions and completions[0].reported_on > task.due:
        first = completions[0].reported_on
        found.append(
            Discrepancy(
                task.code,
                "逾期完成",
                f"{task.code} 完成时限为{task.due.month}月{task.due.day}日，"
                f"{first.month}月{first.day}日才报送完成",
            )
        )
    done_before = latest is not None and latest.status == COMPLETED
    reported = {e.period for e in mine}
    missing = [
        month
        for month in months
        if month not in reported
        and periods.bounds(month)[1] >= task.start
        and periods.bounds(month)[0] <= min(end, snapshot.as_of)
        and not (
            done_before
            and any(
                e.status == COMPLETED and e.reported_on < periods.bounds(month)[0]
                for e in snapshot.status_reports
                if e.task == task.code and e.unit == unit
            )
        )
    ]
    if missing:
        found.append(
            Discrepancy(task.code, "未报送", f"{task.code} {'、'.join(missing)} 未报送进展")
        )
    for co_unit in task.co_units:
        theirs = snapshot.latest(task, co_unit, end)
        if theirs is None or latest is None or not (start <= theirs.reported_on <= end):
            continue
        contradicts = (theirs.status == COMPLETED) != (latest.status == COMPLETED) or abs(
            theirs.percent - latest.percent
        ) > 20
        if contradicts:
            found.append(
                Discrepancy(
                    task.code,
                    "报送不一致",
                    f"{task.code} 配合单位{snapshot.names.get(co_unit, co_unit)}报送"
                    f"{LABELS[TaskStatus][theirs.status]} {theirs.percent:g}%，"
                    f"牵头单位报送{LABELS[TaskStatus][latest.status]} {latest.percent:g}%",
                )
            )
    return found


# --- the half-year evaluation --------------------------------------------------------------


@dataclass
class ListProgress:
    kind: str
    label: str
    tasks: int
    completed: int
    average: float
    planned: float


@dataclass
class IndicatorLine:
    code: str
    name: str
    level: str
    measure: str
    baseline: float
    baseline_year: int
    latest: float | None
    latest_as_of: date | None
    target: float
    target_year: int
    expected: float | None
    progress: float | None
    status: IndicatorState

    @property
    def status_label(self) -> str:
        return LABELS[IndicatorState][self.status]

    @property
    def level_label(self) -> str:
        return LABELS[IndicatorLevel][self.level]


@dataclass
class UnitScore:
    unit: str
    name: str
    completion: float | None
    timeliness: float | None
    indicators: float | None
    evidence: float | None
    score: float | None
    rank: int | None


@dataclass
class HasItem:
    key: str
    label: str
    tasks: list[tuple[str, str, str | None]]  # code, title, TaskStatus (None: not reported)
    state: HasState

    @property
    def state_label(self) -> str:
        return LABELS[HasState][self.state]

    @property
    def shown_tasks(self) -> list[tuple[str, str, str]]:
        """The tasks with their status as a reader sees it."""
        return [
            (code, title, LABELS[TaskStatus][status] if status else NOT_REPORTED)
            for code, title, status in self.tasks
        ]


@dataclass
class ExtendedTask:
    """A task whose due date an approved extension (延期) moved."""

    task: str
    title: str
    unit: str  # the lead unit's name
    original_due: date
    due: date


@dataclass
class Evaluation:
    program: str
    name: str
    half: str
    start: date
    end: date
    lists: list[ListProgress]
    indicators: list[IndicatorLine]
    scores: list[UnitScore]
    weights: dict[str, float]
    escalations: list[dict[str, Any]]
    six_has: list[HasItem]
    months: list[str]
    heat: list[tuple[str, str, list[tuple[float | None, float | None]]]]
    narrative: list[str]
    totals: dict[str, Any]
    calendar_note: str = ""
    extensions: list[ExtendedTask] = field(default_factory=list)

    @property
    def indicators_by_level(self) -> list[tuple[str, list[IndicatorLine]]]:
        """The indicators under the name of their level, national first; no empty level."""
        grouped = [
            (LABELS[IndicatorLevel][level], [i for i in self.indicators if i.level == level])
            for level in IndicatorLevel
        ]
        return [(name, lines) for name, lines in grouped if lines]


def _mean(values: list[float], weights: list[float] | None = None) -> float | None:
    if not values:
        return None
    weights = weights or [1.0] * len(values)
    return round(sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights), 1)


def evaluation(snapshot: Snapshot, half: str) -> Evaluation:
    spec = snapshot.spec
    start, end = periods.bounds(half)
    day = min(end, snapshot.as_of)
    active = [t for t in spec.tasks if t.start <= end]

    lists = []
    for kind in ListKind:
        tasks = [t for t in active if t.list_kind is kind]
        if not any(t.list_kind is kind for t in spec.tasks):
            continue
        latest = [snapshot.latest(t, day=day) for t in tasks]
        lists.append(
            ListProgress(
                kind=kind.value,
                label=LABELS[ListKind][kind.value],
                tasks=len(tasks),
                completed=sum(1 for e in latest if e and e.status == COMPLETED),
                average=_mean([e.percent if e else 0.0 for e in latest]) or 0.0,
                planned=_mean([planned_percent(t, day) for t in tasks]) or 0.0,
            )
        )

    indicators = indicator_lines(snapshot, day)
    weights = spec.evaluation.weights.model_dump()
    scores = [_score(snapshot, unit.code, unit.name, start, day, weights) for unit in spec.units]
    ranked = sorted((s for s in scores if s.score is not None), key=lambda s: -s.score)  # type: ignore[operator]
    for position, score in enumerate(ranked, start=1):
        score.rank = position
    scores.sort(key=lambda s: (s.rank is None, s.rank or 0))

    escalations = sorted(
        (
            {
                **e,
                "name": snapshot.names.get(e["unit"], e["unit"]),
                "level_label": LABELS[EscalationLevel][e["level"]],
            }
            for e in snapshot.escalations
            if e["opened"] <= end and (e["closed"] is None or e["closed"] >= start)
        ),
        # The highest rung first, then the open ones, then the oldest.
        key=lambda e: (-EscalationLevel(e["level"]).rank, e["closed"] is not None, e["opened"]),
    )
    six_has = []
    for key, label in SIX_HAS.items():
        mapped = [t for t in spec.tasks if t.has == key]
        states: list[tuple[str, str, str | None]] = []
        for task in mapped:
            latest = snapshot.latest(task, day=day)
            states.append((task.code, task.title, latest.status if latest else None))
        statuses = [status for _, _, status in states]
        if not mapped:
            state = HasState.UNMAPPED
        elif all(status == COMPLETED for status in statuses):
            state = HasState.DONE
        elif any(status not in (None, TaskStatus.NOT_STARTED.value) for status in statuses):
            state = HasState.IN_PROGRESS
        else:
            state = HasState.NOT_STARTED
        six_has.append(HasItem(key, label, states, state))

    months = _months(start, end)
    heat = []
    for unit in spec.units:
        led = [t for t in spec.tasks if t.lead_unit == unit.code]
        if not led:
            continue
        cells = []
        for month in months:
            last = min(periods.bounds(month)[1], snapshot.as_of)
            due = [t for t in led if t.start <= last]
            if not due or last < periods.bounds(month)[0]:
                cells.append((None, None))
                continue
            reported = [snapshot.latest(t, day=last) for t in due]
            if not any(reported):
                cells.append((None, _mean([planned_percent(t, last) for t in due])))
                continue
            cells.append(
                (
                    _mean([e.percent if e else 0.0 for e in reported]),
                    _mean([planned_percent(t, last) for t in due]),
                )
            )
        heat.append((unit.code, unit.name, cells))

    latest_all = [snapshot.latest(t, day=day) for t in active]
    totals = {
        "tasks": len(active),
        "completed": sum(1 for e in latest_all if e and e.status == COMPLETED),
        "average": _mean([e.percent if e else 0.0 for e in latest_all]) or 0.0,
        "planned": _mean([planned_percent(t, day) for t in active]) or 0.0,
        "indicators_on_track": sum(
            1 for i in indicators if i.status in (IndicatorState.ON_TRACK, IndicatorState.REACHED)
        ),
        "indicators_behind": sum(1 for i in indicators if i.status is IndicatorState.BEHIND),
        "indicators_without_data": sum(1 for i in indicators if i.status is IndicatorState.NO_DATA),
        "interviews": sum(1 for e in escalations if e["level"] == EscalationLevel.INTERVIEW),
        "urges": sum(1 for e in escalations if e["level"] == EscalationLevel.URGE),
    }
    evaluation = Evaluation(
        spec.code,
        spec.name,
        half,
        start,
        end,
        lists,
        indicators,
        scores,
        weights,
        escalations,
        six_has,
        months,
        heat,
        [],
        totals,
    )
    evaluation.narrative = narrative(evaluation, day)
    evaluation.calendar_note = snapshot.calendar.note()
    evaluation.extensions = [
        ExtendedTask(
            t.code,
            t.title,
            snapshot.names.get(t.lead_unit, t.lead_unit),
            snapshot.original_dues[t.code],
            t.due,
        )
        for t in spec.tasks
        if t.code in snapshot.original_dues
    ]
    return evaluation


def indicator_lines(snapshot: Snapshot, day: date) -> list[IndicatorLine]:
    """Every indicator of the program as of ``day``, in the ledger's order: baseline, latest
    reading, target, the expected value and where it stands (as the evaluation and the
    board's indicators page state them)."""
    return [_indicator_line(snapshot, indicator, day) for indicator in snapshot.spec.indicators]


def _indicator_line(snapshot: Snapshot, indicator: Any, day: date) -> IndicatorLine:
    readings = [r for r in snapshot.readings if r.indicator == indicator.code and r.as_of <= day]
    latest = max(readings, key=lambda r: (r.as_of, r.order), default=None)
    distance = indicator.target.value - indicator.baseline.value
    expected = progress = None
    status: IndicatorState
    if latest is None:
        status = IndicatorState.NO_DATA
    else:
        expected = round(expected_value(indicator, latest.as_of), 2)
        progress = (
            round((latest.value - indicator.baseline.value) / distance * 100, 1)
            if distance
            else 100.0
        )
        reached = (latest.value - indicator.target.value) * (1 if distance >= 0 else -1) >= 0
        gap = (expected - latest.value) / distance * 100 if distance else 0
        tolerance = snapshot.spec.rules.indicator_off_track.tolerance
        if reached:
            status = IndicatorState.REACHED
        else:
            status = IndicatorState.BEHIND if gap > tolerance else IndicatorState.ON_TRACK
    return IndicatorLine(
        code=indicator.code,
        name=indicator.name,
        level=indicator.level.value,
        measure=indicator.measure,
        baseline=indicator.baseline.value,
        baseline_year=indicator.baseline.year,
        latest=latest.value if latest else None,
        latest_as_of=latest.as_of if latest else None,
        target=indicator.target.value,
        target_year=indicator.target.year,
        expected=expected,
        progress=progress,
        status=status,
    )


def _score(
    snapshot: Snapshot, unit: str, name: str, start: date, day: date, weights: dict[str, float]
) -> UnitScore:
    spec = snapshot.spec
    led = [t for t in spec.tasks if t.lead_unit == unit and t.start <= day]
    completion_parts, completion_weights = [], []
    for task in led:
        planned = planned_percent(task, day)
        latest = snapshot.latest(task, day=day)
        reported = latest.percent if latest else 0.0
        completion_parts.append(100.0 if planned <= 0 else min(100.0, reported / planned * 100))
        completion_weights.append(task.weight)
    completion = _mean(completion_parts, completion_weights)

    timely, owed = reports_on_time(snapshot, unit, start, day)
    timeliness = round(timely / owed * 100, 1) if owed else None

    parts = []
    for indicator in spec.indicators:
        if indicator.owner != unit:
            continue
        line = _indicator_line(snapshot, indicator, day)
        if line.latest is None or line.latest_as_of is None:
            parts.append(0.0)
            continue
        distance = indicator.target.value - indicator.baseline.value
        expected_share = (
            (expected_value(indicator, line.latest_as_of) - indicator.baseline.value) / distance
            if distance
            else 1.0
        )
        actual_share = (line.latest - indicator.baseline.value) / distance if distance else 1.0
        parts.append(
            100.0
            if expected_share <= 0
            else max(0.0, min(100.0, actual_share / expected_share * 100))
        )
    indicators = _mean(parts)

    completed = [t for t in led if (e := snapshot.latest(t, day=day)) and e.status == COMPLETED]
    evidence = (
        round(
            sum(1 for t in completed if snapshot.latest(t, day=day).evidence)
            / len(completed)
            * 100,
            1,
        )  # type: ignore[union-attr]
        if completed
        else None
    )
    components = {
        "completion": completion,
        "timeliness": timeliness,
        "indicators": indicators,
        "evidence": evidence,
    }
    present = {
        key: value for key, value in components.items() if value is not None and weights[key] > 0
    }
    score = (
        round(
            sum(value * weights[key] for key, value in present.items())
            / sum(weights[key] for key in present),
            1,
        )
        if present
        else None
    )
    return UnitScore(unit, name, completion, timeliness, indicators, evidence, score, None)


def reports_on_time(snapshot: Snapshot, unit: str, start: date, day: date) -> tuple[int, int]:
    """How many of the reports a unit owed from ``start`` to ``day`` came by their deadline
    (the period's reporting day, rolled to a working day, plus the grace of working days of
    ``missing_report``), and how many it owed: one a period in which it had a task under way
    or owned an indicator, whose deadline has passed by ``day``."""
    spec = snapshot.spec
    calendar = snapshot.calendar
    grace = spec.rules.missing_report.grace_workdays
    owned = {indicator.code for indicator in spec.indicators if indicator.owner == unit}
    timely, owed = 0, 0
    situation = snapshot.situation(day)
    cadence = spec.reporting.cadence
    for month in _months(max(start, spec.start), day, cadence):
        deadline = calendar.add_workdays(
            calendar.roll_forward(periods.deadline(month, spec.reporting.deadline)), grace
        )
        if deadline > day or not rules._has_work(situation, unit, month):
            continue
        owed += 1
        sent = [
            e.reported_on for e in snapshot.status_reports if e.unit == unit and e.period == month
        ]
        sent += [
            r.as_of
            for r in snapshot.readings
            if r.indicator in owned and periods.period_of(r.as_of, cadence) == month
        ]
        timely += bool(sent) and min(sent) <= deadline
    return timely, owed


def narrative(evaluation: Evaluation, day: date) -> list[str]:
    """A few sentences in Chinese that state the figures."""
    t = evaluation.totals
    lines = []
    if not t["tasks"]:
        return [
            f"截至{day.year}年{day.month}月{day.day}日，本试点在{evaluation.half}暂无应推进的任务。"
        ]
    share = round(t["completed"] / t["tasks"] * 100, 1)
    gap = round(t["average"] - t["planned"], 1)
    lines.append(
        f"截至{day.year}年{day.month}月{day.day}日，{evaluation.name}共有应推进任务{t['tasks']}项，"
        f"已完成{t['completed']}项，完成率{share:g}%；平均完成进度{t['average']:g}%，"
        f"计划进度{t['planned']:g}%，{'超前' if gap >= 0 else '落后'}{abs(gap):g}个百分点。"
    )
    by_list = "，".join(
        f"{item.label}{item.completed}/{item.tasks}项完成" for item in evaluation.lists
    )
    if by_list:
        lines.append(f"分清单看，{by_list}。")
    if evaluation.indicators:
        lines.append(
            f"{len(evaluation.indicators)}项主要发展指标中，{t['indicators_on_track']}项达到进度要求，"
            f"{t['indicators_behind']}项滞后，{t['indicators_without_data']}项暂无数据。"
        )
    ranked = [s for s in evaluation.scores if s.score is not None]
    if ranked:
        top = ranked[0]
        lines.append(f"综合评分最高的是{top.name}（{top.score:g}分）。")
        low = [s for s in ranked if s.score is not None and s.score < 60]
        if low:
            lines.append(
                f"得分低于60分的单位有{len(low)}个：{'、'.join(s.name for s in low)}，需重点督促。"
            )
    if t["interviews"] or t["urges"]:
        lines.append(f"本半年共发出督办{t['urges']}次，建议约谈{t['interviews']}个单位主要负责人。")
    return lines
