"""Reporting periods: months (2021-03), quarters (2021Q1) and halves (2021H1).

A period is written as a short string so it sorts, stores and prints the same way
everywhere.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, timedelta
from functools import lru_cache

from pilot_tracker.errors import ReportError
from pilot_tracker.vocabulary import Cadence

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_HALF = re.compile(r"^(\d{4})H([12])$")
MONTH, QUARTER, HALF = _MONTH, _QUARTER, _HALF


# The rules and the figures ask the same few hundred days and periods again and again.
@lru_cache(maxsize=8192)
def period_of(day: date, cadence: Cadence | str) -> str:
    """The reporting period a day falls in, for a cadence."""
    if Cadence(cadence) is Cadence.QUARTERLY:
        return quarter_of(day)
    return f"{day.year}-{day.month:02d}"


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def half_of(day: date) -> str:
    return f"{day.year}H{1 if day.month <= 6 else 2}"


def quarter_or_half(text: str) -> str:
    """A quarter (2021Q2) or a half year (2021H1), or a ``ReportError`` that says how to
    write one."""
    if QUARTER.match(text) or HALF.match(text):
        return text
    raise ReportError(
        f'"{text}" is neither a quarter nor a half year; write it as 2021Q2 or 2021H1'
    )


def label(period: str) -> str:
    """A period as a report names it: 2021H1 → 2021年上半年, 2021Q2 → 2021年第2季度,
    2021-03 → 2021年3月."""
    if match := _HALF.match(period):
        return f"{match[1]}年{'上' if match[2] == '1' else '下'}半年"
    if match := _QUARTER.match(period):
        return f"{match[1]}年第{match[2]}季度"
    if match := _MONTH.match(period):
        return f"{match[1]}年{int(match[2])}月"
    return period


@lru_cache(maxsize=4096)
def bounds(period: str) -> tuple[date, date]:
    """The first and last day of a period; ``ValueError`` if it is not one."""
    if match := _MONTH.match(period):
        year, month = int(match[1]), int(match[2])
        return date(year, month, 1), date(year, month, monthrange(year, month)[1])
    if match := _QUARTER.match(period):
        year, quarter = int(match[1]), int(match[2])
        first = 3 * (quarter - 1) + 1
        return date(year, first, 1), date(year, first + 2, monthrange(year, first + 2)[1])
    if match := _HALF.match(period):
        year, half = int(match[1]), int(match[2])
        return (
            (date(year, 1, 1), date(year, 6, 30))
            if half == 1
            else (
                date(year, 7, 1),
                date(year, 12, 31),
            )
        )
    raise ValueError(f'"{period}" is not a period; write 2021-03, 2021Q1 or 2021H1')


def deadline(period: str, day_of_month: int) -> date:
    """The reporting deadline of a period: that day of its last month (clamped to its end)."""
    _, last = bounds(period)
    return date(last.year, last.month, min(day_of_month, last.day))


def ordinal(period: str) -> int:
    """A number that counts periods of one kind: consecutive periods differ by one."""
    if match := _MONTH.match(period):
        return int(match[1]) * 12 + int(match[2]) - 1
    if match := _QUARTER.match(period):
        return int(match[1]) * 4 + int(match[2]) - 1
    if match := _HALF.match(period):
        return int(match[1]) * 2 + int(match[2]) - 1
    raise ValueError(f'"{period}" is not a period; write 2021-03, 2021Q1 or 2021H1')


def last_ended(today: date, kind: str) -> str:
    """The last quarter (``kind="quarter"``) or half year (``"half"``) that ended before
    ``today``: the one a scheduled report writes about."""
    day = today.replace(day=1) - timedelta(days=1)
    months = 3 if kind == "quarter" else 6
    while day.month % months:
        day = day.replace(day=1) - timedelta(days=1)
    return quarter_of(day) if kind == "quarter" else half_of(day)
