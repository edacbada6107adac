"""Reading the values people type into submissions: percents, statuses, dates, numbers.

Each parser takes what a cell held and returns a clean value, or raises ``ValueError``
with a reason in Chinese that a liaison understands.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from pilot_tracker.models import TaskStatus
from pilot_tracker.spreadsheet import parse_date

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")

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
        raise ValueError(
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
        raise ValueError(f"无法识别的完成进度“{value}”，请填写 0-100 的数字")
    if isinstance(value, int | float):
        number = float(value)
        share = percent_format or 0 < number < 1
        if percent_format:
            value = f"{number * 100:g}%"  # name it as typed in the cell
    else:
        text = normalise(str(value)).replace(" ", "")
        marked = text.endswith("%")
        text = text.removesuffix("%")
        if not _NUMBER.match(text):
            raise ValueError(f"无法识别的完成进度“{_short(value)}”，请填写 0-100 的数字，如 80")
        number = float(text)
        share = not marked and 0 < number < 1
    return _in_range(round(number * 100 if share else number, 4), value)


def _in_range(number: float, value: Any) -> float:
    if not 0 <= number <= 100:
        raise ValueError(f"完成进度“{_short(value)}”超出范围，应在 0-100 之间")
    return number


def parse_day(value: Any) -> date | None:
    """A date: an Excel date, 2021-03-31, 2021/3/31, 2021.3.31 or 2021年3月31日."""
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = parse_date(normalise(str(value)))
    if isinstance(parsed, date):
        return parsed
    raise ValueError(f"日期“{_short(value)}”无效，请按 2021-03-31 的格式填写")


def parse_number(value: Any) -> float | None:
    """A figure: 12.5, "12.5", "1,234", "１２．５", "12.5%"."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"“{value}”不是数字")
    if isinstance(value, int | float):
        return float(value)
    text = normalise(str(value)).replace(",", "").replace(" ", "").rstrip("%")
    if not _NUMBER.match(text):
        raise ValueError(f"“{_short(value)}”不是数字，请填写数值")
    return float(text)


def text_of(value: Any, limit: int = 4000) -> str:
    """Free text, trimmed and bounded."""
    if is_blank(value):
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:limit]


def _short(value: Any) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= 30 else text[:27] + "..."
