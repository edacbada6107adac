"""The report library (报告库): every document written for a program, newest first, with
its files to download, their sha256, and the messages that sent it to whom.

A document's files are found only through its record (``Document.paths``, keyed ``html``,
``pdf``, ``xlsx``, ``docx`` and ``statement:<unit>``): a download names a record and a key,
never a path. A stored path is under the data home, or absolute (``reports/writing.relative``
keeps it so); a relative one that climbs out of the home, a file of another kind than its
key, or a file no longer there is not found.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, col, or_, select

from pilot_tracker import db, periods
from pilot_tracker.errors import BoardNotFound
from pilot_tracker.ledger.program_file import short_name
from pilot_tracker.models import (
    LABELS,
    BulletinIssue,
    City,
    CityDocument,
    ContactRole,
    Document,
    DocumentKind,
    Notification,
    NotificationStatus,
    Program,
    Unit,
)

KIND_LABELS = {
    DocumentKind.QUARTERLY.value: "季度对账",
    DocumentKind.HALF_YEAR.value: "半年度评估",
    DocumentKind.ANNUAL.value: "青年发展蓝皮书",
}
FORMAT_LABELS = {
    "html": "网页（HTML）",
    "pdf": "PDF",
    "xlsx": "Excel 表格",
    "docx": "Word 文档",
    "statements_docx": "各单位对账单（Word）",  # reports/reconciliation.STATEMENTS_DOCX
}
STATUS_LABELS = {
    NotificationStatus.PENDING.value: "待发送",
    NotificationStatus.SENT.value: "已发送",
    NotificationStatus.FAILED.value: "发送失败",
    NotificationStatus.MERGED.value: "已发送（并入汇总消息）",
}
ROLE_LABELS = {"office": "专班", "leader": "领导", **LABELS[ContactRole]}
STATEMENT = "statement:"
# What a key's file may be: its suffix and the media type it is served as.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
SUFFIXES = {
    "html": {".html"},
    "pdf": {".pdf"},
    "xlsx": {".xlsx"},
    "docx": {".docx"},
    "statements_docx": {".docx"},
}
STATEMENT_SUFFIXES = {".pdf", ".html"}
_MAX_ID = 18  # digits: an id longer than this is no id of ours (and would overflow)
_YEAR = re.compile(r"^(\d{4})$")  # the period of an annual document (the blue book)
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')

REPORT_MISSING = "没有找到这份报告。请从本试点的“报告库”进入。"
CITY_REPORT_MISSING = "没有找到这份汇总报告。请从工作台首页的“试点汇总报告”进入。"
FILE_MISSING = "没有找到这份报告文件，可能已被移走或删除。请联系系统管理员重新生成报告。"


# --- what the library shows -----------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One message of the outbox that sent a document: to whom, how it went, when."""

    target: str  # in Chinese: 专班, 领导, 单位联络员（单位名）
    status: str
    status_label: str
    sent_at: datetime | None  # in the program's zone
    attempts: int


@dataclass(frozen=True)
class File:
    """One file of a document: its key (for the download), what it is, its sha256."""

    key: str
    label: str
    sha256: str
    present: bool  # still on the server
    message: Message | None = None  # a statement's message to the unit's liaison


@dataclass
class Report:
    """One written document, as the library lists it."""

    id: int
    kind: str
    kind_label: str
    period: str
    period_label: str
    generated_at: datetime | None  # in the program's zone
    latest: bool  # the newest of its kind and period
    files: list[File] = field(default_factory=list)
    statements: list[File] = field(default_factory=list)
    announced: list[Message] = field(default_factory=list)  # to the office and leaders
    # Written again for a period already sent: the messages went out with the first one.
    sent_before: bool = False

    @property
    def title(self) -> str:
        return f"{self.kind_label}（{self.period_label}）"


def period_label(period: str) -> str:
    """2021Q1 → 2021年第1季度, 2021H1 → 2021年上半年, 2021-03 → 2021年3月, 2021 → 2021年度."""
    if _YEAR.match(period):
        return f"{period}年度"
    if match := periods.QUARTER.match(period):
        return f"{match[1]}年第{match[2]}季度"
    if match := periods.HALF.match(period):
        return f"{match[1]}年{'上' if match[2] == '1' else '下'}半年"
    if match := periods.MONTH.match(period):
        return f"{match[1]}年{int(match[2])}月"
    return period


def target_label(target: str, units: dict[str, str]) -> str:
    """A message's routing tags in Chinese: ``role:office`` → 专班, ``unit:tw role:liaison``
    → 单位联络员（团县委）."""
    tags = dict(tag.partition(":")[::2] for tag in target.split())
    role = ROLE_LABELS.get(tags.get("role", ""), tags.get("role", ""))
    if "unit" in tags:
        name = units.get(tags["unit"], tags["unit"])
        return f"单位{role}（{name}）" if role else name
    return role or target


def _newest_first(row: Document | CityDocument) -> tuple[object, ...]:
    try:
        end = (
            date(int(row.period), 12, 31)
            if _YEAR.match(row.period)
            else periods.bounds(row.period)[1]
        )
    except ValueError:
        end = None
    moment = db.stored_moment(row.generated_at) if row.generated_at else None
    return (end is not None, end, moment is not None, moment, row.id or 0)


def documents(*, session: Session, program: Program) -> list[Document]:
    """The program's documents, newest first: by period, then by when they were written."""
    rows = session.exec(select(Document).where(Document.program_id == program.id)).all()
    return sorted(rows, key=_newest_first, reverse=True)


def library(*, session: Session, program: Program, home: Path) -> list[Report]:
    """Every document of the program, newest first, with its files and its messages; of
    several written for one kind and period, the newest is marked ``latest``."""
    rows = documents(session=session, program=program)
    units = dict(
        session.exec(
            select(Unit.code, Unit.name)
            .where(Unit.program_id == program.id)
            .order_by(col(Unit.position))
        ).all()
    )
    order = {code: place for place, code in enumerate(units)}
    messages = _messages(session, program, rows)
    reports, seen = [], set()
    for row in rows:
        period = (row.kind, row.period)
        mine = messages.get(row.id, {})
        report = Report(
            id=row.id or 0,
            kind=row.kind,
            kind_label=KIND_LABELS.get(row.kind, row.kind),
            period=row.period,
            period_label=period_label(row.period),
            generated_at=_local(row.generated_at, program),
            latest=period not in seen,
            sent_before=not mine
            and any(other.id in messages for other in rows if (other.kind, other.period) == period),
        )
        seen.add(period)
        for key in sorted(row.paths, key=lambda k: _key_order(k, order)):
            if key.startswith(STATEMENT):
                unit = key.removeprefix(STATEMENT)
                sent = _message(mine.get(_statement_key(program, row, unit)), units, program)
                report.statements.append(_file(row, key, units.get(unit, unit), home, sent))
            else:
                report.files.append(_file(row, key, FORMAT_LABELS.get(key, key), home))
        for role in ("office", "leader"):
            announced = _message(mine.get(_announcement_key(program, row, role)), units, program)
            if announced is not None:
                report.announced.append(announced)
        reports.append(report)
    return reports


def _key_order(key: str, units: dict[str, int]) -> tuple[int, int, str]:
    if key.startswith(STATEMENT):
        return (1, units.get(key.removeprefix(STATEMENT), len(units)), key)
    formats = list(FORMAT_LABELS)
    return (0, formats.index(key) if key in formats else len(formats), key)


def _announcement_key(program: Program, row: Document, role: str) -> str:
    return f"report:{program.code}:{row.kind}:{row.period}:{role}"  # reports/writing.announce


def _statement_key(program: Program, row: Document, unit: str) -> str:
    return f"statement:{program.code}:{row.period}:{unit}"  # reports/reconciliation.write


def _messages(
    session: Session, program: Program, rows: list[Document]
) -> dict[int | None, dict[str, Notification]]:
    """The messages that sent the program's documents (one query), by the document they
    went with, then by their dedup key. A message is queued once per kind and period, with
    the document written at that moment: of several documents of a period, it belongs to
    the last one written by the time it was queued (the first, if none was)."""
    if not rows:
        return {}
    found = session.exec(
        select(Notification).where(
            Notification.program_id == program.id,
            or_(
                col(Notification.dedup_key).startswith(f"report:{program.code}:"),
                col(Notification.dedup_key).startswith(f"statement:{program.code}:"),
            ),
        )
    ).all()
    by_period: dict[tuple[str, str], list[Document]] = defaultdict(list)
    for row in reversed(rows):  # oldest first
        by_period[(row.kind, row.period)].append(row)
    owned: dict[int | None, dict[str, Notification]] = defaultdict(dict)
    for message in found:
        written = by_period.get(_period_of(message.dedup_key), [])
        if not written:
            continue
        queued = db.stored_moment(message.created_at) if message.created_at else None
        owner = written[0]
        for row in written:
            if queued and row.generated_at and db.stored_moment(row.generated_at) <= queued:
                owner = row
        owned[owner.id][message.dedup_key] = message
    return owned


def _period_of(dedup_key: str) -> tuple[str, str]:
    """The kind and period of a document's message, from its dedup key."""
    parts = dedup_key.split(":")
    if parts[0] == "report" and len(parts) == 5:
        return parts[2], parts[3]
    if parts[0] == "statement" and len(parts) == 4:
        return DocumentKind.QUARTERLY.value, parts[2]
    return "", ""


def _message(sent: Notification | None, units: dict[str, str], program: Program) -> Message | None:
    if sent is None:
        return None
    return Message(
        target=target_label(sent.target, units),
        status=sent.status,
        status_label=STATUS_LABELS.get(sent.status, sent.status),
        sent_at=_local(sent.sent_at, program),
        attempts=sent.attempts,
    )


def _file(
    row: Document | CityDocument | BulletinIssue,
    key: str,
    label: str,
    home: Path,
    message: Message | None = None,
) -> File:
    return File(
        key=key,
        label=label,
        sha256=row.sha256.get(key, ""),
        present=_stored(row, key, home) is not None,
        message=message,
    )


def _local(moment: datetime | None, program: Program) -> datetime | None:
    return db.local_moment(moment, program.timezone) if moment is not None else None


# --- one file of a document ---------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """A file to send: where it is, what it is, the name it is saved under."""

    path: Path
    media_type: str
    filename: str


def report_file(
    *, session: Session, program: Program, home: Path, report_id: str, key: str
) -> Download:
    """One file of one of the program's documents, by the document's id and the file's key;
    ``BoardNotFound`` for an id or key not on record (or of another program) and for a
    file that is not where its record says."""
    row = _document(session, program, report_id)
    if key not in row.paths:
        raise BoardNotFound(FILE_MISSING)
    path = _stored(row, key, home)
    if path is None:
        raise BoardNotFound(FILE_MISSING)
    return Download(
        path=path,
        media_type=MEDIA_TYPES[path.suffix.lower()],
        filename=_filename(session, program, row, key, path.suffix.lower()),
    )


def _document(session: Session, program: Program, report_id: str) -> Document:
    if not report_id.isdigit() or not report_id.isascii() or len(report_id) > _MAX_ID:
        raise BoardNotFound(REPORT_MISSING)
    row = session.get(Document, int(report_id))
    if row is None or row.program_id != program.id:
        raise BoardNotFound(REPORT_MISSING)
    return row


def _stored(row: Document | CityDocument | BulletinIssue, key: str, home: Path) -> Path | None:
    """The file of ``key`` as its record keeps it (under the data home, or absolute), if it
    is there and of the kind its key says; else None."""
    stored = row.paths.get(key)
    if not stored:
        return None
    path = Path(stored)
    if not path.is_absolute():
        path = home / path
        if not path.resolve().is_relative_to(home.resolve()):
            return None
    suffixes = STATEMENT_SUFFIXES if key.startswith(STATEMENT) else SUFFIXES.get(key, set())
    if path.suffix.lower() not in suffixes or not path.is_file():
        return None
    return path


def _filename(session: Session, program: Program, row: Document, key: str, suffix: str) -> str:
    """The name a download is saved under, in Chinese: 象山县试点-2021年第1季度-季度对账.pdf,
    or …-2021年第1季度-对账单-团县委.pdf for a unit's statement."""
    what = KIND_LABELS.get(row.kind, row.kind)
    if key.startswith(STATEMENT):
        code = key.removeprefix(STATEMENT)
        name = session.exec(
            select(Unit.name).where(Unit.program_id == program.id, Unit.code == code)
        ).first()
        what = f"对账单-{name or code}"
    elif key == "statements_docx":
        what = "对账单-各单位"
    name = f"{short_name(program.name)}-{period_label(row.period)}-{what}"
    return _UNSAFE.sub("_", name) + suffix


# --- a city's roll-ups (the city view) -----------------------------------------------------

CITY_REPORT = "试点汇总"  # what a city's roll-up is called in a file's name


def city_documents(*, session: Session, city: City) -> list[CityDocument]:
    """A city's roll-ups, newest first: by period, then by when they were written."""
    rows = session.exec(select(CityDocument).where(CityDocument.city_id == city.id)).all()
    return sorted(rows, key=_newest_first, reverse=True)


def city_files(row: CityDocument | BulletinIssue, home: Path) -> list[File]:
    """The files of a city's roll-up or bulletin, in the library's order of formats."""
    return [
        _file(row, key, FORMAT_LABELS.get(key, key), home)
        for key in sorted(row.paths, key=lambda k: _key_order(k, {}))
        if not key.startswith(STATEMENT)
    ]


def city_report_file(
    *, session: Session, city: City, home: Path, report_id: str, key: str
) -> Download:
    """One file of one of a city's roll-ups, by the roll-up's id and the file's key, found
    only through its record (``city_report``) like a program's; ``BoardNotFound`` for an id
    or key not on record (or of another city) and for a file not where its record says."""
    if not report_id.isdigit() or not report_id.isascii() or len(report_id) > _MAX_ID:
        raise BoardNotFound(CITY_REPORT_MISSING)
    row = session.get(CityDocument, int(report_id))
    if row is None or row.city_id != city.id:
        raise BoardNotFound(CITY_REPORT_MISSING)
    path = _stored(row, key, home) if key in row.paths and not key.startswith(STATEMENT) else None
    if path is None:
        raise BoardNotFound(FILE_MISSING)
    suffix = path.suffix.lower()
    name = f"{city.name}-{period_label(row.period)}-{CITY_REPORT}"
    return Download(
        path=path, media_type=MEDIA_TYPES[suffix], filename=_UNSAFE.sub("_", name) + suffix
    )


# --- the latest document of each program (the city view) ----------------------------------


def latest_by_program(*, session: Session, program_ids: list[int]) -> dict[int, Document]:
    """The newest document of each program (as the library orders them): one query."""
    newest: dict[int, list[Document]] = defaultdict(list)
    if not program_ids:
        return {}
    for row in session.exec(
        select(Document).where(col(Document.program_id).in_(program_ids))
    ).all():
        newest[row.program_id].append(row)
    return {pid: max(rows, key=_newest_first) for pid, rows in newest.items()}


# --- a city's work bulletin (the city view) ------------------------------------------------

BULLETIN_MISSING = "没有找到这期工作简报。请从工作台首页的“工作简报”进入。"


def city_bulletins(*, session: Session, city: City) -> list[BulletinIssue]:
    """A city's bulletins written here, the latest issue first (总第M期)."""
    return list(
        session.exec(
            select(BulletinIssue)
            .where(BulletinIssue.city_id == city.id)
            .order_by(col(BulletinIssue.total).desc())
        ).all()
    )


def bulletin_file(*, session: Session, city: City, home: Path, issue_id: str, key: str) -> Download:
    """One file of one of a city's bulletins, by the issue's id and the file's key, found
    only through the register (``bulletin_issue``); ``BoardNotFound`` for an id or key not
    on record (or of another city) and for a file not where the register says."""
    if not issue_id.isdigit() or not issue_id.isascii() or len(issue_id) > _MAX_ID:
        raise BoardNotFound(BULLETIN_MISSING)
    row = session.get(BulletinIssue, int(issue_id))
    if row is None or row.city_id != city.id:
        raise BoardNotFound(BULLETIN_MISSING)
    path = _stored(row, key, home) if key in row.paths else None
    if path is None:
        raise BoardNotFound(FILE_MISSING)
    suffix = path.suffix.lower()
    name = f"{city.name}-工作简报-{row.issued_on.year}年第{row.number}期"
    return Download(
        path=path, media_type=MEDIA_TYPES[suffix], filename=_UNSAFE.sub("_", name) + suffix
    )
