"""The escalation ladder (督办): reminder (提醒) → urge (督办) → interview (约谈).

Per unit and program:

- a **reminder** to the liaison when the unit first has a flag, and again once in each
  later reporting period while its escalation stays open (not on every run);
- an **urge** to the head, with a copy to the office, when it still has a red flag
  ``urge_after_periods`` reporting periods after the reminder;
- an **interview** recommendation to the leading-group office, and an interview notice
  (约谈通知) to the head, ``interview_after_periods`` periods after the reminder, red
  flags persisting.

The head acknowledges (签收) an urge or interview notice through the unit's personal link
(an ``Acknowledgement`` row). One not acknowledged within ``acknowledge_within_workdays``
working days of its raise is shown as unacknowledged (``Receipt``), and an unacknowledged
urge counts one period more toward ``interview_after_periods``: the interview comes one
period sooner.

An escalation is a record: opened, raised, closed. It closes by itself on the first day
the unit has no red flag (a reminder: no flag at all, so that a unit with a standing
yellow flag is not reminded afresh on every run), with that date; or by hand with an
outcome. Each step writes its messages into the outbox in the same transaction; the
messages to the unit carry its personal link, the office's copies never do. No
escalation is raised or closed before it opened (refused here, and a CHECK constraint).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pilot_tracker import db, periods
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import EarlierDayError, EscalationError, NotFoundError
from pilot_tracker.ledger.program_file import ProgramSpec, short_name
from pilot_tracker.models import (
    LABELS,
    Acknowledgement,
    Escalation,
    EscalationLevel,
    EscalationStatus,
    Interview,
    Program,
    Severity,
    TaskStatus,
    Unit,
)
from pilot_tracker.spreadsheet import save_atomically
from pilot_tracker.supervise.progress import progress
from pilot_tracker.supervise.rules import Finding
from pilot_tracker.supervise.workdays import WorkCalendar, calendar_of

# The rungs whose notice the head acknowledges within the program's working days.
ACKNOWLEDGED = (EscalationLevel.URGE.value, EscalationLevel.INTERVIEW.value)


@dataclass
class Change:
    escalation: Escalation
    unit: str
    change: str  # opened | raised | closed


@dataclass(frozen=True)
class Receipt:
    """Where the head's acknowledgement (签收) of an urge or interview notice stands.

    ``due`` is the last day to acknowledge it in time: ``acknowledge_within_workdays``
    working days after its raise. ``as_of`` is the day it is judged on (for a closed
    escalation, no later than its close).
    """

    level: str
    raised: date
    due: date
    as_of: date
    acknowledged_at: datetime | None = None
    acknowledged_on: date | None = None  # in the program's time zone

    @property
    def late(self) -> bool:
        """Not acknowledged by its due day: never, or after it."""
        if self.acknowledged_on is not None:
            return self.acknowledged_on > self.due
        return self.as_of > self.due

    @property
    def unacknowledged_since(self) -> date | None:
        """The first day it was overdue, while it is still not acknowledged."""
        if self.acknowledged_on is None and self.as_of > self.due:
            return self.due + timedelta(days=1)
        return None

    @property
    def label(self) -> str:
        """As the reports show it: 已签收（5月8日）, 逾期签收（5月14日）,
        未签收（5月12日起逾期）, 待签收（5月11日前）."""
        if self.acknowledged_on is not None:
            day = f"{self.acknowledged_on.month}月{self.acknowledged_on.day}日"
            return f"逾期签收（{day}）" if self.late else f"已签收（{day}）"
        since = self.unacknowledged_since
        if since is not None:
            return f"未签收（{since.month}月{since.day}日起逾期）"
        return f"待签收（{self.due.month}月{self.due.day}日前）"

    def as_dict(self) -> dict[str, Any]:
        since = self.unacknowledged_since
        return {
            "notice": self.level,
            "acknowledge_by": self.due.isoformat(),
            "acknowledged": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "acknowledged_on": self.acknowledged_on.isoformat() if self.acknowledged_on else None,
            "unacknowledged_since": since.isoformat() if since else None,
        }


NO_RECEIPT = {
    "notice": None,
    "acknowledge_by": None,
    "acknowledged": None,
    "acknowledged_on": None,
    "unacknowledged_since": None,
}


def escalation_dict(
    escalation: Escalation,
    unit: str,
    receipt: Receipt | None = None,
    interviews: Iterable[Interview] = (),
) -> dict[str, Any]:
    return {
        "id": escalation.id,
        "unit": unit,
        "level": escalation.level,
        "status": escalation.status,
        "opened": escalation.opened_on.isoformat(),
        "closed": escalation.closed_on.isoformat() if escalation.closed_on else None,
        **(receipt.as_dict() if receipt is not None else NO_RECEIPT),
        "closed_by": escalation.closed_by,
        "interviews": [interview_dict(interview) for interview in interviews],
    }


def interview_dict(interview: Interview) -> dict[str, Any]:
    """An interview (约谈) recorded on the board, as ``escalation list --json`` prints it."""
    recorded = db.stored_moment(interview.recorded_at) if interview.recorded_at else None
    return {
        "held_on": interview.held_on.isoformat(),
        "attendees": interview.attendees,
        "agreed": interview.agreed,
        "recorded_by": interview.recorded_by,
        "recorded_at": recorded.isoformat() if recorded else None,
    }


def interviews_of(*, session: Session, escalation_ids: Iterable[int]) -> dict[int, list[Interview]]:
    """The interviews recorded for each escalation, in the order they were held."""
    found: dict[int, list[Interview]] = defaultdict(list)
    for interview in session.exec(
        select(Interview)
        .where(col(Interview.escalation_id).in_(list(escalation_ids)))
        .order_by(col(Interview.held_on), col(Interview.id))
    ).all():
        found[interview.escalation_id].append(interview)
    return found


def receipts(
    *,
    session: Session,
    program: Program,
    spec: ProgramSpec,
    calendar: WorkCalendar,
    escalations: Iterable[Escalation],
    as_of: date,
) -> dict[int, Receipt]:
    """The receipt of each escalation's current notice, an urge or an interview, as of a
    day (for a closed escalation, as of its close); the others have none."""
    rung = [
        (e.id, e.raised_on, e)
        for e in escalations
        if e.id is not None and e.level in ACKNOWLEDGED and e.raised_on is not None
    ]
    if not rung:
        return {}
    zone = ZoneInfo(program.timezone)
    acknowledged: dict[tuple[int, str], datetime] = {}
    for row in session.exec(
        select(Acknowledgement).where(
            col(Acknowledgement.escalation_id).in_([key for key, _, _ in rung])
        )
    ).all():
        if row.acknowledged_at is not None:
            acknowledged[(row.escalation_id, row.level)] = db.stored_moment(row.acknowledged_at)
    within = spec.rules.escalation.acknowledge_within_workdays
    found = {}
    for key, raised, escalation in rung:
        day = as_of if escalation.closed_on is None else min(as_of, escalation.closed_on)
        moment = acknowledged.get((key, escalation.level))
        local = moment.astimezone(zone).date() if moment is not None else None
        if local is not None and local > day:  # acknowledged after the day judged
            moment = local = None
        found[key] = Receipt(
            level=escalation.level,
            raised=raised,
            due=calendar.add_workdays(raised, within),
            as_of=day,
            acknowledged_at=moment,
            acknowledged_on=local,
        )
    return found


def period_distance(cadence: str, first: date, later: date) -> int:
    """How many reporting periods lie between the periods of two days."""
    return periods.ordinal(periods.period_of(later, cadence)) - periods.ordinal(
        periods.period_of(first, cadence)
    )


def rung_for(level: EscalationLevel, counted: int, spec: ProgramSpec) -> EscalationLevel:
    """The rung an escalation on ``level`` stands on, red flags persisting, after
    ``counted`` reporting periods since it opened (an urge not acknowledged in time
    counting one more): the ladder's rule, for ``advance`` and ``next_step`` alike."""
    settings = spec.rules.escalation
    if counted >= settings.interview_after_periods:
        return EscalationLevel.INTERVIEW
    if counted >= settings.urge_after_periods:
        return max(level, EscalationLevel.URGE, key=lambda rung: rung.rank)
    return level


@dataclass(frozen=True)
class NextStep:
    """What the ladder does next to an open escalation, and the first day it can.

    ``level`` is the rung it rises to on ``on``, the first run day the rule allows, red
    flags persisting (``red_now``: the unit has one today; else it takes a new one). An
    urge whose notice may still be acknowledged (签收) in time has two days: ``on`` if it
    is not (it then counts one period more), ``on_if_acknowledged`` if it is. An interview
    rises no further: the office holds it and records the outcome (``level`` None).
    """

    level: EscalationLevel | None
    on: date | None = None
    red_now: bool = True
    why: str = ""  # first | already | unacknowledged | pending
    on_if_acknowledged: date | None = None
    acknowledge_by: date | None = None
    cadence: str = "monthly"

    @property
    def text(self) -> str:
        """As the board shows it: 如红色预警持续，将于5月6日升级为督办（2021年5月为第一个督办
        周期）。"""
        if self.level is None or self.on is None:
            return "由专班组织约谈并记录结果。"
        rung = "督办" if self.level is EscalationLevel.URGE else "约谈"
        when = f"{self.on.month}月{self.on.day}日"
        condition = "如红色预警持续" if self.red_now else "如出现红色预警"
        if self.why == "pending" and self.acknowledge_by and self.on_if_acknowledged:
            by = self.acknowledge_by
            later = self.on_if_acknowledged
            return (
                f"{condition}：主要负责人未在{by.month}月{by.day}日前签收督办通知的，"
                f"将于{when}升级为约谈；按时签收的，将于{later.month}月{later.day}日升级为约谈。"
            )
        reason = {
            "first": f"{period_name(periods.period_of(self.on, self.cadence))}为第一个{rung}周期",
            "already": f"已满{rung}所需的报送周期",
            "unacknowledged": "督办通知未按时签收，提前一个周期",
        }.get(self.why, "")
        return f"{condition}，将于{when}升级为{rung}" + (f"（{reason}）" if reason else "") + "。"


def period_name(period: str) -> str:
    """A reporting period as a notice says it: 2021年5月, 2021年第2季度."""
    start, _ = periods.bounds(period)
    if periods.QUARTER.match(period):
        return f"{start.year}年第{period[-1]}季度"
    return f"{start.year}年{start.month}月"


def next_step(
    *,
    escalation: Escalation,
    spec: ProgramSpec,
    calendar: WorkCalendar,
    receipt: Receipt | None,
    after: date,
    red_now: bool,
) -> NextStep:
    """The next rung of an open escalation and the first day the ladder can raise it
    there: the first working day after ``after`` (the last day the ladder ran) on which
    :func:`rung_for` puts it higher, as :func:`advance` does, red flags persisting.

    ``receipt`` is its notice's (:func:`receipts`): an urge not acknowledged in time
    counts one period more from the day after it was due.
    """
    level = EscalationLevel(escalation.level)
    if level is EscalationLevel.INTERVIEW:
        return NextStep(level=None, red_now=red_now)
    cadence = spec.reporting.cadence
    first_run = calendar.add_workdays(after, 1)

    def distance(day: date) -> int:
        return period_distance(cadence, escalation.opened_on, day)

    def rises(due: date | None) -> tuple[date, EscalationLevel]:
        """The first run day it rises, counting one period more after ``due`` if given."""
        day = first_run
        while (
            target := rung_for(level, distance(day) + (due is not None and day > due), spec)
        ) is level:
            following = _next_period(day, cadence)
            if due is not None and day <= due:
                following = min(following, due + timedelta(days=1))
            day = calendar.roll_forward(following)
        return day, target

    pending = receipt is not None and receipt.acknowledged_on is None and not receipt.late
    late = receipt is not None and receipt.late
    due = receipt.due if receipt is not None and (pending or late) else None
    on, target = rises(due)
    on_time, _ = rises(None) if due is not None else (on, target)
    common = {"level": target, "on": on, "red_now": red_now, "cadence": cadence}
    if pending and on_time != on:
        return NextStep(**common, why="pending", on_if_acknowledged=on_time, acknowledge_by=due)
    if late and on_time != on:
        return NextStep(**common, why="unacknowledged")
    already = on == first_run and rung_for(level, distance(after) + late, spec) is not level
    return NextStep(**common, why="already" if already else "first")


def _next_period(day: date, cadence: str) -> date:
    """The first day of the reporting period after the one ``day`` is in."""
    _, last = periods.bounds(periods.period_of(day, cadence))
    return last + timedelta(days=1)


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
    context = _Context(session, program, spec, as_of, now, calendar, templates, home)
    late = {
        key
        for key, receipt in receipts(
            session=session,
            program=program,
            spec=spec,
            calendar=calendar,
            escalations=open_.values(),
            as_of=as_of,
        ).items()
        if receipt.late
    }
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
        # Still open, with flags: the liaison hears once in each reporting period.
        context.remind(current, unit, found)
        if code not in red:
            continue
        distance = period_distance(spec.reporting.cadence, current.opened_on, as_of)
        # An urge the head has not acknowledged in time counts one period more.
        level = EscalationLevel(current.level)
        target = rung_for(level, distance + (current.id in late), spec)
        if target.rank > level.rank:
            current.level = target.value
            current.raised_on = as_of
            session.add(current)
            session.flush()
            if target is EscalationLevel.URGE:
                context.urge(current, unit, found, distance)
            else:
                context.interview(current, unit, found, distance, current.id in late)
            changes.append(Change(current, code, "raised"))
    session.flush()
    return changes


def reminder_key(escalation: Escalation, as_of: date, cadence: str) -> str:
    """The dedup key of the reminder for an escalation in the period of ``as_of``: the
    one it opened with in its first period, one per period after."""
    base = f"escalation:{escalation.id}:reminder"
    period = periods.period_of(as_of, cadence)
    return (
        base if period == periods.period_of(escalation.opened_on, cadence) else f"{base}:{period}"
    )


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

    def _day(self, day: date) -> str:
        return f"{day.year}年{day.month}月{day.day}日"

    def _link(self, unit: Unit) -> dict[str, Any]:
        """What a message to the unit itself adds: its personal link and the day by which
        to acknowledge a notice (签收)."""
        within = self.spec.rules.escalation.acknowledge_within_workdays
        return {
            "link": self.templates.link(program=self.program, unit=unit, now=self.now),
            "acknowledge_by": self._day(self.calendar.add_workdays(self.as_of, within)),
        }

    def remind(self, escalation: Escalation, unit: Unit, found: list[Finding]) -> None:
        """The liaison's reminder: when the escalation opens, then once in each later
        reporting period while it stays open."""
        key = reminder_key(escalation, self.as_of, self.spec.reporting.cadence)
        if outbox.queued(session=self.session, dedup_key=key):
            return
        attachment = self._workbook(unit)
        repeat = escalation.opened_on != self.as_of
        context = {
            **self._common(unit, found),
            **self._link(unit),
            "attachment": attachment,
            "since": self._day(escalation.opened_on) if repeat else "",
        }
        subject, body = self.templates.render("alerts/reminder.txt.j2", **context)
        outbox.enqueue(
            session=self.session,
            program_id=self.program.id,
            dedup_key=key,
            target=outbox.liaison_of(unit.code),
            subject=subject,
            body=body,
            now=self.now,
            attachments=[attachment] if attachment else [],
        )

    def urge(self, escalation: Escalation, unit: Unit, found: list[Finding], distance: int) -> None:
        """The urge to the head, with the unit's link, and its copy for the office, without."""
        context = {**self._common(unit, found), "periods": distance, "escalation": escalation}
        for target, key in (
            (f"unit:{unit.code} role:head", "head"),
            ("role:office", "office"),
        ):
            own = self._link(unit) if key == "head" else {"link": None, "acknowledge_by": ""}
            subject, body = self.templates.render("alerts/urge.txt.j2", **context, **own)
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
        self,
        escalation: Escalation,
        unit: Unit,
        found: list[Finding],
        distance: int,
        unacknowledged: bool = False,
    ) -> None:
        """The interview recommendation to the office, and the interview notice (约谈通知)
        to the head, with the unit's link, to acknowledge."""
        context = {
            **self._common(unit, found),
            "periods": distance,
            "escalation": escalation,
            "unacknowledged": unacknowledged,
        }
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
        subject, body = self.templates.render(
            "alerts/interview_notice.txt.j2", **context, **self._link(unit)
        )
        outbox.enqueue(
            session=self.session,
            program_id=self.program.id,
            dedup_key=f"escalation:{escalation.id}:interview:head",
            target=f"unit:{unit.code} role:head",
            subject=subject,
            body=body,
            now=self.now,
        )

    def _workbook(self, unit: Unit) -> str | None:
        """The unit's submission workbook, prefilled with what it last reported."""
        # imported here: listing escalations (`status`, `escalation list`) needs no openpyxl
        from pilot_tracker.collect.submission_workbook import (
            HEADER_ROW,
            TASK_COLUMNS,
            build_submission_template,
        )

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


def list_escalations(
    *, session: Session, program: Program, spec: ProgramSpec, as_of: date
) -> list[dict[str, Any]]:
    """Every escalation of a program, with the receipt of its urge or interview notice as
    of a day (unacknowledged since when), who closed it by hand and the interviews (约谈)
    recorded for it."""
    rows = session.exec(
        select(Escalation, Unit.code)
        .join(Unit, Escalation.unit_id == Unit.id)
        .where(Escalation.program_id == program.id)
        .order_by(col(Escalation.id))
    ).all()
    found = receipts(
        session=session,
        program=program,
        spec=spec,
        calendar=calendar_of(session=session, spec=spec),
        escalations=[escalation for escalation, _ in rows],
        as_of=as_of,
    )
    held = interviews_of(session=session, escalation_ids=[escalation.id for escalation, _ in rows])
    return [
        escalation_dict(
            escalation,
            code,
            found.get(escalation.id),  # type: ignore[arg-type]
            held.get(escalation.id, []),  # type: ignore[arg-type]
        )
        for escalation, code in rows
    ]


def unacknowledged(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The open escalations whose urge or interview notice is overdue for its 签收."""
    return [item for item in items if item["status"] == "open" and item["unacknowledged_since"]]


def close(
    *, session: Session, escalation_id: int, outcome: str, on: date, closed_by: str = ""
) -> dict[str, Any]:
    """Close an escalation by hand, recording the outcome (e.g. of the interview) and who
    closed it (a board account's name; "" from the command line)."""
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
    escalation.closed_by = closed_by[:64]
    session.add(escalation)
    unit = session.get(Unit, escalation.unit_id)
    return escalation_dict(escalation, unit.code if unit else "")
