"""A city's work bulletin (工作简报): the city league's issue on its district pilots for a
quarter or a half year, in the source document's shape, in Word (the 公文 layout), HTML and
PDF, recorded and sent.

- The masthead: the bulletin's name and column (the city file's ``bulletin:`` section),
  第N期 and （总第M期）, the issuing office (the city's office) and the date.
- A contents list, then one article per district pilot, in the city's order: its headline
  figures for the period in a sentence or two and a small table (tasks done and on plan by
  list, key projects among them; indicators on course by level; escalations still open;
  reporting timeliness), then the district office's own account of its practice (经验做法,
  ``ledger/practice.py``) as it sent it. A district that sent none has its figures alone;
  nothing is written in its name.
- At the end, 分送, 责任编辑 (a role) and the 印发 date, between rules.

The figures are the city roll-up's (``reports/city.py``), computed by the same call, so a
pilot reads the same in both. The numbers come from a register kept per city
(``BulletinIssue``): a period written again keeps its numbers and its date; the next period
takes the next numbers (第N期 from 1 again in a new year); the first issue written here
takes the city file's ``first_number`` and ``first_total``, and an issue's numbers may be
given outright (the office's other issues come between). Same data, same numbers, same
files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from pilot_tracker import db, periods
from pilot_tracker.errors import ReportError
from pilot_tracker.ledger import cities, practice
from pilot_tracker.ledger.city_file import (
    MAX_BULLETIN_NUMBER,
    MAX_BULLETIN_TOTAL,
    BulletinSpec,
)
from pilot_tracker.models import BulletinIssue, City
from pilot_tracker.reports import city as city_report
from pilot_tracker.reports import documents
from pilot_tracker.reports.city import Absent, Pilot, share
from pilot_tracker.reports.writing import (
    Written,
    announcement,
    relative,
    sha256_of,
    write_pdf,
    write_text,
)

REPORT_NAME = "工作简报"  # in the files' names
KIND = "bulletin"


def day_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# --- what it says ----------------------------------------------------------------------------


@dataclass
class Article:
    """One district pilot's article: its figures, and its office's account where it sent
    one."""

    pilot: Pilot
    title: str
    summary: str
    rows: list[tuple[str, str]]
    account: practice.Account | None = None


@dataclass
class Issue:
    """An issue of the bulletin, as printed."""

    city: str
    city_name: str
    office: str
    name: str  # the masthead: 宁波市共青团工作简报
    column: str  # 经验交流
    period: str
    number: int
    total: int
    day: date
    distribution: list[str]
    editor: str
    articles: list[Article]
    absent: list[Absent] = field(default_factory=list)

    @property
    def period_label(self) -> str:
        return periods.label(self.period)

    @property
    def day_label(self) -> str:
        return day_label(self.day)

    @property
    def contents(self) -> list[str]:
        return [article.title for article in self.articles]

    @property
    def without_account(self) -> list[Pilot]:
        return [article.pilot for article in self.articles if article.account is None]


def summary(pilot: Pilot, period_label: str) -> str:
    """The pilot's headline figures for the period, in a sentence or two."""
    parts = []
    if pilot.tasks_active:
        on_plan = share(pilot.tasks_on_plan, pilot.tasks_active)
        parts.append(
            f"已开始任务{pilot.tasks_active}项，已完成{pilot.evaluation.totals['completed']}项，"
            f"按计划推进{pilot.tasks_on_plan}项（{on_plan:g}%）"
        )
    else:
        parts.append("尚无已开始的任务")
    if pilot.indicators_total:
        parts.append(
            f"主要发展指标{pilot.indicators_total}项中已达目标或正常推进"
            f"{pilot.indicators_on_course}项"
        )
    if pilot.reports_owed:
        parts.append(
            f"成员单位应报送{pilot.reports_owed}次、按时报送{pilot.reports_timely}次，"
            f"报送及时率{pilot.timeliness:g}%"
        )
    still = sum(line.still_open for line in pilot.escalations)
    parts.append(f"期末未结督办事项{still}件" if still else "期末无未结督办事项")
    return f"{period_label}，{pilot.short}" + "；".join(parts) + "。"


def rows(pilot: Pilot) -> list[tuple[str, str]]:
    """The article's small table: 事项 and 本期情况."""
    found = []
    for item in pilot.evaluation.lists:
        begun, on_plan = pilot.on_plan_by_list.get(item.kind, (0, 0))
        found.append(
            (
                item.label,
                f"完成{item.completed}/{item.tasks}项；已开始{begun}项，按计划推进{on_plan}项",
            )
        )
    for count in pilot.indicators:
        found.append(
            (
                count.label,
                f"已达目标或正常推进{count.on_course}/{count.total}项"
                + (f"，滞后{count.behind}项" if count.behind else "")
                + (f"，暂无数据{count.no_data}项" if count.no_data else ""),
            )
        )
    still = [line for line in pilot.escalations if line.still_open]
    found.append(
        (
            "期末未结督办",
            "、".join(f"{line.label}{line.still_open}件" for line in still) if still else "无",
        )
    )
    found.append(
        (
            "报送及时率",
            f"{pilot.timeliness:g}%（按时{pilot.reports_timely}次/应报送{pilot.reports_owed}次）"
            if pilot.timeliness is not None
            else "本期无应报送",
        )
    )
    return found


def article(pilot: Pilot, period_label: str, account: practice.Account | None) -> Article:
    title = (account.title if account else "") or f"{pilot.short}{period_label}推进情况"
    return Article(pilot, title, summary(pilot, period_label), rows(pilot), account)


# --- the register ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Numbers:
    """An issue's numbers and date."""

    number: int
    total: int
    day: date


def numbers(
    *,
    session: Session,
    city: City,
    spec: BulletinSpec,
    period: str,
    today: date,
    number: int | None = None,
    total: int | None = None,
) -> Numbers:
    """The numbers of the period's issue: the register's where it has the period (and no
    numbers are given), else the next after the last issue (第N期 from 1 in a new year),
    else the city file's first numbers; ``number`` and ``total`` where given, unless another
    period's issue has them."""
    for given, most, flag in (
        (number, MAX_BULLETIN_NUMBER, "--number"),
        (total, MAX_BULLETIN_TOTAL, "--total"),
    ):
        if given is not None and not 1 <= given <= most:
            raise ReportError(f"{flag} {given} is out of range; give 1 to {most}")
    issues = session.exec(select(BulletinIssue).where(BulletinIssue.city_id == city.id)).all()
    mine = next((issue for issue in issues if issue.period == period), None)
    if mine is not None and number is None and total is None:
        return Numbers(mine.number, mine.total, mine.issued_on)
    day = mine.issued_on if mine is not None else today
    others = [issue for issue in issues if issue.period != period]
    last = max(others, key=lambda issue: issue.total, default=None)
    if total is None:
        total = mine.total if mine else last.total + 1 if last else spec.first_total
    if number is None:
        if mine is not None:
            number = mine.number
        elif last is None:
            number = spec.first_number
        else:
            number = last.number + 1 if last.year == day.year else 1
    for issue in others:
        if issue.total == total:
            raise ReportError(
                f"总第{total}期 is the bulletin of {issue.period} already; "
                f"give another with --total (the last is {last.total if last else total})"
            )
        if issue.year == day.year and issue.number == number:
            raise ReportError(
                f"第{number}期 of {day.year} is the bulletin of {issue.period} already; "
                "give another with --number"
            )
    if total > MAX_BULLETIN_TOTAL or number > MAX_BULLETIN_NUMBER:
        raise ReportError(
            f"the register has run out of numbers (第{number}期, 总第{total}期); "
            "give the numbers with --number and --total"
        )
    return Numbers(number, total, day)


def register(*, session: Session, city: str) -> list[dict[str, Any]]:
    """The city's issues, by total number."""
    record = cities.get_city(session=session, code=city)
    issues = session.exec(
        select(BulletinIssue)
        .where(BulletinIssue.city_id == record.id)
        .order_by(BulletinIssue.total)  # type: ignore[arg-type]
    ).all()
    return [
        {
            "period": issue.period,
            "number": issue.number,
            "total": issue.total,
            "issued_on": issue.issued_on.isoformat(),
            "files": dict(issue.paths),
        }
        for issue in issues
    ]


# --- writing it -----------------------------------------------------------------------------


@dataclass
class BulletinWritten(Written):
    """What writing an issue wrote (``program`` holds the city's code): its numbers, the
    pilots without an account, and the pilots left out."""

    number: int = 0
    total: int = 0
    without_account: list[str] = field(default_factory=list)
    absent: list[Absent] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        found = super().as_dict()
        found["city"] = found.pop("program")
        found.pop("statements")
        found["number"] = self.number
        found["total"] = self.total
        found["without_account"] = self.without_account
        found["absent"] = [{"program": a.code, "why": a.why} for a in self.absent]
        return found


def bulletin_spec(record: City) -> BulletinSpec:
    if not record.bulletin:
        raise ReportError(
            f"the city {record.code} has no bulletin: add a bulletin: section (its name, "
            "column, 分送 and 责任编辑) to its city file and load it again "
            "(docs/reports.md, “The work bulletin”)"
        )
    return BulletinSpec.model_validate(record.bulletin)


def write(
    *,
    session: Session,
    city: str,
    period: str,
    folder: Path,
    home: Path,
    templates: Path,
    now: datetime,
    send: bool = True,
    number: int | None = None,
    total: int | None = None,
) -> BulletinWritten:
    """Write the city's bulletin for a quarter or a half year in Word, HTML and PDF, keep
    it in the register (its numbers, files and checksums), and queue it for the city league
    (``role:city``, ``role:leader``) and each district's office, once per period and
    recipient."""
    period = periods.quarter_or_half(period)
    record = cities.get_city(session=session, code=city)
    spec = bulletin_spec(record)
    today = city_report.begun(record, period, now)
    issued = numbers(
        session=session,
        city=record,
        spec=spec,
        period=period,
        today=today,
        number=number,
        total=total,
    )
    data = city_report.rollup(session=session, city=city, period=period)
    found = practice.accounts(
        session=session, programs=[pilot.code for pilot in data.pilots], period=period
    )
    issue = Issue(
        city=record.code,
        city_name=record.name,
        office=record.office,
        name=spec.name,
        column=spec.column,
        period=period,
        number=issued.number,
        total=issued.total,
        day=issued.day,
        distribution=list(spec.distribution),
        editor=spec.editor,
        articles=[
            article(pilot, data.period_label, found.get(pilot.code)) for pilot in data.pilots
        ],
        absent=data.absent,
    )
    written = BulletinWritten(
        KIND,
        city,
        period,
        folder,
        number=issue.number,
        total=issue.total,
        without_account=[pilot.code for pilot in issue.without_account],
        absent=data.absent,
    )
    db.release(session)  # printing takes seconds, and needs nothing more from the database
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{city}-{period}-{REPORT_NAME}"
    from pilot_tracker.reports.word import bulletin_document  # python-docx

    page = documents.html(
        templates, "reports/bulletin.html.j2", b=issue, generated=documents.stamp(issue.day)
    )
    written.files["html"] = write_text(folder / f"{base}.html", page)
    write_pdf(page, folder / f"{base}.pdf", written, "pdf", templates=templates)
    written.files["docx"] = bulletin_document(issue, folder / f"{base}.docx")
    _record(session, record, issue, written, home, now)
    if send:
        written.queued += _announce(session, issue, written, home, now)
    return written


def _record(
    session: Session, city: City, issue: Issue, written: BulletinWritten, home: Path, now: datetime
) -> None:
    """Keep the issue in the register, with its files and their sha256."""
    row = session.exec(
        select(BulletinIssue).where(
            BulletinIssue.city_id == city.id, BulletinIssue.period == issue.period
        )
    ).first() or BulletinIssue(city_id=city.id, period=issue.period)  # type: ignore[arg-type]
    row.year, row.number, row.total, row.issued_on = (
        issue.day.year,
        issue.number,
        issue.total,
        issue.day,
    )
    row.formats = sorted(written.files)
    row.paths = {key: relative(path, home) for key, path in written.files.items()}
    row.sha256 = {key: sha256_of(path) for key, path in written.files.items()}
    row.generated_at = now
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise ReportError(
            f"another bulletin of {city.code} took 第{issue.number}期 or 总第{issue.total}期 "
            "while this one was written; write it again"
        ) from None


def dedup_key(city: str, period: str, recipient: str) -> str:
    """The outbox key of an issue's message: ``city``, ``leader`` or ``office:<program>``."""
    return f"bulletin:{city}:{period}:{recipient}"


def _announce(
    session: Session, issue: Issue, written: BulletinWritten, home: Path, now: datetime
) -> int:
    attachments, body = announcement(
        written,
        home,
        f"{issue.name}（{issue.column}）第{issue.number}期（总第{issue.total}期），"
        f"{issue.office}{issue.day_label}编印。本期目录：\n"
        + "\n".join(f"{place}. {title}" for place, title in enumerate(issue.contents, start=1)),
    )
    return city_report.send_to_city(
        session,
        city=issue.city,
        programs=[article.pilot.code for article in issue.articles],
        key=lambda recipient: dedup_key(issue.city, issue.period, recipient),
        subject=f"【工作简报】{issue.name}第{issue.number}期（总第{issue.total}期）",
        attachments=attachments,
        body=body,
        now=now,
    )
