"""The programs an account may see, one row each: the city view (the board's ``/``).

A row holds what a city league's office compares across pilots: how many active tasks are
on plan, how many units were flagged on the latest flag day, the open escalations by
level, when data last came in, and the latest report. The figures of every program are
read together, in a few queries each, so the page stays quick for a city of ten pilots.

Below them, the roll-ups (``reports/city.py``) of each city the account may see. A roll-up
sets each pilot beside the others, so an account sees a city only when it may see **every**
loaded pilot of it (and at least one is loaded): a district's office, given its own pilot,
does not read its neighbours' figures through the city's report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.board import accounts, battle_map, library
from pilot_tracker.board.accounts import Viewer
from pilot_tracker.ledger import cities, plan
from pilot_tracker.ledger.program_file import MilestoneSpec, TaskSpec
from pilot_tracker.models import (
    LABELS,
    City,
    Document,
    Escalation,
    EscalationLevel,
    EscalationStatus,
    Flag,
    Milestone,
    Program,
    ProgramLevel,
    RunRecord,
    Severity,
    Submission,
    Task,
)
from pilot_tracker.reports.city import KIND_LABELS as CITY_KIND_LABELS
from pilot_tracker.supervise import extensions

# The flow that collects units' reports records its runs under this name (flows/collect_status.py).
COLLECT_FLOW = "collect-status"
# The rungs as the city view lists them: the highest first.
LEVELS = sorted(EscalationLevel, key=lambda level: -level.rank)


@dataclass(frozen=True)
class LastReport:
    id: int
    kind_label: str
    period_label: str
    generated_at: datetime | None  # in the program's zone


@dataclass(frozen=True)
class LastCollect:
    at: datetime  # in the program's zone
    by_run: bool  # a run of the collect flow; else the latest submission received
    outcome: str = ""  # the run's ("ok", or the faults it met)

    @property
    def how(self) -> str:
        return "采集运行" if self.by_run else "最近收到报送"


@dataclass(frozen=True)
class ProgramRow:
    code: str
    name: str
    level: str  # its Chinese name
    tasks_on_plan: int = 0
    tasks_active: int = 0  # begun by today
    flag_day: date | None = None
    units_flagged: int = 0
    units_red: int = 0
    escalations: dict[str, int] = field(default_factory=dict)  # open ones, by level
    last_collect: LastCollect | None = None
    last_report: LastReport | None = None


@dataclass(frozen=True)
class Totals:
    programs: int
    tasks_on_plan: int
    tasks_active: int
    units_flagged: int
    units_red: int
    escalations: dict[str, int]


@dataclass(frozen=True)
class CityView:
    """The rows of the programs an account may see, and their totals."""

    rows: list[ProgramRow]

    @property
    def totals(self) -> Totals:
        return totals(self.rows)


def overview(*, session: Session, viewer: Viewer, now: datetime) -> CityView:
    """One row per program the viewer may see, as of ``now`` (each program's own day)."""
    return CityView(rows=program_rows(session=session, viewer=viewer, now=now))


def program_rows(*, session: Session, viewer: Viewer, now: datetime) -> list[ProgramRow]:
    """One row per program the viewer may see, in code order."""
    programs = accounts.programs_of(session=session, viewer=viewer)
    if not programs:
        return []
    ids = [program.id for program in programs if program.id is not None]
    on_plan = _tasks_on_plan(session, programs, now)
    flagged = _units_flagged(session, ids)
    open_escalations = _open_escalations(session, ids)
    collects = _last_collects(session, programs)
    reports = library.latest_by_program(session=session, program_ids=ids)
    rows = []
    for program in programs:
        tasks_on_plan, tasks_active = on_plan.get(program.id, (0, 0))
        flag_day, units_flagged, units_red = flagged.get(program.id, (None, 0, 0))
        rows.append(
            ProgramRow(
                code=program.code,
                name=program.name,
                level=LABELS[ProgramLevel][program.level],
                tasks_on_plan=tasks_on_plan,
                tasks_active=tasks_active,
                flag_day=flag_day,
                units_flagged=units_flagged,
                units_red=units_red,
                escalations={
                    level.value: open_escalations[program.id][level.value] for level in LEVELS
                },
                last_collect=collects.get(program.id),
                last_report=_last_report(reports.get(program.id), program),
            )
        )
    return rows


def totals(rows: list[ProgramRow]) -> Totals:
    """The sums of the rows (the city's totals)."""
    return Totals(
        programs=len(rows),
        tasks_on_plan=sum(row.tasks_on_plan for row in rows),
        tasks_active=sum(row.tasks_active for row in rows),
        units_flagged=sum(row.units_flagged for row in rows),
        units_red=sum(row.units_red for row in rows),
        escalations={
            level.value: sum(row.escalations.get(level.value, 0) for row in rows)
            for level in LEVELS
        },
    )


# --- the cities' roll-ups -------------------------------------------------------------------

# How many of a city's roll-ups the page lists, the newest first.
CITY_REPORTS_SHOWN = 6


@dataclass(frozen=True)
class CityReport:
    """One roll-up of a city, as the city view lists it with its files."""

    id: int
    kind_label: str
    period_label: str
    generated_at: datetime | None  # in the city's zone
    files: list[library.File]


@dataclass(frozen=True)
class CityBulletin:
    """One issue of a city's work bulletin, as the city view lists it with its files."""

    id: int
    number: int
    total: int
    period_label: str
    issued_on: date
    files: list[library.File]


@dataclass(frozen=True)
class CityRollups:
    """A city the account may see: its pilots, its latest roll-ups and bulletins."""

    code: str
    name: str
    office: str
    pilots: list[str]  # the loaded ones' names, in the city's order
    missing: list[str]  # the codes of those it names that are not loaded
    reports: list[CityReport]
    bulletins: list[CityBulletin] = field(default_factory=list)


def visible_city(*, session: Session, viewer: Viewer, code: str) -> City | None:
    """The city of ``code`` if the viewer may see it: every loaded pilot of it is one the
    viewer may see, and one is loaded at least; else None."""
    city = session.exec(select(City).where(City.code == code)).first()
    if city is None or not _pilots_seen(session, viewer, city):
        return None
    return city


def _pilots_seen(session: Session, viewer: Viewer, city: City) -> list[Program]:
    """The city's loaded pilots, in its order, if the viewer may see every one; else none."""
    codes = cities.program_codes(session=session, city=city)
    found = {
        program.code: program
        for program in session.exec(select(Program).where(col(Program.code).in_(codes))).all()
    }
    loaded = [found[code] for code in codes if code in found]
    return loaded if all(viewer.sees(program.code) for program in loaded) else []


def city_rollups(*, session: Session, viewer: Viewer, home: Path) -> list[CityRollups]:
    """The cities the viewer may see (``visible_city``), by code, each with its latest
    roll-ups and bulletins and their files."""
    shown = []
    for city in session.exec(select(City).order_by(col(City.code))).all():
        loaded = _pilots_seen(session, viewer, city)
        if not loaded:
            continue
        reports = [
            CityReport(
                id=row.id or 0,
                kind_label=CITY_KIND_LABELS.get(row.kind, row.kind),
                period_label=library.period_label(row.period),
                generated_at=(
                    db.local_moment(row.generated_at, city.timezone) if row.generated_at else None
                ),
                files=library.city_files(row, home),
            )
            for row in library.city_documents(session=session, city=city)[:CITY_REPORTS_SHOWN]
        ]
        loaded_codes = {program.code for program in loaded}
        shown.append(
            CityRollups(
                code=city.code,
                name=city.name,
                office=city.office,
                pilots=[program.name for program in loaded],
                missing=[
                    code
                    for code in cities.program_codes(session=session, city=city)
                    if code not in loaded_codes
                ],
                reports=reports,
                bulletins=[
                    CityBulletin(
                        id=row.id or 0,
                        number=row.number,
                        total=row.total,
                        period_label=library.period_label(row.period),
                        issued_on=row.issued_on,
                        files=library.city_files(row, home),
                    )
                    for row in library.city_bulletins(session=session, city=city)[
                        :CITY_REPORTS_SHOWN
                    ]
                ],
            )
        )
    return shown


# --- the figures, read for all the programs at once ---------------------------------------


def _today(program: Program, now: datetime) -> date:
    return now.astimezone(ZoneInfo(program.timezone)).date()


def _tasks_on_plan(
    session: Session, programs: list[Program], now: datetime
) -> dict[int | None, tuple[int, int]]:
    """Per program: of the tasks begun by its day, how many the lead unit's latest report
    puts on plan (``plan.gap_band``, the battle map's bands), with the due dates in effect;
    and how many tasks have begun."""
    ids = [program.id for program in programs]
    tasks = session.exec(select(Task).where(col(Task.program_id).in_(ids))).all()
    milestones: dict[int | None, list[MilestoneSpec]] = defaultdict(list)
    for milestone in session.exec(
        select(Milestone)
        .join(Task, col(Milestone.task_id) == col(Task.id))
        .where(col(Task.program_id).in_(ids))
        .order_by(col(Milestone.planned_on))
    ).all():
        milestones[milestone.task_id].append(
            MilestoneSpec.model_construct(
                planned_on=milestone.planned_on, percent=milestone.planned_percent
            )
        )
    by_program: dict[int | None, list[Task]] = defaultdict(list)
    for task in tasks:
        by_program[task.program_id].append(task)
    counts: dict[int | None, tuple[int, int]] = {}
    for program in programs:
        today = _today(program, now)
        dues = extensions.in_effect(session=session, program_id=program.id, as_of=today)
        latest = battle_map.latest_lead_reports(session=session, program_id=program.id, today=today)
        on_plan = active = 0
        for task in by_program[program.id]:
            # Rows of the ledger, validated when it was loaded: only the plan's fields.
            spec = TaskSpec.model_construct(
                code=task.code,
                start=task.start_date,
                due=task.due_date,
                milestones=milestones[task.id],
            )
            if task.code in dues:
                spec = extensions.moved(spec, dues[task.code])
            if spec.start > today:
                continue
            active += 1
            reported = latest.get(task.code)
            percent = reported[0] if reported else None
            band = plan.gap_band(percent, plan.planned_percent(spec, today))
            on_plan += band == plan.ON_PLAN
        counts[program.id] = (on_plan, active)
    return counts


def _units_flagged(session: Session, ids: list[int]) -> dict[int, tuple[date, int, int]]:
    """Per program: its latest flag day, the units flagged that day, and those with a red
    flag."""
    latest = (
        select(Flag.program_id, func.max(Flag.as_of).label("day"))
        .where(col(Flag.program_id).in_(ids))
        .group_by(col(Flag.program_id))
        .subquery()
    )
    rows = session.exec(
        select(Flag.program_id, Flag.unit_id, Flag.severity, latest.c.day)
        .join(
            latest,
            and_(col(Flag.program_id) == latest.c.program_id, col(Flag.as_of) == latest.c.day),
        )
        .distinct()
    ).all()
    units: dict[int, set[int]] = defaultdict(set)
    red: dict[int, set[int]] = defaultdict(set)
    days: dict[int, date] = {}
    for program_id, unit_id, severity, day in rows:
        days[program_id] = day
        units[program_id].add(unit_id)
        if severity == Severity.RED.value:
            red[program_id].add(unit_id)
    return {pid: (days[pid], len(units[pid]), len(red[pid])) for pid in days}


def _open_escalations(session: Session, ids: list[int]) -> dict[int, Counter[str]]:
    """Per program, its open escalations counted by level."""
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for program_id, level, count in session.exec(
        select(Escalation.program_id, Escalation.level, func.count())
        .where(
            col(Escalation.program_id).in_(ids),
            Escalation.status == EscalationStatus.OPEN.value,
        )
        .group_by(col(Escalation.program_id), col(Escalation.level))
    ).all():
        counts[program_id][level] = count
    return counts


def _last_collects(session: Session, programs: list[Program]) -> dict[int | None, LastCollect]:
    """Per program: the latest run of the collect flow; for a program with none (the
    flows not scheduled, e.g. the demo), when its latest submission was received."""
    codes = {program.code: program for program in programs}
    latest = (
        select(RunRecord.program, func.max(RunRecord.finished_at).label("at"))
        .where(col(RunRecord.program).in_(codes), RunRecord.flow == COLLECT_FLOW)
        .group_by(col(RunRecord.program))
        .subquery()
    )
    found: dict[int | None, LastCollect] = {}
    for code, at, outcome in session.exec(
        select(RunRecord.program, RunRecord.finished_at, RunRecord.outcome)
        .join(
            latest,
            and_(
                col(RunRecord.program) == latest.c.program,
                col(RunRecord.finished_at) == latest.c.at,
            ),
        )
        .where(RunRecord.flow == COLLECT_FLOW)
    ).all():
        program = codes[code]
        found[program.id] = LastCollect(
            db.local_moment(at, program.timezone), by_run=True, outcome=outcome
        )
    rest = {program.id: program for program in programs if program.id not in found}
    if rest:
        for program_id, at in session.exec(
            select(Submission.program_id, func.max(Submission.received_at))
            .where(col(Submission.program_id).in_(rest))
            .group_by(col(Submission.program_id))
        ).all():
            if at is not None:
                zone = rest[program_id].timezone
                found[program_id] = LastCollect(db.local_moment(at, zone), by_run=False)
    return found


def _last_report(row: Document | None, program: Program) -> LastReport | None:
    if row is None:
        return None
    return LastReport(
        id=row.id or 0,
        kind_label=library.KIND_LABELS.get(row.kind, row.kind),
        period_label=library.period_label(row.period),
        generated_at=(
            db.local_moment(row.generated_at, program.timezone) if row.generated_at else None
        ),
    )
