"""The city roll-up (试点汇总报告): a city league's report over its district pilots for a
quarter or a half year, in HTML, PDF, XLSX and DOCX, recorded and sent.

Each pilot's figures are those of its own documents (``figures``: the snapshot as of the
period's last day, the evaluation's task lists, indicators and six-"has"), so a pilot reads
the same here as in its own half-year evaluation. Beside them, what a comparison needs:
the tasks on plan (the battle map's bands), the units the rules flag on the period's last
day, the escalations by level and how long they stayed open, and the share of the reports
owed that came by their deadline. The pilots are ranked by a weighted composite whose parts
and weights the report states (``WEIGHTS``).

A pilot the city names that is not loaded, or whose span misses the period, is listed as
left out with the reason, never guessed at. Same data and period, same report.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pilot_tracker import db, periods
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import ReportError
from pilot_tracker.ledger import cities
from pilot_tracker.ledger.plan import ON_PLAN, gap_band, planned_percent
from pilot_tracker.ledger.program_file import SIX_HAS, short_name
from pilot_tracker.models import (
    LABELS,
    City,
    CityDocument,
    DocumentKind,
    EscalationLevel,
    IndicatorLevel,
    IndicatorState,
    ListKind,
    Program,
    ProgramLevel,
    Severity,
)
from pilot_tracker.reports import documents, figures, schedule
from pilot_tracker.reports.writing import (
    Written,
    announcement,
    fix_dates,
    note_under,
    relative,
    sha256_of,
    write_pdf,
    write_text,
)
from pilot_tracker.spreadsheet import print_ready, save_atomically, write_table
from pilot_tracker.supervise import rules, workdays

# The composite a city ranks its pilots by: each part a share in percent, weighted; a part
# that does not apply to a pilot (no indicators, no report owed yet) is left out and the
# others weigh in proportion, as in the half-year evaluation's unit scores.
WEIGHTS: dict[str, float] = {"on_plan": 35, "indicators": 25, "timeliness": 25, "steady": 15}
PARTS = {
    "on_plan": (
        "任务按计划推进率",
        "已开始的任务中，牵头单位最近一次报送的进度落后计划不超过5个百分点的比例",
    ),
    "indicators": (
        "指标正常推进率",
        "主要发展指标中已达目标或正常推进的比例（暂无数据按未达计入）",
    ),
    "timeliness": (
        "报送及时率",
        "本期成员单位应报送的月度报送中，在截止日（含宽限工作日）前收到的比例",
    ),
    "steady": ("非滞后单位占比", "成员单位中，期末未被红色预警的比例"),
}
KIND_LABELS = {DocumentKind.QUARTERLY.value: "季度汇总", DocumentKind.HALF_YEAR.value: "半年度汇总"}
REPORT_NAME = "试点汇总"  # in the files' names
# The rungs as the report lists them: the highest first.
LEVELS = sorted(EscalationLevel, key=lambda level: -level.rank)


def parse_period(text: str) -> tuple[str, str]:
    """A quarter (2021Q2) or a half year (2021H1), and the kind of roll-up it makes."""
    period = periods.quarter_or_half(text)
    kind = DocumentKind.QUARTERLY if periods.QUARTER.match(period) else DocumentKind.HALF_YEAR
    return period, kind.value


def period_label(period: str) -> str:
    """2021H1 → 2021年上半年, 2021Q2 → 2021年第2季度."""
    return periods.label(period)


# --- the figures ----------------------------------------------------------------------------


@dataclass
class EscalationLine:
    """A pilot's escalations of one level that were open at some time in the period."""

    level: str
    count: int
    opened: int  # of them, opened in the period
    closed: int  # closed in the period
    still_open: int  # open at the period's end
    median_days: float | None  # days open: to the day it closed, or to the period's end
    max_days: int | None

    @property
    def label(self) -> str:
        return LABELS[EscalationLevel][self.level]


@dataclass
class IndicatorCount:
    """A pilot's indicators of one level, by where they stand."""

    level: str
    total: int
    reached: int
    on_track: int
    behind: int
    no_data: int

    @property
    def label(self) -> str:
        return LABELS[IndicatorLevel][self.level]

    @property
    def on_course(self) -> int:
        return self.reached + self.on_track


@dataclass
class FlaggedUnit:
    """A unit the rules flag on the period's last day: its findings by severity."""

    unit: str
    name: str
    red: int
    yellow: int


@dataclass
class Pilot:
    """One pilot's figures for the period."""

    code: str
    name: str
    level: str  # a ProgramLevel
    start: date
    end: date
    evaluation: figures.Evaluation
    tasks_active: int
    tasks_on_plan: int
    indicators: list[IndicatorCount]
    units: int
    flagged: list[FlaggedUnit]
    reports_owed: int
    reports_timely: int
    escalations: list[EscalationLine]
    # Per task list: the tasks begun by the period's last day, and those on plan.
    on_plan_by_list: dict[str, tuple[int, int]] = field(default_factory=dict)
    parts: dict[str, float | None] = field(default_factory=dict)
    score: float | None = None
    rank: int | None = None

    @property
    def short(self) -> str:
        return short_name(self.name)

    @property
    def level_label(self) -> str:
        return LABELS[ProgramLevel][self.level]

    @property
    def units_red(self) -> int:
        return sum(1 for unit in self.flagged if unit.red)

    @property
    def indicator_counts(self) -> dict[str, IndicatorCount]:
        return {count.level: count for count in self.indicators}

    @property
    def indicators_total(self) -> int:
        return sum(count.total for count in self.indicators)

    @property
    def indicators_on_course(self) -> int:
        return sum(count.on_course for count in self.indicators)

    @property
    def timeliness(self) -> float | None:
        return share(self.reports_timely, self.reports_owed)

    @property
    def lists(self) -> dict[str, figures.ListProgress]:
        return {item.kind: item for item in self.evaluation.lists}

    @property
    def six_has(self) -> dict[str, figures.HasItem]:
        return {item.key: item for item in self.evaluation.six_has}

    @property
    def escalations_by_level(self) -> dict[str, EscalationLine]:
        return {line.level: line for line in self.escalations}


@dataclass
class Absent:
    """A pilot the city names that the roll-up leaves out, and why."""

    code: str
    name: str  # the program's, or its code where it is not loaded
    start: date | None = None  # the program's span, where it is loaded
    end: date | None = None

    @property
    def loaded(self) -> bool:
        return self.start is not None

    @property
    def reason(self) -> str:
        if not self.loaded:
            return "尚未导入本系统"
        return f"试点期为{self.start}至{self.end}，不含本期"

    @property
    def why(self) -> str:
        """The reason in English, for the command's output."""
        if not self.loaded:
            return "not loaded"
        return f"runs from {self.start} to {self.end}, outside the period"


@dataclass
class CityRollup:
    city: str
    name: str
    office: str
    period: str
    kind: str  # a DocumentKind: quarterly or half_year
    start: date
    end: date
    pilots: list[Pilot]  # in the city's order
    absent: list[Absent]
    weights: dict[str, float]
    narrative: list[str] = field(default_factory=list)

    @property
    def period_label(self) -> str:
        return period_label(self.period)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def ranking(self) -> list[Pilot]:
        """The pilots by rank; those without a score last, in the city's order."""
        order = {pilot.code: place for place, pilot in enumerate(self.pilots)}
        return sorted(self.pilots, key=lambda p: (p.rank is None, p.rank or 0, order[p.code]))

    @property
    def list_kinds(self) -> list[tuple[str, str]]:
        """The task lists any pilot has, in the ledger's order, with their names."""
        kinds = {item.kind for pilot in self.pilots for item in pilot.evaluation.lists}
        return [(kind.value, LABELS[ListKind][kind.value]) for kind in ListKind if kind in kinds]

    @property
    def indicator_levels(self) -> list[tuple[str, str]]:
        levels = {count.level for pilot in self.pilots for count in pilot.indicators}
        return [
            (level.value, LABELS[IndicatorLevel][level.value])
            for level in IndicatorLevel
            if level in levels
        ]

    @property
    def levels(self) -> list[tuple[str, str]]:
        """The escalation ladder's rungs, the highest first, with their names."""
        return [(level.value, LABELS[EscalationLevel][level.value]) for level in LEVELS]

    @property
    def six_has(self) -> list[tuple[str, str]]:
        return list(SIX_HAS.items())

    @property
    def parts(self) -> list[tuple[str, str, str, float]]:
        """The parts of the ranking: key, name, what it measures, weight."""
        return [(key, *PARTS[key], weight) for key, weight in self.weights.items()]


def share(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 1) if whole else None


def pilot_figures(snapshot: figures.Snapshot, period: str) -> Pilot:
    """A pilot's figures for a quarter or half year, from its snapshot as of the period's
    last day."""
    spec = snapshot.spec
    start, end = periods.bounds(period)
    day = min(end, snapshot.as_of)
    evaluation = figures.evaluation(snapshot, period)

    active = [task for task in spec.tasks if task.start <= day]
    on_plan = 0
    by_list: dict[str, list[int]] = {}
    for task in active:
        latest = snapshot.latest(task, day=day)
        band = gap_band(latest.percent if latest else None, planned_percent(task, day))
        on_plan += band == ON_PLAN
        counts = by_list.setdefault(task.list_kind.value, [0, 0])
        counts[0] += 1
        counts[1] += band == ON_PLAN

    indicators = []
    for level in IndicatorLevel:
        lines = [line for line in evaluation.indicators if line.level == level.value]
        if not lines:
            continue
        states = Counter(line.status for line in lines)
        indicators.append(
            IndicatorCount(
                level=level.value,
                total=len(lines),
                reached=states[IndicatorState.REACHED],
                on_track=states[IndicatorState.ON_TRACK],
                behind=states[IndicatorState.BEHIND],
                no_data=states[IndicatorState.NO_DATA],
            )
        )

    findings = rules.evaluate(snapshot.situation(day)) if day >= spec.start else []
    red = Counter(f.unit for f in findings if f.severity == Severity.RED)
    yellow = Counter(f.unit for f in findings if f.severity == Severity.YELLOW)
    flagged = [
        FlaggedUnit(unit.code, unit.name, red[unit.code], yellow[unit.code])
        for unit in spec.units
        if red[unit.code] or yellow[unit.code]
    ]

    timely = owed = 0
    for unit in spec.units:
        on_time, due = figures.reports_on_time(snapshot, unit.code, start, day)
        timely += on_time
        owed += due

    return Pilot(
        code=spec.code,
        name=spec.name,
        level=spec.level.value,
        start=spec.start,
        end=spec.end,
        evaluation=evaluation,
        tasks_active=len(active),
        tasks_on_plan=on_plan,
        indicators=indicators,
        units=len(spec.units),
        flagged=flagged,
        reports_owed=owed,
        reports_timely=timely,
        escalations=escalation_lines(snapshot.escalations, start, end),
        on_plan_by_list={kind: (started, ok) for kind, (started, ok) in by_list.items()},
    )


def escalation_lines(
    escalations: list[dict[str, Any]], start: date, end: date
) -> list[EscalationLine]:
    """The escalations open at some time from ``start`` to ``end``, by level (the highest
    first, every level listed): how many, opened and closed in the period, still open at
    its end, and how many days they stayed open (an open one counted to ``end``)."""
    lines = []
    for level in LEVELS:
        mine = [
            e
            for e in escalations
            if e["level"] == level.value
            and e["opened"] <= end
            and (e["closed"] is None or e["closed"] >= start)
        ]
        open_at_end = [e for e in mine if e["closed"] is None or e["closed"] > end]
        days = [((e["closed"] or end) - e["opened"]).days for e in mine]
        lines.append(
            EscalationLine(
                level=level.value,
                count=len(mine),
                opened=sum(1 for e in mine if e["opened"] >= start),
                closed=sum(1 for e in mine if e["closed"] is not None and e["closed"] <= end),
                still_open=len(open_at_end),
                median_days=round(float(statistics.median(days)), 1) if days else None,
                max_days=max(days, default=None),
            )
        )
    return lines


def rank(pilots: list[Pilot], weights: dict[str, float] = WEIGHTS) -> None:
    """Score each pilot (``parts``, ``score``) and rank them: the highest score first,
    equal scores share a rank; a pilot with no part that applies has no score or rank."""
    for pilot in pilots:
        pilot.parts = {
            "on_plan": share(pilot.tasks_on_plan, pilot.tasks_active),
            "indicators": share(pilot.indicators_on_course, pilot.indicators_total),
            "timeliness": pilot.timeliness,
            "steady": share(pilot.units - pilot.units_red, pilot.units),
        }
        present = {
            key: value
            for key, value in pilot.parts.items()
            if value is not None and weights.get(key, 0) > 0
        }
        pilot.score = (
            round(
                sum(value * weights[key] for key, value in present.items())
                / sum(weights[key] for key in present),
                1,
            )
            if present
            else None
        )
        pilot.rank = None
    scored = sorted((p for p in pilots if p.score is not None), key=lambda p: -(p.score or 0))
    for position, pilot in enumerate(scored, start=1):
        before = scored[position - 2] if position > 1 else None
        pilot.rank = before.rank if before is not None and before.score == pilot.score else position


def rollup(*, session: Session, city: str, period: str) -> CityRollup:
    """The roll-up of a city's pilots for a quarter or a half year, as of its last day."""
    period, kind = parse_period(period)
    spec = cities.read_city(session=session, code=city)
    start, end = periods.bounds(period)
    loaded = {
        program.code: program
        for program in session.exec(
            select(Program).where(col(Program.code).in_(spec.programs))
        ).all()
    }
    if not loaded:
        raise ReportError(
            f"no pilot of the city {city} is loaded (it names {', '.join(spec.programs)}); "
            "load them with `pilot-tracker program load FILE`"
        )
    pilots, absent = [], []
    for code in spec.programs:
        program = loaded.get(code)
        if program is None:
            absent.append(Absent(code, code))
        elif program.start_date > end or program.end_date < start:
            absent.append(Absent(code, program.name, program.start_date, program.end_date))
        else:
            snapshot = figures.load(session=session, program=code, as_of=end)
            pilots.append(pilot_figures(snapshot, period))
    if not pilots:
        spans = "; ".join(f"{a.code} {a.start} to {a.end}" for a in absent if a.loaded)
        raise ReportError(
            f"none of the loaded pilots of the city {city} runs in {period} ({spans}); "
            "choose a period in their span"
        )
    rank(pilots)
    data = CityRollup(
        city=spec.code,
        name=spec.name,
        office=spec.office,
        period=period,
        kind=kind,
        start=start,
        end=end,
        pilots=pilots,
        absent=absent,
        weights=dict(WEIGHTS),
    )
    data.narrative = narrative(data)
    return data


def narrative(data: CityRollup) -> list[str]:
    """A few sentences in Chinese that state the figures across the pilots."""
    day, pilots = data.end, data.pilots
    lines = [
        f"截至{day.year}年{day.month}月{day.day}日，{data.name}共{len(pilots)}个试点纳入本期汇总："
        f"{'、'.join(p.short for p in pilots)}。"
    ]
    if data.absent:
        lines.append(
            f"{len(data.absent)}个试点未纳入本期汇总："
            + "；".join(f"{a.name}（{a.reason}）" for a in data.absent)
            + "。"
        )
    active = sum(p.tasks_active for p in pilots)
    on_plan = sum(p.tasks_on_plan for p in pilots)
    completed = sum(p.evaluation.totals["completed"] for p in pilots)
    if active:
        lines.append(
            f"各试点已开始的任务共{active}项，已完成{completed}项，"
            f"按计划推进{on_plan}项（{share(on_plan, active):g}%）。"
        )
    total = sum(p.indicators_total for p in pilots)
    if total:
        on_course = sum(p.indicators_on_course for p in pilots)
        behind = sum(c.behind for p in pilots for c in p.indicators)
        no_data = sum(c.no_data for p in pilots for c in p.indicators)
        lines.append(
            f"主要发展指标共{total}项，已达目标或正常推进{on_course}项，"
            f"滞后{behind}项，暂无数据{no_data}项。"
        )
    flagged = sum(len(p.flagged) for p in pilots)
    red = sum(p.units_red for p in pilots)
    owed = sum(p.reports_owed for p in pilots)
    timely = sum(p.reports_timely for p in pilots)
    sentence = f"期末被预警的成员单位{flagged}个，其中红色预警{red}个"
    if owed:
        sentence += f"；应报送{owed}次，按时报送{timely}次，报送及时率{share(timely, owed):g}%"
    lines.append(sentence + "。")
    by_level = {
        level: sum(p.escalations_by_level[level].count for p in pilots) for level, _ in data.levels
    }
    if any(by_level.values()):
        still = sum(line.still_open for p in pilots for line in p.escalations)
        lines.append(
            "本期涉及"
            + "、".join(f"{name}{by_level[level]}件" for level, name in data.levels)
            + f"，期末未结{still}件。"
        )
    ranked = [p for p in data.ranking if p.rank is not None]
    if ranked:
        lines.append(
            "综合排名："
            + "；".join(f"第{p.rank}名 {p.short}（{p.score:g}分）" for p in ranked)
            + "。"
        )
    return lines


# --- which cities a run writes --------------------------------------------------------------


def due(
    *,
    session: Session,
    now: datetime,
    kind: str,
    period: str | None = None,
    scheduled: bool = False,
) -> list[tuple[str, str]]:
    """The cities a run over every city writes, each with its period: ``period``, or the
    last quarter or half year (``kind`` "quarter" or "half") that ended before the city's
    today at ``now``; on schedule, only the cities whose writing day
    (``schedule.city_writing_day``) is today. A city none of whose loaded pilots runs in the
    period is left out."""
    found = []
    calendar = workdays.calendar_of(session=session)
    for city in session.exec(select(City).order_by(col(City.code))).all():
        today = now.astimezone(ZoneInfo(city.timezone)).date()
        chosen = period or periods.last_ended(today, kind)
        if scheduled and schedule.city_writing_day(calendar, chosen) != today:
            continue
        if running_pilots(session=session, city=city.code, period=chosen):
            found.append((city.code, chosen))
    return found


def running_pilots(*, session: Session, city: str, period: str) -> list[str]:
    """The city's loaded pilots whose span overlaps the period, in the city's order."""
    start, end = periods.bounds(period)
    codes = cities.program_codes(session=session, city=cities.get_city(session=session, code=city))
    running = set(
        session.exec(
            select(Program.code).where(
                col(Program.code).in_(codes), Program.start_date <= end, Program.end_date >= start
            )
        ).all()
    )
    return [code for code in codes if code in running]


# --- writing it -----------------------------------------------------------------------------


@dataclass
class CityWritten(Written):
    """What writing a city's roll-up wrote (``program`` holds the city's code), and the
    pilots it left out."""

    absent: list[Absent] = field(default_factory=list)

    @property
    def city(self) -> str:
        return self.program

    def as_dict(self) -> dict[str, Any]:
        found = super().as_dict()
        found["city"] = found.pop("program")
        found.pop("statements")
        found["absent"] = [{"program": a.code, "why": a.why} for a in self.absent]
        return found


def write(
    *,
    session: Session,
    city: str,
    period: str,
    folder: Path,
    home: Path,
    templates: Path,
    now: datetime,
    send: bool = True,
) -> CityWritten:
    """Write the city's roll-up of a quarter or a half year in all four formats, record
    it (one ``CityDocument`` per city, kind and period: a run again replaces it), and queue
    its delivery to the city league (``city:<code>`` with ``role:city`` and ``role:leader``)
    and to each pilot's office, once per period and recipient."""
    period, kind = parse_period(period)
    record = cities.get_city(session=session, code=city)
    begun(record, period, now)
    data = rollup(session=session, city=city, period=period)
    written = CityWritten(kind, city, period, folder, absent=data.absent)
    db.release(session)  # printing takes seconds, and needs nothing more from the database
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{city}-{period}-{REPORT_NAME}"
    from pilot_tracker.reports.word import city_document, city_issuer  # python-docx

    issuer = city_issuer(record)
    page = documents.html(
        templates,
        "reports/city.html.j2",
        r=data,
        generated=documents.stamp(data.end),
        gongwen=issuer.page(data.end.year),
    )
    written.files["html"] = write_text(folder / f"{base}.html", page)
    write_pdf(page, folder / f"{base}.pdf", written, "pdf", templates=templates)
    written.files["xlsx"] = workbook(data, folder / f"{base}.xlsx")
    written.files["docx"] = city_document(data, folder / f"{base}.docx", issuer)
    _record(session, record, written, home, now)
    if send:
        written.queued += _announce(session, data, written, home, now)
    return written


def begun(city: City, period: str, now: datetime) -> date:
    """The city's today at ``now``; a period that has not begun by then is refused."""
    today = now.astimezone(ZoneInfo(city.timezone)).date()
    if periods.bounds(period)[0] > today:
        raise ReportError(
            f"{period} has not begun: today is {today} ({city.timezone}); "
            "choose a quarter or half year that has"
        )
    return today


def _record(session: Session, city: City, written: CityWritten, home: Path, now: datetime) -> None:
    """Keep what was written: its files and their sha256, in the city's one row of the kind
    and period."""
    row = session.exec(
        select(CityDocument).where(
            CityDocument.city_id == city.id,
            CityDocument.kind == written.kind,
            CityDocument.period == written.period,
        )
    ).first() or CityDocument(city_id=city.id, kind=written.kind, period=written.period)  # type: ignore[arg-type]
    row.formats = sorted(written.files)
    row.paths = {key: relative(path, home) for key, path in written.files.items()}
    row.sha256 = {key: sha256_of(path) for key, path in written.files.items()}
    row.generated_at = now
    session.add(row)
    session.flush()


def dedup_key(city: str, kind: str, period: str, recipient: str) -> str:
    """The outbox key of a roll-up's message: ``city``, ``leader``, or ``office:<program>``."""
    return f"city-report:{city}:{kind}:{period}:{recipient}"


def _announce(
    session: Session, data: CityRollup, written: CityWritten, home: Path, now: datetime
) -> int:
    """The roll-up for the city league and each pilot's office: once per period and
    recipient."""
    attachments, body = announcement(written, home, "\n".join(data.narrative))
    return send_to_city(
        session,
        city=data.city,
        programs=[p.code for p in data.pilots],
        key=lambda recipient: dedup_key(data.city, data.kind, data.period, recipient),
        subject=f"【试点汇总】{data.name} · {data.period_label}{data.kind_label}报告",
        attachments=attachments,
        body=body,
        now=now,
    )


def send_to_city(
    session: Session,
    *,
    city: str,
    programs: list[str],
    key: Callable[[str], str],
    subject: str,
    attachments: list[str],
    body: str,
    now: datetime,
) -> int:
    """Queue a city's document for the city league (``city:<code>`` with ``role:city`` and
    ``role:leader``) and each pilot's office, once per ``key`` of the recipient (``city``,
    ``leader`` or ``office:<program>``); how many were queued."""
    ids = dict(
        session.exec(select(Program.code, Program.id).where(col(Program.code).in_(programs))).all()
    )
    recipients: list[tuple[str, int | None, str]] = [
        (role, None, f"city:{city} role:{role}") for role in ("city", "leader")
    ]
    # Delivery looks for program:<code> role:office first (alerts/delivery.py).
    recipients += [(f"office:{code}", ids[code], "role:office") for code in programs]
    queued = 0
    for recipient, program_id, target in recipients:
        item = outbox.enqueue(
            session=session,
            program_id=program_id,
            dedup_key=key(recipient),
            target=target,
            subject=subject,
            body=body,
            now=now,
            attachments=attachments,
        )
        queued += item is not None
    return queued


def workbook(data: CityRollup, path: Path) -> Path:
    """The roll-up as a workbook: the comparison (对比) on the first sheet, then each table
    as one long table over the pilots; numbers are numbers."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "对比"
    write_table(
        sheet,
        [
            "排名",
            "试点编号",
            "试点",
            "级别",
            "已开始任务",
            "按计划任务",
            f"{PARTS['on_plan'][0]}%",
            "主要指标",
            "已达目标或正常推进",
            f"{PARTS['indicators'][0]}%",
            "应报送",
            "按时报送",
            f"{PARTS['timeliness'][0]}%",
            "成员单位",
            "期末预警单位",
            "其中红色预警",
            f"{PARTS['steady'][0]}%",
            "综合得分",
        ],
        [
            [
                p.rank,
                p.code,
                p.name,
                p.level_label,
                p.tasks_active,
                p.tasks_on_plan,
                p.parts["on_plan"],
                p.indicators_total,
                p.indicators_on_course,
                p.parts["indicators"],
                p.reports_owed,
                p.reports_timely,
                p.parts["timeliness"],
                p.units,
                len(p.flagged),
                p.units_red,
                p.parts["steady"],
                p.score,
            ]
            for p in data.ranking
        ],
    )
    method = "；".join(
        f"{name}（{meaning}）权重{weight:g}" for _, name, meaning, weight in data.parts
    )
    note_under(sheet, f"综合得分为各项的加权平均：{method}。不适用的项不计，其余按权重折算。")
    if data.absent:
        note_under(
            sheet, "未纳入本期汇总：" + "；".join(f"{a.name}（{a.reason}）" for a in data.absent)
        )
    write_table(
        book.create_sheet("清单进度"),
        ["试点编号", "试点", "任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
        [
            [p.code, p.short, item.label, item.tasks, item.completed, item.average, item.planned]
            for p in data.pilots
            for item in p.evaluation.lists
        ],
    )
    write_table(
        book.create_sheet("主要指标"),
        [
            "试点编号",
            "试点",
            "层级",
            "指标编号",
            "指标名称",
            "计量单位",
            "基期值",
            "最新值",
            "统计时点",
            "目标值",
            "进程%",
            "状态",
        ],
        [
            [
                p.code,
                p.short,
                i.level_label,
                i.code,
                i.name,
                i.measure,
                i.baseline,
                i.latest,
                i.latest_as_of,
                i.target,
                i.progress,
                i.status_label,
            ]
            for p in data.pilots
            for i in p.evaluation.indicators
        ],
    )
    write_table(
        book.create_sheet("预警单位"),
        ["试点编号", "试点", "单位编号", "成员单位", "红色预警", "黄色预警"],
        [
            [p.code, p.short, u.unit, u.name, u.red, u.yellow]
            for p in data.pilots
            for u in p.flagged
        ],
    )
    write_table(
        book.create_sheet("督办情况"),
        [
            "试点编号",
            "试点",
            "事项",
            "本期涉及",
            "本期启动",
            "本期关闭",
            "期末未结",
            "持续天数中位数",
            "最长持续天数",
        ],
        [
            [
                p.code,
                p.short,
                line.label,
                line.count,
                line.opened,
                line.closed,
                line.still_open,
                line.median_days,
                line.max_days,
            ]
            for p in data.pilots
            for line in p.escalations
        ],
    )
    write_table(
        book.create_sheet("六有"),
        ["试点编号", "试点", *SIX_HAS.values()],
        [[p.code, p.short, *[p.six_has[key].state_label for key in SIX_HAS]] for p in data.pilots],
    )
    write_table(
        book.create_sheet("未纳入试点"),
        ["试点编号", "试点", "原因"],
        [[a.code, a.name, a.reason] for a in data.absent],
    )
    print_ready(book, title=data.name, period=f"{data.period_label}{data.kind_label}")
    fix_dates(book, data.end)
    save_atomically(book, path)
    return path
