"""Working days: official holidays, make-up workdays (调休), overrides, uncovered years."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from pilot_tracker.reports import schedule
from pilot_tracker.supervise.workdays import Arrangement, WorkCalendar


@pytest.mark.parametrize(
    ("day", "workday", "why"),
    [
        (date(2021, 2, 11), False, "Spring Festival eve, a holiday"),
        (date(2021, 2, 7), True, "a Sunday worked in exchange (调休)"),
        (date(2021, 2, 20), True, "a Saturday worked in exchange (调休)"),
        (date(2021, 5, 3), False, "Labour Day week"),
        (date(2021, 4, 25), True, "a Sunday worked before Labour Day"),
        (date(2021, 3, 31), True, "an ordinary Wednesday"),
        (date(2021, 3, 27), False, "an ordinary Saturday"),
        (date(2021, 10, 1), False, "National Day"),
    ],
)
def test_the_official_calendar(day: date, workday: bool, why: str) -> None:
    calendar = WorkCalendar()
    assert calendar.is_workday(day) is workday, why
    assert calendar.status == "official"


@pytest.mark.parametrize(
    ("deadline", "due"),
    [
        (date(2021, 2, 12), date(2021, 2, 18)),  # Spring Festival: due after the holiday
        (date(2021, 4, 25), date(2021, 4, 25)),  # a make-up Sunday is a working day
        (date(2021, 9, 25), date(2021, 9, 26)),  # Saturday → Sunday worked before National Day
        (date(2021, 10, 2), date(2021, 10, 8)),
        (date(2021, 3, 25), date(2021, 3, 25)),
    ],
)
def test_a_deadline_on_a_holiday_rolls_to_the_next_working_day(deadline: date, due: date) -> None:
    assert WorkCalendar().roll_forward(deadline) == due


@pytest.mark.parametrize(
    ("start", "count", "end"),
    [
        (date(2021, 3, 25), 3, date(2021, 3, 30)),  # Thu + 3 working days skips the weekend
        (date(2021, 2, 9), 3, date(2021, 2, 19)),  # over Spring Festival (2-20 is worked too)
        (date(2021, 4, 30), 1, date(2021, 5, 6)),
        (date(2021, 3, 25), 0, date(2021, 3, 25)),
    ],
)
def test_adding_working_days(start: date, count: int, end: date) -> None:
    calendar = WorkCalendar()
    assert calendar.add_workdays(start, count) == end
    assert calendar.workdays_between(start, end) == count


def test_working_days_since_many_starts_in_one_walk() -> None:
    """Each start's count is ``workdays_between``'s: starts after the end, equal, repeated,
    across Spring Festival and a program's own holiday."""
    calendar = WorkCalendar(holidays=[date(2021, 3, 31)])
    end = date(2021, 4, 6)
    starts = [
        date(2021, 1, 29),
        date(2021, 2, 9),
        date(2021, 2, 9),
        date(2021, 3, 30),
        date(2021, 4, 5),
        end,
        date(2021, 4, 20),
    ]
    counts = calendar.workdays_since(starts, end)
    assert counts == {start: calendar.workdays_between(start, end) for start in starts}
    assert counts[date(2021, 3, 30)] == 3  # 4-1, 4-2, 4-6 (3-31 the program's; 4-3 to 4-5 清明)
    assert calendar.workdays_since([], end) == {}


def test_working_days_since_count_whole_months_as_day_by_day() -> None:
    """Months counted at once give the day-by-day count, with the program's own days, an
    entered year that also sets a day of the year before, and a year the package does not
    cover (guessed, and said to be, either way)."""
    entered = Arrangement(
        year=2022,
        source="entered",
        holidays={date(2022, 10, 3): "国庆节", date(2021, 12, 31): "元旦"},
        workdays={date(2022, 10, 8): "国庆节"},
    )

    def calendar() -> WorkCalendar:
        return WorkCalendar(
            holidays=[date(2021, 3, 31)], workdays=[date(2021, 6, 5)], entered={2022: entered}
        )

    chance = random.Random(19)
    for _ in range(300):
        end = date(2020, 1, 1) + timedelta(days=chance.randrange(365 * 17))
        starts = [end - timedelta(days=chance.randrange(800)) for _ in range(3)]
        one, each = calendar(), calendar()
        counts = one.workdays_since(starts, end)
        assert counts == {start: each.workdays_between(start, end) for start in starts}
        assert one.guessed_years == each.guessed_years


def test_program_overrides_win() -> None:
    calendar = WorkCalendar(holidays=[date(2021, 3, 31)], workdays=[date(2021, 3, 27)])
    assert not calendar.is_workday(date(2021, 3, 31))
    assert calendar.is_workday(date(2021, 3, 27))
    assert calendar.roll_forward(date(2021, 3, 31)) == date(2021, 4, 1)


def test_a_year_the_calendar_does_not_cover_is_monday_to_friday_and_says_so() -> None:
    calendar = WorkCalendar()
    assert calendar.status == "official"
    assert calendar.is_workday(date(2035, 10, 1))  # a Monday; National Day is not known
    assert not calendar.is_workday(date(2035, 10, 6))  # a Saturday
    assert not calendar.covers(date(2035, 1, 1))
    assert calendar.status == "unofficial"


def test_counting_needs_a_direction() -> None:
    with pytest.raises(ValueError):
        WorkCalendar().add_workdays(date(2021, 3, 1), -1)


@pytest.mark.parametrize(
    ("period", "day"),
    [
        # Q1 ends on Wednesday 03-31; 04-03 to 04-05 are the Qingming holiday:
        # 04-01, 04-02, 04-06, 04-07, 04-08.
        ("2021Q1", date(2021, 4, 8)),
        ("2021Q2", date(2021, 7, 7)),  # 07-01, 02, 05, 06, 07
        ("2021H1", date(2021, 7, 9)),  # two working days more: 07-08, 09
        ("2020Q4", date(2021, 1, 8)),  # 01-01 is New Year's Day: 01-04 to 01-08
    ],
)
def test_each_document_is_written_on_its_working_day(period: str, day: date) -> None:
    assert schedule.writing_day(WorkCalendar(), period) == day


def test_the_documents_written_between_two_days() -> None:
    assert schedule.writing_days(WorkCalendar(), date(2021, 1, 4), date(2021, 7, 9)) == {
        date(2021, 4, 8): [("quarterly", "2021Q1")],
        date(2021, 7, 7): [("quarterly", "2021Q2")],
        date(2021, 7, 9): [("half_year", "2021H1")],
    }
