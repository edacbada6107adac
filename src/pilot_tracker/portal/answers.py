"""What a unit answers through its page, and what the page shows of it: its quarterly
statement (对账单) with its answer (确认 / 提出异议), its notices (签收), its extension
requests (延期申请).

The statement is the latest quarter written (a ``report`` record of kind quarterly): its
figures as the statement PDF has them (reports/figures.py), the answers given so far, and
the unit's own statement file, found only through the paths the record holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from pilot_tracker import db, periods
from pilot_tracker.errors import AnswerError, AnswerNotFound
from pilot_tracker.models import (
    LABELS,
    Channel,
    ConfirmationStatus,
    Document,
    DocumentKind,
    ExtensionStatus,
    Program,
    Reconciliation,
    Task,
    Unit,
)
from pilot_tracker.reports import figures, reconciliation
from pilot_tracker.supervise import extensions, notices

# A dispute's reason, or a note to a confirmation: what reconcile keeps.
MAX_NOTE = 2000
ACTIONS = {"confirm": ConfirmationStatus.CONFIRMED, "dispute": ConfirmationStatus.DISPUTED}


def statement_key(unit: str) -> str:
    """The key of a unit's statement file among a report record's paths."""
    return f"statement:{unit}"


def quarter_title(quarter: str) -> str:
    return f"{quarter[:4]}年第{quarter[-1]}季度"


def _local(moment: datetime | None, zone: str) -> datetime | None:
    if moment is None:
        return None
    return db.local_moment(moment, zone)


@dataclass(frozen=True)
class AnswerLine:
    """One answer of the unit to a statement."""

    status: str  # a ConfirmationStatus
    note: str
    recorded_at: datetime | None  # in the program's time zone
    via: str  # a Channel

    @property
    def label(self) -> str:
        return LABELS[ConfirmationStatus][self.status]

    @property
    def via_label(self) -> str:
        return LABELS[Channel][self.via]


@dataclass
class StatementView:
    quarter: str
    statement: figures.Statement
    answers: list[AnswerLine]  # newest first; the first stands
    file: str  # the statement's file as the record holds it; "" if none was written

    @property
    def title(self) -> str:
        return quarter_title(self.quarter)

    @property
    def answer(self) -> AnswerLine | None:
        return self.answers[0] if self.answers else None

    @property
    def is_pdf(self) -> bool:
        return self.file.lower().endswith(".pdf")


@dataclass(frozen=True)
class TaskChoice:
    """A task the unit leads and may ask to extend, with its due date now."""

    code: str
    title: str
    due: date
    pending: bool  # a request for it waits for the office


@dataclass
class AnswersView:
    """The answers' part of the unit's page."""

    statement: StatementView | None
    notices: list[notices.Notice]
    extensions: list[extensions.ExtensionLine]
    extendable: list[TaskChoice] = field(default_factory=list)
    zone: str = "Asia/Shanghai"

    def local(self, moment: datetime | None) -> str:
        """A moment as the page shows it: 2021-04-20 09:00, in the program's time zone."""
        shown = _local(moment, self.zone)
        return shown.strftime("%Y-%m-%d %H:%M") if shown else ""

    @property
    def unacknowledged(self) -> int:
        """Notices still waiting for 签收: those of escalations still open."""
        return sum(1 for notice in self.notices if notice.open and not notice.acknowledged)


# --- the statement ---------------------------------------------------------------------------


def _record(session: Session, program: Program, quarter: str | None = None) -> Document | None:
    """The latest record of a quarterly reconciliation written: of a quarter, or the latest
    quarter."""
    query = select(Document).where(
        Document.program_id == program.id, Document.kind == DocumentKind.QUARTERLY.value
    )
    if quarter is not None:
        query = query.where(Document.period == quarter)
    return session.exec(
        query.order_by(col(Document.period).desc(), col(Document.id).desc())
    ).first()


def _answers(session: Session, program: Program, unit: Unit, quarter: str) -> list[AnswerLine]:
    rows = session.exec(
        select(Reconciliation)
        .where(
            Reconciliation.program_id == program.id,
            Reconciliation.unit_id == unit.id,
            Reconciliation.quarter == quarter,
        )
        .order_by(col(Reconciliation.id).desc())
    ).all()
    return [
        AnswerLine(row.status, row.note, _local(row.recorded_at, program.timezone), row.via)
        for row in rows
    ]


def latest_statement(*, session: Session, program: Program, unit: Unit) -> StatementView | None:
    """The unit's statement of the latest quarter written, with its answers; None before
    any quarterly reconciliation is written."""
    record = _record(session, program)
    if record is None:
        return None
    quarter = record.period
    snapshot = figures.load(
        session=session, program=program.code, as_of=periods.bounds(quarter)[1], quarter=quarter
    )
    return StatementView(
        quarter=quarter,
        statement=figures.statement(snapshot, quarter, unit.code),
        answers=_answers(session, program, unit, quarter),
        file=record.paths.get(statement_key(unit.code), ""),
    )


def statement_file(
    *, session: Session, home: Path, program: Program, unit: Unit, quarter: str
) -> Path:
    """The unit's own statement file of a quarter, from the paths its record holds (under
    the data home, or absolute); ``AnswerNotFound`` if there is none."""
    missing = AnswerNotFound(
        "没有找到本单位该季度的对账单。请从本单位页面的“季度对账单”处下载。", "quarter"
    )
    if not periods.QUARTER.match(quarter or ""):
        raise missing
    record = _record(session, program, quarter)
    stored = record.paths.get(statement_key(unit.code)) if record is not None else None
    if not stored:
        raise missing
    path = Path(stored) if Path(stored).is_absolute() else home / stored
    if not path.is_file():
        raise missing
    return path


@dataclass(frozen=True)
class Answered:
    answer: AnswerLine
    quarter: str
    already: bool  # the same answer stood already: nothing more was written


def answer_statement(
    *,
    session: Session,
    program: Program,
    unit: Unit,
    quarter: str,
    action: str,
    reason: str,
    now: datetime,
) -> Answered:
    """The unit confirms (``confirm``) or disputes (``dispute``, a reason required) its
    statement of a written quarter. A later answer supersedes an earlier one, which is
    kept; the same answer again writes nothing."""
    if not periods.QUARTER.match(quarter or "") or _record(session, program, quarter) is None:
        raise AnswerNotFound(
            "没有找到该季度的对账单。请刷新页面，对页面上的对账单确认或提出异议。", "quarter"
        )
    status = ACTIONS.get(action or "")
    if status is None:
        raise AnswerError("请选择“确认”或“提出异议”。", "action")
    note = " ".join(str(reason or "").split())
    if status is ConfirmationStatus.DISPUTED and not note:
        raise AnswerError(
            "请写明异议的内容：哪项任务、哪个数字或哪条问题与实际不符，实际情况如何。", "reason"
        )
    if len(note) > MAX_NOTE:
        raise AnswerError(
            f"说明不能超过{MAX_NOTE}字（现有{len(note)}字），请精简后再提交。", "reason"
        )
    answers = _answers(session, program, unit, quarter)
    if answers and answers[0].status == status.value and answers[0].note == note:
        return Answered(answers[0], quarter, already=True)
    reconciliation.reconcile(
        session=session,
        program=program.code,
        quarter=quarter,
        unit=unit.code,
        status=status,
        note=note,
        now=now,
        via=Channel.PORTAL,
    )
    return Answered(_answers(session, program, unit, quarter)[0], quarter, already=False)


# --- the page's part ---------------------------------------------------------------------------


def answers_view(*, session: Session, program: Program, unit: Unit, today: date) -> AnswersView:
    """What the unit's page shows of its answers, as of ``today`` (the program's day)."""
    requests = extensions.of_unit(session=session, unit=unit)
    waiting = {line.task for line in requests if line.status == ExtensionStatus.PENDING.value}
    dues = extensions.in_effect(session=session, program_id=program.id, as_of=today)
    led = session.exec(
        select(Task)
        .where(Task.program_id == program.id, Task.lead_unit_id == unit.id)
        .order_by(col(Task.position), col(Task.id))
    ).all()
    return AnswersView(
        statement=latest_statement(session=session, program=program, unit=unit),
        notices=notices.notices(session=session, unit=unit),
        extensions=requests,
        extendable=[
            TaskChoice(
                task.code, task.title, dues.get(task.code, task.due_date), task.code in waiting
            )
            for task in led
            if dues.get(task.code, task.due_date) < program.end_date
        ],
        zone=program.timezone,
    )
