"""The unit's report from its page: the online form (网上填报), or its filled submission
workbook uploaded (上传填报表).

The form is a submission workbook by other means. Its fields become the rows the workbook
holds, under the workbook's own headers (任务编号, 进展状态, 完成进度, ...; 指标编号, 当前值),
with the program and the unit in the metadata, serialised as one canonical JSON document
(the same content gives the same bytes, so the same sha256). That document goes through
intake like any payload, source ``form``: archived by its sha256, checked by intake's own
rules, counted in the same import summary. Nothing here judges a value: each of intake's
rejections (sheet, row, column) is mapped back to the field it came from.

A form with a bad value is not stored at all. Intake runs inside a SAVEPOINT; if it
rejects anything, the savepoint is rolled back (no submission, no report, no rejection
notice: the liaison reads the reasons at the fields at once) and the archived copy, which
no submission names, is removed. A liaison who corrects the value ends with exactly one
submission. The same form posted twice is intake's duplicate: one submission, and the
second answer says when the first was received.

The upload is what the unit would otherwise drop in its inbox, and is taken as intake
takes that (source ``upload``): what intake accepts is kept, what it rejects is stored with
its reasons and notified, a file refused whole is recorded as rejected. Only a part with no
bytes at all (no file chosen, or an empty file) is refused before intake: there is nothing
to archive.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.collect.intake import SubmissionSummary, record_failure, take_payload
from pilot_tracker.collect.payload import (
    INDICATOR_HEADERS,
    TASK_HEADERS,
    Payload,
    display_name,
)
from pilot_tracker.models import (
    LABELS,
    Program,
    StatusReport,
    Submission,
    SubmissionStatus,
    Task,
    TaskStatus,
    Unit,
)

if TYPE_CHECKING:
    from pilot_tracker.portal.unit_page import UnitPage

log = logging.getLogger(__name__)

FORM_SOURCE = "form"
UPLOAD_SOURCE = "upload"
FORM_VERSION = "1"

# The fields a liaison fills for a task, and for an indicator; with the row's code they
# are the form's fields: ``t1-percent``, ``i2-value``, ``t1-task`` (the code, hidden).
TASK_FIELDS = ("status", "percent", "progress", "problems", "next_steps", "evidence")
INDICATOR_FIELDS = ("value",)
# The headers the rows carry: the submission workbook's, as intake's reader knows them.
TASK_COLUMNS = {key: TASK_HEADERS[key][0] for key in ("task", *TASK_FIELDS, "reported_on")}
INDICATOR_COLUMNS = {key: INDICATOR_HEADERS[key][0] for key in ("indicator", "value", "as_of")}
TASKS, INDICATORS = "tasks", "indicators"  # the JSON sections, and the "sheets" intake names
STATUS_CHOICES = tuple(LABELS[TaskStatus][status.value] for status in TaskStatus)
# What each field is called on the page.
FIELD_LABELS = {
    "task": "任务编号",
    "status": "进展状态",
    "percent": "完成进度（%）",
    "progress": "进展情况",
    "problems": "存在问题",
    "next_steps": "下步计划",
    "evidence": "佐证材料",
    "indicator": "指标编号",
    "value": "当前值",
}

_FIELD = re.compile(r"^([ti])(\d{1,4})-([a-z_]+)$")


@dataclass
class _Entry:
    """One row of the form: what is shown in its fields, and the reasons against it."""

    row: int  # 1-based: the row intake reads it as
    code: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field (``whole``: the row) → reason

    prefix: ClassVar[str]
    whole: ClassVar[str]

    def name(self, key: str) -> str:
        return f"{self.prefix}{self.row}-{key}"

    def anchor(self, key: str) -> str:
        """The id a reason links to: the field's, or the row's for its code."""
        return f"{self.prefix}{self.row}" if key == self.whole else self.name(key)

    def value(self, key: str) -> str:
        return self.values.get(key, "")


@dataclass
class TaskEntry(_Entry):
    title: str = ""

    prefix: ClassVar[str] = "t"
    whole: ClassVar[str] = "task"
    keys: ClassVar[tuple[str, ...]] = ("task", *TASK_FIELDS)


@dataclass
class IndicatorEntry(_Entry):
    name_text: str = ""
    measure: str = ""

    prefix: ClassVar[str] = "i"
    whole: ClassVar[str] = "indicator"
    keys: ClassVar[tuple[str, ...]] = ("indicator", *INDICATOR_FIELDS)


@dataclass
class ReportForm:
    """The online form: prefilled from what the unit last reported, or as it was posted."""

    tasks: list[TaskEntry] = field(default_factory=list)
    indicators: list[IndicatorEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # reasons that belong to no one field

    @property
    def empty(self) -> bool:
        """Nothing for the unit to report here (it leads no task and owns no indicator)."""
        return not self.tasks and not self.indicators

    @property
    def status_choices(self) -> tuple[str, ...]:
        return STATUS_CHOICES

    @property
    def labels(self) -> dict[str, str]:
        return FIELD_LABELS

    def problems(self) -> list[tuple[str, str, str]]:
        """Every reason against the form: (the field's id, where, reason), in page order."""
        found = [("report", "", reason) for reason in self.errors]
        for entry in [*self.tasks, *self.indicators]:
            for key in entry.keys:
                if key in entry.errors:
                    where = f"{entry.code} {FIELD_LABELS[key]}"
                    found.append((entry.anchor(key), where, entry.errors[key]))
        return found

    def document(self, *, program: str, unit: str, today: date) -> bytes:
        """The form as a submission: canonical JSON, the rows a workbook would hold."""
        day = today.isoformat()
        content = {
            "meta": {"program": program, "unit": unit, "form_version": FORM_VERSION},
            TASKS: [
                {
                    TASK_COLUMNS["task"]: entry.code,
                    **{TASK_COLUMNS[key]: entry.value(key) for key in TASK_FIELDS},
                    TASK_COLUMNS["reported_on"]: day,
                }
                for entry in self.tasks
            ],
            INDICATORS: [
                {
                    INDICATOR_COLUMNS["indicator"]: entry.code,
                    INDICATOR_COLUMNS["value"]: entry.value("value"),
                    INDICATOR_COLUMNS["as_of"]: day,
                }
                for entry in self.indicators
            ],
        }
        text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return text.encode("utf-8")

    def payload(self, *, program: str, unit: str, today: date) -> Payload:
        return Payload(
            name=f"网上填报-{today.isoformat()}.json",
            data=self.document(program=program, unit=unit, today=today),
            source=FORM_SOURCE,
            content_type="application/json",
        )

    def mark(self, summary: SubmissionSummary) -> None:
        """Put each of intake's rejections at the field it came from."""
        task_keys = {header: key for key, header in TASK_COLUMNS.items()}
        indicator_keys = {header: key for key, header in INDICATOR_COLUMNS.items()}
        for line in summary.rejections:
            entries: Sequence[TaskEntry | IndicatorEntry]
            if line.sheet == TASKS:
                entries, key = self.tasks, task_keys.get(line.column)
            elif line.sheet == INDICATORS:
                entries, key = self.indicators, indicator_keys.get(line.column)
            else:
                self.errors.append(line.reason)  # the payload refused whole
                continue
            index = (line.row or 0) - 1
            if not 0 <= index < len(entries):
                self.errors.append(line.reason)
                continue
            entry = entries[index]
            fields = TASK_FIELDS if isinstance(entry, TaskEntry) else INDICATOR_FIELDS
            if key not in fields:  # the code, or a date the form itself wrote
                key = "task" if isinstance(entry, TaskEntry) else "indicator"
            if key in entry.errors:
                entry.errors[key] += f"；{line.reason}"
            else:
                entry.errors[key] = line.reason


def shown(number: float | None) -> str:
    """A stored figure as a field shows it: 80, 12.5, 1234567 (never 1.23457e+06)."""
    if number is None:
        return ""
    text = format(number, ".15g")
    return text if "e" not in text else format(number, "f").rstrip("0").rstrip(".")


def prefilled(*, session: Session, page: UnitPage) -> ReportForm:
    """The form of a unit's page, filled with what it last reported for each task it leads
    and the latest value of each indicator it owns."""
    lines = page.reported_tasks
    latest = _latest_reports(session, page.unit, [line.code for line in lines], page.today)
    form = ReportForm()
    for row, line in enumerate(lines, start=1):
        entry = TaskEntry(row=row, code=line.code, title=line.title)
        report = latest.get(line.code)
        if report is not None:
            entry.values = {
                "status": LABELS[TaskStatus].get(report.status, ""),
                "percent": shown(report.percent),
                "progress": report.progress,
                "problems": report.problems,
                "next_steps": report.next_steps,
                "evidence": report.evidence,
            }
        form.tasks.append(entry)
    for row, indicator in enumerate(page.indicators, start=1):
        form.indicators.append(
            IndicatorEntry(
                row=row,
                code=indicator.code,
                name_text=indicator.name,
                measure=indicator.measure,
                values={"value": shown(indicator.value)},
            )
        )
    return form


def _latest_reports(
    session: Session, unit: Unit, codes: list[str], today: date
) -> dict[str, StatusReport]:
    """The unit's latest report on each task, as ``progress`` orders them."""
    if not codes:
        return {}
    rows = session.exec(
        select(StatusReport, Task.code)
        .join(Task, StatusReport.task_id == Task.id)
        .where(
            StatusReport.unit_id == unit.id,
            Task.program_id == unit.program_id,
            col(Task.code).in_(codes),
            StatusReport.reported_on <= today,
        )
        .order_by(col(StatusReport.reported_on), col(StatusReport.submission_id))
    ).all()
    return {code: report for report, code in rows}


def read_posted(items: Iterable[tuple[str, Any]], *, shown_form: ReportForm) -> ReportForm:
    """The form as posted: its rows in order, each value as typed (line breaks as ``\\n``).

    The rows are whatever the post holds, codes included: a code that is not the unit's is
    intake's to refuse, as it refuses one typed into a workbook. Titles come from the form
    the page shows. A field given twice counts once (the first).
    """
    rows: dict[tuple[str, int], dict[str, str]] = {}
    for name, value in items:
        matched = _FIELD.match(name)
        if matched is None or not isinstance(value, str):
            continue
        kind, number, key = matched.group(1), int(matched.group(2)), matched.group(3)
        allowed = ("task", *TASK_FIELDS) if kind == "t" else ("indicator", *INDICATOR_FIELDS)
        if key in allowed:
            rows.setdefault((kind, number), {}).setdefault(key, value.replace("\r\n", "\n"))
    titles = {entry.code: entry.title for entry in shown_form.tasks}
    indicators = {entry.code: entry for entry in shown_form.indicators}
    form = ReportForm()
    for kind, number in sorted(rows):
        values = rows[(kind, number)]
        if kind == "t":
            code = values.pop("task", "").strip()
            row = len(form.tasks) + 1
            form.tasks.append(
                TaskEntry(row=row, code=code, title=titles.get(code, ""), values=values)
            )
        else:
            code = values.pop("indicator", "").strip()
            known = indicators.get(code)
            form.indicators.append(
                IndicatorEntry(
                    row=len(form.indicators) + 1,
                    code=code,
                    name_text=known.name_text if known else "",
                    measure=known.measure if known else "",
                    values=values,
                )
            )
    return form


@dataclass
class Outcome:
    """What the unit's page says after a report or an upload."""

    source: str  # FORM_SOURCE or UPLOAD_SOURCE
    summary: SubmissionSummary | None = None
    received: str = ""  # a duplicate: when the first copy was received (the program's time)
    refused: str = ""  # refused before intake: nothing stored
    stored: bool = False  # a submission was recorded (imported, in part, or rejected)

    @property
    def duplicate(self) -> bool:
        return self.summary is not None and self.summary.status == SubmissionStatus.DUPLICATE


def submit_form(
    *,
    session: Session,
    program: Program,
    unit: Unit,
    form: ReportForm,
    today: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> Outcome:
    """Take the posted form through intake; keep it only if intake rejects nothing.

    A rejected form leaves nothing behind (see the module's docstring) and comes back with
    each reason at its field (``form.errors`` and each entry's ``errors``).
    """
    payload = form.payload(program=program.code, unit=unit.code, today=today)
    savepoint = session.begin_nested()
    try:
        summary = take_payload(
            session=session,
            program=program,
            unit=unit,
            payload=payload,
            as_of=today,
            now=now,
            home=home,
            templates=templates,
        )
    except IntegrityError as error:
        savepoint.rollback()
        return _taken_meanwhile(session, program, unit, payload, error)
    if summary.rejected:
        savepoint.rollback()
        _forget_archived(session, home, summary.sha256)
        form.mark(summary)
        return Outcome(FORM_SOURCE, summary)
    savepoint.commit()
    return _outcome(session, program, unit, summary)


def take_upload(
    *,
    session: Session,
    program: Program,
    unit: Unit,
    name: str,
    data: bytes,
    content_type: str,
    today: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> Outcome:
    """Take an uploaded file through intake as a file from the unit's inbox is taken."""
    # A browser sends the path of the file on some systems (C:\\...\\进展.xlsx): keep its name.
    shown_name = display_name(re.split(r"[\\/]", name)[-1] if name else "")
    if not data:
        what = f"所选文件《{shown_name}》是空文件（0 字节）" if name else "没有选择文件"
        return Outcome(
            UPLOAD_SOURCE,
            refused=f"{what}，未导入。请选择填好的填报表（.xlsx 文件）后重新上传",
        )
    payload = Payload(name=shown_name, data=data, source=UPLOAD_SOURCE, content_type=content_type)
    arguments: dict[str, Any] = dict(
        session=session,
        program=program,
        unit=unit,
        payload=payload,
        as_of=today,
        now=now,
        home=home,
        templates=templates,
    )
    savepoint = session.begin_nested()
    try:
        summary = take_payload(**arguments)
    except IntegrityError as error:
        savepoint.rollback()
        return _taken_meanwhile(session, program, unit, payload, error)
    except Exception:
        # A bug of ours, not the unit's file: recorded as the collection records it (the
        # file archived, the liaison told the office will look at it), never lost.
        savepoint.rollback()
        log.exception("intake of an upload (%s) for unit %s failed", shown_name, unit.code)
        summary = record_failure(**arguments)
    else:
        savepoint.commit()
    return _outcome(session, program, unit, summary)


def _outcome(session: Session, program: Program, unit: Unit, summary: SubmissionSummary) -> Outcome:
    outcome = Outcome(summary.source, summary)
    outcome.stored = not outcome.duplicate
    if outcome.duplicate:
        received = session.exec(
            select(Submission.received_at).where(
                Submission.unit_id == unit.id, Submission.sha256 == summary.sha256
            )
        ).first()
        outcome.received = _local(received, program.timezone)
    return outcome


def _taken_meanwhile(
    session: Session, program: Program, unit: Unit, payload: Payload, error: IntegrityError
) -> Outcome:
    """The same payload was stored by another request while this one ran (a double click,
    on a database that lets both start): this one is its duplicate."""
    summary = SubmissionSummary(
        unit=unit.code,
        source=payload.source,
        file=display_name(payload.name),
        sha256=hashlib.sha256(payload.data).hexdigest(),
        status=SubmissionStatus.DUPLICATE.value,
    )
    outcome = _outcome(session, program, unit, summary)
    if not outcome.received:  # another constraint than the one we know of: a bug
        raise error
    return outcome


def _forget_archived(session: Session, home: Path, sha256: str) -> None:
    """Remove the archived copy of a form that was not kept, unless a submission names it."""
    named = session.exec(select(Submission.id).where(Submission.sha256 == sha256)).first()
    if named is None:
        (home / "archive" / sha256[:2] / sha256).unlink(missing_ok=True)


def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    return f"{db.local_moment(moment, zone):%Y-%m-%d %H:%M}"
