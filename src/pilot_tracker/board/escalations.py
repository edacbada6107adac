"""The escalation board (督办约谈): a program's open escalations by level, highest first, with
their notice's receipt (签收) and the ladder's next step; the closed ones below; and what
the office does by hand: record an interview's (约谈) outcome, close an escalation with a
reason.

The next step is :func:`supervise.escalation.next_step`, the ladder's own rule, so the
board and the ladder cannot disagree. Every escalation is looked up within its program (an
id of another program is the same 404 as an unknown one); every refusal is a
``BoardError`` in Chinese at its form field, and nothing is written.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.errors import BoardError, BoardNotFound
from pilot_tracker.ledger import store
from pilot_tracker.models import (
    Escalation,
    EscalationLevel,
    EscalationStatus,
    Flag,
    Interview,
    Program,
    Severity,
    Unit,
)
from pilot_tracker.supervise import escalation as ladder
from pilot_tracker.supervise import flags
from pilot_tracker.supervise.escalation import NextStep, Receipt
from pilot_tracker.supervise.workdays import calendar_of

MAX_TEXT = 2000  # characters of a text field, after its whitespace is normalised
NOT_FOUND = "没有这个督办事项，或它不属于本试点。请从督办约谈页面进入。"
_ID = re.compile(r"^[0-9]{1,18}$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# The rungs as the board's headings say them, highest first.
HEADINGS = {
    EscalationLevel.INTERVIEW.value: "约谈",
    EscalationLevel.URGE.value: "督办",
    EscalationLevel.REMINDER.value: "提醒",
}
AUTO_CLOSED = "自动关闭"
BY_COMMAND = "专班（命令行）"


@dataclass(frozen=True)
class InterviewLine:
    """An interview recorded under its escalation."""

    held_on: date
    attendees: str
    agreed: str
    recorded_by: str
    recorded_at: str  # local time, 2021-04-08 10:00


@dataclass(frozen=True)
class OpenLine:
    """An open escalation as the board shows it."""

    id: int
    unit_code: str
    unit_name: str
    level: str
    opened_on: date
    raised_on: date
    days_open: int
    workdays_open: int
    red: int  # flags of the unit on the latest flag day
    yellow: int
    receipt: Receipt | None
    next_step: NextStep
    interviews: list[InterviewLine] = field(default_factory=list)

    @property
    def level_label(self) -> str:
        return HEADINGS[self.level]

    @property
    def receipt_label(self) -> str:
        return self.receipt.label if self.receipt is not None else "无需签收"

    @property
    def receipt_state(self) -> str:
        """A CSS word: acknowledged | late | unacknowledged | pending | none."""
        receipt = self.receipt
        if receipt is None:
            return "none"
        if receipt.acknowledged_on is not None:
            return "late" if receipt.late else "acknowledged"
        return "unacknowledged" if receipt.late else "pending"

    @property
    def at_interview(self) -> bool:
        return self.level == EscalationLevel.INTERVIEW.value


@dataclass(frozen=True)
class ClosedLine:
    """A closed escalation: when, with what outcome, by whom (or by the ladder itself)."""

    id: int
    unit_code: str
    unit_name: str
    level: str
    opened_on: date
    raised_on: date
    closed_on: date
    outcome: str
    closed_by: str  # an account's name, AUTO_CLOSED, or BY_COMMAND
    interviews: list[InterviewLine] = field(default_factory=list)

    @property
    def level_label(self) -> str:
        return HEADINGS[self.level]

    @property
    def at_interview(self) -> bool:
        return self.level == EscalationLevel.INTERVIEW.value


@dataclass(frozen=True)
class LevelGroup:
    level: str
    heading: str
    lines: list[OpenLine]


@dataclass(frozen=True)
class EscalationBoard:
    """The board of one program on a day."""

    today: date
    flag_day: date | None  # the latest day the program was flagged
    levels: list[LevelGroup]
    closed: list[ClosedLine]

    @property
    def open_count(self) -> int:
        return sum(len(group.lines) for group in self.levels)

    def line(self, escalation_id: int) -> OpenLine | ClosedLine | None:
        for line in [*(x for group in self.levels for x in group.lines), *self.closed]:
            if line.id == escalation_id:
                return line
        return None


# --- reading the board ----------------------------------------------------------------------


def escalation_board(*, session: Session, program: Program, today: date) -> EscalationBoard:
    """The open escalations of a program by level, highest first (the longest open first
    within a level), each with its flags, receipt and next step; then the closed ones,
    latest first."""
    spec = store.read_program(session=session, code=program.code)
    calendar = calendar_of(session=session, spec=spec)
    rows = session.exec(
        select(Escalation, Unit)
        .join(Unit, Escalation.unit_id == Unit.id)
        .where(Escalation.program_id == program.id)
        .order_by(col(Escalation.opened_on), col(Unit.position), col(Escalation.id))
    ).all()
    escalations = [row for row, _ in rows]
    receipts = ladder.receipts(
        session=session,
        program=program,
        spec=spec,
        calendar=calendar,
        escalations=escalations,
        as_of=today,
    )
    held = _interviews(session, program, [e.id for e in escalations if e.id is not None])
    flag_day = session.exec(select(func.max(Flag.as_of)).where(Flag.program_id == program.id)).one()
    counts = _flag_counts(session, program, flag_day)
    last_run = ladder_day(session=session, program=program, today=today)
    opened: dict[str, list[OpenLine]] = {level: [] for level in HEADINGS}
    closed: list[ClosedLine] = []
    for record, unit in rows:
        key = record.id or 0
        if record.status == EscalationStatus.CLOSED.value and record.closed_on is not None:
            closed.append(_closed_line(record, unit, held.get(key, [])))
            continue
        red = counts[(unit.id, Severity.RED.value)]
        receipt = receipts.get(key)
        opened[record.level].append(
            OpenLine(
                id=key,
                unit_code=unit.code,
                unit_name=unit.name,
                level=record.level,
                opened_on=record.opened_on,
                raised_on=record.raised_on or record.opened_on,
                days_open=(today - record.opened_on).days,
                workdays_open=calendar.workdays_between(record.opened_on, today),
                red=red,
                yellow=counts[(unit.id, Severity.YELLOW.value)],
                receipt=receipt,
                next_step=ladder.next_step(
                    escalation=record,
                    spec=spec,
                    calendar=calendar,
                    receipt=receipt,
                    after=last_run,
                    red_now=red > 0,
                ),
                interviews=held.get(key, []),
            )
        )
    closed.sort(key=lambda line: (line.closed_on, line.id), reverse=True)
    return EscalationBoard(
        today=today,
        flag_day=flag_day,
        levels=[LevelGroup(level, HEADINGS[level], lines) for level, lines in opened.items()],
        closed=closed,
    )


def ladder_day(*, session: Session, program: Program, today: date) -> date:
    """The last day the ladder has run, or may have run, for a program: its latest day on
    record, or yesterday if that is earlier (today's run may be still to come)."""
    latest = flags.latest_day(session=session, program_id=program.id)  # type: ignore[arg-type]
    yesterday = today - timedelta(days=1)
    return max(latest, yesterday) if latest is not None else yesterday


def _flag_counts(session: Session, program: Program, day: date | None) -> Counter[tuple[int, str]]:
    if day is None:
        return Counter()
    return Counter(
        (unit_id, severity)
        for unit_id, severity in session.exec(
            select(Flag.unit_id, Flag.severity).where(
                Flag.program_id == program.id, Flag.as_of == day
            )
        ).all()
    )


def _interviews(
    session: Session, program: Program, escalation_ids: list[int]
) -> dict[int, list[InterviewLine]]:
    found = ladder.interviews_of(session=session, escalation_ids=escalation_ids)
    return {
        key: [
            InterviewLine(
                held_on=row.held_on,
                attendees=row.attendees,
                agreed=row.agreed,
                recorded_by=row.recorded_by,
                recorded_at=_local(row.recorded_at, program.timezone),
            )
            for row in rows
        ]
        for key, rows in found.items()
    }


def _local(moment: datetime | None, zone: str) -> str:
    return db.local_moment(moment, zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def _closed_line(record: Escalation, unit: Unit, interviews: list[InterviewLine]) -> ClosedLine:
    if record.closed_by:
        by = record.closed_by
    elif record.outcome.startswith(AUTO_CLOSED):
        by = AUTO_CLOSED
    else:
        by = BY_COMMAND
    return ClosedLine(
        id=record.id or 0,
        unit_code=unit.code,
        unit_name=unit.name,
        level=record.level,
        opened_on=record.opened_on,
        raised_on=record.raised_on or record.opened_on,
        closed_on=record.closed_on,  # type: ignore[arg-type]
        outcome=record.outcome,
        closed_by=by,
        interviews=interviews,
    )


def done_message(*, session: Session, program: Program, escalation_id: str, done: str) -> str:
    """What the page led back to says after an action: ``done`` is interview,
    interview_closed or closed."""
    record = escalation_of(session=session, program=program, escalation_id=escalation_id)
    unit = session.get(Unit, record.unit_id)
    name = f"{unit.name}（{unit.code}）" if unit else ""
    return {
        "interview": f"已记录{name}的约谈结果。",
        "interview_closed": f"已记录{name}的约谈结果，并关闭该督办事项。",
        "closed": f"已关闭{name}的督办事项。",
    }[done]


# --- what the office does -------------------------------------------------------------------


def escalation_of(*, session: Session, program: Program, escalation_id: str) -> Escalation:
    """The escalation of this id within the program, locked for the change on PostgreSQL
    (two offices closing it at once: the second sees it closed); ``BoardNotFound`` for an
    id that is not a number, unknown, or of another program."""
    if not _ID.match(escalation_id):
        raise BoardNotFound(NOT_FOUND)
    found = session.exec(
        select(Escalation)
        .where(Escalation.id == int(escalation_id), Escalation.program_id == program.id)
        .with_for_update()
    ).first()
    if found is None:
        raise BoardNotFound(NOT_FOUND)
    return found


def record_interview(
    *,
    session: Session,
    program: Program,
    escalation_id: str,
    held_on: str,
    attendees: str,
    agreed: str,
    close: bool,
    recorded_by: str,
    today: date,
    now: datetime,
) -> Interview:
    """Record an interview (约谈) of an escalation at the interview level: when it was held
    (not before the escalation was raised to an interview, not after today, nor after it
    closed), who attended, what was agreed; with ``close``, close the escalation that day
    with what was agreed as its outcome."""
    record = escalation_of(session=session, program=program, escalation_id=escalation_id)
    if record.level != EscalationLevel.INTERVIEW.value:
        raise BoardError(
            f"该督办事项目前为“{HEADINGS[record.level]}”，尚未升级为约谈，不能记录约谈结果。"
        )
    raised = record.raised_on or record.opened_on
    latest = min(today, record.closed_on) if record.closed_on else today
    day = _day(held_on, "held_on", "约谈日期")
    if day > latest:
        when = "今天" if latest == today else "该督办事项的关闭日期"
        raise BoardError(f"约谈日期不能晚于{when}（{_iso(latest)}）。", "held_on")
    if day < raised:
        raise BoardError(
            f"约谈日期不能早于该督办事项升级为约谈的日期（{_iso(raised)}）。", "held_on"
        )
    who = _text(attendees, "attendees", "参加人员")
    what = _text(agreed, "agreed", "商定事项")
    if close and record.status == EscalationStatus.CLOSED.value:
        raise BoardError(
            f"该督办事项已于{_iso(record.closed_on)}关闭，无需再次关闭；"
            "如只记录约谈结果，请取消勾选“约谈当日关闭”。",
            "close",
        )
    interview = Interview(
        escalation_id=record.id,  # type: ignore[arg-type]
        held_on=day,
        attendees=who,
        agreed=what,
        recorded_by=recorded_by,
        recorded_at=now,
    )
    session.add(interview)
    if close:
        ladder.close(
            session=session,
            escalation_id=record.id,  # type: ignore[arg-type]
            outcome=f"约谈：{what}",
            on=day,
            closed_by=recorded_by,
        )
    session.flush()
    return interview


def close_escalation(
    *,
    session: Session,
    program: Program,
    escalation_id: str,
    reason: str,
    on: str,
    closed_by: str,
    today: date,
) -> Escalation:
    """Close an escalation by hand with a reason, on a day (default today): not before it
    opened or was raised, not after today."""
    record = escalation_of(session=session, program=program, escalation_id=escalation_id)
    if record.status == EscalationStatus.CLOSED.value:
        raise BoardError(
            f"该督办事项已于{_iso(record.closed_on)}关闭（{record.outcome}），无需重复关闭。"
        )
    day = _day(on, "on", "关闭日期") if on.strip() else today
    if day > today:
        raise BoardError(f"关闭日期不能晚于今天（{_iso(today)}）。", "on")
    last = max(record.opened_on, record.raised_on or record.opened_on)
    if day < last:
        what = "开始" if last == record.opened_on else f"升级为{HEADINGS[record.level]}"
        raise BoardError(f"关闭日期不能早于该督办事项{what}的日期（{_iso(last)}）。", "on")
    text = _text(reason, "reason", "关闭理由")
    ladder.close(
        session=session,
        escalation_id=record.id,  # type: ignore[arg-type]
        outcome=text,
        on=day,
        closed_by=closed_by,
    )
    session.flush()
    return record


def _day(value: str, name: str, label: str) -> date:
    text = value.strip()
    if not text:
        raise BoardError(f"请填写{label}。", name)
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise BoardError(f"{label}应按“年-月-日”填写，例如 2021-04-08。", name) from None


def _text(value: str, name: str, label: str) -> str:
    text = " ".join(value.split())
    if not text:
        raise BoardError(f"请填写{label}。", name)
    if len(text) > MAX_TEXT:
        raise BoardError(
            f"{label}不能超过{MAX_TEXT}字（现有{len(text)}字），请精简后再提交。", name
        )
    return text


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""
