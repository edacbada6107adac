"""The State Council's holiday notice (国务院办公厅关于××××年部分节假日安排的通知), read.

A notice arrives as reposted text (full-width or half-width punctuation), as HTML saved
from the web page, or already as data (YAML or CSV of holidays and make-up workdays). Each
becomes an ``Arrangement``: the holidays with their names and the make-up workdays (调休).

The text is read line by line, the way the notices have been written since 2015::

    二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。
    2月14日（周六）、2月28日（周六）上班。

with the spellings the years have used (至, —; （星期六） and （周六）; 与周末连休; 补休;
放假1天，不调休; ranges that cross a month or a year). A notice that changes one holiday
(调整2019年劳动节假期安排, 延长2020年春节假期) takes the holiday's name from its title.
Nothing is guessed: a clause that names a day and is not understood refuses the whole
notice, naming the sentence; a stated total (共8天) must equal the days parsed; a weekday
in brackets must be the date's weekday; a holiday name must be one the notices use.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import yaml

from pilot_tracker.errors import NoticeError, Problem, UndecodableText, YamlBoundError
from pilot_tracker.ledger.program_file import load_yaml
from pilot_tracker.supervise.workdays import Arrangement
from pilot_tracker.text import decode_text, header_key
from pilot_tracker.values import parse_day

# A notice is a page of text; anything far larger is not one.
MAX_BYTES = 1_000_000

# The names the notices use, and the name a day is stored under.
HOLIDAYS = {
    "元旦": "元旦",
    "春节": "春节",
    "清明节": "清明节",
    "清明": "清明节",
    "劳动节": "劳动节",
    "五一劳动节": "劳动节",
    "端午节": "端午节",
    "端午": "端午节",
    "中秋节": "中秋节",
    "中秋": "中秋节",
    "国庆节": "国庆节",
    "国庆": "国庆节",
    "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日": "抗战胜利70周年纪念日",
    "抗战胜利70周年纪念日": "抗战胜利70周年纪念日",
}
_LONGEST_FIRST = sorted(HOLIDAYS, key=len, reverse=True)

_NUMERALS = "一二三四五六七八九十"
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_DASH = "(?:至|到|~|-{1,2}|—{1,2}|–)"

_ITEM = re.compile(rf"^[{_NUMERALS}]{{1,3}}、\s*")
_NAMED_ITEM = re.compile(rf"^[{_NUMERALS}]{{1,3}}、\s*([^\d:,。;()]{{1,40}}?)\s*:\s*")
_DATE = re.compile(r"(?:(\d{4})\s*年\s*)?(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*日")
_NOTE = re.compile(r"\(([^()]*)\)")
_ISSUED = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
_TITLE = re.compile(r"国务院(?:办公厅)?关于.{0,80}?通知")
_TITLE_YEAR = re.compile(r"关于(?:调整|延长)?(\d{4})年")
_TOTAL = re.compile(r"^共(\d{1,3})天$")
_WEEKDAY_NOTE = re.compile(r"(?:周|星期)([一二三四五六日天])")


@dataclass
class _Day:
    """A date as written, with its bracketed note (lunar date, weekday)."""

    day: date
    note: str
    text: str


@dataclass
class _Reading:
    """What has been read of a notice so far."""

    year: int
    name: str
    holidays: dict[date, str] = field(default_factory=dict)
    workdays: dict[date, str] = field(default_factory=dict)
    extensions: dict[str, date] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def read(data: bytes, *, name: str, year: int) -> Arrangement:
    """A notice file's arrangement for ``year``: text, HTML, YAML or CSV, by its name and
    content. Raises ``NoticeError`` with every problem found."""
    if len(data) > MAX_BYTES:
        problem = Problem("", f"{len(data):,} bytes; a notice is at most {MAX_BYTES:,}")
        raise NoticeError(name, [problem])
    text = _decode(data, name)
    suffix = Path(name).suffix.lower()
    if suffix in {".yaml", ".yml", ".json"}:
        return from_yaml(text, name=name, year=year)
    if suffix == ".csv":
        return from_csv(text, name=name, year=year)
    if suffix in {".html", ".htm"} or text.lstrip().startswith("<"):
        text = html_text(text)
    return parse(text, year=year, name=name)


def _decode(data: bytes, name: str) -> str:
    """The notice's text by the one decoding policy (``pilot_tracker.text``)."""
    try:
        return decode_text(data)
    except UndecodableText as error:
        problem = Problem(
            f"byte {error.start}",
            "not UTF-8 or GBK text; save the notice as UTF-8 text and try again",
        )
        raise NoticeError(name, [problem]) from None


class _TextOfHtml(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "td", "h1", "h2", "h3", "h4", "title", "section"}
    )
    _HIDDEN = frozenset({"script", "style", "head", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_text(markup: str) -> str:
    """The text of an HTML page, a line per paragraph (the standard library's parser: no
    entities are expanded beyond HTML's own, nothing is fetched)."""
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def normalise(text: str) -> str:
    """Half-width punctuation and digits, no invisible characters, one space at most."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u200b", "").replace("\ufeff", "").replace("\xa0", " ")
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def parse(text: str, *, year: int, name: str = "notice") -> Arrangement:
    """A notice's text as an arrangement of ``year``. Raises ``NoticeError``."""
    lines = [line.strip() for line in normalise(text).splitlines() if line.strip()]
    title = next((m.group(0) for line in lines if (m := _TITLE.search(line))), "")
    if title and (said := _TITLE_YEAR.search(title)) and int(said.group(1)) != year:
        problem = Problem("title", f"the notice is for {said.group(1)}, not {year}: {title}")
        raise NoticeError(name, [problem])
    issued = None
    for line in reversed(lines):
        if match := _ISSUED.match(line):
            issued = _date(*map(int, match.groups()))
            break
    reading = _Reading(year=year, name=_title_holiday(title))
    named = [line for line in lines if _NAMED_ITEM.match(line)]
    if named:
        for line in named:
            _read_item(reading, line)
    else:
        # A notice about one holiday: what follows 如下 is its arrangement.
        body = "\n".join(line for line in lines if not _ISSUED.match(line))
        start = body.find("如下")
        if start < 0 or not reading.name:
            problem = Problem(
                "", "no holiday arrangement found (numbered lines such as “一、元旦：1月1日放假”)"
            )
            raise NoticeError(name, [problem])
        for line in body[start + 2 :].lstrip(":。 ").splitlines():
            _read_line(reading, _ITEM.sub("", line), reading.name, line)
    if not reading.problems and not (reading.holidays or reading.extensions):
        reading.problems.append(Problem("", f"names no holiday of {year}"))
    if reading.problems:
        raise NoticeError(name, reading.problems)
    return Arrangement(
        year=year,
        source=title or name,
        issued=issued,
        holidays=reading.holidays,
        workdays=reading.workdays,
        extensions=reading.extensions,
    )


def _title_holiday(title: str) -> str:
    for spelling in _LONGEST_FIRST:
        if spelling in title:
            return HOLIDAYS[spelling]
    return ""


def _holiday_name(written: str) -> str | None:
    """The stored name of an item's holiday (中秋节、国庆节 stays one name), or None."""
    parts = [part.strip() for part in written.split("、")]
    if not all(part in HOLIDAYS for part in parts):
        return None
    return "、".join(HOLIDAYS[part] for part in parts)


def _read_item(reading: _Reading, line: str) -> None:
    match = _NAMED_ITEM.match(line)
    assert match is not None
    name = _holiday_name(match.group(1))
    if name is None:
        known = "、".join(sorted(set(HOLIDAYS.values()), key=list(HOLIDAYS.values()).index))
        reading.problems.append(
            Problem(
                f"“{_shown(line)}”",
                f"unknown holiday “{match.group(1)}”; the notices name {known}",
            )
        )
        return
    _read_line(reading, line[match.end() :], name, line)


def _read_line(reading: _Reading, body: str, name: str, line: str) -> None:
    """One line of a holiday: its sentences, each of clauses."""
    # Brackets may hold commas (（农历正月初九，星期日）): take them out before splitting.
    notes: list[str] = []

    def keep(match: re.Match[str]) -> str:
        notes.append(match.group(1))
        return f"\x00{len(notes) - 1}\x01"

    masked = _NOTE.sub(keep, body)
    before = (len(reading.holidays), len(reading.workdays), len(reading.extensions))
    problems_before = len(reading.problems)
    for raw in re.split(r"[。;]", masked):
        sentence = raw.strip(" ,:")
        if not sentence:
            continue
        if sentence.startswith("鼓励"):
            continue  # advice to employers (安排职工在除夕休息), not a day off
        if problem := _read_sentence(reading, sentence, notes, name):
            reading.problems.append(Problem(f"“{_shown(sentence, notes)}”", problem))
    after = (len(reading.holidays), len(reading.workdays), len(reading.extensions))
    if after == before and len(reading.problems) == problems_before and _NAMED_ITEM.match(line):
        reading.problems.append(Problem(f"“{_shown(line)}”", f"names no day of {name}"))


def _read_sentence(reading: _Reading, sentence: str, notes: list[str], name: str) -> str | None:
    """Read one sentence; the problem with it, if any."""
    clauses = [c.strip() for c in re.split(r"[,:]", sentence) if c.strip()]
    last: list[date] = []  # the days off of the sentence's last holiday clause
    total_owed: list[date] | None = None
    month, year = None, None
    for clause in clauses:
        days, shape, problem = _days(clause, notes, reading.year, month, year)
        if problem:
            return problem
        if days:
            month, year = days[-1].day.month, days[-1].day.year
        if not days:  # prose, a total, or 与周末连休
            if match := _TOTAL.match(shape):
                stated = int(match.group(1))
                counted = (last[-1] - last[0]).days + 1 if last else 0
                if stated != counted:
                    return f"says 共{stated}天 but the days given are {counted}"
                total_owed = None
            elif shape == "与周末连休":
                if not last:
                    return "与周末连休 follows no day off"
                _join_weekend(reading, last[-1], name)
            continue
        dated = [d.day for d in days]
        if re.fullmatch(r"(?:其中)?D" + _DASH + r"D(?:放假调休|调休放假|放假|休假)", shape):
            start, end = dated
            if end < start and "年" not in days[0].text:
                start = start.replace(year=start.year - 1)
            if end < start:
                return f"ends ({end}) before it starts ({start})"
            last = _span(start, end)
            total_owed = last
            _add(reading.holidays, last, name)
        elif match := re.fullmatch(r"(?:其中)?(?:全国)?D(?:放假|休息)(?:(\d)天)?", shape):
            if match.group(1) and int(match.group(1)) != 1:
                return f"one day given, but 放假{match.group(1)}天"
            last = dated
            _add(reading.holidays, dated, name)
        elif re.fullmatch(r"D(?:、D)*(?:补休|调休)", shape):
            last = sorted({*last, *dated})
            _add(reading.holidays, dated, name)
        elif re.fullmatch(r"D(?:、D)*上班", shape):
            _add(reading.workdays, dated, name)
        elif re.fullmatch(r"D起正常上班", shape):
            pass  # the day work resumes after an extension: nothing to store
        elif match := re.fullmatch(r"延长(?:\d{4}年)?(.+?)假期至D", shape):
            extended = _holiday_name(match.group(1))
            if extended is None:
                return f"extends an unknown holiday “{match.group(1)}”"
            reading.extensions[extended] = dated[0]
        else:
            return f"not understood: “{_shown(clause, notes)}”"
    if total_owed is not None:
        return "gives a span of days but no total (共N天); copy the sentence as the notice has it"
    for day in (*reading.holidays, *reading.workdays):
        if not _near(day, reading.year):
            return f"{day} is not in or next to {reading.year}"
    return None


def _days(
    clause: str, notes: list[str], notice_year: int, month: int | None, year: int | None
) -> tuple[list[_Day], str, str | None]:
    """The dates of a clause, the clause's shape (each date as D, notes dropped), and the
    problem with them, if any."""
    days: list[_Day] = []
    shape_parts: list[str] = []
    position = 0
    for match in _DATE.finditer(clause):
        written_year, written_month, written_day = match.groups()
        if written_month is None and month is None and written_year is None:
            # "5日" with no month before it: not a date we can place.
            return [], clause, f"“{match.group(0)}” has no month"
        year = int(written_year) if written_year else (year or notice_year)
        month = int(written_month) if written_month else month
        if written_year and not written_month:
            return [], clause, f"“{match.group(0)}” has no month"
        day = _date(year, month or 0, int(written_day))
        if day is None:
            return [], clause, f"{year}年{month}月{written_day}日 does not exist"
        after = clause[match.end() :]
        note = ""
        if note_match := re.match(r"\x00(\d+)\x01", after):
            note = notes[int(note_match.group(1))]
            after_end = match.end() + note_match.end()
        else:
            after_end = match.end()
        if weekday := _WEEKDAY_NOTE.search(note):
            said = _WEEKDAYS[weekday.group(1)]
            if said != day.weekday():
                actual = "一二三四五六日"[day.weekday()]
                said_as = weekday.group(0)
                return [], clause, f"{day} is a 星期{actual}, but the notice says {said_as}"
        shape_parts.append(clause[position : match.start()])
        shape_parts.append("D")
        position = after_end
        days.append(_Day(day=day, note=note, text=match.group(0)))
    shape_parts.append(clause[position:])
    shape = re.sub(r"\x00\d+\x01", "", "".join(shape_parts)).replace(" ", "")
    return days, shape, None


_FULL_WIDTH = str.maketrans({"(": "（", ")": "）", ":": "：", ",": "，", ";": "；"})


def _shown(text: str, notes: Sequence[str] = ()) -> str:
    """A sentence as the notice prints it: its notes back, full-width punctuation."""
    text = re.sub(r"\x00(\d+)\x01", lambda m: f"({notes[int(m.group(1))]})", text)
    return text.translate(_FULL_WIDTH)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _span(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _add(days: dict[date, str], new: list[date], name: str) -> None:
    for day in new:
        days[day] = name


def _join_weekend(reading: _Reading, day: date, name: str) -> None:
    """与周末连休: the weekend next to the day is part of the holiday."""
    if day.weekday() == 4:  # Friday
        _add(reading.holidays, [day + timedelta(days=1), day + timedelta(days=2)], name)
    elif day.weekday() == 0:  # Monday
        _add(reading.holidays, [day - timedelta(days=2), day - timedelta(days=1)], name)


def _near(day: date, year: int) -> bool:
    """A notice for ``year`` may reach into December before it or January after it."""
    return (
        day.year == year
        or (day.year == year - 1 and day.month == 12)
        or (day.year == year + 1 and day.month == 1)
    )


# --- the same as data ------------------------------------------------------------------------


def from_yaml(text: str, *, name: str, year: int) -> Arrangement:
    """A year as YAML (or JSON, as ``calendar show --json`` prints it)::

    year: 2027
    source: 国务院办公厅关于2027年部分节假日安排的通知
    holidays:
      - {name: 春节, from: 2027-02-06, to: 2027-02-14}
      - {name: 元旦, date: 2027-01-01}
    workdays:
      - {date: 2027-02-20, name: 春节}
    """
    try:
        # Checked as events first: no aliases, no nesting deep enough to crash the parser.
        document, _ = load_yaml(text, loader=_SafeLoader)
    except YamlBoundError as error:
        raise NoticeError(name, [Problem(error.where, error.message)]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f"line {mark.line + 1}" if mark else ""
        reason = getattr(error, "problem", None) or "the text is not YAML"
        raise NoticeError(name, [Problem(place, f"not valid YAML: {reason}")]) from None
    if not isinstance(document, dict):
        raise NoticeError(name, [Problem("", "expected keys year, holidays and workdays")])
    problems: list[Problem] = []
    if "year" in document and str(document["year"]) != str(year):
        problems.append(Problem("year", f"{document['year']} here, but {year} was asked for"))
    arrangement = Arrangement(year=year, source=str(document.get("source") or name))
    if issued := document.get("issued"):
        arrangement.issued = _as_date(issued, "issued", problems)
    for key, target in (("holidays", arrangement.holidays), ("workdays", arrangement.workdays)):
        entries = document.get(key) or []
        if not isinstance(entries, list):
            problems.append(Problem(key, "expected a list"))
            continue
        for index, entry in enumerate(entries):
            place = f"{key}[{index}]"
            if not isinstance(entry, dict):
                entry = {"date": entry}
            holiday = str(entry.get("name") or "")
            stored = _holiday_name(holiday) if holiday else ("" if key == "workdays" else None)
            if stored is None:
                problems.append(Problem(f"{place}.name", f"unknown holiday “{holiday}”"))
                continue
            if "date" in entry:
                first = last = _as_date(entry["date"], f"{place}.date", problems)
            else:
                first = _as_date(entry.get("from"), f"{place}.from", problems)
                last = _as_date(entry.get("to"), f"{place}.to", problems)
            if first is None or last is None:
                continue
            if last < first:
                problems.append(Problem(place, f"ends ({last}) before it starts ({first})"))
                continue
            for day in _span(first, last):
                if not _near(day, year):
                    problems.append(Problem(place, f"{day} is not in or next to {year}"))
                    break
                target[day] = stored
    return _checked(arrangement, problems, name)


def from_csv(text: str, *, name: str, year: int) -> Arrangement:
    """A year as CSV: a header row 日期,类型,名称 (or date,kind,name), then one day a row;
    类型 is 放假 (holiday) or 上班 (workday)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    problems: list[Problem] = []
    if not rows:
        raise NoticeError(name, [Problem("", "empty; expected a header row 日期,类型,名称")])
    header = [header_key(cell) for cell in rows[0]]
    columns = {}
    for key, spellings in (
        ("date", ("日期", "date")),
        ("kind", ("类型", "kind", "type")),
        ("name", ("名称", "节日", "name", "holiday")),
    ):
        found = [index for index, cell in enumerate(header) if cell in spellings]
        if not found:
            problems.append(Problem("row 1", f"no column {spellings[0]} ({spellings[1]})"))
        else:
            columns[key] = found[0]
    if problems:
        raise NoticeError(name, problems)
    arrangement = Arrangement(year=year, source=name)
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {key: (row[i].strip() if i < len(row) else "") for key, i in columns.items()}
        place = f"row {number}"
        day = _as_date(cells["date"], f"{place}, column 日期", problems)
        kind = cells["kind"]
        holiday = _holiday_name(cells["name"]) if cells["name"] else ""
        if holiday is None:
            problems.append(Problem(f"{place}, column 名称", f"unknown holiday “{cells['name']}”"))
            continue
        if day is None:
            continue
        if not _near(day, year):
            problems.append(Problem(f"{place}, column 日期", f"{day} is not in or next to {year}"))
        elif kind in {"放假", "休", "holiday"}:
            if not holiday:
                problems.append(Problem(f"{place}, column 名称", "a holiday needs its name"))
            arrangement.holidays[day] = holiday
        elif kind in {"上班", "班", "workday"}:
            arrangement.workdays[day] = holiday
        else:
            message = f"“{kind}”: write 放假 (holiday) or 上班 (workday)"
            problems.append(Problem(f"{place}, column 类型", message))
    return _checked(arrangement, problems, name)


def _checked(arrangement: Arrangement, problems: list[Problem], name: str) -> Arrangement:
    """The arrangement a data file gave, or ``NoticeError`` with every problem found."""
    for day in sorted(set(arrangement.holidays) & set(arrangement.workdays)):
        problems.append(Problem(str(day), "listed both as a holiday and as a workday; keep one"))
    if not arrangement.holidays and not problems:
        problems.append(Problem("holidays", f"names no holiday of {arrangement.year}"))
    if problems:
        raise NoticeError(name, problems)
    return arrangement


def _as_date(value: object, place: str, problems: list[Problem]) -> date | None:
    """The day ``values.parse_day`` reads in ``value``; else a problem at ``place``."""
    try:
        day = parse_day(value)
    except ValueError:
        day = None
    if day is None:
        problems.append(Problem(place, f"“{value}” is not a date (YYYY-MM-DD)"))
    return day


class _SafeLoader(yaml.SafeLoader):
    """The safe loader with no alias expansion bombs (aliases are refused outright; a
    calendar never needs them) and dates left as text, to be checked with their place."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
