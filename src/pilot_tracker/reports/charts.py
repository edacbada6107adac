"""Charts as inline SVG: nothing to fetch, the same bytes for the same figures. An
indicator's year (the blue book) is drawn as SVG for the page and the PDF and, from the same
layout, as PNG for the Word document."""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass, field
from datetime import date
from html import escape

from pilot_tracker.ledger import plan
from pilot_tracker.reports.figures import Evaluation

FONT = "font-family='Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif'"


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
    legend = [plan.ON_PLAN, plan.BEHIND, plan.FAR_BEHIND, plan.UNREPORTED]
    # Wide enough for the legend too: its last entry (未报送) ends 110 × 3 + 16 + 3 × 11 in.
    width = max(left + cell * len(months) + 10, left + 110 * (len(legend) - 1) + 60)
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
    for offset, (colour, text) in enumerate(
        (COLOURS[band], plan.BAND_LABELS[band]) for band in legend
    ):
        x = left + offset * 110
        parts.append(f"<rect x='{x}' y='{legend_y}' width='12' height='12' fill='{colour}'/>")
        parts.append(f"<text x='{x + 16}' y='{legend_y + 11}' font-size='11' {FONT}>{text}</text>")
    parts.append("</svg>")
    return "".join(parts)


# --- an indicator's year (the blue book) -----------------------------------------------------


def number(value: float | None) -> str:
    """A figure as a reader reads it: 5, 4.55, 30000 (never 3e+04); — for none."""
    if value is None:
        return "—"
    shown = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if shown == "-0" else shown


@dataclass
class Series:
    """An indicator's year on a chart: its readings against its baseline, its target and
    the straight line from one to the other (where the plan expects it on each day)."""

    name: str
    year: int
    baseline: float
    baseline_year: int
    target: float
    target_year: int
    expected_start: float  # the straight line on the year's first day
    expected_end: float  # and on its last
    points: list[tuple[date, float]] = field(default_factory=list)


SERIES_COLOURS = {
    "readings": "#111111",
    "expected": "#1f77b4",
    "baseline": "#888888",
    "target": "#c0392b",
}
# What each line of the chart is, in the legend of the page and the caption in Word.
SERIES_LEGEND = {
    "readings": "年内读数",
    "expected": "按计划应达",
    "baseline": "基期值",
    "target": "目标值",
}


@dataclass(frozen=True)
class _Frame:
    """Where values and days fall on a chart ``width`` × ``height`` wide."""

    year: int
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    low: float
    high: float
    step: float

    def x(self, day: date) -> float:
        first = date(self.year, 1, 1)
        days = (date(self.year, 12, 31) - first).days
        return self.left + (day - first).days / days * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        plot = self.height - self.top - self.bottom
        return self.top + (self.high - value) / (self.high - self.low) * plot

    @property
    def ticks(self) -> list[float]:
        count = round((self.high - self.low) / self.step)
        return [self.low + index * self.step for index in range(count + 1)]

    def label(self, value: float) -> str:
        """A tick's value with as many decimals as the step has."""
        step = f"{self.step:.10f}".rstrip("0").rstrip(".")
        decimals = len(step.partition(".")[2])
        return number(round(value, decimals))


def _nice(raw: float) -> float:
    """The step of 1, 2, 2.5 or 5 times a power of ten at or just above ``raw``."""
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))


def _frame(series: Series, scale: float = 1.0) -> _Frame:
    values = [series.baseline, series.target, series.expected_start, series.expected_end]
    values += [value for _, value in series.points]
    low, high = min(values), max(values)
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = _nice((high - low) / 4)
    low = math.floor(low / step + 1e-9) * step
    high = math.ceil(high / step - 1e-9) * step
    if high <= low:
        high = low + step
    return _Frame(
        series.year,
        width=640 * scale,
        height=250 * scale,
        left=64 * scale,
        right=20 * scale,
        top=34 * scale,
        bottom=28 * scale,
        low=low,
        high=high,
        step=step,
    )


def indicator_series(series: Series) -> str:
    """An indicator's year as SVG: the months along, the values up; the baseline and the
    target as level lines, the straight line between them, and the readings."""
    f = _frame(series)
    bottom, right = f.height - f.bottom, f.width - f.right
    first, last = date(series.year, 1, 1), date(series.year, 12, 31)
    colours = SERIES_COLOURS
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {f.width:g} {f.height:g}' "
        f"width='{f.width:g}' height='{f.height:g}' role='img' "
        f"aria-label='{escape(series.name)}：{series.year}年读数'>"
    ]
    legend = [
        ("readings", "", SERIES_LEGEND["readings"]),
        ("expected", "2 3", SERIES_LEGEND["expected"]),
        ("baseline", "6 4", f"{SERIES_LEGEND['baseline']}（{series.baseline_year}年）"),
        ("target", "6 4", f"{SERIES_LEGEND['target']}（{series.target_year}年）"),
    ]
    x = f.left
    for key, dashes, text in legend:
        dash = f" stroke-dasharray='{dashes}'" if dashes else ""
        parts.append(
            f"<line x1='{x:g}' y1='12' x2='{x + 22:g}' y2='12' stroke='{colours[key]}' "
            f"stroke-width='2'{dash}/>"
        )
        parts.append(f"<text x='{x + 26:g}' y='16' font-size='11' {FONT}>{escape(text)}</text>")
        x += 38 + 11 * len(text)
    for tick in f.ticks:
        y = f.y(tick)
        parts.append(
            f"<line x1='{f.left:g}' y1='{y:.1f}' x2='{right:g}' y2='{y:.1f}' stroke='#e5e5e5'/>"
        )
        parts.append(
            f"<text x='{f.left - 6:g}' y='{y + 4:.1f}' font-size='10' text-anchor='end' "
            f"{FONT}>{f.label(tick)}</text>"
        )
    parts.append(
        f"<line x1='{f.left:g}' y1='{bottom:g}' x2='{right:g}' y2='{bottom:g}' stroke='#999'/>"
    )
    for month in range(1, 13):
        x = f.x(date(series.year, month, 1))
        parts.append(
            f"<line x1='{x:.1f}' y1='{bottom:g}' x2='{x:.1f}' y2='{bottom + 4:g}' stroke='#999'/>"
        )
        parts.append(
            f"<text x='{f.x(date(series.year, month, 15)):.1f}' y='{bottom + 16:g}' "
            f"font-size='10' text-anchor='middle' {FONT}>{month}月</text>"
        )
    for key, value in (("baseline", series.baseline), ("target", series.target)):
        y = f.y(value)
        parts.append(
            f"<line x1='{f.left:g}' y1='{y:.1f}' x2='{right:g}' y2='{y:.1f}' "
            f"stroke='{colours[key]}' stroke-width='1.5' stroke-dasharray='6 4'/>"
        )
    parts.append(
        f"<line x1='{f.x(first):.1f}' y1='{f.y(series.expected_start):.1f}' "
        f"x2='{f.x(last):.1f}' y2='{f.y(series.expected_end):.1f}' "
        f"stroke='{colours['expected']}' stroke-width='1.5' stroke-dasharray='2 3'/>"
    )
    points = [(f.x(day), f.y(value), value) for day, value in series.points]
    if len(points) > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        parts.append(
            f"<polyline points='{line}' fill='none' stroke='{colours['readings']}' "
            "stroke-width='2'/>"
        )
    for x, y, value in points:
        parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{colours['readings']}'/>")
        parts.append(
            f"<text x='{x:.1f}' y='{y - 7:.1f}' font-size='9' text-anchor='middle' {FONT}>"
            f"{number(value)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def indicator_png(series: Series, scale: float = 2.0) -> bytes:
    """The same chart as PNG, for Word. Only figures are drawn (months as 1-12): a picture
    has no font fallback for Chinese, so the caption beside it names the lines."""
    from PIL import Image, ImageDraw, ImageFont  # imported here: only Word needs it

    f = _frame(series, scale)
    image = Image.new("RGB", (round(f.width), round(f.height)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=round(10 * scale))
    small = ImageFont.load_default(size=round(9 * scale))
    bottom, right = f.height - f.bottom, f.width - f.right
    first, last = date(series.year, 1, 1), date(series.year, 12, 31)
    colours = SERIES_COLOURS

    def text(x: float, y: float, words: str, where: str, face: object = font) -> None:
        """``where``: r (right of x), m (centred on x); y is the text's middle."""
        box = draw.textbbox((0, 0), words, font=face)  # type: ignore[arg-type]
        width, height = box[2] - box[0], box[3] - box[1]
        left = x - width if where == "r" else x - width / 2
        draw.text((left - box[0], y - height / 2 - box[1]), words, fill="#333", font=face)  # type: ignore[arg-type]

    def dashed(
        start: tuple[float, float], end: tuple[float, float], dash: float, gap: float, colour: str
    ) -> None:
        length = math.dist(start, end)
        if length == 0:
            return
        dx, dy = (end[0] - start[0]) / length, (end[1] - start[1]) / length
        at = 0.0
        while at < length:
            to = min(at + dash, length)
            draw.line(
                [
                    (start[0] + dx * at, start[1] + dy * at),
                    (start[0] + dx * to, start[1] + dy * to),
                ],
                fill=colour,
                width=round(1.5 * scale),
            )
            at = to + gap

    for tick in f.ticks:
        y = f.y(tick)
        draw.line([(f.left, y), (right, y)], fill="#e5e5e5", width=1)
        text(f.left - 6 * scale, y, f.label(tick), "r")
    draw.line([(f.left, bottom), (right, bottom)], fill="#999999", width=round(scale))
    for month in range(1, 13):
        x = f.x(date(series.year, month, 1))
        draw.line([(x, bottom), (x, bottom + 4 * scale)], fill="#999999", width=round(scale))
        text(f.x(date(series.year, month, 15)), bottom + 12 * scale, str(month), "m")
    for key, value in (("baseline", series.baseline), ("target", series.target)):
        y = f.y(value)
        dashed((f.left, y), (right, y), 6 * scale, 4 * scale, colours[key])
    dashed(
        (f.x(first), f.y(series.expected_start)),
        (f.x(last), f.y(series.expected_end)),
        2 * scale,
        3 * scale,
        colours["expected"],
    )
    points = [(f.x(day), f.y(value), value) for day, value in series.points]
    if len(points) > 1:
        draw.line(
            [(x, y) for x, y, _ in points],
            fill=colours["readings"],
            width=round(2 * scale),
            joint="curve",
        )
    radius = 3 * scale
    for x, y, value in points:
        draw.ellipse([(x - radius, y - radius), (x + radius, y + radius)], fill=colours["readings"])
        text(x, y - 9 * scale, number(value), "m", small)
    stream = io.BytesIO()
    image.save(stream, format="PNG")
    return stream.getvalue()


# --- the page's charts as pictures, for Word --------------------------------------------------

_SVG = "{http://www.w3.org/2000/svg}"


def _dashes(
    draw: object,
    start: tuple[float, float],
    end: tuple[float, float],
    pattern: list[float],
    **pen: object,
) -> None:
    length = math.dist(start, end)
    if length == 0:
        return
    dx, dy = (end[0] - start[0]) / length, (end[1] - start[1]) / length
    at, index = 0.0, 0
    while at < length:
        to = min(at + pattern[index % len(pattern)], length)
        if index % 2 == 0:
            draw.line(  # type: ignore[attr-defined]
                [
                    (start[0] + dx * at, start[1] + dy * at),
                    (start[0] + dx * to, start[1] + dy * to),
                ],
                **pen,
            )
        at, index = to, index + 1


def svg_png(
    svg: str, font_file: str, scale: float = 2.0, font_index: int = 0
) -> tuple[bytes, float, float]:
    """One of this module's SVG charts drawn as PNG with Pillow, shape for shape (rect,
    line, polyline, circle, text in ``font_file``, its face ``font_index``): the picture
    Word shows is the chart the page and the PDF show. Returns the PNG and the chart's
    width and height (SVG units).

    Only the few shapes and attributes these charts use are drawn; that is what keeps it
    cheap (milliseconds a chart) beside a real SVG renderer, which is not installed."""
    from xml.etree import ElementTree

    from PIL import Image, ImageDraw, ImageFont  # imported here: only Word needs it

    root = ElementTree.fromstring(svg)
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    image = Image.new("RGB", (round(width * scale), round(height * scale)), "white")
    draw = ImageDraw.Draw(image)
    faces: dict[float, object] = {}

    def face(size: float) -> object:
        if size not in faces:
            faces[size] = ImageFont.truetype(font_file, round(size * scale), index=font_index)
        return faces[size]

    def number(element: object, name: str, default: float = 0.0) -> float:
        return float(element.get(name, default)) * scale  # type: ignore[attr-defined]

    def colour(value: str | None) -> str | None:
        return None if value in (None, "none") else value

    for element in root.iter():
        tag = element.tag.removeprefix(_SVG)
        stroke = colour(element.get("stroke"))
        pen_width = max(1, round(float(element.get("stroke-width", 1)) * scale))
        dashes = [float(d) * scale for d in element.get("stroke-dasharray", "").split()]
        if tag == "rect":
            x, y = number(element, "x"), number(element, "y")
            box = [(x, y), (x + number(element, "width"), y + number(element, "height"))]
            draw.rectangle(
                box, fill=colour(element.get("fill", "black")), outline=stroke, width=pen_width
            )
        elif tag in ("line", "polyline"):
            if tag == "line":
                points = [
                    (number(element, "x1"), number(element, "y1")),
                    (number(element, "x2"), number(element, "y2")),
                ]
            else:
                points = [
                    (float(x) * scale, float(y) * scale)
                    for x, y in (pair.split(",") for pair in element.get("points", "").split())
                ]
            for start, end in itertools.pairwise(points):
                if dashes:
                    _dashes(draw, start, end, dashes, fill=stroke, width=pen_width)
                else:
                    draw.line([start, end], fill=stroke, width=pen_width)
        elif tag == "circle":
            x, y, r = number(element, "cx"), number(element, "cy"), number(element, "r")
            draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=colour(element.get("fill")))
        elif tag == "text" and element.text:
            anchor = {"end": "rs", "middle": "ms"}.get(element.get("text-anchor", ""), "ls")
            draw.text(
                (number(element, "x"), number(element, "y")),
                element.text,
                fill=colour(element.get("fill")) or "#000000",
                font=face(float(element.get("font-size", 12))),  # type: ignore[arg-type]
                anchor=anchor,
            )
    stream = io.BytesIO()
    image.save(stream, format="PNG", optimize=False, compress_level=6)
    return stream.getvalue(), width, height
