"""Extension requests (延期申请): a unit asks, through its page, to move the due date of a
task it leads; the office approves or rejects (``pilot-tracker extension ...``).

An approved extension moves the task's due date *for the rules from the day it was
approved on*: :func:`effective` gives the rules, the plan and the figures the program with
every extension in effect on a day. A flag found before the approval stays in the record,
and any day before it is still judged by the planned date. The ledger keeps the planned
date; reports and the unit's page show both (原定 / 延期至).

How the plan follows: with no milestones it runs straight to the new due date; a milestone
set on the planned due date (the plan's last point, as a rule 100%) moves to the new one.
Earlier milestones stay where they were.

The unit hears the decision: :func:`decide`, given the message templates, queues a message
to the unit's liaison (with its personal link) saying approved (the new due date, from
when) or rejected (why), in the same transaction as the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from pilot_tracker import db, values
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import AnswerError, CellError, ExtensionError, NotFoundError
from pilot_tracker.ledger.program_file import ProgramSpec, TaskSpec
from pilot_tracker.models import (
    LABELS,
    Channel,
    Extension,
    ExtensionStatus,
    Program,
    Task,
    Unit,
)

# A reason is a few sentences for the office, not a document.
MAX_REASON = 1000


@dataclass(frozen=True)
class Requested:
    """A request as taken: the stored row, and whether it was already on record (the same
    request sent twice is taken once)."""

    extension: Extension
    already: bool = False


@dataclass(frozen=True)
class ExtensionLine:
    """One request as the unit's page and the office's list show it."""

    id: int
    program: str
    unit: str
    task: str
    title: str
    previous_due: date
    proposed_due: date
    reason: str
    status: str
    via: str
    requested_on: date
    decided_on: date | None
    note: str
    decided_by: str = ""  # the board account's name; "" for the command line
    requested_at: datetime | None = None  # in the program's time zone

    @property
    def status_label(self) -> str:
        return LABELS[ExtensionStatus][self.status]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "program": self.program,
            "unit": self.unit,
            "task": self.task,
            "title": self.title,
            "previous_due": self.previous_due.isoformat(),
            "proposed_due": self.proposed_due.isoformat(),
            "reason": self.reason,
            "status": self.status,
            "via": self.via,
            "requested_on": self.requested_on.isoformat(),
            "decided_on": self.decided_on.isoformat() if self.decided_on else None,
            "note": self.note,
            "decided_by": self.decided_by,
            "requested_at": self.requested_at.isoformat() if self.requested_at else None,
        }


def _day(moment: datetime | None, zone: str) -> date:
    """The program's own day of a stored moment (SQLite gives it back without its zone)."""
    if moment is None:
        raise ValueError("a stored extension has no time")
    return db.local_moment(moment, zone).date()


# --- what is in effect --------------------------------------------------------------------


_EXTENSION = Extension.__table__  # type: ignore[attr-defined]
_TASK = Task.__table__  # type: ignore[attr-defined]


def approved_by(program_id: Any, as_of: Any) -> tuple[Any, ...]:
    """The conditions on ``extension`` of a program's extensions approved by a day."""
    return (
        _EXTENSION.c.program_id == program_id,
        _EXTENSION.c.status == ExtensionStatus.APPROVED.value,
        _EXTENSION.c.decided_on <= as_of,
    )


def count_approved_by(program_id: Any, as_of: Any) -> Any:
    """How many extensions ``in_effect`` would read, as a scalar subquery (the flag asks
    it with its program's row, and reads them only when there are some)."""
    return (
        sa.select(sa.func.count())
        .select_from(_EXTENSION)
        .where(*approved_by(program_id, as_of))
        .scalar_subquery()
    )


# Every flag and every report reads it: built once, its program and day bound each time.
_IN_EFFECT = (
    sa.select(_TASK.c.code, _EXTENSION.c.proposed_due)
    .join_from(_EXTENSION, _TASK, _EXTENSION.c.task_id == _TASK.c.id)
    .where(*approved_by(sa.bindparam("program_id"), sa.bindparam("as_of")))
    .order_by(_EXTENSION.c.decided_on, _EXTENSION.c.id)
)


def in_effect(*, session: Session, program_id: int | None, as_of: date) -> dict[str, date]:
    """The due date of every task with an extension approved on or before ``as_of``, by
    task code; of several, the one approved last."""
    rows = session.connection().execute(_IN_EFFECT, {"program_id": program_id, "as_of": as_of})
    return dict(rows.all())


def moved(task: TaskSpec, due: date) -> TaskSpec:
    """The task with its due date moved to ``due``, and the plan with it."""
    milestones = [
        milestone.model_copy(update={"planned_on": due})
        if milestone.planned_on == task.due
        else milestone
        for milestone in task.milestones
    ]
    return task.model_copy(update={"due": due, "milestones": milestones})


def effective(
    *, session: Session, program_id: int | None, spec: ProgramSpec, as_of: date
) -> tuple[ProgramSpec, dict[str, date]]:
    """The program as the rules see it on ``as_of``: each approved extension in effect moves
    its task's due date. Also the planned (ledger) date of every task so moved."""
    return applied(spec, in_effect(session=session, program_id=program_id, as_of=as_of))


def applied(spec: ProgramSpec, dues: Mapping[str, date]) -> tuple[ProgramSpec, dict[str, date]]:
    """``effective`` with the due dates in effect (``in_effect``) already read."""
    if not dues:
        return spec, {}
    planned = {task.code: task.due for task in spec.tasks if task.code in dues}
    tasks = [moved(task, dues[task.code]) if task.code in dues else task for task in spec.tasks]
    return spec.model_copy(update={"tasks": tasks}), planned


# --- a unit asks ---------------------------------------------------------------------------


def request(
    *,
    session: Session,
    program: Program,
    unit: Unit,
    task: str,
    proposed: Any,
    reason: str,
    now: datetime,
    via: Channel = Channel.PORTAL,
) -> Requested:
    """Take a unit's request to move the due date of a task it leads.

    Refused with ``AnswerError`` (in Chinese, naming the form field): a task the unit does
    not lead, a date that is not later than the task's current due date or is after the
    program's end, a missing or overlong reason, a second request while one is pending.
    The same request sent again is taken once.
    """
    today = now.astimezone(ZoneInfo(program.timezone)).date()
    code = values.normalise(str(task or ""))[:40]
    row = session.exec(select(Task).where(Task.program_id == program.id, Task.code == code)).first()
    if row is None or row.lead_unit_id != unit.id:
        raise AnswerError(
            f"“{code or '（未选择）'}”不是本单位牵头的任务。延期只能由牵头单位申请，"
            "请从列表中选择本单位牵头的任务。",
            field="task",
        )
    current = in_effect(session=session, program_id=program.id, as_of=today).get(
        row.code, row.due_date
    )
    try:
        day = values.parse_day(proposed)
    except CellError as error:
        raise AnswerError(f"{error}。", field="proposed") from None
    if day is None:
        raise AnswerError("请填写申请延期至的日期，如 2021-06-30。", field="proposed")
    if day <= current:
        raise AnswerError(
            f"申请延期至的日期应晚于现在的完成时限（{current.isoformat()}）。", field="proposed"
        )
    if day < today:
        raise AnswerError(
            f"申请延期至的日期不能早于今天（{today.isoformat()}）。", field="proposed"
        )
    if day > program.end_date:
        raise AnswerError(
            f"申请延期至的日期不能晚于试点结束日期（{program.end_date.isoformat()}）。",
            field="proposed",
        )
    text = " ".join(str(reason or "").split())
    if not text:
        raise AnswerError("请写明申请延期的理由。", field="reason")
    if len(text) > MAX_REASON:
        raise AnswerError(
            f"延期理由不能超过{MAX_REASON}字（现有{len(text)}字），请精简后再提交。",
            field="reason",
        )
    pending = session.exec(
        select(Extension).where(
            Extension.task_id == row.id, Extension.status == ExtensionStatus.PENDING.value
        )
    ).first()
    if pending is not None:
        if pending.proposed_due == day and pending.reason == text:
            return Requested(pending, already=True)
        raise AnswerError(
            f"任务{row.code}已有一项待审批的延期申请（申请延期至{pending.proposed_due.isoformat()}），"
            "请等待专班审批后再提出新的申请。",
            field="task",
        )
    extension = Extension(
        program_id=program.id,  # type: ignore[arg-type]
        unit_id=unit.id,  # type: ignore[arg-type]
        task_id=row.id,  # type: ignore[arg-type]
        reason=text,
        previous_due=current,
        proposed_due=day,
        status=ExtensionStatus.PENDING.value,
        via=via.value,
        requested_at=now,
    )
    session.add(extension)
    session.flush()
    return Requested(extension)


# --- the office decides --------------------------------------------------------------------


def _lines(session: Session, query: Any) -> list[ExtensionLine]:
    found = []
    for extension, program, unit, task, title in session.exec(query).all():
        found.append(
            ExtensionLine(
                id=extension.id,
                program=program.code,
                unit=unit,
                task=task,
                title=title,
                previous_due=extension.previous_due,
                proposed_due=extension.proposed_due,
                reason=extension.reason,
                status=extension.status,
                via=extension.via,
                requested_on=_day(extension.requested_at, program.timezone),
                decided_on=extension.decided_on,
                note=extension.decision_note,
                decided_by=extension.decided_by,
                requested_at=db.local_moment(extension.requested_at, program.timezone)
                if extension.requested_at
                else None,
            )
        )
    return found


def _query() -> Any:
    return (
        select(Extension, Program, Unit.code, Task.code, Task.title)
        .join(Program, Extension.program_id == Program.id)
        .join(Unit, Extension.unit_id == Unit.id)
        .join(Task, Extension.task_id == Task.id)
        .order_by(col(Extension.id))
    )


def list_extensions(
    *, session: Session, program: Program | None = None, status: ExtensionStatus | None = None
) -> list[ExtensionLine]:
    """The requests, oldest first: of one program or all, of one status or all."""
    query = _query()
    if program is not None:
        query = query.where(Extension.program_id == program.id)
    if status is not None:
        query = query.where(Extension.status == status.value)
    return _lines(session, query)


def of_unit(*, session: Session, unit: Unit) -> list[ExtensionLine]:
    """A unit's requests, newest first, for its page."""
    return _lines(session, _query().where(Extension.unit_id == unit.id))[::-1]


def decide(
    *,
    session: Session,
    extension_id: int,
    approve: bool,
    note: str,
    now: datetime,
    on: date | None = None,
    decided_by: str = "",
    templates: outbox.Templates | None = None,
) -> ExtensionLine:
    """Approve or reject a pending request; a rejection says why (``note``), for the unit.
    An approval moves the due date for the rules from the day of the decision on: ``on``,
    by default the program's day of ``now``. ``decided_by`` is the board account that
    decided ("" for the command line). With ``templates``, the unit's liaison is told, by a
    message in the outbox carrying the unit's link (``decision_key``: one per decision)."""
    extension = session.get(Extension, extension_id)
    if extension is None:
        raise NotFoundError(
            f"no extension request {extension_id}; see `pilot-tracker extension list`"
        )
    program = session.get(Program, extension.program_id)
    assert program is not None  # a foreign key
    if extension.status != ExtensionStatus.PENDING.value:
        raise ExtensionError(
            f"extension request {extension_id} was already {extension.status} on "
            f"{extension.decided_on}; nothing was changed"
        )
    note = " ".join(note.split())
    if not approve and not note:
        raise ExtensionError('say why, for the unit: --note "..."')
    if len(note) > MAX_REASON:
        raise ExtensionError(f"the note is {len(note)} characters; keep it to {MAX_REASON}")
    day = on or now.astimezone(ZoneInfo(program.timezone)).date()
    requested = _day(extension.requested_at, program.timezone)
    if day < requested:
        raise ExtensionError(
            f"extension request {extension_id} was made on {requested}; it cannot be decided "
            f"on {day}, before that: give --on {requested} or later"
        )
    extension.status = (ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED).value
    extension.decided_at = now
    extension.decided_on = day
    extension.decision_note = note
    extension.decided_by = decided_by[:64]
    session.add(extension)
    session.flush()
    (line,) = _lines(session, _query().where(Extension.id == extension.id))
    if templates is not None:
        _tell_the_unit(session, program, extension, line, templates, now)
    return line


def decision_key(extension_id: int, status: str) -> str:
    """The dedup key of the message that tells a unit the decision on its request."""
    return f"extension:{extension_id}:{status}"


def _tell_the_unit(
    session: Session,
    program: Program,
    extension: Extension,
    line: ExtensionLine,
    templates: outbox.Templates,
    now: datetime,
) -> None:
    """Queue the decision to the unit's liaison, with the unit's personal link."""
    unit = session.get(Unit, extension.unit_id)
    assert unit is not None and line.decided_on is not None  # a foreign key; just decided
    outbox.tell_liaison(
        session=session,
        templates=templates,
        template="alerts/extension_decision.txt.j2",
        program=program,
        unit=unit,
        dedup_key=decision_key(extension.id or 0, line.status),
        now=now,
        line=line,
        approved=line.status == ExtensionStatus.APPROVED.value,
        requested=outbox.chinese_date(line.requested_on),
        previous=outbox.chinese_date(line.previous_due),
        proposed=outbox.chinese_date(line.proposed_due),
        decided=outbox.chinese_date(line.decided_on),
    )
