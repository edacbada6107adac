"""The half-year evaluation, the quarterly reconciliation (its summary and its units'
statements), the annual blue book, a city's roll-up and its work bulletin as Word documents
an office can edit and forward as they are: each in the 公文 layout of
``reports/gongwen.py``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tracker.ledger.program_file import short_name
from pilot_tracker.reports import charts, documents
from pilot_tracker.reports.charts import SERIES_LEGEND, number
from pilot_tracker.reports.figures import Evaluation
from pilot_tracker.reports.gongwen import TEXT_WIDTH_MM, Issuer, Official

if TYPE_CHECKING:
    from pilot_tracker.models import City, Program
    from pilot_tracker.reports.blue_book import BlueBook, IndicatorYear
    from pilot_tracker.reports.bulletin import Issue
    from pilot_tracker.reports.city import CityRollup
    from pilot_tracker.reports.figures import Quarterly

CHINESE_NUMERALS = "一二三四五六七八九十"


def program_issuer(program: Program) -> Issuer:
    """Who issues a program's documents: its ``documents:`` section; printed, where the
    section names no one, by the office of its leading group (领导小组办公室)."""
    return Issuer.of(program.documents, f"{short_name(program.name)}领导小组办公室")


def city_issuer(city: City) -> Issuer:
    """Who issues a city's documents: its ``documents:`` section, else its office."""
    return Issuer.of(city.documents, city.office)


def evaluation_document(
    data: Evaluation, path: Path, day: date, issuer: Issuer | None = None
) -> Path:
    """The half-year evaluation: the figures of ``figures.evaluation``, its charts and the
    battle map as the PDF has them."""
    document = Official(
        title=f"{data.name} {data.half} 半年度评估", day=day, issuer=issuer or Issuer()
    )
    half = "上" if data.half.endswith("1") else "下"
    document.title(data.name, f"{data.half[:4]}年{half}半年评估报告")
    document.addressees()
    if data.calendar_note:
        document.paragraph(data.calendar_note, indent=False)

    document.heading("一、总体评价")
    for line in data.narrative:
        document.paragraph(line)

    document.heading("二、任务清单推进情况")
    document.table(
        ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
        [[i.label, i.tasks, i.completed, i.average, i.planned] for i in data.lists],
    )
    _chart(document, charts.completion_by_list(data))
    if data.extensions:
        document.paragraph(
            f"经批准延期的任务{len(data.extensions)}项，以下按延期后的完成时限评估：",
        )
        document.table(
            ["任务编号", "任务名称", "牵头单位", "原定完成时限", "延期至"],
            [
                [x.task, x.title, x.unit, x.original_due.isoformat(), x.due.isoformat()]
                for x in data.extensions
            ],
        )

    document.heading("三、主要发展指标完成情况")
    if data.indicators:
        document.table(
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
        document.paragraph("本试点未设置主要发展指标。")

    document.heading("四、成员单位评分与排名")
    w = data.weights
    document.paragraph(
        f"权重：完成进度{w['completion']:g}、报送及时{w['timeliness']:g}、"
        f"指标达成{w['indicators']:g}、佐证材料{w['evidence']:g}。",
    )
    document.table(
        ["排名", "成员单位", "完成进度", "报送及时", "指标达成", "佐证材料", "综合得分"],
        [
            [s.rank, s.name, s.completion, s.timeliness, s.indicators, s.evidence, s.score]
            for s in data.scores
        ],
    )

    document.heading("五、滞后单位与督办情况")
    if data.escalations:
        document.table(
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
        document.paragraph("本半年没有督办事项。")

    document.heading("六、“六有”建设情况")
    document.table(
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
    document.heading("七、挂图作战")
    document.paragraph("各单位牵头任务每月末的平均报送进度（格内数字），颜色表示与计划进度的差距。")
    _chart(document, charts.battle_map(data))
    document.imprint()
    return document.save(path)


# The page's widest chart (640 units) spans the text block; a tall one keeps to a page.
CHART_MM_PER_UNIT = TEXT_WIDTH_MM / 640
CHART_MAX_HEIGHT_MM = 215


def _chart(document: Official, svg: str) -> None:
    """A chart of the page and the PDF as a picture (``charts.svg_png``), at the PDF's
    size; where no Chinese font is installed to draw it, a line that says where it is."""
    font = documents.cjk_font_file()
    if font is None:
        document.caption("（图略：本机未安装中文字体，无法绘制，请查阅网页版。）")
        return
    png, width, height = charts.svg_png(svg, font[0], font_index=font[1])
    scale = min(CHART_MM_PER_UNIT, CHART_MAX_HEIGHT_MM / height)
    document.picture(png, width_mm=width * scale)


# --- the quarterly reconciliation -----------------------------------------------------------


def _quarter_label(data: Quarterly) -> str:
    return f"{data.quarter[:4]}年第{data.quarter[-1]}季度"


def quarterly_document(data: Quarterly, path: Path, issuer: Issuer | None = None) -> Path:
    """The quarter's reconciliation summary for the office: the totals and a line per
    unit (each unit's statement is in ``statements_document``)."""
    document = Official(
        title=f"{data.name} {data.quarter} 季度对账汇总", day=data.end, issuer=issuer or Issuer()
    )
    document.title(data.name, f"{_quarter_label(data)}任务对账汇总")
    document.centred(
        f"（{data.start.month}月{data.start.day}日—{data.end.month}月{data.end.day}日）"
    )
    document.addressees()
    if data.calendar_note:
        document.paragraph(data.calendar_note, indent=False)
    t = data.totals
    document.heading("一、总体情况")
    if not t["tasks"]:
        document.paragraph("本季度没有应推进的任务，暂无可对账的数据。")
    else:
        document.paragraph(
            f"本季度{t['units']}个成员单位牵头推进任务{t['tasks']}项，报送已完成{t['done']}项，"
            f"其中按期完成{t['on_time']}项；季度末共有预警{t['flags']}项、"
            f"未结督办事项{t['open_escalations']}项；对账发现需核实的问题"
            f"{t['discrepancies']}处。已有{t['confirmed']}个单位确认对账单。"
        )
    document.heading("二、分单位对账情况")
    document.table(
        ["成员单位", "牵头任务", "报送完成", "按期完成", "预警", "未结督办", "对账确认", "备注"],
        [
            [
                line.name,
                line.tasks,
                line.done,
                line.on_time,
                line.flags,
                line.open_escalations,
                line.confirmation_label,
                line.note or ("本季度无牵头任务" if not line.tasks else ""),
            ]
            for line in data.lines
        ],
    )
    document.caption(
        f"数据来源：各单位报送的任务进展（截至{data.end.month}月{data.end.day}日）。"
        "每个单位的对账单见同期的“对账单”Word文件，所依据的报送文件的SHA-256校验值见"
        "Excel版“数据来源”表。"
    )
    document.imprint()
    return document.save(path)


def statements_document(
    data: Quarterly, path: Path, issuer: Issuer | None = None, *, linked: bool = False
) -> Path:
    """Every unit's statement of the quarter in one file, each from a page of its own,
    addressed to its unit, for the office to print or forward; no unit's personal link is
    in it (``linked``: the units were sent theirs)."""
    whole = issuer or Issuer()
    # One file for every unit: no masthead or addressees of the office's own documents.
    document = Official(
        title=f"{data.name} {data.quarter} 季度对账单",
        day=data.end,
        issuer=Issuer(copy_to=whole.copy_to, printed_by=whole.printed_by),
    )
    label = _quarter_label(data)
    for place, s in enumerate(data.statements):
        document.title(data.name, f"{label}任务对账单", new_page=place > 0)
        if data.calendar_note:
            document.paragraph(data.calendar_note, indent=False)
        document.paragraph(f"{s.name}：", indent=False)
        document.paragraph(
            "现将贵单位本季度承担任务的报送情况和系统核对发现的问题列示如下，"
            f"请核对后确认或提出异议（确认状态：{s.confirmation_label}）。"
        )
        document.heading("（一）任务报送情况", level=2)
        if s.rows:
            document.table(
                ["任务编号", "任务名称", "承担", "完成时限", "最新状态", "进度%", "本季度报送"],
                [
                    [
                        r.task,
                        r.title,
                        r.role,
                        f"原定{r.original_due}\n延期至{r.due}" if r.original_due else str(r.due),
                        r.status_label,
                        r.percent,
                        r.history or "无",
                    ]
                    for r in s.rows
                ],
            )
        else:
            document.paragraph("贵单位本季度没有承担的任务。")
        document.heading("（二）需核实的问题", level=2)
        if s.discrepancies:
            document.table(
                ["任务编号", "问题类型", "说明"],
                [[d.task, d.kind, d.text] for d in s.discrepancies],
            )
        else:
            document.paragraph("未发现需核实的问题。")
        document.paragraph(
            "确认方式：请通过发给贵单位的对账单通知中的专属链接，在线确认本对账单，"
            "或提出异议并写明理由。"
            if linked
            else "确认方式：请将确认意见或异议（写明理由）报试点工作专班。"
        )
    document.imprint()
    return document.save(path)


# --- the annual blue book -------------------------------------------------------------------


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


def blue_book_document(book: BlueBook, path: Path, issuer: Issuer | None = None) -> Path:
    """The blue book: foreword, indicators by level (each with its figures, readings and
    chart), the year's tasks by list, the key projects, and the data's sources."""
    document = Official(
        title=f"{book.name} {book.year}年度青年发展蓝皮书",
        day=book.as_of,
        issuer=issuer or Issuer(),
    )
    document.title(book.name, f"{book.year}年度青年发展蓝皮书")
    document.centred(f"（数据{book.as_of_label}）")
    document.addressees()

    document.heading("前言")
    for line in book.foreword:
        document.paragraph(line)

    document.heading("一、主要发展指标总览")
    for label, rows in book.indicators_by_level:
        document.heading(f"{label}（{len(rows)}项）", level=2)
        document.table(
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

    document.heading("二、各项指标年度情况")
    figure = 0
    for place, (label, rows) in enumerate(book.indicators_by_level):
        document.heading(f"（{_numeral(place)}）{label}", level=2)
        for order, i in enumerate(rows, start=1):
            document.heading(f"{order}．{i.code} {i.name}", level=3)
            document.table(
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
                document.paragraph(f"{book.year}年暂无数据。", indent=False)
                continue
            document.table(
                ["统计时点", f"读数（{i.measure}）" if i.measure else "读数"],
                [[r.as_of.isoformat(), number(r.value)] for r in i.readings],
            )
            figure += 1
            document.picture(charts.indicator_png(i.series), width_mm=155)
            document.caption(f"图{figure}　{caption(i, book.year)}")

    document.heading("三、年度任务推进情况")
    if book.lists:
        document.table(
            ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
            [[x.label, len(x.tasks), x.completed, x.average, x.planned] for x in book.lists],
        )
    else:
        document.paragraph(f"{book.year}年没有列入任务清单的任务。")
    for item in book.task_lists:
        document.heading(f"{item.label}（{len(item.tasks)}项）", level=2)
        document.table(
            ["编号", "任务名称", "牵头单位", "完成时限", "状态", "进度%"],
            [
                [t.code, t.title, t.lead, t.due.isoformat(), t.status_label, t.percent]
                for t in item.tasks
            ],
        )

    document.heading("四、重点工程")
    if book.key_projects:
        document.table(
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
        document.paragraph("本试点未设置重点工程。")

    document.heading("五、数据来源与说明")
    for line in book.sources:
        document.paragraph(line)
    document.imprint()
    return document.save(path)


def city_document(data: CityRollup, path: Path, issuer: Issuer | None = None) -> Path:
    """A city's roll-up over its pilots (``reports/city.py``), as the evaluation is laid out."""
    document = Official(
        title=f"{data.name} {data.period} 试点汇总报告",
        day=data.end,
        issuer=issuer or Issuer(printed_by=data.office),
    )
    document.title(f"{data.name}试点工作汇总报告")
    document.centred(
        f"{data.period_label}（{data.start.month}月{data.start.day}日—"
        f"{data.end.month}月{data.end.day}日）"
    )
    document.centred(data.office)
    document.addressees()

    document.heading("一、总体情况")
    for line in data.narrative:
        document.paragraph(line)

    document.heading("二、综合排名")
    document.paragraph(
        "综合得分为以下各项的加权平均（某项不适用的试点不计该项，其余按权重折算）："
        + "；".join(f"{name}，{meaning}，权重{weight:g}" for _, name, meaning, weight in data.parts)
        + "。",
    )
    document.table(
        ["排名", "试点", *[name for _, name, _, _ in data.parts], "综合得分"],
        [
            [p.rank, p.short, *[p.parts[key] for key, _, _, _ in data.parts], p.score]
            for p in data.ranking
        ],
    )

    document.heading("三、任务清单完成情况")
    document.table(
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

    document.heading("四、主要发展指标（按层级）")
    if data.indicator_levels:
        document.table(
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
        document.paragraph("表中为“已达目标或正常推进项数/指标项数”。", indent=False)
    else:
        document.paragraph("各试点均未设置主要发展指标。")

    document.heading("五、预警单位与报送及时率")
    document.table(
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

    document.heading("六、督办事项及持续时间")
    document.table(
        ["试点", "事项", "本期涉及", "期末未结", "持续天数中位数", "最长持续天数"],
        [
            [p.short, line.label, line.count, line.still_open, line.median_days, line.max_days]
            for p in data.pilots
            for line in p.escalations
        ],
    )

    document.heading("七、“六有”建设对照")
    document.table(
        ["试点", *[label for _, label in data.six_has]],
        [[p.short, *[p.six_has[key].state_label for key, _ in data.six_has]] for p in data.pilots],
    )

    document.heading("八、各试点情况")
    for place, p in enumerate(data.pilots):
        document.heading(f"（{_numeral(place)}）{p.name}（{p.level_label}）", level=2)
        document.table(
            ["任务清单", "任务数", "已完成", "平均进度%", "计划进度%"],
            [[i.label, i.tasks, i.completed, i.average, i.planned] for i in p.evaluation.lists],
        )
        if p.evaluation.indicators:
            document.table(
                ["编号", "指标名称", "层级", "基期值", "最新值", "目标值", "状态"],
                [
                    [i.code, i.name, i.level_label, i.baseline, i.latest, i.target, i.status_label]
                    for i in p.evaluation.indicators
                ],
            )
        if p.flagged:
            document.paragraph(
                "期末预警单位："
                + "、".join(f"{u.name}（红色{u.red}、黄色{u.yellow}）" for u in p.flagged)
                + "。",
            )
        else:
            document.paragraph("期末没有被预警的成员单位。")
    if data.absent:
        document.heading("九、未纳入本期汇总的试点")
        document.table(["试点", "原因"], [[a.name, a.reason] for a in data.absent])
    document.imprint()
    return document.save(path)


def _numeral(place: int) -> str:
    """0 → 一, 9 → 十, 10 → 十一, 19 → 二十: the numbers of （一） headings."""
    number = place + 1
    if number <= 10:
        return CHINESE_NUMERALS[number - 1]
    tens, ones = divmod(number, 10)
    return (
        (CHINESE_NUMERALS[tens - 1] if tens > 1 else "")
        + "十"
        + (CHINESE_NUMERALS[ones - 1] if ones else "")
    )


def _indicator_cell(pilot: Any, level: str) -> str:
    count = pilot.indicator_counts.get(level)
    return f"{count.on_course}/{count.total}" if count else "—"


def bulletin_document(issue: Issue, path: Path) -> Path:
    """A city's work bulletin (``reports/bulletin.py``): the masthead, the contents, one
    article per district pilot (its figures, then its office's account as sent), and
    分送, 责任编辑 and the 印发 date at the end."""
    document = Official(
        title=f"{issue.name} 第{issue.number}期",
        day=issue.day,
        issuer=Issuer(printed_by=issue.office),
    )
    document.bulletin_masthead(
        name=issue.name,
        column=issue.column,
        number=issue.number,
        total=issue.total,
        office=issue.office,
    )
    document.contents(issue.contents)
    for item in issue.articles:
        document.title(item.title)
        document.blank()
        document.paragraph(item.summary)
        document.table(["事项", "本期情况"], item.rows)
        if item.account is not None:
            for block in item.account.blocks:
                if block.heading:
                    document.heading(block.text)
                else:
                    document.paragraph(block.text, lead=block.lead)
        document.blank()
    if issue.absent:
        document.caption(
            "本期未刊登：" + "；".join(f"{a.name}（{a.reason}）" for a in issue.absent) + "。"
        )
    document.bulletin_end(distribution=issue.distribution, editor=issue.editor)
    return document.save(path)
