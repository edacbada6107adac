"""The annual blue book (青年发展蓝皮书) of a program, from its indicator data.

For a program and a year: every indicator by level (国家、省级、自设) with its baseline,
target, direction, measure and owner unit, the year's readings (the latest of each month),
the value the straight line from baseline to target expects at the year's end, where it
stands as the half-year evaluation judges it, and a chart of the series; the year's tasks
by list with their status and percent at the year's end (or as of today, while the year
runs), the key projects (重点工程), a foreword that states the headline figures, and where
the data come from. Nothing is made up: an indicator without readings says 暂无数据.

Written as HTML, PDF (the charts as inline SVG) and DOCX (the charts as PNG); recorded once
per program and year (written again, the files and the record are replaced) and announced
to the office and the leaders through the outbox, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session

from pilot_tracker import db
from pilot_tracker.errors import ReportError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.plan import planned_percent
from pilot_tracker.ledger.program_file import TaskSpec, short_name
from pilot_tracker.models import (
    LABELS,
    Direction,
    DocumentKind,
    IndicatorLevel,
    IndicatorState,
    ListKind,
    TaskStatus,
)
from pilot_tracker.reports import charts, documents, figures
from pilot_tracker.reports.charts import number
from pilot_tracker.reports.figures import NOT_REPORTED
from pilot_tracker.reports.writing import (
    Written,
    announce,
    record_document,
    write_pdf,
    write_text,
)
from pilot_tracker.supervise import rules
from pilot_tracker.supervise.rules import expected_value

TITLE = "青年发展蓝皮书"
_YEAR = re.compile(r"^[0-9]{4}$")
COMPLETED = TaskStatus.COMPLETED.value


def parse_year(text: str) -> str:
    """A year as the blue book's period is written: four digits."""
    text = str(text).strip()
    if not _YEAR.match(text) or not 1900 < int(text) < 2200:
        raise ReportError(f'"{text}" is not a year; write it as 2021')
    return text


def day_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# --- the figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthReading:
    """The latest reading of an indicator in a month: its as-of day and value."""

    as_of: date
    value: float


@dataclass
class IndicatorYear:
    """One indicator over the year."""

    code: str
    name: str
    level: str  # an IndicatorLevel
    measure: str
    direction: str  # a Direction
    owner: str  # the owner unit's code
    owner_name: str
    baseline: float
    baseline_year: int
    target: float
    target_year: int
    readings: list[MonthReading]  # of the year, up to the book's day, the latest per month
    expected_at_end: float  # where the straight line stands at the year's end
    latest: float | None  # the latest reading by the book's day (an earlier year's too)
    latest_as_of: date | None
    progress: float | None  # share of the way from baseline to target covered, %
    status: IndicatorState
    series: charts.Series

    @property
    def level_label(self) -> str:
        return LABELS[IndicatorLevel][self.level]

    @property
    def direction_label(self) -> str:
        return LABELS[Direction][self.direction]

    @property
    def status_label(self) -> str:
        return LABELS[IndicatorState][self.status]


@dataclass
class TaskYear:
    """A task of the year, as its lead unit last reported it by the book's day."""

    code: str
    title: str
    kind: str  # a ListKind
    lead: str  # the lead unit's name
    co_units: list[str]  # names
    start: date
    due: date
    planned: float  # the percent the plan expects by the book's day
    status: str | None  # a TaskStatus; None if never reported
    percent: float | None
    reported_on: date | None
    deliverable: str
    evidence: str
    original_due: date | None = None  # the ledger's, when an approved extension moved it

    @property
    def status_label(self) -> str:
        return LABELS[TaskStatus][self.status] if self.status else NOT_REPORTED


@dataclass
class TaskListYear:
    kind: str  # a ListKind
    label: str  # the list's name in the program file
    tasks: list[TaskYear]

    @property
    def completed(self) -> int:
        return sum(1 for t in self.tasks if t.status == COMPLETED)

    @property
    def average(self) -> float:
        return _mean([t.percent or 0.0 for t in self.tasks])

    @property
    def planned(self) -> float:
        return _mean([t.planned for t in self.tasks])


@dataclass
class BlueBook:
    program: str
    name: str
    year: int
    as_of: date  # the year's last day, or the day it was written while the year ran
    indicators: list[IndicatorYear]
    lists: list[TaskListYear]  # every list with a task in the year, key projects too
    tolerance: float  # the indicator_off_track rule's, in points of the way
    foreword: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """The year is over: the figures are its final ones."""
        return self.as_of >= date(self.year, 12, 31)

    @property
    def as_of_label(self) -> str:
        return f"截至{day_label(self.as_of)}"

    @property
    def indicators_by_level(self) -> list[tuple[str, list[IndicatorYear]]]:
        """The indicators under the name of their level, national first; no empty level."""
        grouped = [
            (LABELS[IndicatorLevel][level], [i for i in self.indicators if i.level == level])
            for level in IndicatorLevel
        ]
        return [(name, rows) for name, rows in grouped if rows]

    @property
    def task_lists(self) -> list[TaskListYear]:
        """The lists but the key projects, which have a section of their own."""
        return [item for item in self.lists if item.kind != ListKind.KEY_PROJECT]

    @property
    def key_projects(self) -> list[TaskYear]:
        return [t for item in self.lists if item.kind == ListKind.KEY_PROJECT for t in item.tasks]

    @property
    def charted(self) -> list[IndicatorYear]:
        """The indicators with a reading in the year: each has a chart."""
        return [i for i in self.indicators if i.readings]


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 1) if values else 0.0


def book_of(snapshot: figures.Snapshot, year: int, source: str = "") -> BlueBook:
    """The blue book of ``year`` from a snapshot taken on its last day (or earlier, while
    the year runs); ``source`` names the program file the ledger was loaded from."""
    spec = snapshot.spec
    first, last = date(year, 1, 1), date(year, 12, 31)
    day = min(last, snapshot.as_of)
    names = snapshot.names
    indicators = []
    for indicator, line in zip(
        spec.indicators, figures.indicator_lines(snapshot, day), strict=True
    ):
        monthly: dict[int, rules.Reading] = {}
        for reading in sorted(
            (
                r
                for r in snapshot.readings
                if r.indicator == indicator.code and first <= r.as_of <= day
            ),
            key=lambda r: (r.as_of, r.order),
        ):
            monthly[reading.as_of.month] = reading
        readings = [MonthReading(r.as_of, r.value) for _, r in sorted(monthly.items())]
        at_end = round(expected_value(indicator, last), 2)
        indicators.append(
            IndicatorYear(
                code=indicator.code,
                name=indicator.name,
                level=indicator.level.value,
                measure=indicator.measure,
                direction=indicator.direction.value,
                owner=indicator.owner,
                owner_name=names.get(indicator.owner, indicator.owner),
                baseline=indicator.baseline.value,
                baseline_year=indicator.baseline.year,
                target=indicator.target.value,
                target_year=indicator.target.year,
                readings=readings,
                expected_at_end=at_end,
                latest=line.latest,
                latest_as_of=line.latest_as_of,
                progress=line.progress,
                status=line.status,
                series=charts.Series(
                    name=f"{indicator.code} {indicator.name}",
                    year=year,
                    baseline=indicator.baseline.value,
                    baseline_year=indicator.baseline.year,
                    target=indicator.target.value,
                    target_year=indicator.target.year,
                    expected_start=round(expected_value(indicator, first), 4),
                    expected_end=round(expected_value(indicator, last), 4),
                    points=[(r.as_of, r.value) for r in readings],
                ),
            )
        )
    lists = []
    list_names = {item.kind.value: item.name for item in spec.task_lists}
    for kind in ListKind:
        tasks = [
            _task_year(snapshot, task, day)
            for task in spec.tasks
            if task.list_kind is kind and task.start <= last and task.due >= first
        ]
        if tasks:
            label = list_names.get(kind.value, LABELS[ListKind][kind.value])
            lists.append(TaskListYear(kind.value, label, tasks))
    book = BlueBook(
        program=spec.code,
        name=spec.name,
        year=year,
        as_of=day,
        indicators=indicators,
        lists=lists,
        tolerance=spec.rules.indicator_off_track.tolerance,
    )
    book.foreword = foreword(book)
    book.sources = sources(book, snapshot, source)
    return book


def _task_year(snapshot: figures.Snapshot, task: TaskSpec, day: date) -> TaskYear:
    latest = snapshot.latest(task, day=day)
    names = snapshot.names
    return TaskYear(
        code=task.code,
        title=task.title,
        kind=task.list_kind.value,
        lead=names.get(task.lead_unit, task.lead_unit),
        co_units=[names.get(unit, unit) for unit in task.co_units],
        start=task.start,
        due=task.due,
        planned=planned_percent(task, day),
        status=latest.status if latest else None,
        percent=latest.percent if latest else None,
        reported_on=latest.reported_on if latest else None,
        deliverable=task.deliverable,
        evidence=latest.evidence if latest else "",
        original_due=snapshot.original_dues.get(task.code),
    )


def foreword(book: BlueBook) -> list[str]:
    """A few sentences in Chinese that state the headline figures."""
    lines = [
        f"本蓝皮书依据{book.name}各成员单位报送的指标数据和任务进展编制，"
        f"反映{book.year}年度青年发展主要指标和重点任务的推进情况，"
        f"数据{book.as_of_label}" + ("。" if book.complete else "（本年度尚未结束）。")
    ]
    counts = {label: len(rows) for label, rows in book.indicators_by_level}
    states = {state: sum(i.status is state for i in book.indicators) for state in IndicatorState}
    lines.append(
        f"试点共设主要发展指标{len(book.indicators)}项（"
        + "、".join(f"{label}{count}项" for label, count in counts.items())
        + f"）。{book.as_of_label}，已达目标{states[IndicatorState.REACHED]}项，"
        f"正常推进{states[IndicatorState.ON_TRACK]}项，滞后{states[IndicatorState.BEHIND]}项，"
        f"暂无数据{states[IndicatorState.NO_DATA]}项。"
    )
    behind = [i.name for i in book.indicators if i.status is IndicatorState.BEHIND]
    if behind:
        lines.append(f"滞后的指标是：{'、'.join(behind)}，需重点推进。")
    tasks = [t for item in book.task_lists for t in item.tasks]
    if tasks:
        done = sum(t.status == COMPLETED for t in tasks)
        share = round(done / len(tasks) * 100, 1)
        lines.append(
            f"年度任务{len(tasks)}项，已完成{done}项，完成率{share:g}%；"
            f"平均完成进度{_mean([t.percent or 0.0 for t in tasks]):g}%，"
            f"计划进度{_mean([t.planned for t in tasks]):g}%。"
        )
    projects = book.key_projects
    if projects:
        done = sum(t.status == COMPLETED for t in projects)
        lines.append(
            f"重点工程{len(projects)}项，已完成{done}项，"
            f"平均完成进度{_mean([t.percent or 0.0 for t in projects]):g}%，"
            f"计划进度{_mean([t.planned for t in projects]):g}%。"
        )
    return lines


def sources(book: BlueBook, snapshot: figures.Snapshot, source: str) -> list[str]:
    """Where every figure of the book comes from, and how the derived ones are worked out."""
    first = date(book.year, 1, 1)
    readings = [r for r in snapshot.readings if first <= r.as_of <= book.as_of]
    indicators = {r.indicator for r in readings}
    owners = {i.owner for i in book.indicators if i.code in indicators}
    reports = [e for e in snapshot.status_reports if first <= e.reported_on <= book.as_of]
    plan = f"试点方案（{source}）" if source else "试点方案"
    return [
        f"指标名称、层级、计量单位、指标方向、责任单位、基期值和目标值，以及任务清单，均取自{plan}。",
        f"指标读数来自责任单位报送的指标数据：本年度共{len(readings)}条，"
        f"涉及{len(indicators)}项指标、{len(owners)}个责任单位；同一月份报送多次的，取统计时点最晚的一次。"
        "没有读数的指标标为“暂无数据”，不作推算。",
        "年末应达值按基期年末至目标年末的直线推算。指标状态与半年度评估的判定一致：最新读数达到目标值为"
        f"“已达目标”；落后于按计划应达值超过基期至目标全程的{book.tolerance:g}%为“滞后”；其余为“正常推进”。",
        f"任务状态和完成进度来自成员单位的进展填报：本年度共{len(reports)}条，"
        f"取{book.as_of_label}牵头单位的最新一次；从未填报的任务标为“{NOT_REPORTED}”。"
        "计划进度按任务的节点计划推算，没有节点的按开始至完成时限的直线推算。",
    ]


# --- writing it -----------------------------------------------------------------------------


def check_year(*, session: Session, program: str, year: str, now: datetime) -> date:
    """The day the blue book of ``year`` is as of: the year's last day, or today while the
    year runs; refuse a year outside the program's life or not begun."""
    record = store.get_program(session=session, code=program)
    today = now.astimezone(ZoneInfo(record.timezone)).date()
    asked = int(year)
    earliest, latest = record.start_date.year, min(record.end_date, today).year
    choose = f"choose a year from {earliest} to {latest}"
    if today < record.start_date:
        choose = f"the program starts on {record.start_date}"
    if not earliest <= asked <= record.end_date.year:
        raise ReportError(
            f"{year} is outside the program {program}, which runs from {record.start_date} "
            f"to {record.end_date}; {choose}"
        )
    if date(asked, 1, 1) > today:
        raise ReportError(f"{year} has not begun: today is {today} ({record.timezone}); {choose}")
    return min(date(asked, 12, 31), today)


def write(
    *,
    session: Session,
    program: str,
    year: str,
    folder: Path,
    home: Path,
    templates: Path,
    now: datetime,
    send: bool = True,
) -> Written:
    """Write the blue book of a year as HTML, PDF and DOCX, replacing the year's earlier
    one; queue its delivery to the office and the leaders (once per year)."""
    from pilot_tracker.reports.word import blue_book_document, program_issuer  # python-docx

    year = parse_year(year)
    day = check_year(session=session, program=program, year=year, now=now)
    snapshot = figures.load(session=session, program=program, as_of=day)
    if not snapshot.spec.indicators:
        raise ReportError(
            f"the program {program} has no indicators, and a blue book is written from them; "
            "add them to its program file (indicators:) and load it again"
        )
    record = store.get_program(session=session, code=program)
    book = book_of(snapshot, int(year), record.source_name)
    written = Written(DocumentKind.ANNUAL.value, program, year, folder)
    db.release(session)  # printing takes seconds, and needs nothing more from the database
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{program}-{year}-{TITLE}"
    page = documents.html(
        templates,
        "reports/blue_book.html.j2",
        b=book,
        n=number,
        charts={i.code: charts.indicator_series(i.series) for i in book.charted},
        generated=documents.stamp(day),
        gongwen=program_issuer(record).page(int(year)),
    )
    written.files["html"] = write_text(folder / f"{base}.html", page)
    write_pdf(page, folder / f"{base}.pdf", written, "pdf", templates=templates)
    written.files["docx"] = blue_book_document(
        book, folder / f"{base}.docx", program_issuer(record)
    )
    record_document(session, written, home, now, replace=True)
    if send:
        when = "" if book.complete else f"（{book.as_of_label}）"
        subject = f"【{TITLE}】{short_name(book.name)} · {year}年度{TITLE}{when}"
        # A book written while the year runs is announced for its day; the year's final
        # book is announced once more when the year is over.
        edition = "" if book.complete else f":{book.as_of.isoformat()}"
        written.queued += announce(
            session, written, home, now, subject, "\n".join(book.foreword), edition
        )
    return written
