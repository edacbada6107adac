"""Reports: the quarterly reconciliation (季度对账) and the half-year evaluation (半年度评估).

Figures come from stored reports only (``figures``); each report is written as
self-contained HTML, PDF, XLSX and (the evaluation) DOCX, recorded with the sha256 of each
file, and put into the outbox for the office, the leaders and, for a reconciliation, each
unit's liaison.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from sqlmodel import Session, select

from pilot_tracker import periods
from pilot_tracker.alerts import outbox
from pilot_tracker.alerts.outbox import short_name
from pilot_tracker.errors import ReportError
from pilot_tracker.ledger import store
from pilot_tracker.models import (
    ConfirmationStatus,
    Reconciliation,
    Report,
    ReportKind,
    Unit,
)
from pilot_tracker.reports import charts, documents, figures
from pilot_tracker.reports.figures import parse_half, parse_quarter
from pilot_tracker.reports.word import evaluation_document
from pilot_tracker.spreadsheet import put, save_atomically, write_table

__all__ = [
    "ReportError",
    "Written",
    "half_year",
    "parse_half",
    "parse_quarter",
    "quarterly",
    "write",
]


@dataclass
class Written:
    """What one report run wrote, and where."""

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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _relative(path: Path, home: Path) -> str:
    try:
        return str(path.resolve().relative_to(home.resolve()))
    except ValueError:
        return str(path.resolve())


def _pdf(
    document: str,
    path: Path,
    written: Written,
    key: str,
    sections: list[str] | None = None,
    templates: Path | None = None,
) -> dict[str, tuple[int, int]]:
    try:
        ranges = documents.pdf(document, path, sections or [], assets=templates)
    except ReportError as error:
        written.problems.append(f"PDF not written: {error}")
        return {}
    written.files[key] = path
    return ranges


# --- the quarterly reconciliation ----------------------------------------------------------


def quarterly(
    *,
    session: Session,
    program: str,
    quarter: str,
    folder: Path,
    home: Path,
    templates: Path,
    now: datetime,
    send: bool = True,
) -> Written:
    """Write the reconciliation of a quarter: summary and statements; queue their delivery."""
    quarter = parse_quarter(quarter)
    check_period(session=session, program=program, period=quarter, now=now)
    end = periods.bounds(quarter)[1]
    snapshot = figures.load(session=session, program=program, as_of=end, quarter=quarter)
    data = figures.quarterly(snapshot, quarter)
    written = Written(ReportKind.QUARTERLY.value, program, quarter, folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{program}-{quarter}-季度对账"
    context = {"q": data, "generated": documents.stamp(end)}
    page = documents.html(templates, "reports/quarterly.html.j2", **context)
    written.files["html"] = _write_text(folder / f"{base}.html", page)
    anchors = [f"statement-{statement.unit}" for statement in data.statements]
    ranges = _pdf(page, folder / f"{base}.pdf", written, "pdf", anchors, templates)
    written.files["xlsx"] = _quarterly_workbook(data, folder / f"{base}.xlsx", end)
    for statement in data.statements:
        # Each unit's statement is cut out of the whole, not printed again.
        name = f"{program}-{quarter}-对账单-{statement.unit}"
        pages = ranges.get(f"statement-{statement.unit}")
        if pages is not None:
            path = folder / f"{name}.pdf"
            documents.split_pdf(written.files["pdf"], pages, path)
        else:
            single = documents.html(
                templates,
                "reports/statement_only.html.j2",
                q=data,
                s=statement,
                **{"generated": context["generated"]},
            )
            path = _write_text(folder / f"{name}.html", single)
        written.statements[statement.unit] = path
    _record(session, written, home, now)
    if send:
        subject_base = f"【季度对账】{short_name(data.name)} · {quarter[:4]}年第{quarter[-1]}季度"
        summary = (
            f"{data.name}{quarter[:4]}年第{quarter[-1]}季度对账汇总已生成：牵头任务{data.totals['tasks']}项，"
            f"报送完成{data.totals['done']}项，按期完成{data.totals['on_time']}项，"
            f"需核实问题{data.totals['discrepancies']}处，{data.totals['confirmed']}个单位已确认。"
        )
        written.queued += _announce(session, written, home, now, subject_base, summary)
        for statement in data.statements:
            if not statement.rows:
                continue
            body = (
                f"{statement.name}联络员：\n\n附件为贵单位{quarter[:4]}年第{quarter[-1]}季度任务对账单，"
                f"列有{len(statement.rows)}项任务的报送情况和{len(statement.discrepancies)}处需核实的问题。"
                "请核对后回复确认或提出异议。\n\n"
                + "\n".join(
                    f"{n}. {d.text}" for n, d in enumerate(statement.discrepancies, start=1)
                )
                + f"\n\n{data.name}工作专班"
            )
            queued = outbox.enqueue(
                session=session,
                program_id=_program_id(session, program),
                dedup_key=f"statement:{program}:{quarter}:{statement.unit}",
                target=f"unit:{statement.unit} role:liaison",
                subject=f"【对账单】{short_name(data.name)} · {statement.name} · {quarter}",
                body=outbox.neutralise(body),
                now=now,
                attachments=[_relative(written.statements[statement.unit], home)],
            )
            written.queued += queued is not None
    return written


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
) -> Written:
    """Either report by its kind (``quarterly`` or ``half_year``) and period."""
    common = {
        "session": session,
        "program": program,
        "folder": folder,
        "home": home,
        "templates": templates,
        "now": now,
        "send": send,
    }
    if kind == ReportKind.QUARTERLY.value:
        return quarterly(quarter=period, **common)
    if kind == ReportKind.HALF_YEAR.value:
        return half_year(half=period, **common)
    raise ReportError(f'no report of the kind "{kind}"; the kinds are quarterly and half_year')


def _quarterly_workbook(data: figures.Quarterly, path: Path, day: date) -> Path:
    workbook = openpyxl.Workbook()
    summary = workbook.active
    summary.title = "对账汇总"
    write_table(
        summary,
        [
            "单位编号",
            "成员单位",
            "牵头任务",
            "报送完成",
            "按期完成",
            "预警",
            "未结督办",
            "对账确认",
            "备注",
        ],
        [
            [
                line.unit,
                line.name,
                line.tasks,
                line.done,
                line.on_time,
                line.flags,
                line.open_escalations,
                line.confirmation,
                line.note,
            ]
            for line in data.lines
        ],
        widths=[10, 24, 10, 10, 10, 8, 10, 10, 30],
    )
    _note(summary, data.calendar_note)
    details = workbook.create_sheet("任务明细")
    write_table(
        details,
        [
            "单位编号",
            "成员单位",
            "任务编号",
            "任务名称",
            "承担",
            "完成时限",
            "最新状态",
            "进度%",
            "本季度报送",
        ],
        [
            [s.unit, s.name, r.task, r.title, r.role, r.due, r.status, r.percent, r.history]
            for s in data.statements
            for r in s.rows
        ],
        widths=[10, 20, 12, 44, 6, 12, 10, 8, 40],
    )
    issues = workbook.create_sheet("需核实问题")
    write_table(
        issues,
        ["单位编号", "成员单位", "任务编号", "问题类型", "说明"],
        [
            [s.unit, s.name, d.task, d.kind, d.text]
            for s in data.statements
            for d in s.discrepancies
        ],
        widths=[10, 20, 12, 12, 70],
    )
    _sources(workbook, [(s.unit, s.name, s.submissions) for s in data.statements])
    _fix_dates(workbook, day)
    save_atomically(workbook, path)
    return path


# --- the half-year evaluation --------------------------------------------------------------


def half_year(
    *,
    session: Session,
    program: str,
    half: str,
    folder: Path,
    home: Path,
    templates: Path,
    now: datetime,
    send: bool = True,
) -> Written:
    """Write the half-year evaluation in all four formats; queue its delivery."""
    half = parse_half(half)
    check_period(session=session, program=program, period=half, now=now)
    end = periods.bounds(half)[1]
    snapshot = figures.load(session=session, program=program, as_of=end)
    data = figures.evaluation(snapshot, half)
    written = Written(ReportKind.HALF_YEAR.value, program, half, folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{program}-{half}-半年度评估"
    page = documents.html(
        templates,
        "reports/half_year.html.j2",
        e=data,
        chart_lists=charts.completion_by_list(data),
        chart_map=charts.battle_map(data),
        generated=documents.stamp(end),
    )
    written.files["html"] = _write_text(folder / f"{base}.html", page)
    _pdf(page, folder / f"{base}.pdf", written, "pdf", templates=templates)
    written.files["xlsx"] = _evaluation_workbook(data, snapshot, folder / f"{base}.xlsx", end)
    written.files["docx"] = evaluation_document(data, folder / f"{base}.docx", end)
    _record(session, written, home, now)
    if send:
        label = f"{half[:4]}年{'上' if half.endswith('1') else '下'}半年"
        subject = f"【半年度评估】{short_name(data.name)} · {label}评估报告"
        written.queued += _announce(session, written, home, now, subject, "\n".join(data.narrative))
    return written


def _evaluation_workbook(
    data: figures.Evaluation, snapshot: figures.Snapshot, path: Path, day: date
) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "单位评分"
    write_table(
        sheet,
        [
            "排名",
            "单位编号",
            "成员单位",
            "完成进度",
            "报送及时",
            "指标达成",
            "佐证材料",
            "综合得分",
        ],
        [
            [s.rank, s.unit, s.name, s.completion, s.timeliness, s.indicators, s.evidence, s.score]
            for s in data.scores
        ],
        widths=[6, 10, 24, 10, 10, 10, 10, 10],
    )
    _note(sheet, data.calendar_note)
    write_table(
        workbook.create_sheet("清单进度"),
        ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
        [[i.label, i.tasks, i.completed, i.average, i.planned] for i in data.lists],
        widths=[14, 8, 8, 10, 10],
    )
    write_table(
        workbook.create_sheet("主要指标"),
        [
            "指标编号",
            "指标名称",
            "层级",
            "计量单位",
            "基期值",
            "基期年份",
            "最新值",
            "统计时点",
            "目标值",
            "目标年份",
            "按计划应达",
            "进程%",
            "状态",
        ],
        [
            [
                i.code,
                i.name,
                i.level,
                i.measure,
                i.baseline,
                i.baseline_year,
                i.latest,
                i.latest_as_of,
                i.target,
                i.target_year,
                i.expected,
                i.progress,
                i.status,
            ]
            for i in data.indicators
        ],
        widths=[10, 30, 10, 8, 8, 8, 8, 12, 8, 8, 10, 8, 10],
    )
    write_table(
        workbook.create_sheet("督办情况"),
        ["事项", "单位编号", "成员单位", "启动日期", "关闭日期"],
        [
            [e["level_label"], e["unit"], e["name"], e["opened"], e["closed"]]
            for e in data.escalations
        ],
        widths=[10, 10, 24, 12, 12],
    )
    write_table(
        workbook.create_sheet("六有"),
        ["要求", "情况", "对应任务"],
        [
            [item.label, item.state, "；".join(f"{c} {t}（{s}）" for c, t, s in item.tasks)]
            for item in data.six_has
        ],
        widths=[10, 10, 90],
    )
    write_table(
        workbook.create_sheet("挂图作战"),
        ["单位编号", "成员单位", *[f"{int(m[-2:])}月" for m in data.months]],
        [[code, name, *[percent for percent, _ in cells]] for code, name, cells in data.heat],
        widths=[10, 24, *[8] * len(data.months)],
    )
    by_unit: dict[str, set[str]] = {}
    for entry in snapshot.entries:
        if data.start <= entry.reported_on <= data.end:
            by_unit.setdefault(entry.unit, set()).add(entry.sha256)
    _sources(
        workbook,
        [
            (unit.code, unit.name, sorted(by_unit.get(unit.code, ())))
            for unit in snapshot.spec.units
        ],
    )
    _fix_dates(workbook, day)
    save_atomically(workbook, path)
    return path


# --- shared --------------------------------------------------------------------------------


def _note(sheet: Any, note: str) -> None:
    """A note under a sheet's table (text, never a formula)."""
    if note:
        put(sheet, sheet.max_row + 2, 1, note)


def _sources(workbook: Any, rows: list[tuple[str, str, list[str]]]) -> None:
    """Every unit's line traced to the submissions behind it, by their sha256."""
    write_table(
        workbook.create_sheet("数据来源"),
        ["单位编号", "成员单位", "报送文件 SHA-256"],
        [[unit, name, sha] for unit, name, shas in rows for sha in shas],
        widths=[10, 24, 70],
    )


def _fix_dates(workbook: Any, day: date) -> None:
    stamp = datetime(day.year, day.month, day.day)
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.creator = "pilot-tracker"


def _write_text(path: Path, text: str) -> Path:
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def _program_id(session: Session, code: str) -> int | None:
    return store.get_program(session=session, code=code).id


def _record(session: Session, written: Written, home: Path, now: datetime) -> None:
    session.add(
        Report(
            program_id=_program_id(session, written.program),  # type: ignore[arg-type]
            kind=written.kind,
            period=written.period,
            formats=sorted(written.files),
            paths={kind: _relative(path, home) for kind, path in written.files.items()},
            sha256={kind: _sha256(path) for kind, path in written.files.items()},
            generated_at=now,
        )
    )
    session.flush()


def _announce(
    session: Session, written: Written, home: Path, now: datetime, subject: str, summary: str
) -> int:
    """The report for the office and the leaders: once per period and recipient."""
    attachments = [
        _relative(written.files[kind], home)
        for kind in ("pdf", "xlsx", "docx")
        if kind in written.files
    ]
    where = "、".join(Path(path).name for path in attachments) or written.files["html"].name
    body = (
        f"{summary}\n\n报告文件：{where}\n存放位置：{written.folder}\n"
        "（邮件附有报告文件；其他渠道请到上述位置查阅。）"
    )
    queued = 0
    for role in ("office", "leader"):
        item = outbox.enqueue(
            session=session,
            program_id=_program_id(session, written.program),
            dedup_key=f"report:{written.program}:{written.kind}:{written.period}:{role}",
            target=f"role:{role}",
            subject=subject,
            body=outbox.neutralise(body),
            now=now,
            attachments=attachments,
        )
        queued += item is not None
    return queued


def reconcile(
    *,
    session: Session,
    program: str,
    quarter: str,
    unit: str,
    status: ConfirmationStatus,
    note: str,
    now: datetime,
) -> dict[str, Any]:
    """Record a unit's answer to its quarterly statement."""
    quarter = parse_quarter(quarter)
    check_period(session=session, program=program, period=quarter, now=now)
    record = store.get_program(session=session, code=program)
    unit_row = session.exec(
        select(Unit).where(Unit.program_id == record.id, Unit.code == unit)
    ).first()
    if unit_row is None:
        raise ReportError(f'no unit "{unit}" in program {program}')
    note = " ".join(note.split())[:2000]
    if status is ConfirmationStatus.DISPUTED and not note:
        raise ReportError('say what is disputed: --note "..."')
    session.add(
        Reconciliation(
            program_id=record.id,  # type: ignore[arg-type]
            unit_id=unit_row.id,  # type: ignore[arg-type]
            quarter=quarter,
            status=status.value,
            note=note,
            recorded_at=now,
        )
    )
    return {
        "program": program,
        "quarter": quarter,
        "unit": unit,
        "status": status.value,
        "note": note,
    }
