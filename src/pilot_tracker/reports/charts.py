"""Charts as inline SVG: nothing to fetch, the same bytes for the same figures."""

from __future__ import annotations

from html import escape

from pilot_tracker.ledger import plan
from pilot_tracker.reports.figures import Evaluation

FONT = "font-family='WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif'"


def completion_by_list(evaluation: Evaluation) -> str:
    """Bars per task list: average reported percent beside the planned percent."""
    rows = evaluation.lists
    width, bar, gap, left = 640, 16, 18, 120
    height = 40 + len(rows) * (2 * bar + gap)
    scale = (width - left - 60) / 100
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-label='各清单完成进度'>",
        f"<text x='{left}' y='16' font-size='12' {FONT}>■ 实际完成进度  □ 计划进度（%）</text>",
    ]
    for index, item in enumerate(rows):
        y = 30 + index * (2 * bar + gap)
        parts.append(
            f"<text x='{left - 8}' y='{y + bar + 4}' font-size='12' text-anchor='end' {FONT}>"
            f"{escape(item.label)}</text>"
        )
        parts.append(
            f"<rect x='{left}' y='{y}' width='{item.average * scale:.1f}' height='{bar}' "
            "fill='#c0392b'/>"
        )
        parts.append(
            f"<text x='{left + item.average * scale + 4:.1f}' y='{y + 12}' font-size='11' {FONT}>"
            f"{item.average:g}</text>"
        )
        parts.append(
            f"<rect x='{left}' y='{y + bar}' width='{item.planned * scale:.1f}' height='{bar}' "
            "fill='none' stroke='#555'/>"
        )
        parts.append(
            f"<text x='{left + item.planned * scale + 4:.1f}' y='{y + bar + 12}' font-size='11' "
            f"{FONT}>{item.planned:g}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# The colour of each band of the gap to plan (ledger/plan.py); the board's stylesheet
# (templates/portal/static/board.css) gives its cells the same ones.
COLOURS = {
    plan.ON_PLAN: "#4caf50",
    plan.BEHIND: "#ffc107",
    plan.FAR_BEHIND: "#e53935",
    plan.UNREPORTED: "#9e9e9e",
    plan.NOT_DUE: "#eeeeee",
}


def _colour(percent: float | None, planned: float | None) -> str:
    return COLOURS[plan.gap_band(percent, planned)]


def battle_map(evaluation: Evaluation) -> str:
    """The battle map (挂图作战): units × months, coloured by how far behind plan each is."""
    rows = evaluation.heat
    months = evaluation.months
    left, cell, top = 150, 56, 34
    width = left + cell * len(months) + 10
    height = top + 22 * len(rows) + 40
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='{width}' height='{height}' role='img' aria-label='挂图作战'>"
    ]
    for column, month in enumerate(months):
        parts.append(
            f"<text x='{left + column * cell + cell / 2}' y='{top - 8}' font-size='11' "
            f"text-anchor='middle' {FONT}>{int(month[-2:])}月</text>"
        )
    for index, (_, name, cells) in enumerate(rows):
        y = top + index * 22
        parts.append(
            f"<text x='{left - 6}' y='{y + 15}' font-size='11' text-anchor='end' {FONT}>"
            f"{escape(name[:12])}</text>"
        )
        for column, (percent, planned) in enumerate(cells):
            parts.append(
                f"<rect x='{left + column * cell}' y='{y}' width='{cell - 2}' height='20' "
                f"fill='{_colour(percent, planned)}'/>"
            )
            if percent is not None:
                parts.append(
                    f"<text x='{left + column * cell + cell / 2 - 1}' y='{y + 14}' font-size='10' "
                    f"text-anchor='middle' {FONT}>{percent:g}</text>"
                )
    legend_y = top + 22 * len(rows) + 16
    legend = [plan.ON_PLAN, plan.BEHIND, plan.FAR_BEHIND, plan.UNREPORTED]
    for offset, (colour, text) in enumerate(
        (COLOURS[band], plan.BAND_LABELS[band]) for band in legend
    ):
        x = left + offset * 110
        parts.append(f"<rect x='{x}' y='{legend_y}' width='12' height='12' fill='{colour}'/>")
        parts.append(f"<text x='{x + 16}' y='{legend_y + 11}' font-size='11' {FONT}>{text}</text>")
    parts.append("</svg>")
    return "".join(parts)
