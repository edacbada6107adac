"""Reading the values people type into submissions: percents, statuses, dates, numbers.

Each parser takes what a cell held and returns a clean value, or raises ``ValueError``
with a reason in Chinese that a liaison understands. A number is always finite: NaN,
infinities and figures too large for a float are refused, never stored.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

from pilot_tracker.errors import CellError
from pilot_tracker.vocabulary import TaskStatus

WHOLE_LIMIT = 10**15  # whole numbers beyond this are shown as 1e+20, not in full
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
# Excel counts days from 1899-12-30 (its 1900 leap-year bug makes that the zero for every
# serial from 1 March 1900). Serials are taken for days in 1990-2100 only: a small number
# in a date cell (a percent, a year) is a mistake to name, not a day in 1900.
EXCEL_EPOCH = date(1899, 12, 30)
EXCEL_SERIALS = range((date(1990, 1, 1) - EXCEL_EPOCH).days, (date(2101, 1, 1) - EXCEL_EPOCH).days)

# What people type for each status, beside its own label (未启动 推进中 已完成 滞后 暂停).
STATUS_WORDS: dict[str, TaskStatus] = {
    **{
        word: TaskStatus.NOT_STARTED
        for word in ("未启动", "未开始", "尚未启动", "尚未开始", "未开展")
    },
    **{
        word: TaskStatus.IN_PROGRESS
        for word in (
            "推进中",
            "进行中",
            "正在推进",
            "在推进",
            "实施中",
            "正在实施",
            "有序推进",
            "在建",
        )
    },
    **{
        word: TaskStatus.COMPLETED
        for word in ("已完成", "完成", "已办结", "办结", "已落实", "已结束")
    },
    **{
        word: TaskStatus.DELAYED
        for word in ("滞后", "进度滞后", "延期", "延误", "落后", "推进缓慢")
    },
    **{word: TaskStatus.SUSPENDED for word in ("暂停", "中止", "暂缓", "停滞", "已暂停")},
    **{status.value: status for status in TaskStatus},
    "not started": TaskStatus.NOT_STARTED,
    "in progress": TaskStatus.IN_PROGRESS,
    "ongoing": TaskStatus.IN_PROGRESS,
    "done": TaskStatus.COMPLETED,
    "complete": TaskStatus.COMPLETED,
    "delayed": TaskStatus.DELAYED,
    "late": TaskStatus.DELAYED,
    "paused": TaskStatus.SUSPENDED,
    "on hold": TaskStatus.SUSPENDED,
}


def normalise(text: str) -> str:
    """Full-width letters, digits and signs as half-width; outer spaces gone."""
    return unicodedata.normalize("NFKC", text).strip()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not normalise(value))


def parse_status(value: Any) -> TaskStatus | None:
    """A status in Chinese or English, with the synonyms people type."""
    if is_blank(value):
        return None
    key = re.sub(r"\s+", " ", normalise(str(value)).lower())
    status = STATUS_WORDS.get(key) or STATUS_WORDS.get(key.replace(" ", ""))
    if status is None:
        raise CellError(
            f"无法识别的进展状态“{_short(value)}”，请从未启动、推进中、已完成、滞后、暂停中选择"
        )
    return status


def parse_percent(value: Any, *, percent_format: bool = False) -> float | None:
    """A completion percent: 80, "80%", "８０％", 0.8 (a fraction), or 0.8 formatted as %.

    A number below 1 with a fraction is read as a share (0.8 is 80%); 1 is 1%.
    """
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise CellError(f"无法识别的完成进度“{value}”，请填写 0-100 的数字")
    unreadable = f"无法识别的完成进度“{_short(value)}”，请填写 0-100 的数字，如 80"
    if isinstance(value, int | float):
        number = finite(value)
        if number is None:
            raise CellError(unreadable)
        share = percent_format or 0 < number < 1
        if percent_format:
            value = f"{number * 100:g}%"  # name it as typed in the cell
    else:
        text = normalise(str(value)).replace(" ", "")
        marked = text.endswith("%")
        text = text.removesuffix("%")
        number = finite(text) if _NUMBER.match(text) else None
        if number is None:
            raise CellError(unreadable)
        share = not marked and 0 < number < 1
    return _in_range(round(number * 100 if share else number, 4), value)


def _in_range(number: float, value: Any) -> float:
    if not 0 <= number <= 100:
        raise CellError(f"完成进度“{_short(value)}”超出范围，应在 0-100 之间")
    return number


def parse_day(value: Any) -> date | None:
    """A date from a cell, however it was written: an Excel date or datetime, an Excel serial
    number (44286), 2021-03-31, 2021/3/31, 2021.3.31, 2021年3月31日, 20210331, also in
    full-width digits. None for a blank; ``ValueError`` (in Chinese) for anything else.

    The one date parser: submissions, the ledger workbook, program files and holiday
    notices all read dates with it, each wrapping the error in its own words.
    """
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        day = _excel_day(value)
    else:
        day = _text_day(normalise(str(value)))
    if day is None:
        raise CellError(f"日期“{_short(value)}”无效，请按 2021-03-31 的格式填写")
    return day


def _excel_day(number: float) -> date | None:
    """The day of an Excel serial number (its time of day dropped), or of 20210331."""
    if not math.isfinite(number):
        return None
    whole = math.floor(number)
    if whole in EXCEL_SERIALS:
        return EXCEL_EPOCH + timedelta(days=whole)
    return _text_day(str(whole)) if whole == number else None


def _text_day(text: str) -> date | None:
    match = _DATE_TEXT.match(text) or _COMPACT_DATE.match(text)
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def parse_number(value: Any) -> float | None:
    """A figure: 12.5, "12.5", "1,234", "１２．５", "12.5%"."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise CellError(f"“{value}”不是数字")
    if isinstance(value, int | float):
        number = finite(value)
    else:
        text = normalise(str(value)).replace(",", "").replace(" ", "").rstrip("%")
        matched = _NUMBER.match(text)
        if not matched and not _infinite(text):
            raise CellError(f"“{_short(value)}”不是数字，请填写数值")
        number = finite(text) if matched else None
    if number is None:
        raise CellError(f"“{_short(value)}”不是有效的数字（过大或无穷），请填写具体数值")
    return number


def finite(value: Any) -> float | None:
    """``value`` as a finite float; None for NaN, infinities and figures beyond a float."""
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _infinite(text: str) -> bool:
    """Whether ``text`` is a float to Python but not a finite one: NaN, inf, 1e999."""
    try:
        return not math.isfinite(float(text))
    except (OverflowError, ValueError):
        return False


# Measure units that count things (人, 个, 套 ...), also with a magnitude (万人, 千人次).
COUNT_MEASURES = frozenset("人名位个家户所座处间套项件次场期批支只台辆部本册篇门张份单起例") | {
    "人次"
}
PERCENT_MEASURES = frozenset({"%", "百分比", "百分点"})
COUNT_LIMIT = 1e9  # more than the youth of any district, far below a typo like 1e308
FIGURE_LIMIT = 1e12
RATE_LIMIT = 1000.0


def counts(measure: str) -> bool:
    """Whether the measure unit counts things (人, 个, 万人次 ...): never negative."""
    return normalise(measure).lstrip("十百千万亿") in COUNT_MEASURES


def plausible_range(measure: str, baseline: float, target: float) -> tuple[float, float]:
    """The values a reading of an indicator with this measure unit can plausibly take.

    A percent is a share (0-100) unless the indicator's own baseline or target lies
    outside that, as a growth rate's may; a count is never negative; any other figure
    stays within a generous bound. The bounds never exclude the baseline or the target.
    """
    unit = normalise(measure)
    own = (baseline, target)
    if unit in PERCENT_MEASURES:
        if all(0 <= value <= 100 for value in own):
            return 0.0, 100.0
        return -RATE_LIMIT, max(RATE_LIMIT, *own)
    if counts(unit):
        return 0.0, max(COUNT_LIMIT, *(abs(value) * 10 for value in own))
    bound = max(FIGURE_LIMIT, *(abs(value) * 10 for value in own))
    return -bound, bound


def check_reading(number: float, *, measure: str, baseline: float, target: float) -> float:
    """``number`` if it is a plausible reading of the indicator, else ``ValueError``."""
    low, high = plausible_range(measure, baseline, target)
    if low <= number <= high:
        return number
    unit = normalise(measure)
    if low == 0 and number < 0 and unit not in PERCENT_MEASURES:
        raise CellError(f"当前值不能为负数（计量单位：{unit}），请核对数值")
    raise CellError(
        f"当前值 {figure(number)}{unit} 超出合理范围（{figure(low)}-{figure(high)}{unit}），"
        "请核对数值和计量单位"
    )


def figure(number: float) -> str:
    """A number as a reader takes it in: 100, 12.5, 10亿, 1e+308."""
    for name, size in (("万亿", 1e12), ("亿", 1e8)):
        if size <= abs(number) < size * 1e4 and (number / size).is_integer():
            return f"{number / size:g}{name}"
    return f"{number:g}"


def text_of(value: Any, limit: int = 4000) -> str:
    """Free text, trimmed and bounded."""
    if is_blank(value):
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer() and abs(value) < WHOLE_LIMIT:
        value = int(value)
    return _short(value, limit) if isinstance(value, int) else str(value).strip()[:limit]


def _short(value: Any, limit: int = 30) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= WHOLE_LIMIT:
        value = finite(value) or "（位数过多的数字）"  # 1e+20, not twenty digits
    text = str(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
