"""Writing a document's files: the ``Written`` record of a run, the PDF, the workbook
helpers both documents use, the document's row in the database, and its announcement to
the office and the leaders.

``write`` writes a document by its kind: the quarterly reconciliation
(``reconciliation``), the half-year evaluation (``evaluation``) or the annual blue book
(``blue_book``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from pilot_tracker import periods
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import ReportError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.links import Links
from pilot_tracker.models import Document, DocumentKind
from pilot_tracker.reports import documents
from pilot_tracker.spreadsheet import put, write_table


@dataclass
class Written:
    """What writing one document wrote, and where."""

    kind: str
    program: str
    period: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    statements: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    queued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "program": self.program,
            "period": self.period,
            "files": {kind: str(path) for kind, path in self.files.items()},
            "statements": {unit: str(path) for unit, path in self.statements.items()},
            "problems": self.problems,
            "queued": self.queued,
        }


def sha256_of(path: Path) -> str:
    """The sha256 of a written file, as the record keeps it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def relative(path: Path, home: Path) -> str:
    """A path as the record and the outbox keep it: under the data home where it is."""
    try:
        return str(path.resolve().relative_to(home.resolve()))
    except ValueError:
        return str(path.resolve())


def write_pdf(
    document: str,
    path: Path,
    written: Written,
    key: str,
    sections: list[str] | None = None,
    templates: Path | None = None,
) -> dict[str, tuple[int, int]]:
    """Write the PDF, or note the problem; the pages of each section, by its anchor."""
    try:
        ranges = documents.pdf(document, path, sections or [], assets=templates)
    except ReportError as error:
        written.problems.append(f"PDF not written: {error}")
        return {}
    written.files[key] = path
    return ranges


def check_period(*, session: Session, program: str, period: str, now: datetime) -> None:
    """Refuse a quarter or half year outside the program's life, or not begun by ``now``."""
    record = store.get_program(session=session, code=program)
    first, last = periods.bounds(period)
    today = now.astimezone(ZoneInfo(record.timezone)).date()
    name, period_of = (
        ("quarter", periods.quarter_of)
        if periods.QUARTER.match(period)
        else ("half year", periods.half_of)
    )
    earliest = period_of(record.start_date)
    latest = period_of(min(record.end_date, today))
    choose = f"choose a {name} from {earliest} to {latest}"
    if last < record.start_date or first > record.end_date:
        raise ReportError(
            f"{period} is outside the program {program}, which runs from {record.start_date} "
            f"to {record.end_date}; {choose}"
        )
    if first > today:
        if today < record.start_date:
            choose = f"the program starts on {record.start_date}"
        raise ReportError(f"{period} has not begun: today is {today} ({record.timezone}); {choose}")


def write(
    *,
    session: Session,
    kind: str,
    program: str,
    period: str,
    folder: Path,
    home: Path,
    templates: Path,
    now: datetime,
    send: bool = True,
    links: Links | None = None,
) -> Written:
    """Write a document by its kind (``quarterly``, ``half_year`` or ``annual``, the blue
    book of a year) and period.

    ``links`` issues the units' personal links that each unit's quarterly statement and
    its message carry (how to confirm or dispute); without it they carry none."""
    common = {
        "session": session,
        "program": program,
        "folder": folder,
        "home": home,
        "templates": templates,
        "now": now,
        "send": send,
    }
    # The documents build on this module, so they are imported here, not above.
    from pilot_tracker.reports import blue_book, evaluation, reconciliation

    if kind == DocumentKind.QUARTERLY.value:
        return reconciliation.write(quarter=period, links=links, **common)
    if kind == DocumentKind.HALF_YEAR.value:
        return evaluation.write(half=period, **common)
    if kind == DocumentKind.ANNUAL.value:
        return blue_book.write(year=period, **common)
    raise ReportError(
        f'no report of the kind "{kind}"; the kinds are quarterly, half_year and annual'
    )


# --- shared by both documents ------------------------------------------------------------


def note_under(sheet: Any, note: str) -> None:
    """A note under a sheet's table (text, never a formula), across the table's width, where
    it wraps (``print_ready`` sizes the columns to the table, not to the note)."""
    if note:
        from openpyxl.styles import Alignment

        row = sheet.max_row + 2
        cell = put(sheet, row, 1, note)
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        if sheet.max_column > 1:
            sheet.merge_cells(
                start_row=row, start_column=1, end_row=row, end_column=sheet.max_column
            )


def sources_sheet(workbook: Any, rows: list[tuple[str, str, list[str]]]) -> None:
    """Every unit's line traced to the submissions behind it, by their sha256."""
    write_table(
        workbook.create_sheet("数据来源"),
        ["单位编号", "成员单位", "报送文件 SHA-256"],
        [[unit, name, sha] for unit, name, shas in rows for sha in shas],
    )


def fix_dates(workbook: Any, day: date) -> None:
    """The same workbook properties for the same period, run after run."""
    stamp = datetime(day.year, day.month, day.day)
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.creator = "pilot-tracker"


def write_text(path: Path, text: str) -> Path:
    """Write a page whole or not at all."""
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def program_id(session: Session, code: str) -> int | None:
    """The database id of a program."""
    return store.get_program(session=session, code=code).id


def record_document(
    session: Session, written: Written, home: Path, now: datetime, replace: bool = False
) -> None:
    """Keep what was written: its kind, period, files and their sha256; each unit's
    statement too, as ``statement:<unit>`` (the portal serves a unit its own from there).

    Each run is a record of its own, unless ``replace``: then the period's record (the
    blue book has one per year) is written over, keeping its id."""
    files = {
        **written.files,
        **{f"statement:{unit}": path for unit, path in written.statements.items()},
    }
    owner = program_id(session, written.program)
    earlier = (
        session.exec(
            select(Document)
            .where(
                Document.program_id == owner,
                Document.kind == written.kind,
                Document.period == written.period,
            )
            .order_by(col(Document.id))
        ).all()
        if replace
        else []
    )
    for extra in earlier[1:]:
        session.delete(extra)
    row = earlier[0] if earlier else Document(program_id=owner, kind=written.kind)  # type: ignore[arg-type]
    row.period = written.period
    row.formats = sorted(written.files)
    row.paths = {kind: relative(path, home) for kind, path in files.items()}
    row.sha256 = {kind: sha256_of(path) for kind, path in files.items()}
    row.generated_at = now
    session.add(row)
    session.flush()


def recorded_files(
    *, session: Session, program: str, kind: str, period: str, home: Path
) -> list[Path]:
    """The files, in each format, of the document of ``kind`` and ``period`` written last
    for ``program`` (none where none was), as ``Written.files`` had them."""
    row = session.exec(
        select(Document)
        .where(
            Document.program_id == program_id(session, program),
            Document.kind == kind,
            Document.period == period,
        )
        .order_by(col(Document.id).desc())
    ).first()
    if row is None:
        return []
    return [home / row.paths[key] for key in row.formats if key in row.paths]


def announcement(written: Written, home: Path, summary: str) -> tuple[list[str], str]:
    """What a message announcing a document carries: its PDF, XLSX and DOCX (as the outbox
    keeps them, under the data home), and a body (markup-free) with ``summary``, the files'
    names and their folder."""
    attachments = [
        relative(written.files[kind], home)
        for kind in ("pdf", "xlsx", "docx")
        if kind in written.files
    ]
    where = "、".join(Path(path).name for path in attachments) or written.files["html"].name
    body = (
        f"{summary}\n\n报告文件：{where}\n存放位置：{written.folder}\n"
        "（邮件附有报告文件；其他渠道请到上述位置查阅。）"
    )
    return attachments, outbox.neutralise(body)


def announce(
    session: Session,
    written: Written,
    home: Path,
    now: datetime,
    subject: str,
    summary: str,
    edition: str = "",
) -> int:
    """The document for the office and the leaders: once per period (and ``edition``, for a
    document written again with new figures, such as a year's blue book before and after
    the year ends) and recipient."""
    attachments, body = announcement(written, home, summary)
    queued = 0
    for role in ("office", "leader"):
        item = outbox.enqueue(
            session=session,
            program_id=program_id(session, written.program),
            dedup_key=f"report:{written.program}:{written.kind}:{written.period}{edition}:{role}",
            target=f"role:{role}",
            subject=subject,
            body=body,
            now=now,
            attachments=attachments,
        )
        queued += item is not None
    return queued
