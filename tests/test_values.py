"""Reading what people type into submissions: percents, statuses, dates and numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from pilot_tracker.collect.submission_workbook import STATUS_CHOICES
from pilot_tracker.models import TaskStatus
from pilot_tracker.values import (
    check_reading,
    parse_day,
    parse_number,
    parse_percent,
    parse_status,
    text_of,
)

# --- percent -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (80, 80.0),
        (80.0, 80.0),
        (0, 0.0),
        (100, 100.0),
        (1, 1.0),
        (37.5, 37.5),
        ("80", 80.0),
        ("80%", 80.0),
        (" 80 % ", 80.0),
        ("８０％", 80.0),
        ("８０．５％", 80.5),
        ("100%", 100.0),
        ("0.5%", 0.5),
        (0.8, 80.0),
        ("0.8", 80.0),
        (".25", 25.0),
        (0.333, 33.3),
    ],
)
def test_a_percent_is_read_as_people_write_it(value: Any, expected: float) -> None:
    assert parse_percent(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.8, 80.0), (1, 100.0), (1.0, 100.0), (0, 0.0), (0.05, 5.0)],
)
def test_a_cell_formatted_as_percent_holds_a_share(value: Any, expected: float) -> None:
    assert parse_percent(value, percent_format=True) == pytest.approx(expected)


@pytest.mark.parametrize("value", [None, "", "   ", "\u3000"])
def test_an_empty_percent_is_none(value: Any) -> None:
    assert parse_percent(value) is None


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (120, ("超出范围", "0-100")),
        ("120%", ("超出范围", "0-100")),
        (-5, ("超出范围",)),
        ("-10", ("超出范围",)),
        (float("nan"), ("无法识别", "0-100")),  # not a number at all, not one out of range
        ("约一半", ("无法识别", "约一半", "0-100")),
        ("八成", ("无法识别", "八成")),
        ("80%以上", ("无法识别",)),
        ("n/a", ("无法识别",)),
        (True, ("无法识别",)),
    ],
)
def test_a_percent_that_is_not_one_is_rejected_in_chinese(value: Any, words: tuple) -> None:
    with pytest.raises(ValueError) as caught:
        parse_percent(value)
    for word in words:
        assert word in str(caught.value)


def test_a_long_bad_percent_is_shortened_in_the_reason() -> None:
    with pytest.raises(ValueError) as caught:
        parse_percent("大约完成了一半左右，具体数字还要等下个月统计之后才能确定下来\n谢谢")
    reason = str(caught.value)
    assert "..." in reason and "\n" not in reason
    assert len(reason) < 80


# --- status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("未启动", TaskStatus.NOT_STARTED),
        ("尚未开始", TaskStatus.NOT_STARTED),
        ("推进中", TaskStatus.IN_PROGRESS),
        ("进行中", TaskStatus.IN_PROGRESS),
        ("正在推进", TaskStatus.IN_PROGRESS),
        (" 进 行 中 ", TaskStatus.IN_PROGRESS),
        ("已完成", TaskStatus.COMPLETED),
        ("完成", TaskStatus.COMPLETED),
        ("已办结", TaskStatus.COMPLETED),
        ("滞后", TaskStatus.DELAYED),
        ("延期", TaskStatus.DELAYED),
        ("暂停", TaskStatus.SUSPENDED),
        ("暂缓", TaskStatus.SUSPENDED),
        ("In Progress", TaskStatus.IN_PROGRESS),
        ("in  progress", TaskStatus.IN_PROGRESS),
        ("IN_PROGRESS", TaskStatus.IN_PROGRESS),
        ("in_progress", TaskStatus.IN_PROGRESS),
        ("ongoing", TaskStatus.IN_PROGRESS),
        ("Completed", TaskStatus.COMPLETED),
        ("Done", TaskStatus.COMPLETED),
        ("ＤＯＮＥ", TaskStatus.COMPLETED),
        ("Not Started", TaskStatus.NOT_STARTED),
        ("delayed", TaskStatus.DELAYED),
        ("On hold", TaskStatus.SUSPENDED),
    ],
)
def test_a_status_is_read_in_chinese_or_english(value: str, expected: TaskStatus) -> None:
    assert parse_status(value) is expected


@pytest.mark.parametrize("choice", STATUS_CHOICES)
def test_every_choice_of_the_template_drop_down_is_understood(choice: str) -> None:
    assert isinstance(parse_status(choice), TaskStatus)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_empty_status_is_none(value: Any) -> None:
    assert parse_status(value) is None


@pytest.mark.parametrize("value", ["还行", "基本完成了吧", "80", "unknown"])
def test_an_unknown_status_is_rejected_with_the_choices(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_status(value)
    reason = str(caught.value)
    assert "无法识别的进展状态" in reason and value in reason
    for choice in STATUS_CHOICES:
        assert choice in reason


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2021, 3, 31), date(2021, 3, 31)),
        (datetime(2021, 3, 31, 17, 45), date(2021, 3, 31)),
        (date(2021, 3, 31), date(2021, 3, 31)),
        ("2021-03-31", date(2021, 3, 31)),
        ("2021-3-31", date(2021, 3, 31)),
        ("2021/3/31", date(2021, 3, 31)),
        ("2021/03/31", date(2021, 3, 31)),
        ("2021.3.31", date(2021, 3, 31)),
        ("2021年3月31日", date(2021, 3, 31)),
        ("2021年03月31日", date(2021, 3, 31)),
        ("2021 年 3 月 31 日", date(2021, 3, 31)),
        (" 2021-03-31 ", date(2021, 3, 31)),
        ("２０２１年３月３１日", date(2021, 3, 31)),
        ("２０２１－０３－３１", date(2021, 3, 31)),
        ("２０２１/３/３１", date(2021, 3, 31)),
        ("20210331", date(2021, 3, 31)),
        (20210331, date(2021, 3, 31)),
        (44286, date(2021, 3, 31)),  # an Excel serial: a date cell formatted as a number
        (44286.75, date(2021, 3, 31)),
    ],
)
def test_a_date_is_read_as_people_write_it(value: Any, expected: date) -> None:
    assert parse_day(value) == expected


@pytest.mark.parametrize("value", [None, "", " "])
def test_an_empty_date_is_none(value: Any) -> None:
    assert parse_day(value) is None


@pytest.mark.parametrize(
    "value",
    ["2021年13月1日", "2021-02-30", "2021/4/31", "3月31日", "上周五", "31/3/2021", "2021-03"],
)
def test_a_date_that_is_not_one_is_rejected_in_chinese(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_day(value)
    reason = str(caught.value)
    assert "日期" in reason and "无效" in reason and value in reason
    assert "2021-03-31" in reason  # the format to use


@pytest.mark.parametrize("value", [50, 2021, 0.8, -44286, 1e308, float("nan"), True, 20211331])
def test_a_number_that_is_no_day_is_rejected(value: Any) -> None:
    # Serials are days in 1990-2100: a percent or a year typed in a date cell is named.
    with pytest.raises(ValueError) as caught:
        parse_day(value)
    assert "日期" in str(caught.value) and "无效" in str(caught.value)


# --- numbers and text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12.5, 12.5),
        (7, 7.0),
        ("12.5", 12.5),
        ("1,234", 1234.0),
        ("１２．５", 12.5),
        ("5.6%", 5.6),
        ("-0.3", -0.3),
    ],
)
def test_a_number_is_read_as_people_write_it(value: Any, expected: float) -> None:
    assert parse_number(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["约12", "十二", "n/a", True])
def test_a_number_that_is_not_one_is_rejected_in_chinese(value: Any) -> None:
    with pytest.raises(ValueError) as caught:
        parse_number(value)
    assert "不是数字" in str(caught.value)


def test_an_empty_number_is_none() -> None:
    assert parse_number(None) is None
    assert parse_number("  ") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("  已召开联席会议  ", "已召开联席会议"),
        (12.0, "12"),
        (12.5, "12.5"),
        (datetime(2021, 3, 31, 9, 0), "2021-03-31"),
        (date(2021, 3, 31), "2021-03-31"),
    ],
)
def test_text_is_trimmed(value: Any, expected: str) -> None:
    assert text_of(value) == expected


def test_text_is_bounded() -> None:
    assert text_of("进" * 5000) == "进" * 4000
    assert text_of("进展情况", limit=2) == "进展"


# --- values that are not finite or not plausible ------------------------------------------

NOT_FINITE = [
    float("nan"),
    float("inf"),
    float("-inf"),
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "1e999",
    "1E5",
    10**400,
    -(10**400),
    "9" * 400,
]


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
def test_a_number_that_is_not_finite_is_rejected_in_chinese(value: Any) -> None:
    with pytest.raises(ValueError) as caught:
        parse_number(value)
    reason = str(caught.value)
    assert "数" in reason and "请填写" in reason, reason


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
def test_a_percent_that_is_not_finite_is_rejected_in_chinese(value: Any) -> None:
    with pytest.raises(ValueError) as caught:
        parse_percent(value)
    assert "完成进度" in str(caught.value) and "0-100" in str(caught.value)


@pytest.mark.parametrize(
    ("measure", "value"),
    [("%", 55.0), ("%", 0.0), ("%", 100.0), ("人", 30000.0), ("人次", 0.0), ("万元", -12.5)],
)
def test_a_plausible_reading_passes(measure: str, value: float) -> None:
    assert check_reading(value, measure=measure, baseline=5.0, target=8.0) == value


@pytest.mark.parametrize(
    ("measure", "value", "words"),
    [
        ("%", 1e308, ("超出", "0-100", "%")),
        ("%", 120.0, ("超出", "0-100")),
        ("%", -5.0, ("超出", "0-100")),
        ("人", -3.0, ("不能为负数",)),
        ("个", 1e12, ("超出",)),
        ("万元", 1e15, ("超出",)),
        ("", -1e308, ("超出",)),
    ],
)
def test_an_implausible_reading_is_rejected_in_chinese(
    measure: str, value: float, words: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError) as caught:
        check_reading(value, measure=measure, baseline=5.0, target=8.0)
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_a_percent_indicator_that_goes_past_100_allows_what_its_target_says() -> None:
    # a growth rate: its own baseline and target say it is not a share
    assert check_reading(150.0, measure="%", baseline=-2.0, target=120.0) == 150.0
    assert check_reading(-20.0, measure="%", baseline=-2.0, target=120.0) == -20.0
    with pytest.raises(ValueError):
        check_reading(1e6, measure="%", baseline=-2.0, target=120.0)
