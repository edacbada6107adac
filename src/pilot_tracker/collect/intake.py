"""Intake: one payload from one unit, archived raw, read, checked against the ledger, stored.

Good rows become status reports and indicator readings; each bad row becomes a rejection
with its sheet, row, column, value and a reason in Chinese; the rest of the payload is
kept. The same payload twice (by sha256) changes nothing. A corrected resubmission for a
period adds a newer report; the earlier one stays in history.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat as statmodule
import tempfile
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert
from sqlmodel import Session, or_, select

from pilot_tracker import periods
from pilot_tracker.alerts import outbox
from pilot_tracker.collect.payload import (
    MAX_PAYLOAD_BYTES,
    Payload,
    ReadPayload,
    Row,
    display_name,
    read_payload,
)
from pilot_tracker.errors import ArchiveError, PayloadError
from pilot_tracker.models import (
    ArchiveExtent,
    Indicator,
    IndicatorReading,
    Program,
    Rejection,
    StatusReport,
    Submission,
    SubmissionStatus,
    Task,
    TaskCoUnit,
    TaskStatus,
    Unit,
)
from pilot_tracker.values import (
    check_reading,
    figure,
    finite,
    is_blank,
    parse_day,
    parse_number,
    parse_percent,
    parse_status,
    text_of,
)

# The tables intake writes and checks against, written and read as rows (Core): the ORM's
# unit of work costs more than the statements themselves at a payload's size.
_SUBMISSION = Submission.__table__  # type: ignore[attr-defined]
_STATUS_REPORT = StatusReport.__table__  # type: ignore[attr-defined]
_READING = IndicatorReading.__table__  # type: ignore[attr-defined]
_REJECTION = Rejection.__table__  # type: ignore[attr-defined]
_TASK = Task.__table__  # type: ignore[attr-defined]
_UNIT = Unit.__table__  # type: ignore[attr-defined]
# A payload's statements, built once (their parameters bound at each execution).
_SEEN = select(_SUBMISSION.c.id).where(
    _SUBMISSION.c.unit_id == bindparam("unit_id"), _SUBMISSION.c.sha256 == bindparam("sha256")
)
_REPORTED = ("status", "percent", "reported_on", "progress", "problems", "next_steps", "evidence")
_LATEST_REPORTS = (
    select(
        _STATUS_REPORT.c.task_id,
        _STATUS_REPORT.c.period,
        *(_STATUS_REPORT.c[key] for key in _REPORTED),
    )
    .where(
        _STATUS_REPORT.c.unit_id == bindparam("unit_id"),
        _STATUS_REPORT.c.period.in_(bindparam("periods", expanding=True)),
    )
    .order_by(_STATUS_REPORT.c.submission_id)
)
_ADD_SUBMISSION = insert(_SUBMISSION)
_ADD_REPORTS = insert(_STATUS_REPORT)
_ADD_READINGS = insert(_READING)
_ADD_REJECTIONS = insert(_REJECTION)
_LATEST_READINGS = (
    select(_READING.c.indicator_id, _READING.c.as_of, _READING.c.value)
    .where(
        _READING.c.indicator_id.in_(bindparam("indicators", expanding=True)),
        _READING.c.as_of.in_(bindparam("days", expanding=True)),
    )
    .order_by(_READING.c.submission_id)
)

NOTICE_TEMPLATE = "alerts/rejection.txt.j2"
NOTICE_REJECTIONS = 20
# A date this long before the program starts is a typo (2012 for 2021), not a late report.
DATE_MARGIN = timedelta(days=366)
FAILURE_REASON = (
    "系统处理该文件时出错，文件已存档并转交试点工作专班核查，专班会与您联系；"
    "在此之前无需修改或重复报送"
)


@dataclass
class RejectionLine:
    sheet: str
    row: int | None
    column: str
    value: str
    reason: str


@dataclass
class SubmissionSummary:
    """The import summary of one payload (in the shape DHIS2 and Frictionless use)."""

    unit: str
    source: str
    file: str
    sha256: str
    status: str
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    rejected: int = 0
    rejections: list[RejectionLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fault: bool = False  # intake failed on it: our fault, not the unit's

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def refuse(self, reason: str, value: str = "") -> None:
        """Reject the payload as a whole, for ``reason`` (a line for the unit's liaison)."""
        self.rejections.append(RejectionLine("", None, "", value, reason))
        self.rejected = 1


def code_key(code: str) -> str:
    """A code as compared: full-width characters as half-width, case ignored."""
    return unicodedata.normalize("NFKC", code).strip().upper()


def archive_payload(home: Path, data: bytes, sha256: str | None = None) -> tuple[str, str]:
    """Store the bytes content-addressed under ``archive/``; return (sha256, relative path).
    ``sha256`` is the bytes' digest, when already taken.

    Written once, atomically: a second copy of the same bytes is the same file. A copy
    already there but of the wrong size (a disk that filled up, a hand that truncated it)
    is written again, so the archive holds the payload whole before the inbox lets it go.
    """
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    relative = f"archive/{sha256[:2]}/{sha256}"
    path = home / relative
    try:
        whole = path.stat().st_size == len(data) and not path.is_symlink()
    except FileNotFoundError:
        whole = False
    if not whole:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_folder(path.parent)
    return sha256, relative


def read_archived(home: Path, relative: str, sha256: str) -> bytes:
    """The bytes archived at ``relative`` (as ``archive_payload`` gave it), checked: inside
    the archive, readable, and the very bytes received (their sha256); ``ArchiveError``
    otherwise, saying which."""
    archive = (home / "archive").resolve()
    path = (home / relative).resolve()
    if not path.is_relative_to(archive):
        raise ArchiveError(f"{relative} is not in the archive", gone=True)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ArchiveError(
            f"the archived copy {relative} cannot be read ({error.strerror})", gone=True
        ) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArchiveError(
            f"the archived copy {relative} is not the file received (its sha256 differs)",
            gone=False,
        )
    return data


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable, where the platform allows it."""
    try:
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


# The temporaries archive_payload writes: tempfile.mkstemp(prefix=".", suffix=".part").
_TEMPORARY = re.compile(r"^\.[a-z0-9_]{8}\.part$")
_ARCHIVE_FOLDER = re.compile(r"^[0-9a-f]{2}$")


def sweep_temporaries(archive: Path, *, before: datetime) -> list[Path]:
    """Remove the archive temporaries a killed run left, older than ``before``.

    Only our own: regular files named as ``archive_payload`` names them, in the
    two-hex-digit folders of the archive; never a link, never a recent one (another run
    may be writing it).
    """
    removed: list[Path] = []
    cutoff = before.timestamp()
    try:
        folders = [entry for entry in os.scandir(archive) if _ARCHIVE_FOLDER.match(entry.name)]
    except OSError:
        return removed
    for folder in folders:
        if not folder.is_dir(follow_symlinks=False):
            continue
        try:
            entries = list(os.scandir(folder.path))
        except OSError:
            continue
        for entry in entries:
            if not _TEMPORARY.match(entry.name):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
                if statmodule.S_ISREG(stat.st_mode) and stat.st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed


def take_payload(
    *,
    session: Session,
    program: Program,
    unit: Unit,
    payload: Payload,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
    codes: Codes | None = None,
    reader: Callable[[Payload], ReadPayload] | None = None,
) -> SubmissionSummary:
    """Archive, read, check and store one payload in the session's transaction.

    ``codes`` is what a run's payloads are checked against, kept across them (read in
    this transaction when not given); ``reader`` reads the payload (``read_payload`` in
    this process when not given: a run may read its payloads in a reader process)."""
    if payload.oversized:
        return _take_oversized(
            session=session,
            program=program,
            unit=unit,
            payload=payload,
            as_of=as_of,
            now=now,
            home=home,
            templates=templates,
        )
    summary, record = _open(session, unit, payload, home, now)
    if record is None:
        return summary
    checked = _Checked()
    try:
        read = (
            read_payload(payload.data, payload.name, payload.content_type)
            if reader is None
            else reader(payload)
        )
        _check_metadata(session, read, program, unit)
    except PayloadError as error:
        summary.refuse(str(error))
    else:
        summary.notes = list(read.notes)
        checker = _Checker(session, program, unit, codes or Codes(), summary, as_of)
        checked = checker.run(read)
    return _close(session, program, unit, record, summary, as_of, now, templates, checked)


def record_failure(
    *,
    session: Session,
    program: Program,
    unit: Unit,
    payload: Payload,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> SubmissionSummary:
    """Record a payload that intake failed on (a bug of ours, not the unit's) as rejected.

    The bytes are archived, the submission holds one rejection saying the office will look
    at it, and the liaison is told so; the unit sent something, so it is not "unavailable".
    """
    summary, record = _open(session, unit, payload, home, now)
    if record is None:
        return summary
    summary.refuse(FAILURE_REASON)
    summary.fault = True
    return _close(session, program, unit, record, summary, as_of, now, templates)


def _take_oversized(
    *,
    session: Session,
    program: Program,
    unit: Unit,
    payload: Payload,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> SubmissionSummary:
    """Record a payload refused by its size: its name, its size and its first MB.

    Only the first MB is archived. The record's sha256 is not a whole file's: it is taken
    over a prefix, the size and the first MB, so no whole file can ever be deduplicated
    against it; the same oversized file sent again is a duplicate of it.
    """
    size = payload.size or len(payload.data)
    sha256 = hashlib.sha256(
        b"pilot-tracker oversized payload\0%d\0" % size + payload.data
    ).hexdigest()
    summary, record = _open(session, unit, payload, home, now, sha256=sha256, size=size)
    if record is None:
        return summary
    megabytes = math.ceil(size / 1024 / 1024 * 10) / 10
    shown = f"{megabytes:.0f}" if megabytes >= 100 else f"{megabytes:.1f}"
    head_sha256 = record["archive_path"].rsplit("/", 1)[-1]
    summary.refuse(
        f"文件过大（{shown} MB），单个文件不得超过 {MAX_PAYLOAD_BYTES // 1024 // 1024} MB，"
        "未导入。请删除或压缩其中的图片等附件，或拆分为多个文件后重新报送。"
        f"系统仅存档了该文件的前 1 MB（SHA-256：{head_sha256}）",
        value=f"{size:,} 字节",
    )
    return _close(session, program, unit, record, summary, as_of, now, templates)


def _open(
    session: Session,
    unit: Unit,
    payload: Payload,
    home: Path,
    now: datetime,
    *,
    sha256: str | None = None,
    size: int | None = None,
) -> tuple[SubmissionSummary, Submission | None]:
    """Archive the payload's bytes and record its submission, or find it a duplicate.

    ``sha256`` and ``size`` are given for a payload refused by its size, whose bytes are
    only its first MB: the record then names the whole file, the archive holds the head.
    The submission's record is returned unwritten: ``_close`` writes it once, whole.
    """
    archived, relative = archive_payload(home, payload.data, payload.sha256)
    head = sha256 is not None
    summary = SubmissionSummary(
        unit=unit.code,
        source=payload.source,
        file=display_name(payload.name),
        sha256=sha256 or archived,
        status=SubmissionStatus.REJECTED.value,
    )
    seen = session.execute(_SEEN, {"unit_id": unit.id, "sha256": summary.sha256}).first()
    if seen is not None:
        summary.status = SubmissionStatus.DUPLICATE.value
        return summary, None
    return summary, {
        "program_id": unit.program_id,
        "unit_id": unit.id,
        "source": payload.source,
        "filename": summary.file[:255],
        "sha256": summary.sha256,
        "archive_path": relative,
        "received_at": now,
        "size": size if head else len(payload.data),
        "archived": (ArchiveExtent.HEAD if head else ArchiveExtent.WHOLE).value,
    }


@dataclass
class _Checked:
    """What a payload's good rows become, each waiting for its submission's id."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    readings: list[dict[str, Any]] = field(default_factory=list)


def _close(
    session: Session,
    program: Program,
    unit: Unit,
    record: dict[str, Any],
    summary: SubmissionSummary,
    as_of: date,
    now: datetime,
    templates: outbox.Templates | None,
    checked: _Checked | None = None,
) -> SubmissionSummary:
    """Write the submission with its status and counts, then what it brought (its reports,
    readings and rejections, one INSERT each: the ORM would send one a row), and tell the
    liaison of any rejection."""
    if summary.rejected == 0:
        summary.status = SubmissionStatus.IMPORTED.value
    elif summary.imported or summary.updated:
        summary.status = SubmissionStatus.PARTIAL.value
    else:
        summary.status = SubmissionStatus.REJECTED.value
    counts = ("status", "imported", "updated", "ignored", "rejected")
    written = session.execute(
        _ADD_SUBMISSION, {**record, **{key: getattr(summary, key) for key in counts}}
    )
    submission_id = written.inserted_primary_key[0]
    if checked is not None and checked.reports:
        session.execute(
            _ADD_REPORTS,
            [{"submission_id": submission_id, **report} for report in checked.reports],
        )
    if checked is not None and checked.readings:
        session.execute(
            _ADD_READINGS,
            [{"submission_id": submission_id, **reading} for reading in checked.readings],
        )
    if summary.rejections:
        session.execute(
            _ADD_REJECTIONS,
            [
                {
                    "submission_id": submission_id,
                    "sheet": line.sheet[:100],
                    "row": line.row,
                    "column": line.column[:100],
                    "value": line.value,
                    "reason": line.reason,
                }
                for line in summary.rejections
            ],
        )
    if summary.rejections and templates is not None:
        _notify(session, program, unit, summary, as_of, now, templates)
    return summary


def _check_metadata(session: Session, read: ReadPayload, program: Program, unit: Unit) -> None:
    """A template names its program and unit; a workbook of another unit is refused whole."""
    meta_program = read.meta.get("program")
    if meta_program and meta_program != program.code:
        raise PayloadError(f"这是其他试点（{meta_program}）的填报表，请使用本试点下发的填报表")
    meta_unit = read.meta.get("unit")
    if meta_unit and meta_unit != unit.code:
        other = session.exec(
            select(Unit.name).where(Unit.program_id == program.id, Unit.code == meta_unit)
        ).first()
        raise PayloadError(
            f"这是{other or '其他单位'}的填报表，不是{unit.name}的。请使用本单位的填报表报送"
        )


@dataclass(frozen=True)
class _Owned:
    """An indicator a unit reports, as its readings are checked."""

    id: int
    measure: str
    baseline_value: float | None
    target_value: float | None
    baseline_year: int


class Codes:
    """The codes a unit's rows are checked against: the tasks it leads or co-leads, the
    indicators it owns, and, to say why a code is not the unit's, every task's lead and
    every indicator of the program. Read at the first payload that needs them and kept for
    the run's others (the program's ledger as the run found it, as its units are)."""

    def __init__(self) -> None:
        self._tasks: dict[int, dict[str, int]] = {}
        self._indicators: dict[int, dict[str, _Owned]] = {}
        self._leads: dict[str, str] | None = None
        self._all_indicators: set[str] | None = None

    def tasks(self, session: Session, unit: Unit) -> dict[str, int]:
        """The unit's tasks, led or co-led: their id by code (as ``code_key`` has it)."""
        mine = self._tasks.get(unit.id)  # type: ignore[arg-type]
        if mine is None:
            task, co_unit = _TASK, TaskCoUnit.__table__  # type: ignore[attr-defined]
            co_led = select(co_unit.c.task_id).where(co_unit.c.unit_id == unit.id)
            rows = session.execute(
                select(task.c.id, task.c.code).where(
                    task.c.program_id == unit.program_id,
                    or_(task.c.lead_unit_id == unit.id, task.c.id.in_(co_led)),
                )
            )
            mine = {code_key(code): task_id for task_id, code in rows}
            self._tasks[unit.id] = mine  # type: ignore[index]
        return mine

    def lead(self, session: Session, unit: Unit, code: str) -> str | None:
        """The name of the unit leading the task ``code``; None when there is no such task."""
        if self._leads is None:  # read once: a file may hold 20 000 codes that are not ours
            self._leads = {
                code_key(task_code): lead
                for task_code, lead in session.execute(
                    select(_TASK.c.code, _UNIT.c.name)
                    .join(_UNIT, _TASK.c.lead_unit_id == _UNIT.c.id)
                    .where(_TASK.c.program_id == unit.program_id)
                )
            }
        return self._leads.get(code)

    def indicators(self, session: Session, unit: Unit) -> dict[str, _Owned]:
        """The indicators the unit reports, by code."""
        owned = self._indicators.get(unit.id)  # type: ignore[arg-type]
        if owned is None:
            table = Indicator.__table__  # type: ignore[attr-defined]
            fields = [table.c[name] for name in _Owned.__dataclass_fields__]
            owned = {
                code_key(code): _Owned(*row)
                for code, *row in session.execute(
                    select(table.c.code, *fields).where(
                        table.c.program_id == unit.program_id,
                        table.c.owner_unit_id == unit.id,
                    )
                )
            }
            self._indicators[unit.id] = owned  # type: ignore[index]
        return owned

    def indicator_exists(self, session: Session, unit: Unit, code: str) -> bool:
        """Whether the program has an indicator ``code`` (whoever reports it)."""
        if self._all_indicators is None:
            table = Indicator.__table__  # type: ignore[attr-defined]
            self._all_indicators = {
                code_key(other)
                for (other,) in session.execute(
                    select(table.c.code).where(table.c.program_id == unit.program_id)
                )
            }
        return code in self._all_indicators


class _Checker:
    """Checks the rows of one payload against the ledger; the good ones are returned to be
    stored with their submission."""

    def __init__(
        self,
        session: Session,
        program: Program,
        unit: Unit,
        codes: Codes,
        summary: SubmissionSummary,
        as_of: date,
    ):
        self.session = session
        self.program = program
        self.unit = unit
        self.codes = codes
        self.summary = summary
        self.as_of = as_of
        self.earliest = program.start_date - DATE_MARGIN
        self.checked = _Checked()

    def run(self, read: ReadPayload) -> _Checked:
        self.formulas = read.formula_cells
        if read.task_rows:
            self._tasks(read.task_rows)
        if read.indicator_rows:
            self._indicators(read.indicator_rows)
        return self.checked

    # -- tasks --

    def _tasks(self, rows: list[Row]) -> None:
        mine = self.codes.tasks(self.session, self.unit)
        first_row: dict[str, int] = {}
        taken: list[tuple[Any, str, dict[str, Any]]] = []  # task id, period, the report
        for row in rows:
            problems: list[RejectionLine] = []
            code = code_key(text_of(row.value("task"), 40))
            if not code:
                problems.append(
                    self._line(row, "task", "任务编号为空，请填写下发填报表中的任务编号")
                )
            elif code not in mine:
                problems.append(self._line(row, "task", self._not_mine(code)))
            elif code in first_row:
                problems.append(
                    self._line(row, "task", f"同一任务重复填报（第{first_row[code]}行已填报）")
                )
            if code and code not in first_row:
                first_row[code] = row.number
            if problems:
                self._reject(problems)
                continue
            report = self._report_values(row, problems)
            if problems:
                self._reject(problems)
                continue
            if report is None:
                self.summary.ignored += 1  # a row of the template left empty
                continue
            period = periods.period_of(report["reported_on"], self.program.cadence)
            taken.append((mine[code], period, report))
        latest = self._latest_reports(
            {task for task, _, _ in taken}, {period for _, period, _ in taken}
        )
        for task, period, report in taken:
            previous = latest.get((task, period))
            if previous is not None and all(
                previous[key] == value for key, value in report.items()
            ):
                self.summary.ignored += 1
                continue
            self.checked.reports.append(
                {"task_id": task, "unit_id": self.unit.id, "period": period, **report}
            )
            if previous is None:
                self.summary.imported += 1
            else:
                self.summary.updated += 1

    def _not_mine(self, code: str) -> str:
        """Why a task code is not this unit's: another unit leads it, or it does not exist."""
        lead = self.codes.lead(self.session, self.unit, code)
        if lead is not None:
            return f"该任务不属于本单位（牵头单位：{lead}），请只填报本单位牵头或配合的任务"
        return "任务编号不存在，请核对下发填报表中的任务编号"

    def _report_values(self, row: Row, problems: list[RejectionLine]) -> dict[str, Any] | None:
        status = percent = reported_on = None
        try:
            status = parse_status(row.value("status"))
        except ValueError as error:
            problems.append(self._line(row, "status", str(error)))
        try:
            cell = row.cells.get("percent")
            percent = parse_percent(
                row.value("percent"), percent_format=bool(cell and cell.percent_format)
            )
        except ValueError as error:
            problems.append(self._line(row, "percent", str(error)))
        try:
            reported_on = parse_day(row.value("reported_on"))
        except ValueError as error:
            problems.append(self._line(row, "reported_on", str(error)))
        for key in ("status", "percent", "reported_on"):
            if (row.sheet, row.number, key) in self.formulas:
                problems.append(
                    self._line(
                        row,
                        key,
                        "该单元格是公式但没有计算结果，请在 Excel 中重新计算（F9）并保存后报送",
                    )
                )
        if problems:
            return None
        texts = {
            key: text_of(row.value(key))
            for key in ("progress", "problems", "next_steps", "evidence")
        }
        if status is None and percent is None:
            if any(texts.values()):
                problems.append(self._line(row, "status", "请选择进展状态并填写完成进度"))
            return None
        if status is None:
            status = (
                TaskStatus.NOT_STARTED
                if percent == 0
                else TaskStatus.COMPLETED
                if percent == 100
                else TaskStatus.IN_PROGRESS
            )
        if percent is None:
            if status is TaskStatus.COMPLETED:
                percent = 100.0
            elif status is TaskStatus.NOT_STARTED:
                percent = 0.0
            else:
                problems.append(self._line(row, "percent", "请填写完成进度（0-100 的数字）"))
                return None
        if status is TaskStatus.COMPLETED and percent != 100:
            problems.append(
                self._line(
                    row, "percent", f"进展状态为“已完成”，完成进度应为 100，而不是 {percent:g}"
                )
            )
            return None
        if reported_on is None:
            reported_on = self.as_of
        elif reported_on > self.as_of:
            problems.append(
                self._line(row, "reported_on", f"填报日期晚于报送当日（{self.as_of.isoformat()}）")
            )
            return None
        elif reported_on < self.earliest:
            problems.append(
                self._line(row, "reported_on", self._too_early("填报日期", reported_on))
            )
            return None
        return {"status": status.value, "percent": percent, "reported_on": reported_on, **texts}

    def _latest_reports(
        self, task_ids: set[Any], in_periods: set[str]
    ) -> dict[tuple[int, str], Mapping[str, Any]]:
        """The unit's latest stored report on each of these tasks in each of these periods
        (the periods the payload reports on, not the whole history)."""
        latest: dict[tuple[int, str], Mapping[str, Any]] = {}
        if not task_ids:
            return latest
        reports = self.session.execute(
            _LATEST_REPORTS, {"unit_id": self.unit.id, "periods": sorted(in_periods)}
        )
        for report in reports:
            if report.task_id in task_ids:
                latest[(report.task_id, report.period)] = report._mapping
        return latest

    # -- indicators --

    def _indicators(self, rows: list[Row]) -> None:
        owned = self.codes.indicators(self.session, self.unit)
        seen: set[tuple[str, date]] = set()
        taken: list[tuple[_Owned, date, float]] = []
        for row in rows:
            code = code_key(text_of(row.value("indicator"), 40))
            if not code:
                self._reject([self._line(row, "indicator", "指标编号为空")])
                continue
            if code not in owned:
                reason = (
                    "该指标不由本单位报送，请只填报本单位负责的指标"
                    if self.codes.indicator_exists(self.session, self.unit, code)
                    else "指标编号不存在，请核对下发填报表中的指标编号"
                )
                self._reject([self._line(row, "indicator", reason)])
                continue
            indicator = owned[code]
            problems: list[RejectionLine] = []
            value = as_of = None
            try:
                value = parse_number(row.value("value"))
                if value is not None:
                    check_reading(
                        value,
                        measure=indicator.measure,
                        baseline=indicator.baseline_value,
                        target=indicator.target_value,
                    )
            except ValueError as error:
                problems.append(self._line(row, "value", str(error)))
            try:
                as_of = parse_day(row.value("as_of"))
            except ValueError as error:
                problems.append(self._line(row, "as_of", str(error)))
            if (row.sheet, row.number, "value") in self.formulas:
                problems.append(
                    self._line(row, "value", "该单元格是公式但没有计算结果，请重新计算后保存")
                )
            if problems:
                self._reject(problems)
                continue
            if value is None:
                self.summary.ignored += 1
                continue
            as_of = as_of or self.as_of
            if as_of > self.as_of:
                self._reject(
                    [self._line(row, "as_of", f"统计时点晚于报送当日（{self.as_of.isoformat()}）")]
                )
                continue
            # a reading may be as old as its indicator's baseline year
            earliest = min(self.earliest, date(max(indicator.baseline_year, 1), 1, 1))
            if as_of < earliest:
                self._reject([self._line(row, "as_of", self._too_early("统计时点", as_of))])
                continue
            if (code, as_of) in seen:
                self._reject([self._line(row, "indicator", "同一指标同一统计时点重复填报")])
                continue
            seen.add((code, as_of))
            taken.append((indicator, as_of, value))
        latest = self._latest_readings(
            {indicator.id for indicator, _, _ in taken}, {as_of for _, as_of, _ in taken}
        )
        for indicator, as_of, value in taken:
            previous = latest.get((indicator.id, as_of))
            if previous is not None and previous == value:
                self.summary.ignored += 1
                continue
            self.checked.readings.append(
                {"indicator_id": indicator.id, "value": value, "as_of": as_of}
            )
            if previous is None:
                self.summary.imported += 1
            else:
                self.summary.updated += 1

    def _latest_readings(
        self, indicator_ids: set[int], days: set[date]
    ) -> dict[tuple[int, date], float]:
        """The latest stored value of each of these indicators as of each of these days."""
        latest: dict[tuple[int, date], float] = {}
        if not indicator_ids:
            return latest
        readings = self.session.execute(
            _LATEST_READINGS, {"indicators": sorted(indicator_ids), "days": sorted(days)}
        )
        for indicator_id, as_of, value in readings:
            latest[(indicator_id, as_of)] = value
        return latest

    # -- rejections --

    def _too_early(self, what: str, day: date) -> str:
        start = self.program.start_date.isoformat()
        return (
            f"{what}（{day.isoformat()}）早于试点开始日期（{start}）一年以上，"
            "请核对年份是否填写有误"
        )

    def _line(self, row: Row, key: str, reason: str) -> RejectionLine:
        value = row.value(key)
        cell = row.cells.get(key)
        if cell is not None and cell.percent_format and isinstance(value, int | float):
            share = finite(value)  # as the liaison typed it, not as Excel stores it
            value = f"{figure(share * 100)}%" if share is not None else value
        shown = "" if is_blank(value) else " ".join(text_of(value, 200).split())
        return RejectionLine(row.sheet, row.number, row.headers.get(key, ""), shown, reason)

    def _reject(self, problems: list[RejectionLine]) -> None:
        self.summary.rejected += 1
        self.summary.rejections.extend(problems)


def _notify(
    session: Session,
    program: Program,
    unit: Unit,
    summary: SubmissionSummary,
    as_of: date,
    now: datetime,
    templates: outbox.Templates,
) -> None:
    """Put a rejection notice for the unit's liaison into the outbox, with its link."""
    local = now.astimezone(ZoneInfo(program.timezone))
    deadline = periods.deadline(periods.period_of(as_of, program.cadence), program.deadline_day)
    subject, body = templates.render(
        NOTICE_TEMPLATE,
        program=program,
        unit=unit,
        summary=summary,
        rejections=summary.rejections[:NOTICE_REJECTIONS],
        more=max(0, len(summary.rejections) - NOTICE_REJECTIONS),
        received=f"{local.year}年{local.month}月{local.day}日{local:%H:%M}",
        deadline=f"{deadline.year}年{deadline.month}月{deadline.day}日"
        if deadline >= as_of
        else "",
        link=templates.link(program=program, unit=unit, now=now),
    )
    outbox.enqueue(
        session=session,
        program_id=program.id,
        dedup_key=f"rejection:{program.code}:{unit.code}:{summary.sha256}",
        target=outbox.liaison_of(unit.code),
        subject=subject,
        body=body,
        now=now,
    )
