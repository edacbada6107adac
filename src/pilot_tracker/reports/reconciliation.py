"""The quarterly reconciliation (季度对账): the office's summary and each unit's statement
(对账单), written and sent; and a unit's answer to its statement (confirmed or disputed).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from sqlmodel import Session, col, select

from pilot_tracker import db, periods
from pilot_tracker.alerts import outbox
from pilot_tracker.errors import ReportError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.links import Links, program_units
from pilot_tracker.ledger.program_file import short_name
from pilot_tracker.models import (
    LABELS,
    Channel,
    ConfirmationStatus,
    DocumentKind,
    Reconciliation,
    Unit,
)
from pilot_tracker.reports import documents, figures
from pilot_tracker.reports.figures import NOT_CONFIRMED, parse_quarter
from pilot_tracker.reports.writing import (
    Written,
    announce,
    check_period,
    fix_dates,
    note_under,
    record_document,
    relative,
    sources_sheet,
    write_pdf,
    write_text,
)
from pilot_tracker.spreadsheet import print_ready, save_atomically, write_table

# The key of the Word file of every unit's statement, among a quarter's files.
STATEMENTS_DOCX = "statements_docx"


def write(
    *,
    session: Session,
    program: str,
    quarter: str,
    folder: Path,
    home: Path,
    templates: Path,
    now: datetime,
    send: bool = True,
    links: Links | None = None,
) -> Written:
    """Write the reconciliation of a quarter: summary and statements; queue their delivery.

    Each unit's statement, and its message, carry the unit's personal link (``links``), to
    confirm or dispute it on the portal; the summary for the office and the leaders, which
    holds every statement, carries none.
    """
    quarter = parse_quarter(quarter)
    check_period(session=session, program=program, period=quarter, now=now)
    end = periods.bounds(quarter)[1]
    snapshot = figures.load(session=session, program=program, as_of=end, quarter=quarter)
    data = figures.quarterly(snapshot, quarter)
    written = Written(DocumentKind.QUARTERLY.value, program, quarter, folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{program}-{quarter}-季度对账"
    record = store.get_program(session=session, code=program)
    own: dict[str, dict[str, str]] = {}
    if links is not None:
        own = {
            unit.code: outbox.link_context(links.issue(program=record, unit=unit, now=now), record)
            for unit in program_units(session=session, program=record)
        }
    db.release(session)  # printing takes seconds, and needs nothing more from the database
    context = {
        "q": data,
        "generated": documents.stamp(end),
        "unit_links": {},
        "linked": links is not None,
    }
    from pilot_tracker.reports import word  # python-docx: only when a report is written

    issuer = word.program_issuer(record)
    # The summary carries the issuer's particulars; the statements cut from it, or printed
    # apart with their links, are the units' own pages.
    page = documents.html(
        templates, "reports/quarterly.html.j2", **context, gongwen=issuer.page(end.year)
    )
    written.files["html"] = write_text(folder / f"{base}.html", page)
    anchors = [f"statement-{statement.unit}" for statement in data.statements]
    ranges = write_pdf(page, folder / f"{base}.pdf", written, "pdf", anchors, templates)
    written.files["xlsx"] = _quarterly_workbook(data, folder / f"{base}.xlsx", end)
    written.files["docx"] = word.quarterly_document(data, folder / f"{base}.docx", issuer)
    written.files[STATEMENTS_DOCX] = word.statements_document(
        data, folder / f"{program}-{quarter}-对账单.docx", issuer, linked=links is not None
    )
    _statements(data, written, ranges, anchors, templates, {**context, "unit_links": own})
    record_document(session, written, home, now)
    if send:
        subject_base = f"【季度对账】{short_name(data.name)} · {quarter[:4]}年第{quarter[-1]}季度"
        summary = (
            f"{data.name}{quarter[:4]}年第{quarter[-1]}季度对账汇总已生成：牵头任务{data.totals['tasks']}项，"
            f"报送完成{data.totals['done']}项，按期完成{data.totals['on_time']}项，"
            f"需核实问题{data.totals['discrepancies']}处，{data.totals['confirmed']}个单位已确认。"
        )
        written.queued += announce(session, written, home, now, subject_base, summary)
        messages = outbox.Templates(templates)
        for statement in data.statements:
            if not statement.rows:
                continue
            subject, body = messages.render(
                "alerts/statement.txt.j2",
                q=data,
                s=statement,
                short=short_name(data.name),
                link=own.get(statement.unit),
            )
            queued = outbox.enqueue(
                session=session,
                program_id=record.id,
                dedup_key=f"statement:{program}:{quarter}:{statement.unit}",
                target=outbox.liaison_of(statement.unit),
                subject=subject,
                body=body,
                now=now,
                attachments=[relative(written.statements[statement.unit], home)],
            )
            written.queued += queued is not None
    return written


def _statements(
    data: figures.Quarterly,
    written: Written,
    ranges: dict[str, tuple[int, int]],
    anchors: list[str],
    templates: Path,
    context: dict[str, Any],
) -> None:
    """Each unit's statement as a file of its own: its pages cut out of the summary's PDF;
    with the units' links, cut out of a PDF of the statements alone, each with its own
    unit's link, printed once and removed; as HTML where no PDF could be printed."""
    source = written.files.get("pdf")
    whole = written.folder / f".{data.program}-{data.quarter}-对账单.pdf"
    try:
        if source is not None and context["unit_links"]:
            page = documents.html(templates, "reports/statements.html.j2", **context)
            try:
                ranges, source = documents.pdf(page, whole, anchors, assets=templates), whole
            except ReportError as error:
                written.problems.append(f"statements' PDF not written: {error}")
                source = None
        cut: dict[Path, tuple[int, int]] = {}
        for statement in data.statements:
            # Each unit's statement is cut out of a whole, not printed again.
            name = f"{data.program}-{data.quarter}-对账单-{statement.unit}"
            pages = ranges.get(f"statement-{statement.unit}")
            if source is not None and pages is not None:
                path = written.folder / f"{name}.pdf"
                cut[path] = pages
            else:
                single = documents.html(
                    templates, "reports/statement_only.html.j2", s=statement, **context
                )
                path = write_text(written.folder / f"{name}.html", single)
            written.statements[statement.unit] = path
        if source is not None and cut:
            documents.split_pdf(source, cut)
    finally:  # it holds every unit's link: it never stays
        whole.unlink(missing_ok=True)


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
                line.confirmation_label,
                line.note,
            ]
            for line in data.lines
        ],
    )
    note_under(summary, data.calendar_note)
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
            [s.unit, s.name, r.task, r.title, r.role, r.due, r.status_label, r.percent, r.history]
            for s in data.statements
            for r in s.rows
        ],
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
    )
    sources_sheet(workbook, [(s.unit, s.name, s.submissions) for s in data.statements])
    print_ready(workbook, title=data.name, period=f"{periods.label(data.quarter)}对账")
    fix_dates(workbook, day)
    save_atomically(workbook, path)
    return path


def reconcile(
    *,
    session: Session,
    program: str,
    quarter: str,
    unit: str,
    status: ConfirmationStatus,
    note: str,
    now: datetime,
    via: Channel = Channel.CLI,
) -> dict[str, Any]:
    """Record a unit's answer to its quarterly statement, and how it came (typed in by the
    office, or sent by the unit through its page). A later answer supersedes an earlier
    one; both are kept."""
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
            via=via.value,
        )
    )
    session.flush()
    return {
        "program": program,
        "quarter": quarter,
        "unit": unit,
        "status": status.value,
        "note": note,
    }


def answers(*, session: Session, program: str, quarter: str) -> list[dict[str, Any]]:
    """Each unit's answer to its statement of a quarter, in the ledger's order: the one that
    stands (the latest: status, when, how, note) and how many it superseded; a unit that
    has not answered has status None."""
    quarter = parse_quarter(quarter)
    record = store.get_program(session=session, code=program)
    latest: dict[int, tuple[Reconciliation, int]] = {}
    for answer in session.exec(
        select(Reconciliation)
        .where(Reconciliation.program_id == record.id, Reconciliation.quarter == quarter)
        .order_by(col(Reconciliation.id))
    ).all():
        before = latest.get(answer.unit_id, (answer, -1))[1]
        latest[answer.unit_id] = (answer, before + 1)
    found = []
    for unit in session.exec(
        select(Unit).where(Unit.program_id == record.id).order_by(col(Unit.position), col(Unit.id))
    ).all():
        answer, superseded = latest.get(unit.id, (None, 0))  # type: ignore[arg-type]
        found.append(
            {
                "unit": unit.code,
                "name": unit.name,
                "status": answer.status if answer else None,
                "label": LABELS[ConfirmationStatus][answer.status] if answer else NOT_CONFIRMED,
                "recorded_at": db.stored_moment(answer.recorded_at).isoformat()
                if answer and answer.recorded_at
                else None,
                "via": answer.via if answer else None,
                "note": answer.note if answer else "",
                "superseded": superseded,
            }
        )
    return found
