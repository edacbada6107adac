"""A task's history on the board: the task and its plan, every status report of it (by
any unit) with the submission it came in, its flags, its lead unit's escalations and its
extension requests; and the archived original of a submission, for download.

Everything is looked up within the program of the page: a task code or a submission id
of another program is the same ``BoardNotFound`` as one that does not exist. A download
is found by the submission's id and the path its record holds, under the data home's
archive, never by a path from the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.board.battle_map import FlagLine, flag_line
from pilot_tracker.collect.replies import SOURCE as MAIL_SOURCE
from pilot_tracker.errors import BoardNotFound
from pilot_tracker.ledger import plan, store
from pilot_tracker.ledger.program_file import ProgramSpec
from pilot_tracker.models import (
    LABELS,
    ArchiveExtent,
    Escalation,
    EscalationLevel,
    EscalationStatus,
    Flag,
    ListKind,
    Program,
    StatusReport,
    Submission,
    Task,
    TaskStatus,
    Unit,
)
from pilot_tracker.portal.report_form import FORM_SOURCE, UPLOAD_SOURCE
from pilot_tracker.supervise import escalation, extensions, workdays
from pilot_tracker.supervise.extensions import ExtensionLine

TASK_NOT_FOUND = "本试点没有这项任务，或您的账户无权查看。请从挂图作战页面进入。"
FILE_NOT_FOUND = "没有找到这份报送文件，或您的账户无权下载。请从任务的报送记录中下载。"
# Where each kind of source (collect/, portal/) took a submission from, as the office says it.
SOURCE_LABELS = {
    "folder": "收件文件夹",
    "http": "数据接口（HTTP）",
    MAIL_SOURCE: "专班邮箱",
    FORM_SOURCE: "在线填报",
    UPLOAD_SOURCE: "在线上传",
}
MAX_ID_DIGITS = 12


@dataclass(frozen=True)
class ReportLine:
    """One status report with the submission it came in."""

    unit: str
    unit_name: str
    lead: bool  # by the task's lead unit (else a co-unit's word)
    reported_on: date
    period: str
    status: str
    percent: float
    progress: str
    problems: str
    next_steps: str
    evidence: str
    submission_id: int
    source: str
    filename: str
    received_at: datetime | None  # in the program's time zone
    sha256: str
    head_only: bool  # the archive holds only the first MB of a payload refused by its size

    @property
    def status_label(self) -> str:
        return LABELS[TaskStatus].get(self.status, self.status)

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)


@dataclass(frozen=True)
class FlagRun:
    """A flag found on consecutive days flagged (one rule, one severity, one unit): the
    first and last day, how many days, and the last day's finding."""

    first: date
    last: FlagLine
    days: int


@dataclass(frozen=True)
class EscalationLine:
    id: int
    level: str
    status: str
    opened: date
    raised: date | None
    closed: date | None
    outcome: str
    receipt: str  # 已签收（…）, 未签收（…起逾期）, ...; "" for a reminder

    @property
    def level_label(self) -> str:
        return LABELS[EscalationLevel].get(self.level, self.level)

    @property
    def status_label(self) -> str:
        return "已关闭" if self.status == EscalationStatus.CLOSED.value else "进行中"


@dataclass
class TaskHistory:
    program: Program
    today: date
    code: str
    title: str
    list_name: str
    lead_unit: str
    lead_name: str
    co_units: list[tuple[str, str]]  # (code, name)
    start: date
    due: date  # in effect today
    original_due: date | None  # the ledger's, when an approved extension moved it
    planned: float | None  # planned percent today; None before the task begins
    deliverable: str
    reports: list[ReportLine]
    flags: list[FlagRun]
    escalations: list[EscalationLine]
    extensions: list[ExtensionLine]


def _task(session: Session, program: Program, code: str) -> Task:
    found = session.exec(
        select(Task).where(Task.program_id == program.id, Task.code == code[:40])
    ).first()
    if found is None:
        raise BoardNotFound(TASK_NOT_FOUND)
    return found


def task_history(*, session: Session, program: Program, task: str, today: date) -> TaskHistory:
    """The history of task ``task`` (its code) of ``program``, as of ``today``."""
    row = _task(session, program, task)
    spec, original_dues = extensions.effective(
        session=session,
        program_id=program.id,
        spec=store.read_program(session=session, code=program.code),
        as_of=today,
    )
    (effective,) = [t for t in spec.tasks if t.code == row.code]
    names = {unit.code: unit.name for unit in spec.units}
    list_names = {tl.kind.value: tl.name for tl in spec.task_lists}
    kind = effective.list_kind.value
    return TaskHistory(
        program=program,
        today=today,
        code=row.code,
        title=row.title,
        list_name=list_names.get(kind, LABELS[ListKind][kind]),
        lead_unit=effective.lead_unit,
        lead_name=names.get(effective.lead_unit, effective.lead_unit),
        co_units=[(code, names.get(code, code)) for code in effective.co_units],
        start=effective.start,
        due=effective.due,
        original_due=original_dues.get(row.code),
        planned=None if today < effective.start else plan.planned_percent(effective, today),
        deliverable=row.deliverable,
        reports=_reports(session, program, row),
        flags=_flag_runs(session, program, row),
        escalations=_escalations(session, program, row, spec, today),
        extensions=[
            line
            for line in reversed(extensions.list_extensions(session=session, program=program))
            if line.task == row.code
        ],
    )


def _reports(session: Session, program: Program, task: Task) -> list[ReportLine]:
    rows = session.exec(
        select(StatusReport, Unit.code, Unit.name, Submission)
        .join(Unit, col(StatusReport.unit_id) == Unit.id)
        .join(Submission, col(StatusReport.submission_id) == Submission.id)
        .where(StatusReport.task_id == task.id)
        .order_by(col(StatusReport.reported_on).desc(), col(StatusReport.submission_id).desc())
    ).all()
    return [
        ReportLine(
            unit=code,
            unit_name=name,
            lead=report.unit_id == task.lead_unit_id,
            reported_on=report.reported_on,
            period=report.period,
            status=report.status,
            percent=report.percent,
            progress=report.progress,
            problems=report.problems,
            next_steps=report.next_steps,
            evidence=report.evidence,
            submission_id=submission.id,
            source=submission.source,
            filename=submission.filename,
            received_at=db.local_moment(submission.received_at, program.timezone)
            if submission.received_at
            else None,
            sha256=submission.sha256,
            head_only=submission.archived == ArchiveExtent.HEAD.value,
        )
        for report, code, name, submission in rows
    ]


def _flag_runs(session: Session, program: Program, task: Task) -> list[FlagRun]:
    """The task's flags, each run of consecutive days flagged as one line, newest first."""
    days = session.exec(
        select(Flag.as_of).where(Flag.program_id == program.id).distinct().order_by(Flag.as_of)
    ).all()
    index = {day: position for position, day in enumerate(days)}
    rows = session.exec(
        select(Flag, Unit.code, Unit.name)
        .join(Unit, col(Flag.unit_id) == Unit.id)
        .where(Flag.program_id == program.id, Flag.task_id == task.id)
        .order_by(col(Flag.as_of), col(Flag.id))
    ).all()
    runs: list[FlagRun] = []
    open_runs: dict[tuple[str, str, str], int] = {}  # (unit, rule, severity) → runs' index
    for flag, unit, name in rows:
        line = flag_line(flag, (unit, name), (task.code, task.title))
        key = (unit, flag.rule, flag.severity)
        at = open_runs.get(key)
        if at is not None and index[runs[at].last.as_of] + 1 == index[flag.as_of]:
            runs[at] = FlagRun(runs[at].first, line, runs[at].days + 1)
        else:
            open_runs[key] = len(runs)
            runs.append(FlagRun(flag.as_of, line, 1))
    return sorted(runs, key=lambda run: (run.last.as_of, run.first), reverse=True)


def _escalations(
    session: Session, program: Program, task: Task, spec: ProgramSpec, today: date
) -> list[EscalationLine]:
    rows = session.exec(
        select(Escalation)
        .where(Escalation.program_id == program.id, Escalation.unit_id == task.lead_unit_id)
        .order_by(col(Escalation.opened_on).desc(), col(Escalation.id).desc())
    ).all()
    found = escalation.receipts(
        session=session,
        program=program,
        spec=spec,
        calendar=workdays.calendar_of(session=session, spec=spec),
        escalations=rows,
        as_of=today,
    )
    return [
        EscalationLine(
            id=row.id or 0,
            level=row.level,
            status=row.status,
            opened=row.opened_on,
            raised=row.raised_on,
            closed=row.closed_on,
            outcome=row.outcome,
            receipt=found[row.id].label if row.id in found else "",
        )
        for row in rows
    ]


# --- the archived original ----------------------------------------------------------------


@dataclass(frozen=True)
class Original:
    """A submission's archived bytes: where they are, and the name to download them as."""

    path: Path
    filename: str


def archived_original(
    *, session: Session, program: Program, submission: str, home: Path
) -> Original:
    """The archived payload of submission ``submission`` (its id, as the URL gives it) of
    ``program``, found by the path its record holds under ``home``'s archive.

    ``BoardNotFound`` for an id that is not a number, a submission of another program or
    none, and a file missing from the archive (or a record pointing outside it). A payload
    refused by its size, whose archive holds its first MB only, downloads as what it is:
    ``前1MB-<name>.part``.
    """
    if not submission.isascii() or not submission.isdigit() or len(submission) > MAX_ID_DIGITS:
        raise BoardNotFound(FILE_NOT_FOUND)
    row = session.get(Submission, int(submission))
    if row is None or row.program_id != program.id:
        raise BoardNotFound(FILE_NOT_FOUND)
    archive = (home / "archive").resolve()
    path = (home / row.archive_path).resolve()
    if not path.is_relative_to(archive) or not path.is_file():
        raise BoardNotFound(FILE_NOT_FOUND)
    name = row.filename.strip() or f"报送文件-{row.sha256[:12]}"
    if row.archived == ArchiveExtent.HEAD.value:
        name = f"前1MB-{name}.part"
    return Original(path=path, filename=name)
