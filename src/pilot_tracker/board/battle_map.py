"""The battle map (挂图作战) of a program as of a day: its units × its tasks, grouped by task
list, each cell in the band of the gap to plan (``ledger.plan.gap_band``, the colours of
the half-year PDF's map), and under it the flags of the latest day flagged (by that day).

A cell where a unit leads a task shows the lead's latest reported percent (filed on or
before the day) in the band of its gap to the percent planned for the day, with the due
date in effect (an approved extension moves it). Where the unit is a co-unit (配合) the
cell carries the same band, lighter, marked 配: who shares the task. Other cells are
empty.

The map is read in a fixed number of set-based queries (the ledger, the extensions in
effect, the lead units' latest reports, the latest flags), whatever its size.

Filters (the page's GET form), each optional:

- ``list``: a task-list kind: only that list's tasks, and the units that have a cell in it;
- ``unit``: a unit's code: only that unit, and the tasks it leads or shares;
- ``flag``: ``red``, ``yellow`` or ``any``: only the units with a flag of that severity on
  the latest day flagged, and the tasks such a flag names; a flag that names no task nor
  indicator (a missing report) stands for every task its unit leads that has begun.

An unknown filter value is left out, and said in Chinese at its field
(``BattleMap.problems``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from pilot_tracker.ledger import plan, store
from pilot_tracker.ledger.program_file import TaskSpec
from pilot_tracker.models import (
    LABELS,
    Flag,
    Indicator,
    ListKind,
    Program,
    Severity,
    StatusReport,
    Task,
    Unit,
)
from pilot_tracker.supervise import extensions

# The rules' names as the office reads them (supervise/rules.py).
RULE_LABELS = {
    "missing_report": "未按期报送",
    "overdue": "逾期未完成",
    "behind_plan": "进度落后",
    "stalled": "进度停滞",
    "indicator_off_track": "指标滞后",
    "no_evidence": "缺少佐证",
}
SEVERITY_LABELS = {Severity.RED.value: "红", Severity.YELLOW.value: "黄"}
FLAG_FILTERS = {"red": "红色预警", "yellow": "黄色预警", "any": "有预警（红或黄）"}
# The bands in the order the legend and the counts show them.
BANDS = [plan.ON_PLAN, plan.BEHIND, plan.FAR_BEHIND, plan.UNREPORTED, plan.NOT_DUE]
MAX_SHOWN = 40  # characters of a refused filter value repeated on the page


def rule_label(rule: str) -> str:
    return RULE_LABELS.get(rule, rule)


@dataclass(frozen=True)
class FlagLine:
    """One flag as the board lists it: what ``pilot-tracker flag`` prints, in Chinese."""

    as_of: date
    unit: str
    unit_name: str
    severity: str
    rule: str
    period: str
    task: str  # the task's code, or ""
    indicator: str  # the indicator's code, or "" (neither: the unit as a whole)
    subject_title: str  # the task's title or the indicator's name
    message: str  # the finding's own sentence, as stored with the flag

    @property
    def subject(self) -> str:
        return self.task or self.indicator

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS.get(self.severity, self.severity)

    @property
    def rule_label(self) -> str:
        return rule_label(self.rule)


def flag_line(
    flag: Flag,
    unit: tuple[str, str],
    task: tuple[str | None, str | None] = (None, None),
    indicator: tuple[str | None, str | None] = (None, None),
) -> FlagLine:
    """A stored flag as the board lists it; ``unit``, ``task`` and ``indicator`` are the
    (code, name) of what it names."""
    message = flag.details.get("message") if isinstance(flag.details, dict) else None
    return FlagLine(
        as_of=flag.as_of,
        unit=unit[0],
        unit_name=unit[1],
        severity=flag.severity,
        rule=flag.rule,
        period=flag.period,
        task=task[0] or "",
        indicator=indicator[0] or "",
        subject_title=task[1] or indicator[1] or "",
        message=message if isinstance(message, str) else "",
    )


@dataclass(frozen=True)
class Column:
    """A task, as the head of a column: its lead's latest report against the plan."""

    code: str
    title: str
    list_kind: str
    lead_unit: str
    lead_name: str
    due: date
    original_due: date | None  # the ledger's, when an approved extension moved it
    planned: float | None  # None before the task begins
    percent: float | None  # the lead unit's latest, None if never reported
    status: str | None
    reported_on: date | None

    @property
    def band(self) -> str:
        return plan.gap_band(self.percent, self.planned)

    @property
    def band_label(self) -> str:
        return plan.BAND_LABELS[self.band]


@dataclass(frozen=True)
class Cell:
    task: Column
    lead: bool  # the unit leads the task; else it is a co-unit (配合)

    @property
    def band(self) -> str:
        return self.task.band

    @property
    def text(self) -> str:
        if not self.lead:
            return "配"
        return "—" if self.task.percent is None else f"{self.task.percent:g}"

    def title(self, unit_name: str) -> str:
        """The cell's tooltip: whose, which task, the figures."""
        task = self.task
        role = "牵头" if self.lead else "配合（牵头单位报送）"
        planned = "未开始" if task.planned is None else f"计划{task.planned:g}%"
        reported = "未报送" if task.percent is None else f"报送{task.percent:g}%"
        return f"{unit_name} · {task.code} {task.title} · {role} · {reported}，{planned}"


@dataclass(frozen=True)
class Group:
    """A task list's columns, under its name."""

    kind: str
    name: str
    columns: list[Column]


@dataclass(frozen=True)
class Row:
    unit: str
    name: str
    cells: list[Cell | None]  # one per column, in the groups' order
    severity: str  # the unit's worst flag on the latest day flagged, "" if none

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS.get(self.severity, "")


@dataclass
class BattleMap:
    program: Program
    today: date
    groups: list[Group]
    rows: list[Row]
    flag_day: date | None  # the latest day flagged
    flags: list[FlagLine]
    lists: list[tuple[str, str]]  # the filter's choices: (kind, name)
    units: list[tuple[str, str]]  # (code, name)
    chosen: dict[str, str]  # the filters in effect
    problems: dict[str, str] = field(default_factory=dict)  # a refused filter, at its field

    @property
    def columns(self) -> list[Column]:
        return [column for group in self.groups for column in group.columns]

    @property
    def counts(self) -> list[tuple[str, str, int]]:
        """How many of the shown tasks are in each band: (band, label, count)."""
        found = Counter(column.band for column in self.columns)
        return [(band, plan.BAND_LABELS[band], found[band]) for band in BANDS]

    @property
    def filtered(self) -> bool:
        return any(self.chosen.values())

    @property
    def flag_filters(self) -> list[tuple[str, str]]:
        return list(FLAG_FILTERS.items())


# --- reading it ------------------------------------------------------------------------------


def latest_lead_reports(
    *, session: Session, program_id: int | None, today: date
) -> dict[str, tuple[float, str, date]]:
    """The latest status report of each task by its lead unit, filed on or before
    ``today`` (by report date, then by submission, as ``Snapshot.latest`` orders them):
    task code → (percent, status, reported on). One query for the whole program."""
    rows = session.exec(
        select(Task.code, StatusReport.percent, StatusReport.status, StatusReport.reported_on)
        .join(Task, col(StatusReport.task_id) == Task.id)
        .where(
            Task.program_id == program_id,
            col(StatusReport.unit_id) == col(Task.lead_unit_id),
            col(StatusReport.reported_on) <= today,
        )
        .order_by(col(StatusReport.reported_on), col(StatusReport.submission_id))
    ).all()
    return {code: (percent, status, day) for code, percent, status, day in rows}


def latest_flags(
    *, session: Session, program_id: int | None, today: date
) -> tuple[date | None, list[FlagLine]]:
    """The latest day flagged by ``today`` and its flags, unit by unit in the ledger's
    order."""
    day = session.exec(
        select(func.max(Flag.as_of)).where(Flag.program_id == program_id, Flag.as_of <= today)
    ).one()
    if day is None:
        return None, []
    rows = session.exec(
        select(Flag, Unit.code, Unit.name, Task.code, Task.title, Indicator.code, Indicator.name)
        .join(Unit, col(Flag.unit_id) == Unit.id)
        .outerjoin(Task, col(Flag.task_id) == Task.id)
        .outerjoin(Indicator, col(Flag.indicator_id) == Indicator.id)
        .where(Flag.program_id == program_id, Flag.as_of == day)
        .order_by(col(Unit.position), col(Flag.id))
    ).all()
    return day, [
        flag_line(flag, (unit, name), (task, title), (indicator, indicator_name))
        for flag, unit, name, task, title, indicator, indicator_name in rows
    ]


def _planned(task: TaskSpec, today: date) -> float | None:
    return None if today < task.start else plan.planned_percent(task, today)


def _problems(
    chosen: dict[str, str], lists: dict[str, str], units: dict[str, str]
) -> dict[str, str]:
    """The Chinese words for each filter value the program does not know."""
    problems = {}
    shown = {name: value[:MAX_SHOWN] for name, value in chosen.items()}
    if chosen["list"] and chosen["list"] not in lists:
        names = "、".join(lists.values())
        problems["list"] = f"没有“{shown['list']}”这类任务清单。请从列表中选择：{names}。"
    if chosen["unit"] and chosen["unit"] not in units:
        problems["unit"] = (
            f"本试点没有代码为“{shown['unit']}”的成员单位。请从列表中选择单位，或选“全部单位”。"
        )
    if chosen["flag"] and chosen["flag"] not in FLAG_FILTERS:
        problems["flag"] = (
            f"“{shown['flag']}”不是预警筛选项。请选择红色预警、黄色预警或有预警（红或黄）。"
        )
    return problems


def _flagged(
    flags: list[FlagLine], severity: str, spec_tasks: list[TaskSpec], today: date
) -> tuple[set[str], set[str]]:
    """The units and the tasks a ``flag`` filter keeps."""
    chosen = [f for f in flags if severity == "any" or f.severity == severity]
    units = {f.unit for f in chosen}
    whole = {f.unit for f in chosen if not f.subject}  # a missing report: all its tasks
    tasks = {f.task for f in chosen if f.task}
    tasks |= {t.code for t in spec_tasks if t.lead_unit in whole and t.start <= today}
    return units, tasks


def battle_map(
    *,
    session: Session,
    program: Program,
    today: date,
    list_kind: str = "",
    unit: str = "",
    flag: str = "",
) -> BattleMap:
    """The battle map of ``program`` as of ``today`` (the program's own day), filtered."""
    spec, original_dues = extensions.effective(
        session=session,
        program_id=program.id,
        spec=store.read_program(session=session, code=program.code),
        as_of=today,
    )
    names = {u.code: u.name for u in spec.units}
    list_names = {tl.kind.value: tl.name for tl in spec.task_lists}
    for task in spec.tasks:  # a list a task names but the ledger does not: its kind's name
        list_names.setdefault(task.list_kind.value, LABELS[ListKind][task.list_kind.value])
    chosen = {"list": list_kind.strip(), "unit": unit.strip(), "flag": flag.strip()}
    problems = _problems(chosen, list_names, names)
    for refused in problems:
        chosen[refused] = ""
    latest = latest_lead_reports(session=session, program_id=program.id, today=today)
    flag_day, flags = latest_flags(session=session, program_id=program.id, today=today)

    tasks = list(spec.tasks)
    units = list(spec.units)
    if chosen["list"]:
        tasks = [t for t in tasks if t.list_kind.value == chosen["list"]]
    if chosen["unit"]:
        units = [u for u in units if u.code == chosen["unit"]]
        tasks = [t for t in tasks if chosen["unit"] == t.lead_unit or chosen["unit"] in t.co_units]
    if chosen["flag"]:
        flagged_units, flagged_tasks = _flagged(flags, chosen["flag"], spec.tasks, today)
        units = [u for u in units if u.code in flagged_units]
        tasks = [t for t in tasks if t.code in flagged_tasks]

    columns: dict[str, list[Column]] = defaultdict(list)
    for task in tasks:
        percent, status, reported_on = latest.get(task.code, (None, None, None))
        columns[task.list_kind.value].append(
            Column(
                code=task.code,
                title=task.title,
                list_kind=task.list_kind.value,
                lead_unit=task.lead_unit,
                lead_name=names.get(task.lead_unit, task.lead_unit),
                due=task.due,
                original_due=original_dues.get(task.code),
                planned=_planned(task, today),
                percent=percent,
                status=status,
                reported_on=reported_on,
            )
        )
    groups = [Group(kind, list_names[kind], columns[kind]) for kind in list_names if columns[kind]]
    shown = [column for group in groups for column in group.columns]
    co_units = {task.code: set(task.co_units) for task in tasks}
    worst = _worst_flags(flags)
    rows = []
    for member in units:
        cells: list[Cell | None] = [
            Cell(column, lead=True)
            if column.lead_unit == member.code
            else Cell(column, lead=False)
            if member.code in co_units[column.code]
            else None
            for column in shown
        ]
        if chosen["list"] and not any(cells):  # a unit with no part in the list shown
            continue
        rows.append(Row(member.code, member.name, cells, worst.get(member.code, "")))
    shown_units = {row.unit for row in rows}
    severity = chosen["flag"]
    return BattleMap(
        program=program,
        today=today,
        groups=groups,
        rows=rows,
        flag_day=flag_day,
        flags=[f for f in flags if f.unit in shown_units and severity in ("", "any", f.severity)],
        lists=list(list_names.items()),
        units=list(names.items()),
        chosen=chosen,
        problems=problems,
    )


def _worst_flags(flags: list[FlagLine]) -> dict[str, str]:
    worst: dict[str, str] = {}
    for line in flags:
        if worst.get(line.unit) != Severity.RED.value:
            worst[line.unit] = line.severity
    return worst
