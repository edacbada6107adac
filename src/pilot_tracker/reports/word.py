"""The half-year evaluation as a Word document an office can edit.

Fonts are named as official documents name them (方正小标宋简体 for the title, 黑体 for
headings, 仿宋_GB2312 for the body); Word falls back to a font it has where one is missing.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from pilot_tracker.reports.figures import Evaluation
from pilot_tracker.spreadsheet import ILLEGAL_CHARACTERS_RE

TITLE_FONT = "方正小标宋简体"
HEADING_FONT = "黑体"
BODY_FONT = "仿宋_GB2312"
LATIN_FONT = "Times New Roman"


def _clean(text: Any) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", "" if text is None else str(text))


def _font(run: Any, name: str, size: float, bold: bool = False) -> None:
    run.font.name = LATIN_FONT
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _paragraph(
    document: Any,
    text: str,
    *,
    font: str = BODY_FONT,
    size: float = 14,
    indent: bool = True,
    center: bool = False,
    bold: bool = False,
) -> None:
    paragraph = document.add_paragraph()
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if indent:
        paragraph.paragraph_format.first_line_indent = Pt(size * 2)
    _font(paragraph.add_run(_clean(text)), font, size, bold)


def _heading(document: Any, text: str) -> None:
    heading = document.add_heading(level=2)
    _font(heading.add_run(_clean(text)), HEADING_FONT, 15)


def _table(document: Any, headers: list[str], rows: list[list[Any]]) -> None:
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        _font(cell.paragraphs[0].add_run(header), HEADING_FONT, 10.5)
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            shown = "—" if value is None else (f"{value:g}" if isinstance(value, float) else value)
            _font(cell.paragraphs[0].add_run(_clean(shown)), BODY_FONT, 10.5)


def evaluation_document(data: Evaluation, path: Path, day: date) -> Path:
    document = Document()
    document.core_properties.created = datetime(day.year, day.month, day.day)
    document.core_properties.modified = datetime(day.year, day.month, day.day)
    document.core_properties.author = "pilot-tracker"
    document.core_properties.title = f"{data.name} {data.half} 半年度评估"
    half = "上" if data.half.endswith("1") else "下"
    _paragraph(document, data.name, font=TITLE_FONT, size=22, indent=False, center=True)
    _paragraph(
        document,
        f"{data.half[:4]}年{half}半年评估报告",
        font=TITLE_FONT,
        size=16,
        indent=False,
        center=True,
    )
    if data.calendar_note:
        _paragraph(document, data.calendar_note, indent=False)

    _heading(document, "一、总体评价")
    for line in data.narrative:
        _paragraph(document, line)

    _heading(document, "二、任务清单推进情况")
    _table(
        document,
        ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
        [[i.label, i.tasks, i.completed, i.average, i.planned] for i in data.lists],
    )
    if data.extensions:
        _paragraph(
            document,
            f"经批准延期的任务{len(data.extensions)}项，以下按延期后的完成时限评估：",
        )
        _table(
            document,
            ["任务编号", "任务名称", "牵头单位", "原定完成时限", "延期至"],
            [
                [x.task, x.title, x.unit, x.original_due.isoformat(), x.due.isoformat()]
                for x in data.extensions
            ],
        )

    _heading(document, "三、主要发展指标完成情况")
    if data.indicators:
        _table(
            document,
            ["编号", "指标名称", "层级", "基期值", "最新值", "目标值", "状态"],
            [
                [
                    i.code,
                    i.name,
                    i.level_label,
                    i.baseline,
                    i.latest,
                    i.target,
                    i.status_label,
                ]
                for i in data.indicators
            ],
        )
    else:
        _paragraph(document, "本试点未设置主要发展指标。")

    _heading(document, "四、成员单位评分与排名")
    w = data.weights
    _paragraph(
        document,
        f"权重：完成进度{w['completion']:g}、报送及时{w['timeliness']:g}、"
        f"指标达成{w['indicators']:g}、佐证材料{w['evidence']:g}。",
    )
    _table(
        document,
        ["排名", "成员单位", "完成进度", "报送及时", "指标达成", "佐证材料", "综合得分"],
        [
            [s.rank, s.name, s.completion, s.timeliness, s.indicators, s.evidence, s.score]
            for s in data.scores
        ],
    )

    _heading(document, "五、滞后单位与督办情况")
    if data.escalations:
        _table(
            document,
            ["事项", "成员单位", "启动日期", "关闭日期", "签收"],
            [
                [
                    e["level_label"],
                    e["name"],
                    e["opened"].isoformat(),
                    e["closed"].isoformat() if e["closed"] else "未结",
                    e.get("receipt") or "—",
                ]
                for e in data.escalations
            ],
        )
    else:
        _paragraph(document, "本半年没有督办事项。")

    _heading(document, "六、“六有”建设情况")
    _table(
        document,
        ["要求", "情况", "对应任务"],
        [
            [
                item.label,
                item.state_label,
                "；".join(f"{c} {t}（{s}）" for c, t, s in item.shown_tasks) or "暂无对应任务",
            ]
            for item in data.six_has
        ],
    )
    temporary = path.with_name(f".{path.name}.part")
    document.save(str(temporary))
    temporary.replace(path)
    return path
