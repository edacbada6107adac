"""Working days (工作日): one calendar for the installation, under every program.

Where a day comes from, first match wins:

1. the program's own ``calendar:`` overrides (program file);
2. a year the operator entered from the State Council's notice (``calendar add``), kept in
   the database: its holidays and make-up workdays (调休), and Monday to Friday for the
   other days of that year. A notice may also name days of the neighbouring year (元旦
   that starts in December), and those days count too;
3. the ``chinese-calendar`` package, for the years it covers;
4. Monday to Friday, guessed. The calendar then says it is ``unofficial``, so every output
   of that run can say so.

An entered year stays in force even when a later package release covers it too:
``differences`` lists the days on which the two disagree, until the operator retires the
entered year.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import chinese_calendar
from sqlmodel import Session, col, select

from pilot_tracker.alerts import outbox
from pilot_tracker.errors import CalendarError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import short_name
from pilot_tracker.models import CalendarYear, Notification

if TYPE_CHECKING:
    from pilot_tracker.ledger.program_file import ProgramSpec

OFFICIAL = "official"
UNOFFICIAL = "unofficial"

# How a year's days are known: ``calendar list`` shows one of these.
PACKAGE = "official"
ENTERED = "entered"
GUESSED = "guessed"

# The package names its holidays in English; users read them in Chinese.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@cache
def package_version() -> str:
    from importlib.metadata import version

    return f"chinese-calendar {version('chinese-calendar')}"


@cache
def package_years() -> range:
    """The years the installed ``chinese-calendar`` knows."""
    years = [day.year for day in chinese_calendar.holidays]
    return range(min(years), max(years) + 1)


@dataclass
class Arrangement:
    """A year's holidays and make-up workdays as one notice (or several) set them.

    ``holidays`` and ``workdays`` map each day to the holiday's name (a make-up workday
    belongs to the holiday it makes up for). ``extensions`` is what a notice that extends
    a holiday says: the holiday's name and its new last day.
    """

    year: int
    source: str
    issued: date | None = None
    holidays: dict[date, str] = field(default_factory=dict)
    workdays: dict[date, str] = field(default_factory=dict)
    extensions: dict[str, date] = field(default_factory=dict)

    def amended_by(self, later: Arrangement) -> Arrangement:
        """This year as a later notice amends it: each holiday the later notice names is
        replaced whole (its days off and its workdays); an extension lengthens one."""
        if later.year != self.year:
            raise CalendarError(
                f"the amending notice is for {later.year}, not {self.year}; "
                f"enter it with `pilot-tracker calendar add {later.year} ...`"
            )
        named = set(later.holidays.values()) | set(later.workdays.values())
        holidays = {d: n for d, n in self.holidays.items() if n not in named}
        workdays = {d: n for d, n in self.workdays.items() if n not in named}
        holidays.update(later.holidays)
        workdays.update(later.workdays)
        for name, last in later.extensions.items():
            days = sorted(d for d, n in holidays.items() if n == name)
            if not days:
                raise CalendarError(
                    f"{later.source}: extends {name}, which the entered {self.year} has not"
                )
            day = days[-1]
            while day < last:
                day += timedelta(days=1)
                holidays[day] = name
                workdays.pop(day, None)
        return Arrangement(
            year=self.year,
            source=f"{self.source}; {later.source}",
            issued=later.issued or self.issued,
            holidays=holidays,
            workdays=workdays,
        )

    def to_json(self, status: str) -> dict[str, Any]:
        """The form ``calendar show --json`` prints."""
        return {
            "year": self.year,
            "source": self.source,
            "status": status,
            "issued": self.issued.isoformat() if self.issued else None,
            "holidays": _named(self.holidays),
            "workdays": [day.isoformat() for day in sorted(self.workdays)],
        }

    def by_holiday(self) -> list[tuple[str, list[date], list[date]]]:
        """Each holiday in date order: its name, days off and make-up workdays."""
        names = sorted(
            set(self.holidays.values()),
            key=lambda name: min(d for d, n in self.holidays.items() if n == name),
        )
        return [
            (
                name,
                sorted(d for d, n in self.holidays.items() if n == name),
                sorted(d for d, n in self.workdays.items() if n == name),
            )
            for name in names
        ]

    @classmethod
    def from_row(cls, row: CalendarYear) -> Arrangement:
        return cls.stored(row.year, row.source, row.issued, row.holidays, row.workdays)

    @classmethod
    def stored(
        cls,
        year: int,
        source: str,
        issued: date | None,
        holidays: list[dict[str, str]],
        workdays: list[dict[str, str]],
    ) -> Arrangement:
        """A stored year from its columns, in ``YEAR_COLUMNS``'s order."""
        return cls(
            year=year,
            source=source,
            issued=issued,
            holidays={date.fromisoformat(h["date"]): h["name"] for h in holidays},
            workdays={date.fromisoformat(w["date"]): w["name"] for w in workdays},
        )


def _named(days: dict[date, str]) -> list[dict[str, str]]:
    return [{"date": day.isoformat(), "name": name} for day, name in sorted(days.items())]


class WorkCalendar:
    """Which days are working days, for one program."""

    def __init__(
        self,
        *,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        entered: Mapping[int, Arrangement] | None = None,
    ):
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self.entered = dict(entered or {})
        self._entered_days: dict[date, bool] = {}
        for arrangement in sorted(self.entered.values(), key=lambda a: a.year):
            self._entered_days.update(dict.fromkeys(arrangement.holidays, False))
            self._entered_days.update(dict.fromkeys(arrangement.workdays, True))
        self.guessed_years: set[int] = set()
        # The months in which a day is not as the package has it: the program's own days,
        # and those of the entered years (a notice may set a day of the year before).
        self._special_months = {
            (day.year, day.month) for day in (*self.holidays, *self.workdays, *self._entered_days)
        }

    def source_of(self, year: int) -> str:
        """``entered``, ``official`` (the package) or ``guessed``."""
        if year in self.entered:
            return ENTERED
        return PACKAGE if year in package_years() else GUESSED

    def covers(self, day: date) -> bool:
        """Whether the official calendar (the package or an entered year) knows this day."""
        return self.source_of(day.year) != GUESSED

    def is_workday(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if day in self._entered_days:
            return self._entered_days[day]
        if day.year in self.entered:
            return day.weekday() < 5
        official = _package_says(day)
        if official is None:
            self.guessed_years.add(day.year)
            return day.weekday() < 5
        return official

    @property
    def status(self) -> str:
        """``official``, or ``unofficial`` once a day of an uncovered year was looked at."""
        return UNOFFICIAL if self.guessed_years else OFFICIAL

    def note(self) -> str:
        """What a report or a notice says when some of its working days were guessed."""
        if not self.guessed_years:
            return ""
        years = "、".join(f"{year}年" for year in sorted(self.guessed_years))
        return (
            f"注：{years}的法定节假日安排尚未录入系统，其中的工作日按周一至周五推算，"
            "涉及的截止日期、及时率和天数可能与实际不符。"
        )

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

    def workdays_since(self, starts: Iterable[date], end: date) -> dict[date, int]:
        """``workdays_between(start, end)`` for each of ``starts``, in one walk back from
        ``end``: a whole month the package's calendar covers, where neither the program
        nor an entered year says otherwise, is counted at once (remembered across
        calendars); any other day is asked, as ``workdays_between`` asks it."""
        wanted = sorted(set(starts), reverse=True)
        counts = {start: 0 for start in wanted if start >= end}
        count, day = 0, end
        for start in (start for start in wanted if start < end):
            while day > start:
                first = day.replace(day=1)
                whole = (
                    (day + timedelta(days=1)).day == 1
                    and first > start
                    and day.year not in self.entered
                    and (day.year, day.month) not in self._special_months
                )
                in_month = _package_month(day.year, day.month) if whole else None
                if in_month is not None:
                    count += in_month
                    day = first - timedelta(days=1)
                else:
                    count += self.is_workday(day)
                    day -= timedelta(days=1)
            counts[start] = count
        return counts

    def year(self, year: int) -> Arrangement:
        """A year's holidays (with names) and make-up workdays, wherever they come from."""
        if year in self.entered:
            return self.entered[year]
        arrangement = Arrangement(year=year, source=GUESSED)
        if year in package_years():
            arrangement.source = package_version()
            for day, name in chinese_calendar.holidays.items():
                if day.year == year:
                    arrangement.holidays[day] = HOLIDAY_NAMES.get(name, name)
            for day, name in chinese_calendar.workdays.items():
                if day.year == year and day.weekday() >= 5:
                    arrangement.workdays[day] = HOLIDAY_NAMES.get(name, name)
        else:
            arrangement.source = "Monday to Friday (guessed)"
        # Days of this year that an entered neighbour's notice set (元旦 from December).
        for other in self.entered.values():
            arrangement.holidays.update({d: n for d, n in other.holidays.items() if d.year == year})
            arrangement.workdays.update({d: n for d, n in other.workdays.items() if d.year == year})
        return arrangement


@cache
def _package_month(year: int, month: int) -> int | None:
    """The working days of a month by the package's calendar; None if it does not cover
    every day of it."""
    day, count = date(year, month, 1), 0
    while day.month == month:
        says = _package_says(day)
        if says is None:
            return None
        count += says
        day += timedelta(days=1)
    return count


@cache
def _package_says(day: date) -> bool | None:
    """Whether the package's calendar has ``day`` as a working day; None for a year it
    does not cover. Remembered: the rules ask about the same days for every program."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def days_of(year: int) -> list[date]:
    day, last = date(year, 1, 1), date(year, 12, 31)
    days = []
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days


def differences(arrangement: Arrangement) -> list[tuple[date, bool, bool]]:
    """Days of an entered year on which the package disagrees: (day, entered says working,
    package says working). Empty when the package does not cover the year."""
    if arrangement.year not in package_years():
        return []
    entered = WorkCalendar(entered={arrangement.year: arrangement})
    return [
        (day, entered.is_workday(day), chinese_calendar.is_workday(day))
        for day in days_of(arrangement.year)
        if entered.is_workday(day) != chinese_calendar.is_workday(day)
    ]


# --- the entered years, in the database ----------------------------------------------------


_YEAR = CalendarYear.__table__  # type: ignore[attr-defined]
# What an entered year holds, as columns a statement may read beside others (the flag reads
# them with its program's row), in the order ``Arrangement.stored`` takes them.
YEAR_COLUMNS = (_YEAR.c.year, _YEAR.c.source, _YEAR.c.issued, _YEAR.c.holidays, _YEAR.c.workdays)


def entered_years(*, session: Session) -> dict[int, Arrangement]:
    """Every year the operator entered, by year."""
    rows = session.exec(select(CalendarYear).order_by(CalendarYear.year)).all()
    return {row.year: Arrangement.from_row(row) for row in rows}


def calendar_of(*, session: Session, spec: ProgramSpec | None = None) -> WorkCalendar:
    """The installation's calendar, with a program's own overrides on top when given."""
    return calendar_for(spec, entered_years(session=session))


def calendar_for(spec: ProgramSpec | None, entered: Mapping[int, Arrangement]) -> WorkCalendar:
    """``calendar_of`` with the entered years already read."""
    overrides = spec.calendar if spec is not None else None
    return WorkCalendar(
        holidays=overrides.holidays if overrides else (),
        workdays=overrides.workdays if overrides else (),
        entered=entered,
    )


def enter_year(
    *,
    session: Session,
    arrangement: Arrangement,
    now: datetime,
    replace: bool = False,
    amend: bool = False,
) -> Arrangement:
    """Store a year from a notice; an entered year is replaced only with ``replace`` and
    amended only with ``amend``. Returns what is now in force for the year."""
    row = session.get(CalendarYear, arrangement.year)
    year = arrangement.year
    if amend:
        if row is None:
            raise CalendarError(
                f"{year} has not been entered, so there is nothing to amend; "
                f"enter the year's notice first: `pilot-tracker calendar add {year} NOTICE`"
            )
        arrangement = Arrangement.from_row(row).amended_by(arrangement)
    elif row is not None and not replace:
        raise CalendarError(
            f"{year} was already entered (from {row.source}); "
            "use --replace to replace it, or --amend for a later notice that amends it"
        )
    if arrangement.extensions:
        raise CalendarError(
            f"{arrangement.source}: extends a holiday of {year}; "
            f"enter the year first, then this notice with --amend"
        )
    if not arrangement.holidays:
        raise CalendarError(f"{arrangement.source}: names no holiday of {year}; nothing stored")
    if row is None:
        row = CalendarYear(year=year)
    row.source = arrangement.source[:500]
    row.issued = arrangement.issued
    row.holidays = _named(arrangement.holidays)
    row.workdays = _named(arrangement.workdays)
    row.entered_at = now
    session.add(row)
    session.flush()
    return arrangement


def retire_year(*, session: Session, year: int) -> Arrangement:
    """Remove an entered year: the package (or the guess) takes over again."""
    row = session.get(CalendarYear, year)
    if row is None:
        raise CalendarError(f"{year} was not entered; `pilot-tracker calendar list` shows what was")
    arrangement = Arrangement.from_row(row)
    session.delete(row)
    session.flush()
    return arrangement


def uncovered_next_year(
    *, today: date, calendar: WorkCalendar, warn_from: tuple[int, int] = (11, 1)
) -> int | None:
    """Next year, when today is on or after ``warn_from`` (month, day) and nothing official
    covers it yet; else None."""
    if (today.month, today.day) < warn_from:
        return None
    following = today.year + 1
    return None if calendar.covers(date(following, 1, 1)) else following


WARNING_INTERVAL = timedelta(days=7)


def warning_text(year: int) -> str:
    """What the operator reads (status, the flows' log) while ``year`` is not covered."""
    return (
        f"the calendar has no official days for {year}: from {year}-01-01 working days "
        f"will be guessed as Monday to Friday (holidays counted as working days); enter the "
        f"State Council's notice once for every program: pilot-tracker calendar add {year} NOTICE"
    )


def year_end_warning(
    *,
    session: Session,
    program: str,
    today: date,
    now: datetime,
    templates: outbox.Templates,
    warn_from: tuple[int, int] = (11, 1),
) -> tuple[int | None, bool]:
    """Before the year turns: (next year if nothing official covers it, else None; whether
    a warning to the program's office was queued now). The office hears at most once a
    week."""
    record = store.get_program(session=session, code=program)
    year = uncovered_next_year(
        today=today, calendar=calendar_of(session=session), warn_from=warn_from
    )
    if year is None:
        return None, False
    prefix = f"calendar:{year}:{program}:"
    sent_on = [
        date.fromisoformat(key.removeprefix(prefix))
        for key in session.exec(
            select(Notification.dedup_key).where(col(Notification.dedup_key).startswith(prefix))
        ).all()
    ]
    if any(today - WARNING_INTERVAL < day <= today for day in sent_on):
        return year, False
    subject, body = templates.render(
        "alerts/calendar.txt.j2",
        program=record,
        short=short_name(record.name),
        year=year,
        today=today,
    )
    queued = outbox.enqueue(
        session=session,
        program_id=record.id,
        dedup_key=prefix + today.isoformat(),
        target="role:office",
        subject=subject,
        body=body,
        now=now,
    )
    return year, queued is not None
