"""The lag rules. Each is a pure function of the ledger, the units' status reports and a
day, and each finding states its numbers, so a coordinator can check it by hand.

| rule | finds |
|---|---|
| ``missing_report`` | a unit with work to report sent nothing for a period by its deadline |
|                    | (rolled to a working day) plus a grace of working days, unless it    |
|                    | has caught up since: a later report covers all it owes, on plan      |
| ``overdue`` | a task past its due day and not reported completed |
| ``behind_plan`` | reported percent below the planned percent by more than a tolerance |
| ``stalled`` | no progress for some reporting periods in a row |
| ``indicator_off_track`` | an indicator behind the straight line from baseline to target |
| ``no_evidence`` | a task reported completed without evidence (佐证材料) |
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from operator import itemgetter
from typing import Any, NamedTuple

from pilot_tracker import periods
from pilot_tracker.ledger.plan import planned_percent
from pilot_tracker.ledger.program_file import IndicatorSpec, ProgramSpec, TaskSpec
from pilot_tracker.models import Severity, TaskStatus
from pilot_tracker.supervise.workdays import WorkCalendar


class StatusReport(NamedTuple):
    """A unit's status report (填报) on a task, as the rules and the figures read it.

    The stored row is ``models.StatusReport``; ``progress.stored_status_reports`` turns
    rows into these, for every reader (a named tuple: a program's history is thousands of
    them, and a tuple is built four times as fast as a frozen dataclass).
    """

    task: str
    unit: str
    period: str
    status: str
    percent: float
    reported_on: date
    evidence: str = ""
    order: int = 0  # later submissions win on the same day
    submission: str = ""  # the sha256 of the file it came in


class Reading(NamedTuple):
    indicator: str
    value: float
    as_of: date
    order: int = 0


@dataclass(frozen=True)
class Finding:
    """One lag found by one rule, with the figures behind it."""

    rule: str
    severity: Severity
    unit: str
    period: str
    message: str
    task: str | None = None
    indicator: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Situation:
    """Everything the rules look at, as of one day.

    The reports are grouped once, by task and unit and by unit, when a rule first asks:
    ``status_reports`` and ``readings`` are not to be changed after that.
    """

    spec: ProgramSpec
    as_of: date
    calendar: WorkCalendar
    status_reports: list[StatusReport] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    unavailable: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.status_reports = [r for r in self.status_reports if r.reported_on <= self.as_of]
        self.readings = [r for r in self.readings if r.as_of <= self.as_of]
        self.period = periods.period_of(self.as_of, self.spec.reporting.cadence)

    @cached_property
    def _filed(self) -> dict[tuple[str, str], list[StatusReport]]:
        """Each task's reports by each unit, in the order they were filed."""
        filed: dict[tuple[str, str], list[StatusReport]] = defaultdict(list)
        for report in self.status_reports:
            filed[(report.task, report.unit)].append(report)
        # Each group sorted on its own: a few dozen reports each, and twice as fast as one
        # sort of a program's whole history.
        for reports in filed.values():
            reports.sort(key=_filed_order)
        return filed

    @cached_property
    def _by_unit(self) -> dict[str, list[StatusReport]]:
        by_unit: dict[str, list[StatusReport]] = defaultdict(list)
        for report in self.status_reports:
            by_unit[report.unit].append(report)
        return by_unit

    @cached_property
    def reading_periods(self) -> dict[str, set[str]]:
        """The periods in which each indicator has a reading."""
        cadence = self.spec.reporting.cadence
        taken: dict[str, set[str]] = defaultdict(set)
        for reading in self.readings:
            taken[reading.indicator].add(periods.period_of(reading.as_of, cadence))
        return taken

    @cached_property
    def _led(self) -> dict[str, list[TaskSpec]]:
        """Each unit's tasks (those it leads), in the ledger's order."""
        led: dict[str, list[TaskSpec]] = defaultdict(list)
        for task in self.spec.tasks:
            led[task.lead_unit].append(task)
        return led

    @cached_property
    def _completed(self) -> dict[tuple[str, str], date]:
        """The day each task was first reported completed, by each unit that did."""
        completed: dict[tuple[str, str], date] = {}
        done = TaskStatus.COMPLETED.value
        for report in self.status_reports:
            if report.status == done:
                key = (report.task, report.unit)
                if key not in completed or report.reported_on < completed[key]:
                    completed[key] = report.reported_on
        return completed

    @cached_property
    def owners(self) -> frozenset[str]:
        """The units that own an indicator."""
        return frozenset(indicator.owner for indicator in self.spec.indicators)

    @cached_property
    def _readings_of(self) -> dict[str, list[Reading]]:
        readings: dict[str, list[Reading]] = defaultdict(list)
        for reading in self.readings:
            readings[reading.indicator].append(reading)
        return readings

    def readings_of(self, indicator: str) -> list[Reading]:
        """An indicator's readings."""
        return self._readings_of.get(indicator, [])

    def led_by(self, unit: str) -> list[TaskSpec]:
        """The tasks a unit leads."""
        return self._led.get(unit, [])

    def completed_on(self, task: str, unit: str) -> date | None:
        """The day a unit first reported a task completed; None if it never did."""
        return self._completed.get((task, unit))

    def filed(self, task: str, unit: str) -> list[StatusReport]:
        """A unit's reports on a task, in the order they were filed."""
        return self._filed.get((task, unit), [])

    def of_unit(self, unit: str) -> list[StatusReport]:
        """A unit's reports on any task."""
        return self._by_unit.get(unit, [])

    def latest(self, task: TaskSpec) -> StatusReport | None:
        """The lead unit's latest status report on a task."""
        mine = self.filed(task.code, task.lead_unit)
        return mine[-1] if mine else None

    def by_period(self, task: TaskSpec) -> dict[str, StatusReport]:
        """The lead unit's last status report on a task in each period."""
        return {report.period: report for report in self.filed(task.code, task.lead_unit)}


# A reading's place in the order they were taken: its day, then its submission's.
_taken_order = itemgetter(Reading._fields.index("as_of"), Reading._fields.index("order"))
# A report's place in the order they were filed: its day, then its submission's.
_filed_order = itemgetter(
    StatusReport._fields.index("reported_on"), StatusReport._fields.index("order")
)


def _d(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _n(value: float) -> str:
    return f"{value:g}"


def missing_report(situation: Situation) -> list[Finding]:
    spec, as_of, calendar = situation.spec, situation.as_of, situation.calendar
    rule = spec.rules.missing_report
    if not rule.enabled:
        return []
    cadence = spec.reporting.cadence

    def due_check(period: str) -> date:
        deadline = calendar.roll_forward(periods.deadline(period, spec.reporting.deadline))
        return calendar.add_workdays(deadline, rule.grace_workdays)

    period = situation.period
    if as_of <= due_check(period):
        period = periods.period_of(periods.bounds(period)[0] - timedelta(days=1), cadence)
    if periods.bounds(period)[1] < spec.start or as_of <= due_check(period):
        return []

    reported = {(report.unit, report.period) for report in situation.status_reports}
    for indicator in spec.indicators:
        taken = situation.reading_periods.get(indicator.code, ())
        reported.update((indicator.owner, period) for period in taken)

    findings = []
    for unit in spec.units:
        if unit.code in situation.unavailable or not _has_work(situation, unit.code, period):
            continue
        missed, checked = 0, period
        while (
            (unit.code, checked) not in reported
            and periods.bounds(checked)[1] >= spec.start
            and _has_work(situation, unit.code, checked)
        ):
            missed += 1
            checked = periods.period_of(periods.bounds(checked)[0] - timedelta(days=1), cadence)
        if not missed or caught_up(situation, unit.code, period):
            continue
        deadline = calendar.roll_forward(periods.deadline(period, spec.reporting.deadline))
        findings.append(
            Finding(
                rule="missing_report",
                severity=Severity.RED if missed >= rule.red_after_periods else Severity.YELLOW,
                unit=unit.code,
                period=period,
                message=(
                    f"{period} 未报送进展（截止{_d(deadline)}，宽限{rule.grace_workdays}个工作日）"
                    + (f"，已连续{missed}期未报送" if missed > 1 else "")
                ),
                details={
                    "period": period,
                    "deadline": deadline.isoformat(),
                    "grace_workdays": rule.grace_workdays,
                    "missed_periods": missed,
                },
            )
        )
    return findings


def _has_work(situation: Situation, unit: str, period: str) -> bool:
    """Whether a unit owes a report for a period: a task of its own under way, or an
    indicator it owns."""
    if unit in situation.owners:
        return True
    return bool(_owed_tasks(situation, unit, period))


def _owed_tasks(situation: Situation, unit: str, period: str) -> list[TaskSpec]:
    """The tasks a unit leads that are under way in a period: begun by its end, not
    reported completed before its start."""
    first, last = periods.bounds(period)
    owed = []
    for task in situation.led_by(unit):
        if task.start > last:
            continue
        completed = situation.completed_on(task.code, unit)
        if completed is None or completed >= first:
            owed.append(task)
    return owed


def caught_up(situation: Situation, unit: str, period: str) -> bool:
    """Whether a unit that skipped ``period`` has caught up since: its latest report, in a
    later period, covers every task it owes then (or, with none, every indicator it owns)
    and each of them is on plan (within ``behind_plan``'s tolerance, or completed).

    Such a unit is no longer flagged for the skipped period, so its escalation can close;
    the half-year figures still count the period as missed (``figures._score``).
    """
    owned = [i.code for i in situation.spec.indicators if i.owner == unit]
    sent: dict[str, set[str]] = defaultdict(set)  # period → what the unit reported in it
    for report in situation.of_unit(unit):
        sent[report.period].add(report.task)
    for code in owned:
        for taken in situation.reading_periods.get(code, ()):
            sent[taken].add(code)
    latest = max(sent, key=periods.ordinal, default=None)
    if latest is None or periods.ordinal(latest) <= periods.ordinal(period):
        return False
    tasks = _owed_tasks(situation, unit, latest)
    owed = [task.code for task in tasks] or owned
    if not owed or not set(owed) <= sent[latest]:
        return False
    tolerance = situation.spec.rules.behind_plan.tolerance
    for task in tasks:
        report = situation.latest(task)
        if report is None or report.status == TaskStatus.COMPLETED.value:
            continue
        if planned_percent(task, situation.as_of) - report.percent > tolerance:
            return False
    return True


def overdue(situation: Situation) -> list[Finding]:
    rule = situation.spec.rules.overdue
    if not rule.enabled:
        return []
    findings = []
    late_tasks = []
    for task in situation.spec.tasks:
        due = situation.calendar.roll_forward(task.due)
        if situation.as_of <= due:
            continue
        latest = situation.latest(task)
        if latest is not None and latest.status == TaskStatus.COMPLETED.value:
            continue
        late_tasks.append((task, due, latest))
    lateness = situation.calendar.workdays_since((due for _, due, _ in late_tasks), situation.as_of)
    for task, due, latest in late_tasks:
        late = lateness[due]
        shown = f"最近报送{_n(latest.percent)}%" if latest else "从未报送"
        findings.append(
            Finding(
                rule="overdue",
                severity=Severity.RED if late > rule.red_after_workdays else Severity.YELLOW,
                unit=task.lead_unit,
                task=task.code,
                period=situation.period,
                message=(
                    f"{task.code} 已超过完成时限{_d(task.due)}{late}个工作日仍未完成（{shown}）"
                ),
                details={
                    "due": task.due.isoformat(),
                    "overdue_workdays": late,
                    "red_after_workdays": rule.red_after_workdays,
                    "reported": latest.percent if latest else None,
                },
            )
        )
    return findings


def behind_plan(situation: Situation) -> list[Finding]:
    rule = situation.spec.rules.behind_plan
    if not rule.enabled:
        return []
    findings = []
    for task in situation.spec.tasks:
        if task.start > situation.as_of:
            continue
        latest = situation.latest(task)
        if latest is None or latest.status == TaskStatus.COMPLETED.value:
            continue
        planned = planned_percent(task, situation.as_of)
        gap = round(planned - latest.percent, 1)
        if gap <= rule.tolerance:
            continue
        findings.append(
            Finding(
                rule="behind_plan",
                severity=Severity.RED if gap > rule.red_gap else Severity.YELLOW,
                unit=task.lead_unit,
                task=task.code,
                period=situation.period,
                message=(
                    f"{task.code} 计划进度{_n(planned)}%，报送{_n(latest.percent)}%，"
                    f"落后{_n(gap)}个百分点（容差{_n(rule.tolerance)}）"
                ),
                details={
                    "planned": planned,
                    "reported": latest.percent,
                    "gap": gap,
                    "tolerance": rule.tolerance,
                    "red_gap": rule.red_gap,
                    "reported_on": latest.reported_on.isoformat(),
                },
            )
        )
    return findings


def stalled(situation: Situation) -> list[Finding]:
    rule = situation.spec.rules.stalled
    if not rule.enabled:
        return []
    cadence = situation.spec.reporting.cadence
    findings = []
    for task in situation.spec.tasks:
        by_period = situation.by_period(task)
        if not by_period:
            continue
        last_period = max(by_period)
        latest = by_period[last_period]
        if latest.status == TaskStatus.COMPLETED.value or latest.percent >= 100:
            continue
        still, checked = 0, last_period
        while True:
            previous = periods.period_of(periods.bounds(checked)[0] - timedelta(days=1), cadence)
            earlier = by_period.get(previous)
            if earlier is None or earlier.percent < by_period[checked].percent:
                break
            still += 1
            checked = previous
        if still < rule.periods:
            continue
        findings.append(
            Finding(
                rule="stalled",
                severity=Severity.RED if still >= rule.red_periods else Severity.YELLOW,
                unit=task.lead_unit,
                task=task.code,
                period=last_period,
                message=f"{task.code} 连续{still}期进度无变化（停留在{_n(latest.percent)}%）",
                details={
                    "periods_without_progress": still,
                    "percent": latest.percent,
                    "since": checked,
                    "threshold": rule.periods,
                },
            )
        )
    return findings


def expected_value(indicator: IndicatorSpec, day: date) -> float:
    """Where the straight line from baseline (end of its year) to target stands on a day."""
    start = date(indicator.baseline.year, 12, 31)
    end = date(indicator.target.year, 12, 31)
    share = 1.0 if end <= start else min(1.0, max(0.0, (day - start).days / (end - start).days))
    baseline, target = indicator.baseline.value, indicator.target.value
    return round(baseline + (target - baseline) * share, 4)


def indicator_off_track(situation: Situation) -> list[Finding]:
    rule = situation.spec.rules.indicator_off_track
    if not rule.enabled:
        return []
    findings = []
    for indicator in situation.spec.indicators:
        readings = situation.readings_of(indicator.code)
        latest = max(readings, key=_taken_order, default=None)
        distance = indicator.target.value - indicator.baseline.value
        if latest is None or distance == 0:
            continue
        expected = expected_value(indicator, latest.as_of)
        # Short of the line, as a share of the whole way from baseline to target.
        gap = round((expected - latest.value) / distance * 100, 1)
        if gap <= rule.tolerance:
            continue
        measure = indicator.measure
        findings.append(
            Finding(
                rule="indicator_off_track",
                severity=Severity.RED if gap > rule.red_gap else Severity.YELLOW,
                unit=indicator.owner,
                indicator=indicator.code,
                period=situation.period,
                message=(
                    f"{indicator.code} {indicator.name}：当前{_n(latest.value)}{measure}，"
                    f"按计划应达{_n(round(expected, 2))}{measure}，"
                    f"差距为目标进程的{_n(gap)}%（容差{_n(rule.tolerance)}%）"
                ),
                details={
                    "value": latest.value,
                    "expected": round(expected, 2),
                    "baseline": indicator.baseline.value,
                    "target": indicator.target.value,
                    "gap_percent": gap,
                    "tolerance": rule.tolerance,
                    "as_of": latest.as_of.isoformat(),
                },
            )
        )
    return findings


def no_evidence(situation: Situation) -> list[Finding]:
    if not situation.spec.rules.no_evidence.enabled:
        return []
    findings = []
    for task in situation.spec.tasks:
        latest = situation.latest(task)
        if latest is None or latest.status != TaskStatus.COMPLETED.value or latest.evidence:
            continue
        findings.append(
            Finding(
                rule="no_evidence",
                severity=Severity.YELLOW,
                unit=task.lead_unit,
                task=task.code,
                period=latest.period,
                message=f"{task.code} 报送已完成，但未提供佐证材料",
                details={"reported_on": latest.reported_on.isoformat()},
            )
        )
    return findings


RULES: dict[str, Callable[[Situation], list[Finding]]] = {
    "missing_report": missing_report,
    "overdue": overdue,
    "behind_plan": behind_plan,
    "stalled": stalled,
    "indicator_off_track": indicator_off_track,
    "no_evidence": no_evidence,
}


def evaluate(situation: Situation) -> list[Finding]:
    """Every rule's findings, unit by unit in the ledger's order."""
    order = {unit.code: index for index, unit in enumerate(situation.spec.units)}
    findings = [finding for rule in RULES.values() for finding in rule(situation)]
    return sorted(findings, key=lambda f: (order.get(f.unit, 0), f.task or "", f.rule))
