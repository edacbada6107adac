"""The State Council's holiday notice, read: proven on every notice from 2015 to 2026
against the calendar package, day by day; and refused, naming the sentence, when wrong."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import chinese_calendar
import pytest

from pilot_tracker.errors import NoticeError
from pilot_tracker.supervise import holiday_notice
from pilot_tracker.supervise.workdays import Arrangement, WorkCalendar, days_of

NOTICES = Path(__file__).parent / "fixtures" / "notices"
# Later notices that changed a year: the package's data follows them.
AMENDMENTS = {
    2015: ["2015-victory-day.txt"],  # 抗战胜利70周年纪念日, by the State Council itself
    2019: ["2019-adjustment.txt"],  # Labour Day made four days
    2020: ["2020-extension.txt"],  # Spring Festival extended to 2 February
}


def notice(name: str) -> str:
    return (NOTICES / name).read_text(encoding="utf-8")


def year_from_notices(year: int) -> Arrangement:
    arrangement = holiday_notice.parse(notice(f"{year}.txt"), year=year)
    for name in AMENDMENTS.get(year, []):
        arrangement = arrangement.amended_by(holiday_notice.parse(notice(name), year=year))
    return arrangement


@pytest.mark.parametrize("year", range(2015, 2027))
def test_every_notice_gives_the_packages_working_days_day_by_day(year: int) -> None:
    entered = {year: year_from_notices(year)}
    if (NOTICES / f"{year + 1}.txt").exists():
        # Next year's notice may start 元旦 in this December (2018-12-30, 2022-12-31).
        entered[year + 1] = year_from_notices(year + 1)
    calendar = WorkCalendar(entered=entered)
    differing = [
        day for day in days_of(year) if calendar.is_workday(day) != chinese_calendar.is_workday(day)
    ]
    assert differing == []
    assert not calendar.guessed_years


def test_a_notice_names_its_holidays_totals_and_source() -> None:
    arrangement = holiday_notice.parse(notice("2026.txt"), year=2026)
    assert arrangement.source == "国务院办公厅关于2026年部分节假日安排的通知"
    assert arrangement.issued == date(2025, 11, 4)
    spring = [day for day, name in arrangement.holidays.items() if name == "春节"]
    assert (min(spring), max(spring), len(spring)) == (date(2026, 2, 15), date(2026, 2, 23), 9)
    assert {day for day, name in arrangement.workdays.items() if name == "春节"} == {
        date(2026, 2, 14),
        date(2026, 2, 28),
    }
    assert [name for name, _, _ in arrangement.by_holiday()] == [
        "元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节",
    ]  # fmt: skip


def test_days_that_cross_into_the_previous_year_are_kept() -> None:
    arrangement = holiday_notice.parse(notice("2019.txt"), year=2019)
    assert arrangement.holidays[date(2018, 12, 30)] == "元旦"
    assert arrangement.holidays[date(2018, 12, 31)] == "元旦"
    assert arrangement.workdays[date(2018, 12, 29)] == "元旦"


def test_combined_holidays_keep_both_names() -> None:
    arrangement = holiday_notice.parse(notice("2023.txt"), year=2023)
    assert arrangement.holidays[date(2023, 10, 1)] == "中秋节、国庆节"
    assert arrangement.workdays[date(2023, 10, 8)] == "中秋节、国庆节"


def test_the_2020_extension_cancels_a_make_up_saturday() -> None:
    original = holiday_notice.parse(notice("2020.txt"), year=2020)
    assert original.workdays[date(2020, 2, 1)] == "春节"
    extension = holiday_notice.parse(notice("2020-extension.txt"), year=2020)
    assert extension.extensions == {"春节": date(2020, 2, 2)}
    amended = original.amended_by(extension)
    assert date(2020, 2, 1) not in amended.workdays
    assert amended.holidays[date(2020, 1, 31)] == amended.holidays[date(2020, 2, 2)] == "春节"
    assert amended.workdays[date(2020, 1, 19)] == "春节"  # the earlier make-up Sunday stands


def test_an_adjustment_replaces_the_holiday_it_names_only() -> None:
    original = holiday_notice.parse(notice("2019.txt"), year=2019)
    adjusted = original.amended_by(holiday_notice.parse(notice("2019-adjustment.txt"), year=2019))
    labour = sorted(day for day, name in adjusted.holidays.items() if name == "劳动节")
    assert labour == [date(2019, 5, d) for d in (1, 2, 3, 4)]
    assert {d for d, n in adjusted.workdays.items() if n == "劳动节"} == {
        date(2019, 4, 28),
        date(2019, 5, 5),
    }
    assert adjusted.holidays[date(2019, 2, 4)] == "春节"  # untouched


def test_advice_to_employers_is_not_a_day_off() -> None:
    # 2024: "鼓励各单位……安排职工在除夕（2月9日）休息" is advice, not an arrangement.
    arrangement = holiday_notice.parse(notice("2024.txt"), year=2024)
    assert date(2024, 2, 9) not in arrangement.holidays


# --- the forms a notice arrives in ----------------------------------------------------------


def reference() -> Arrangement:
    return holiday_notice.parse(notice("2026.txt"), year=2026)


def same_days(arrangement: Arrangement) -> bool:
    expected = reference()
    return (arrangement.holidays, arrangement.workdays) == (expected.holidays, expected.workdays)


def test_half_width_punctuation_as_reposted() -> None:
    text = unicodedata.normalize("NFKC", notice("2026.txt"))
    assert "（" not in text and "：" not in text
    assert same_days(holiday_notice.parse(text, year=2026))


def test_older_spellings_星期_and_a_dash() -> None:
    text = notice("2026.txt").replace("（周", "（星期").replace("日至", "日—", 1)
    assert same_days(holiday_notice.parse(text, year=2026))


def test_html_saved_from_the_web_page() -> None:
    paragraphs = "".join(
        f"<p style='text-indent:2em'>{line.replace('春节', '<strong>春节</strong>')}</p>"
        for line in notice("2026.txt").splitlines()
    )
    page = (
        "<!DOCTYPE html><html><head><title>通知</title><style>p{color:red}</style>"
        "<script>var x = '一、元旦：1月5日放假，共1天。';</script></head>"
        f"<body><div class='pages_content'>{paragraphs}</div>&nbsp;</body></html>"
    )
    arrangement = holiday_notice.read(page.encode(), name="通知.html", year=2026)
    assert same_days(arrangement)


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig", "utf-16", "utf-16-le"])
def test_text_as_a_windows_desktop_saves_it(encoding: str) -> None:
    # UTF-16 (Notepad's "Unicode") was refused before the one decoding policy (text.py).
    data = notice("2026.txt").encode(encoding)
    assert same_days(holiday_notice.read(data, name="通知.txt", year=2026))


def test_yaml_and_the_json_that_calendar_show_prints() -> None:
    text = """
year: 2026
source: 手工录入
holidays:
  - {name: 元旦, from: 2026-01-01, to: 2026-01-03}
  - {name: 春节, from: 2026-02-15, to: 2026-02-23}
workdays:
  - {date: 2026-01-04, name: 元旦}
  - 2026-02-14
"""
    arrangement = holiday_notice.read(text.encode(), name="2026.yaml", year=2026)
    assert arrangement.source == "手工录入"
    assert arrangement.holidays[date(2026, 2, 23)] == "春节"
    assert set(arrangement.workdays) == {date(2026, 1, 4), date(2026, 2, 14)}
    import json

    shown = json.dumps(reference().to_json("entered"), ensure_ascii=False)
    again = holiday_notice.read(shown.encode(), name="2026.json", year=2026)
    assert again.holidays == reference().holidays
    assert set(again.workdays) == set(reference().workdays)


def test_csv_dates_as_a_spreadsheet_writes_them() -> None:
    # Read by the one date parser (values.parse_day); until then only 2026-02-15 was taken.
    text = "日期：,类型,名称\n2026/2/15,放假,春节\n2026年2月16日,放假,春节\n2026.2.14,上班,春节\n"
    arrangement = holiday_notice.read(text.encode(), name="2026.csv", year=2026)
    assert arrangement.holidays == {date(2026, 2, 15): "春节", date(2026, 2, 16): "春节"}
    assert arrangement.workdays == {date(2026, 2, 14): "春节"}


def test_csv_with_chinese_headers() -> None:
    text = "日期,类型,名称\n2026-02-15,放假,春节\n2026-02-16,放假,春节\n2026-02-14,上班,春节\n"
    arrangement = holiday_notice.read(text.encode("gbk"), name="2026.csv", year=2026)
    assert arrangement.holidays == {date(2026, 2, 15): "春节", date(2026, 2, 16): "春节"}
    assert arrangement.workdays == {date(2026, 2, 14): "春节"}


# --- refused, naming the sentence -------------------------------------------------------------

SPRING = "二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。"


@pytest.mark.parametrize(
    ("change", "sentence", "reason"),
    [
        pytest.param(
            (SPRING, SPRING.replace("，共9天", "")),
            "2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休",
            "no total (共N天)",
            id="a missing total",
        ),
        pytest.param(
            (SPRING, SPRING.replace("共9天", "共8天")),
            "共8天",
            "says 共8天 but the days given are 9",
            id="a total that disagrees",
        ),
        pytest.param(
            ("三、清明节：", "三、植树节："),
            "三、植树节：4月4日（周六）至6日（周一）放假，共3天。",
            "unknown holiday “植树节”",
            id="an unknown holiday",
        ),
        pytest.param(
            ("2月28日（周六）上班", "2月30日（周六）上班"),
            "2月30日",
            "2026年2月30日 does not exist",
            id="a date that does not exist",
        ),
        pytest.param(
            ("5月9日（周六）上班", "5月9日（周日）上班"),
            "5月9日（周日）上班",
            "2026-05-09 is a 星期六, but the notice says 周日",
            id="a weekday that is not the date's",
        ),
        pytest.param(
            ("4月4日（周六）至6日（周一）放假", "4月4日（周六）至6日（周一）放假休整"),
            "放假休整",
            "not understood",
            id="a sentence not understood",
        ),
    ],
)
def test_a_malformed_notice_is_refused_naming_the_sentence(
    change: tuple[str, str], sentence: str, reason: str
) -> None:
    text = notice("2026.txt")
    assert change[0] in text
    with pytest.raises(NoticeError) as raised:
        holiday_notice.parse(text.replace(*change), year=2026)
    problems = [str(problem) for problem in raised.value.problems]
    assert any(sentence in problem and reason in problem for problem in problems), problems
    assert "nothing was stored" in str(raised.value)


def test_a_notice_for_another_year_is_refused() -> None:
    with pytest.raises(NoticeError) as raised:
        holiday_notice.parse(notice("2026.txt"), year=2027)
    assert "the notice is for 2026, not 2027" in str(raised.value.problems[0])


def test_text_with_no_arrangement_is_refused() -> None:
    with pytest.raises(NoticeError) as raised:
        holiday_notice.parse("各位同事：明天开会。", year=2027)
    assert "no holiday arrangement found" in str(raised.value.problems[0])


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.yaml", b"a: &a [1]\nb: [*a, *a]\n", "aliases"),
        ("a.yaml", b"holidays: " + b"[" * 5_000, "levels"),
        ("a.json", b'{"holidays": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "levels"),
        ("a.yaml", "year: 2026\nholidays: [{name: 植树节, date: 2026-03-12}]\n".encode(), "植树节"),
        (
            "a.yaml",
            "year: 2025\nholidays: [{name: 春节, date: 2026-02-15}]\n".encode(),
            "2025 here",
        ),
        ("a.yaml", "holidays: [{name: 春节, date: 2026-02-30}]\n".encode(), "not a date"),
        ("a.csv", "日期,类型\n2026-02-15,放假\n".encode(), "no column 名称"),
        ("a.csv", "日期,类型,名称\n2026-02-15,请假,春节\n".encode(), "row 2, column 类型"),
        ("a.csv", "日期,类型,名称\n2030-02-15,放假,春节\n".encode(), "not in or next to 2026"),
        ("a.txt", b"\xff\xfe\x00\xd8" * 10, "not UTF-8 or GBK"),
        ("a.txt", b"x" * (holiday_notice.MAX_BYTES + 1), "a notice is at most"),
    ],
)
def test_bad_data_files_are_refused_with_their_place(name: str, data: bytes, message: str) -> None:
    with pytest.raises(NoticeError) as raised:
        holiday_notice.read(data, name=name, year=2026)
    text = " ".join([str(raised.value), *map(str, raised.value.problems)])
    assert message in text
