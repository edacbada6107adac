"""Working days (工作日): the official Chinese calendar, with its holidays and make-up
workdays (调休), plus a program's own overrides.

For a year the ``chinese-calendar`` package does not cover, Monday to Friday are taken
as working days and the calendar says it is ``unofficial``, so every output of that run
can say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar

OFFICIAL = "official"
UNOFFICIAL = "unofficial"


class WorkCalendar:
    """Which days are working days, for one program."""

    def __init__(self, *, holidays: Iterable[date] = (), workdays: Iterable[date] = ()):
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self.guessed_years: set[int] = set()

    def covers(self, day: date) -> bool:
        """Whether the official calendar knows this day's year."""
        try:
            chinese_calendar.is_workday(day)
        except NotImplementedError:
            return False
        return True

    def is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            self.guessed_years.add(day.year)
            return day.weekday() < 5

    @property
    def status(self) -> str:
        """``official``, or ``unofficial`` once a day of an uncovered year was looked at."""
        return UNOFFICIAL if self.guessed_years else OFFICIAL

    def roll_forward(self, day: date) -> date:
        """The day itself if it is a working day, else the next one (a deadline on a
        holiday falls due on the next working day)."""
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def add_workdays(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        while count:
            day += timedelta(days=1)
            if self.is_workday(day):
                count -= 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count
