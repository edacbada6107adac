"""Demo submissions: what a program's units would send, day by day, written into the inbox.

Deterministic for a seed. Most units report on time and on track; some report late, some
fall behind plan, one falls far behind and then catches up (its head acknowledges its
notices, the others' never do); a few send messy files (title
rows, re-typed headers, percent as text, a GBK CSV, a row that cannot be read); one unit
never reports; a unit with an HTTP source has its answers returned for a server to
publish, and that server is down for a while; a few units answer by mail (``mailing``):
their workbooks are returned to be mailed to the office's mailbox instead of written into
the inbox folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

from openpyxl.worksheet.worksheet import Worksheet

from pilot_tracker import periods
from pilot_tracker.collect.inbox import inbox_folder
from pilot_tracker.collect.submission_workbook import (
    HEADER_ROW,
    INDICATOR_SHEET,
    TASK_COLUMNS,
    TASK_SHEET,
    build_submission_template,
)
from pilot_tracker.ledger.plan import planned_percent
from pilot_tracker.ledger.program_file import (
    HttpSourceSpec,
    IndicatorSpec,
    ProgramSpec,
    TaskSpec,
    UnitSpec,
)
from pilot_tracker.models import LABELS, TaskStatus
from pilot_tracker.spreadsheet import save_atomically


class Behaviour(StrEnum):
    ON_TRACK = "on_track"
    LATE = "late"
    BEHIND = "behind"
    MESSY_WORKBOOK = "messy_workbook"
    GBK_CSV = "gbk_csv"
    BAD_ROW = "bad_row"
    SILENT = "silent"
    HTTP = "http"
    RECOVERING = "recovering"


@dataclass(frozen=True)
class Mailed:
    """A workbook a unit sends by mail: whose, its file name, its bytes, the day sent."""

    unit: str
    name: str
    data: bytes
    day: date


@dataclass
class Delivery:
    """What the units sent between two days."""

    written: list[Path] = field(default_factory=list)
    http: dict[str, bytes] = field(default_factory=dict)
    down: list[str] = field(default_factory=list)
    mailed: list[Mailed] = field(default_factory=list)


# Behaviours whose workbook a unit may as well send by mail.
MAILABLE = (Behaviour.ON_TRACK, Behaviour.LATE, Behaviour.BEHIND)


def mailing(spec: ProgramSpec, seed: int = 2021, count: int = 3) -> set[str]:
    """The units that answer by mail: one that reports late and others on track, chosen
    by the seed; the rest use the inbox folder."""
    plan = behaviours(spec, seed)
    late = [code for code, kind in plan.items() if kind is Behaviour.LATE][:1]
    on_track = [code for code, kind in plan.items() if kind is Behaviour.ON_TRACK]
    return set(late + on_track[: max(0, count - len(late))])


def behaviours(spec: ProgramSpec, seed: int = 2021) -> dict[str, Behaviour]:
    """How each unit with something to report behaves, fixed for a program and seed."""
    reporting = [unit for unit in spec.units if _tasks_of(spec, unit) or _indicators_of(spec, unit)]
    http = [unit.code for unit in reporting if _http_source(unit)]
    others = [unit.code for unit in reporting if unit.code not in http]
    rng = _rng(seed, spec.code, "behaviours")
    rng.shuffle(others)
    # The unit with a bad row has other rows too, so its submission is partly taken.
    busy = next((c for c in others if len(_tasks_of(spec, _unit(spec, c))) >= 2), None)
    plan: dict[str, Behaviour] = dict.fromkeys(http, Behaviour.HTTP)
    if busy is not None:
        plan[busy] = Behaviour.BAD_ROW
        others.remove(busy)
    # The unit that recovers has long tasks, so that lagging is all that flags it.
    recovering = next(
        (
            code
            for code in others
            if (tasks := _tasks_of(spec, _unit(spec, code)))
            and all(task.start <= spec.start + timedelta(days=45) for task in tasks)
            and all(task.due >= spec.start + timedelta(days=240) for task in tasks)
        ),
        None,
    )
    if recovering is not None:
        plan[recovering] = Behaviour.RECOVERING
        others.remove(recovering)
    special = [Behaviour.SILENT, Behaviour.MESSY_WORKBOOK, Behaviour.GBK_CSV]
    share = max(1, len(others) // 7)
    special += [Behaviour.LATE] * share + [Behaviour.BEHIND] * share
    for code in others:
        plan[code] = special.pop(0) if special else Behaviour.ON_TRACK
    return {unit.code: plan[unit.code] for unit in reporting}


def acknowledging(spec: ProgramSpec, seed: int = 2021) -> set[str]:
    """The units whose heads acknowledge (签收) their urge and interview notices through
    their link, the working day after: the one that catches up. The others never do."""
    return {unit for unit, kind in behaviours(spec, seed).items() if kind is Behaviour.RECOVERING}


def deliver(
    *,
    spec: ProgramSpec,
    inbox: Path,
    since: date | None,
    until: date,
    seed: int = 2021,
    by_mail: frozenset[str] | set[str] = frozenset(),
) -> Delivery:
    """Write into the inbox every submission the units make after ``since``, up to ``until``.

    ``inbox`` is the data home's inbox; each unit's files go to its own folder in it. The
    workbooks of the units in ``by_mail`` are returned in ``mailed`` instead.
    """
    delivery = Delivery()
    plan = behaviours(spec, seed)
    first = max(spec.start, (since or spec.start - timedelta(days=1)) + timedelta(days=1))
    day = periods.bounds(periods.period_of(first, spec.reporting.cadence))[0]
    while day <= until:
        period = periods.period_of(day, spec.reporting.cadence)
        for code, behaviour in plan.items():
            unit = _unit(spec, code)
            sent = _submission_day(spec, unit, period, behaviour, seed)
            if behaviour is Behaviour.SILENT or sent is None:
                continue
            if not ((since is None or sent > since) and sent <= until):
                continue
            mailed = code in by_mail and behaviour in MAILABLE
            _send(spec, unit, behaviour, period, sent, inbox, delivery, seed, mailed)
        day = periods.bounds(period)[1] + timedelta(days=1)
    return delivery


def _submission_day(
    spec: ProgramSpec, unit: UnitSpec, period: str, behaviour: Behaviour, seed: int
) -> date | None:
    first, last = periods.bounds(period)
    if last < spec.start or first > spec.end:
        return None
    deadline = periods.deadline(period, spec.reporting.deadline)
    rng = _rng(seed, spec.code, unit.code, period, "day")
    if behaviour is Behaviour.LATE:
        # After the deadline, but inside the period, so the report still counts for it.
        return min(deadline + timedelta(days=rng.randint(1, 5)), last)
    return max(first, deadline - timedelta(days=rng.randint(0, 6)))


def _send(
    spec: ProgramSpec,
    unit: UnitSpec,
    behaviour: Behaviour,
    period: str,
    day: date,
    inbox: Path,
    delivery: Delivery,
    seed: int,
    mailed: bool = False,
) -> None:
    rows = [_task_row(spec, unit, task, behaviour, day, seed) for task in _tasks_of(spec, unit)]
    readings = [_reading(indicator, behaviour, day) for indicator in _indicators_of(spec, unit)]
    folder = inbox_folder(inbox, spec.code, unit.code)
    if behaviour is Behaviour.HTTP:
        body = {
            "meta": {"program": spec.code, "unit": unit.code},
            "tasks": [dict(zip(_TASK_KEYS, row, strict=True)) for row in rows],
            "indicators": [
                {"指标编号": code, "当前值": value, "统计时点": day.isoformat()}
                for code, value in readings
            ],
        }
        delivery.http[unit.code] = json.dumps(
            body, ensure_ascii=False, indent=1, default=str
        ).encode()
        # The unit's system is down for the second reporting period of the program.
        second = periods.period_of(
            periods.bounds(periods.period_of(spec.start, spec.reporting.cadence))[1]
            + timedelta(days=1),
            spec.reporting.cadence,
        )
        if period == second:
            delivery.down.append(unit.code)
        return
    folder.mkdir(parents=True, exist_ok=True)
    if behaviour is Behaviour.GBK_CSV:
        path = folder / f"{unit.name}{period}进展.csv"
        path.write_bytes(_csv(rows).encode("gbk", errors="replace"))
        delivery.written.append(path)
        return
    workbook = build_submission_template(spec, unit.code, generated_on=spec.start)
    sheet = workbook[TASK_SHEET]
    messy = behaviour is Behaviour.MESSY_WORKBOOK
    by_code = {row[0]: row for row in rows}
    filled = 0
    for number in range(HEADER_ROW + 1, sheet.max_row + 1):
        row = by_code.get(sheet.cell(row=number, column=1).value)
        if row is None:
            continue  # a task it co-leads: the lead unit reports it
        for column, value in zip(_FILLED, row[1:], strict=True):
            if messy and column == _PERCENT:
                value = f"{value}%"
            if messy and column == _REPORTED:
                value = f"{day.year}年{day.month}月{day.day}日"
            sheet.cell(row=number, column=column, value=value)
        if behaviour is Behaviour.BAD_ROW and filled == 0:
            sheet.cell(row=number, column=_PERCENT, value="约一半")
        filled += 1
    indicators = workbook[INDICATOR_SHEET]
    for offset, (_, value) in enumerate(readings):
        indicators.cell(row=HEADER_ROW + 1 + offset, column=6, value=value)
        indicators.cell(row=HEADER_ROW + 1 + offset, column=7, value=day)
    if messy:
        _mess_up(sheet)
    name = (
        f"关于报送{period}试点任务进展的函（{unit.name}） .xlsx"
        if messy
        else f"{unit.name}-{period}任务进展.xlsx"
    )
    if mailed:
        stream = io.BytesIO()
        workbook.save(stream)
        delivery.mailed.append(Mailed(unit.code, name, stream.getvalue(), day))
        return
    path = folder / name
    save_atomically(workbook, path)
    delivery.written.append(path)


_HEADERS = [header for header, _, _ in TASK_COLUMNS]
_TASK_KEYS = (
    "任务编号",
    "进展状态",
    "完成进度",
    "进展情况",
    "存在问题",
    "下步计划",
    "佐证材料",
    "填报日期",
)
_FILLED = [_HEADERS.index(key) + 1 for key in _TASK_KEYS[1:]]
_PERCENT = _HEADERS.index("完成进度") + 1
_REPORTED = _HEADERS.index("填报日期") + 1


def _task_row(
    spec: ProgramSpec, unit: UnitSpec, task: TaskSpec, behaviour: Behaviour, day: date, seed: int
) -> list[object]:
    """任务编号, 进展状态, 完成进度, 进展情况, 存在问题, 下步计划, 佐证材料, 填报日期."""
    rng = _rng(seed, spec.code, unit.code, task.code)
    lag = rng.uniform(15, 40) if behaviour is Behaviour.BEHIND else rng.uniform(-6, 3)
    if behaviour is Behaviour.RECOVERING and day < recovery_day(spec):
        lag = rng.uniform(32, 40)  # far behind: red flags, until it catches up
    planned = planned_percent(task, day)
    if day < task.start:
        percent, status = 0, TaskStatus.NOT_STARTED
    else:
        percent = int(max(0, min(100, planned - lag)))
        if percent >= 100:
            status = TaskStatus.COMPLETED
        elif behaviour in (Behaviour.BEHIND, Behaviour.RECOVERING) and planned - percent > 25:
            status = TaskStatus.DELAYED
        elif percent == 0:
            status = TaskStatus.NOT_STARTED
        else:
            status = TaskStatus.IN_PROGRESS
    label = LABELS[TaskStatus][status.value]
    progress = {
        TaskStatus.NOT_STARTED: "尚未到启动时间，前期准备工作已开展。",
        TaskStatus.IN_PROGRESS: f"按计划有序推进，累计完成{percent}%。",
        TaskStatus.DELAYED: f"推进进度滞后于计划，目前完成{percent}%。",
        TaskStatus.COMPLETED: "已按要求完成任务。",
    }[status]
    problems = "部门协调和资金保障有待加强。" if status is TaskStatus.DELAYED else ""
    next_steps = "" if status is TaskStatus.COMPLETED else "加大推进力度，确保按期完成。"
    # One completed task in eight comes without its evidence: a reconciliation finds it.
    evidence = (
        f"《{task.deliverable or task.title}》"
        if status is TaskStatus.COMPLETED and rng.random() > 0.125
        else ""
    )
    return [task.code, label, percent, progress, problems, next_steps, evidence, day]


def recovery_day(spec: ProgramSpec) -> date:
    """The day the recovering unit has caught up: the start of the program's fifth month."""
    day = spec.start
    for _ in range(4):
        day = periods.bounds(periods.period_of(day, "monthly"))[1] + timedelta(days=1)
    return day


def _reading(indicator: IndicatorSpec, behaviour: Behaviour, day: date) -> tuple[str, float]:
    baseline, target = indicator.baseline, indicator.target
    start = date(baseline.year, 12, 31)
    end = date(target.year, 12, 31)
    share = min(1.0, max(0.0, (day - start).days / max((end - start).days, 1)))
    pace = 0.4 if behaviour is Behaviour.BEHIND else 1.05
    value = baseline.value + (target.value - baseline.value) * share * pace
    return indicator.code, round(value, 2)


def _mess_up(sheet: Worksheet) -> None:
    """What a liaison's re-saved copy looks like: more title rows, re-typed headers."""
    sheet.insert_rows(1, amount=2)
    sheet.cell(row=1, column=1, value="附件1")
    header = HEADER_ROW + 2
    for column, text in (
        (1, "任务\n编号"),
        (_HEADERS.index("进展状态") + 1, " 进展 状态"),
        (_PERCENT, "完成进度（%）"),
        (len(_HEADERS) + 1, "备注"),
    ):
        sheet.cell(row=header, column=column, value=text)


def _csv(rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_TASK_KEYS)
    for row in rows:
        writer.writerow([value.isoformat() if isinstance(value, date) else value for value in row])
    return buffer.getvalue()


def _unit(spec: ProgramSpec, code: str) -> UnitSpec:
    return next(unit for unit in spec.units if unit.code == code)


def _tasks_of(spec: ProgramSpec, unit: UnitSpec) -> list[TaskSpec]:
    return [task for task in spec.tasks if task.lead_unit == unit.code]


def _indicators_of(spec: ProgramSpec, unit: UnitSpec) -> list[IndicatorSpec]:
    return [indicator for indicator in spec.indicators if indicator.owner == unit.code]


def _http_source(unit: UnitSpec) -> HttpSourceSpec | None:
    return next((s for s in unit.sources if isinstance(s, HttpSourceSpec)), None)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
