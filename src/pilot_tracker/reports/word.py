"""The half-year evaluation, the annual blue book and a city's roll-up as Word documents an
office can edit.

Fonts are named as official documents name them (方正小标宋简体 for the title, 黑体 for
headings, 仿宋_GB2312 for the body); Word falls back to a font it has where one is missing.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from pilot_tracker.reports import charts
from pilot_tracker.reports.charts import SERIES_LEGEND, number
from pilot_tracker.reports.figures import Evaluation
from pilot_tracker.spreadsheet import ILLEGAL_CHARACTERS_RE

if TYPE_CHECKING:
    from pilot_tracker.reports.blue_book import BlueBook, IndicatorYear
    from pilot_tracker.reports.city import CityRollup

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


def _heading(document: Any, text: str, level: int = 2) -> None:
    heading = document.add_heading(level=level)
    _font(heading.add_run(_clean(text)), HEADING_FONT, 15 if level <= 2 else 14)


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


# --- the annual blue book -------------------------------------------------------------------

CHINESE_NUMERALS = "一二三四五六七八九十"


def _save(document: Any, path: Path, day: date) -> Path:
    """Save the document whole or not at all, every part dated ``day``: the same book
    gives the same bytes, run after run."""
    buffer = io.BytesIO()
    document.save(buffer)
    stamp = (day.year, day.month, day.day, 0, 0, 0)
    temporary = path.with_name(f".{path.name}.part")
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            part = zipfile.ZipInfo(item.filename, date_time=stamp)
            part.compress_type = zipfile.ZIP_DEFLATED
            part.external_attr = item.external_attr
            target.writestr(part, source.read(item.filename))
    temporary.replace(path)
    return path


def _with_measure(value: float | None, measure: str, year: int | date | None = None) -> str:
    if value is None:
        return "暂无数据"
    shown = f"{number(value)}{measure}"
    if isinstance(year, date):
        return f"{shown}（{year.isoformat()}）"
    return f"{shown}（{year}年）" if year else shown


def caption(indicator: IndicatorYear, year: int) -> str:
    """What the lines of an indicator's chart are (the picture itself holds only figures)."""
    m = indicator.measure
    return (
        f"{indicator.code} {indicator.name}：{year}年读数。横轴为月份。"
        f"黑色实线为{SERIES_LEGEND['readings']}（每月最新一次），"
        f"蓝色点线为{SERIES_LEGEND['expected']}（基期至目标的直线），"
        f"灰色虚线为{SERIES_LEGEND['baseline']}{_with_measure(indicator.baseline, m)}"
        f"（{indicator.baseline_year}年），"
        f"红色虚线为{SERIES_LEGEND['target']}{_with_measure(indicator.target, m)}"
        f"（{indicator.target_year}年）。"
    )


def blue_book_document(book: BlueBook, path: Path) -> Path:
    """The blue book: foreword, indicators by level (each with its figures, readings and
    chart), the year's tasks by list, the key projects, and the data's sources."""
    day = book.as_of
    document = Document()
    document.core_properties.created = datetime(day.year, day.month, day.day)
    document.core_properties.modified = datetime(day.year, day.month, day.day)
    document.core_properties.author = "pilot-tracker"
    document.core_properties.title = f"{book.name} {book.year}年度青年发展蓝皮书"
    _paragraph(document, book.name, font=TITLE_FONT, size=22, indent=False, center=True)
    _paragraph(
        document,
        f"{book.year}年度青年发展蓝皮书",
        font=TITLE_FONT,
        size=16,
        indent=False,
        center=True,
    )
    _paragraph(document, f"（数据{book.as_of_label}）", size=14, indent=False, center=True)

    _heading(document, "前言")
    for line in book.foreword:
        _paragraph(document, line)

    _heading(document, "一、主要发展指标总览")
    for label, rows in book.indicators_by_level:
        _heading(document, f"{label}（{len(rows)}项）", level=3)
        _table(
            document,
            ["编号", "指标名称", "基期值", "目标值", "年末应达", "最新值", "状态"],
            [
                [
                    i.code,
                    i.name,
                    _with_measure(i.baseline, i.measure, i.baseline_year),
                    _with_measure(i.target, i.measure, i.target_year),
                    _with_measure(i.expected_at_end, i.measure),
                    _with_measure(i.latest, i.measure, i.latest_as_of),
                    i.status_label,
                ]
                for i in rows
            ],
        )

    _heading(document, "二、各项指标年度情况")
    figure = 0
    for place, (label, rows) in enumerate(book.indicators_by_level):
        _heading(document, f"（{CHINESE_NUMERALS[place]}）{label}", level=3)
        for i in rows:
            _paragraph(document, f"{i.code} {i.name}", font=HEADING_FONT, indent=False)
            _table(
                document,
                ["项目", "内容"],
                [
                    ["指标层级", i.level_label],
                    ["计量单位", i.measure or "—"],
                    ["指标方向", i.direction_label],
                    ["责任单位", i.owner_name],
                    ["基期值", _with_measure(i.baseline, i.measure, i.baseline_year)],
                    ["目标值", _with_measure(i.target, i.measure, i.target_year)],
                    [f"{book.year}年末应达", _with_measure(i.expected_at_end, i.measure)],
                    ["最新值", _with_measure(i.latest, i.measure, i.latest_as_of)],
                    [
                        "进程（基期至目标）",
                        f"{number(i.progress)}%" if i.progress is not None else "—",
                    ],
                    ["状态", i.status_label],
                ],
            )
            if not i.readings:
                _paragraph(document, f"{book.year}年暂无数据。", indent=False)
                continue
            _table(
                document,
                ["统计时点", f"读数（{i.measure}）" if i.measure else "读数"],
                [[r.as_of.isoformat(), number(r.value)] for r in i.readings],
            )
            figure += 1
            document.add_picture(io.BytesIO(charts.indicator_png(i.series)), width=Cm(15.5))
            document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            _paragraph(document, f"图{figure}　{caption(i, book.year)}", size=10.5, indent=False)

    _heading(document, "三、年度任务推进情况")
    if book.lists:
        _table(
            document,
            ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
            [[x.label, len(x.tasks), x.completed, x.average, x.planned] for x in book.lists],
        )
    else:
        _paragraph(document, f"{book.year}年没有列入任务清单的任务。")
    for item in book.task_lists:
        _heading(document, f"{item.label}（{len(item.tasks)}项）", level=3)
        _table(
            document,
            ["编号", "任务名称", "牵头单位", "完成时限", "状态", "进度%"],
            [
                [t.code, t.title, t.lead, t.due.isoformat(), t.status_label, t.percent]
                for t in item.tasks
            ],
        )

    _heading(document, "四、重点工程")
    if book.key_projects:
        _table(
            document,
            ["编号", "工程名称", "牵头单位", "配合单位", "计划进度%", "完成进度%", "状态"],
            [
                [
                    t.code,
                    t.title,
                    t.lead,
                    "、".join(t.co_units) or "—",
                    t.planned,
                    t.percent,
                    t.status_label,
                ]
                for t in book.key_projects
            ],
        )
    else:
        _paragraph(document, "本试点未设置重点工程。")

    _heading(document, "五、数据来源与说明")
    for line in book.sources:
        _paragraph(document, line)
    return _save(document, path, day)


def city_document(data: CityRollup, path: Path) -> Path:
    """A city's roll-up over its pilots (``reports/city.py``), as the evaluation is laid out."""
    day = data.end
    document = Document()
    document.core_properties.created = datetime(day.year, day.month, day.day)
    document.core_properties.modified = datetime(day.year, day.month, day.day)
    document.core_properties.author = "pilot-tracker"
    document.core_properties.title = f"{data.name} {data.period} 试点汇总报告"
    _paragraph(
        document,
        f"{data.name}试点工作汇总报告",
        font=TITLE_FONT,
        size=22,
        indent=False,
        center=True,
    )
    _paragraph(
        document,
        f"{data.period_label}（{data.start.month}月{data.start.day}日—{data.end.month}月{data.end.day}日）",
        font=TITLE_FONT,
        size=16,
        indent=False,
        center=True,
    )
    _paragraph(document, data.office, indent=False, center=True)

    _heading(document, "一、总体情况")
    for line in data.narrative:
        _paragraph(document, line)

    _heading(document, "二、综合排名")
    _paragraph(
        document,
        "综合得分为以下各项的加权平均（某项不适用的试点不计该项，其余按权重折算）："
        + "；".join(f"{name}，{meaning}，权重{weight:g}" for _, name, meaning, weight in data.parts)
        + "。",
    )
    _table(
        document,
        ["排名", "试点", *[name for _, name, _, _ in data.parts], "综合得分"],
        [
            [p.rank, p.short, *[p.parts[key] for key, _, _, _ in data.parts], p.score]
            for p in data.ranking
        ],
    )

    _heading(document, "三、任务清单完成情况")
    _table(
        document,
        ["试点", "已开始任务", "按计划", *[label for _, label in data.list_kinds]],
        [
            [
                p.short,
                p.tasks_active,
                p.tasks_on_plan,
                *[
                    f"{p.lists[kind].completed}/{p.lists[kind].tasks}项完成，"
                    f"进度{p.lists[kind].average:g}%（计划{p.lists[kind].planned:g}%）"
                    if kind in p.lists
                    else "—"
                    for kind, _ in data.list_kinds
                ],
            ]
            for p in data.pilots
        ],
    )

    _heading(document, "四、主要发展指标（按层级）")
    if data.indicator_levels:
        _table(
            document,
            ["试点", *[label for _, label in data.indicator_levels], "合计"],
            [
                [
                    p.short,
                    *[_indicator_cell(p, level) for level, _ in data.indicator_levels],
                    f"{p.indicators_on_course}/{p.indicators_total}"
                    if p.indicators_total
                    else "未设置指标",
                ]
                for p in data.pilots
            ],
        )
        _paragraph(document, "表中为“已达目标或正常推进项数/指标项数”。", indent=False)
    else:
        _paragraph(document, "各试点均未设置主要发展指标。")

    _heading(document, "五、预警单位与报送及时率")
    _table(
        document,
        ["试点", "成员单位", "期末预警单位", "其中红色预警", "应报送", "按时报送", "报送及时率%"],
        [
            [
                p.short,
                p.units,
                len(p.flagged),
                p.units_red,
                p.reports_owed,
                p.reports_timely,
                p.timeliness,
            ]
            for p in data.pilots
        ],
    )

    _heading(document, "六、督办事项及持续时间")
    _table(
        document,
        ["试点", "事项", "本期涉及", "期末未结", "持续天数中位数", "最长持续天数"],
        [
            [p.short, line.label, line.count, line.still_open, line.median_days, line.max_days]
            for p in data.pilots
            for line in p.escalations
        ],
    )

    _heading(document, "七、“六有”建设对照")
    _table(
        document,
        ["试点", *[label for _, label in data.six_has]],
        [[p.short, *[p.six_has[key].state_label for key, _ in data.six_has]] for p in data.pilots],
    )

    _heading(document, "八、各试点情况")
    for place, p in enumerate(data.pilots, start=1):
        _paragraph(
            document, f"（{place}）{p.name}（{p.level_label}）", font=HEADING_FONT, indent=False
        )
        _table(
            document,
            ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
            [[i.label, i.tasks, i.completed, i.average, i.planned] for i in p.evaluation.lists],
        )
        if p.evaluation.indicators:
            _table(
                document,
                ["编号", "指标名称", "层级", "基期值", "最新值", "目标值", "状态"],
                [
                    [i.code, i.name, i.level_label, i.baseline, i.latest, i.target, i.status_label]
                    for i in p.evaluation.indicators
                ],
            )
        if p.flagged:
            _paragraph(
                document,
                "期末预警单位："
                + "、".join(f"{u.name}（红色{u.red}、黄色{u.yellow}）" for u in p.flagged)
                + "。",
            )
        else:
            _paragraph(document, "期末没有被预警的成员单位。")
    if data.absent:
        _heading(document, "九、未纳入本期汇总的试点")
        _table(document, ["试点", "原因"], [[a.name, a.reason] for a in data.absent])
    temporary = path.with_name(f".{path.name}.part")
    document.save(str(temporary))
    temporary.replace(path)
    return path


def _indicator_cell(pilot: Any, level: str) -> str:
    count = pilot.indicator_counts.get(level)
    return f"{count.on_course}/{count.total}" if count else "—"
