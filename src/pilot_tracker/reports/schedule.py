"""When the documents are written: the quarterly reconciliation on the 5th working day
after its quarter ends, the half-year evaluation on the 7th after its half year, and a
city's roll-up over its pilots the working day after each (the 6th, the 8th), once its
pilots' own reports are out.

Cron cannot count working days, so the schedules fire daily early in the month and write
only on the day ``writing_day`` names; the demo writes on the same days.
"""

from __future__ import annotations

from datetime import date, timedelta

from pilot_tracker import periods
from pilot_tracker.supervise.workdays import WorkCalendar

QUARTERLY_WORKDAY = 5  # the 5th working day after a quarter ends
HALF_YEAR_WORKDAY = 7  # the 7th working day after a half year ends
CITY_AFTER = 1  # a city's roll-up: working days after its pilots' reports of the period


def writing_day(calendar: WorkCalendar, period: str) -> date:
    """The day a quarter's reconciliation or a half year's evaluation is written."""
    if periods.QUARTER.match(period):
        workday = QUARTERLY_WORKDAY
    elif periods.HALF.match(period):
        workday = HALF_YEAR_WORKDAY
    else:
        raise ValueError(f"{period} is neither a quarter nor a half year")
    return calendar.add_workdays(periods.bounds(period)[1], workday)


def city_writing_day(calendar: WorkCalendar, period: str) -> date:
    """The day a city's roll-up of a quarter or a half year is written: the working day
    after its pilots' reconciliations or evaluations of that period."""
    return calendar.add_workdays(writing_day(calendar, period), CITY_AFTER)


def writing_days(
    calendar: WorkCalendar, start: date, end: date
) -> dict[date, list[tuple[str, str]]]:
    """Which documents are written on which days between two days: (kind, period)."""
    due: dict[date, list[tuple[str, str]]] = {}
    day = date(start.year - 1, 12, 31)
    while day <= end:
        quarter = periods.quarter_of(day)
        last = periods.bounds(quarter)[1]
        when = writing_day(calendar, quarter)
        if start <= when <= end and last >= start - timedelta(days=1):
            due.setdefault(when, []).append(("quarterly", quarter))
        if last.month in (6, 12):
            half = periods.half_of(last)
            when = writing_day(calendar, half)
            if start <= when <= end and last >= start - timedelta(days=1):
                due.setdefault(when, []).append(("half_year", half))
        day = periods.bounds(periods.quarter_of(last + timedelta(days=1)))[1]
    return due
