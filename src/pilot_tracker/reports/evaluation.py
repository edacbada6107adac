"""The half-year evaluation (半年度评估): HTML, PDF, XLSX and DOCX, written and sent."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
from sqlmodel import Session

from pilot_tracker import db, periods
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import short_name
from pilot_tracker.models import DocumentKind
from pilot_tracker.reports import charts, documents, figures
from pilot_tracker.reports.figures import parse_half
from pilot_tracker.reports.word import evaluation_document, program_issuer
from pilot_tracker.reports.writing import (
    Written,
    announce,
    check_period,
    fix_dates,
    note_under,
    record_document,
    sources_sheet,
    write_pdf,
    write_text,
)
from pilot_tracker.spreadsheet import print_ready, save_atomically, write_table


def write(
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
    written = Written(DocumentKind.HALF_YEAR.value, program, half, folder)
    issuer = program_issuer(store.get_program(session=session, code=program))
    db.release(session)  # printing takes seconds, and needs nothing more from the database
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{program}-{half}-半年度评估"
    page = documents.html(
        templates,
        "reports/half_year.html.j2",
        e=data,
        chart_lists=charts.completion_by_list(data),
        chart_map=charts.battle_map(data),
        generated=documents.stamp(end),
        gongwen=issuer.page(end.year),
    )
    written.files["html"] = write_text(folder / f"{base}.html", page)
    write_pdf(page, folder / f"{base}.pdf", written, "pdf", templates=templates)
    written.files["xlsx"] = _evaluation_workbook(data, snapshot, folder / f"{base}.xlsx", end)
    written.files["docx"] = evaluation_document(data, folder / f"{base}.docx", end, issuer)
    record_document(session, written, home, now)
    if send:
        label = f"{half[:4]}年{'上' if half.endswith('1') else '下'}半年"
        subject = f"【半年度评估】{short_name(data.name)} · {label}评估报告"
        written.queued += announce(session, written, home, now, subject, "\n".join(data.narrative))
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
    )
    note_under(sheet, data.calendar_note)
    write_table(
        workbook.create_sheet("清单进度"),
        ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
        [[i.label, i.tasks, i.completed, i.average, i.planned] for i in data.lists],
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
                i.level_label,
                i.measure,
                i.baseline,
                i.baseline_year,
                i.latest,
                i.latest_as_of,
                i.target,
                i.target_year,
                i.expected,
                i.progress,
                i.status_label,
            ]
            for i in data.indicators
        ],
    )
    write_table(
        workbook.create_sheet("督办情况"),
        ["事项", "单位编号", "成员单位", "启动日期", "关闭日期", "签收"],
        [
            [
                e["level_label"],
                e["unit"],
                e["name"],
                e["opened"],
                e["closed"],
                e.get("receipt") or "—",
            ]
            for e in data.escalations
        ],
    )
    write_table(
        workbook.create_sheet("六有"),
        ["要求", "情况", "对应任务"],
        [
            [
                item.label,
                item.state_label,
                "；".join(f"{c} {t}（{s}）" for c, t, s in item.shown_tasks),
            ]
            for item in data.six_has
        ],
    )
    write_table(
        workbook.create_sheet("挂图作战"),
        ["单位编号", "成员单位", *[f"{int(m[-2:])}月" for m in data.months]],
        [[code, name, *[percent for percent, _ in cells]] for code, name, cells in data.heat],
    )
    by_unit: dict[str, set[str]] = {}
    for report in snapshot.status_reports:
        if data.start <= report.reported_on <= data.end:
            by_unit.setdefault(report.unit, set()).add(report.submission)
    sources_sheet(
        workbook,
        [
            (unit.code, unit.name, sorted(by_unit.get(unit.code, ())))
            for unit in snapshot.spec.units
        ],
    )
    print_ready(workbook, title=data.name, period=f"{periods.label(data.half)}评估")
    fix_dates(workbook, day)
    save_atomically(workbook, path)
    return path
