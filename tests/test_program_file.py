"""The program file: every mistake is found, placed and explained; good files pass."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from pilot_tracker.errors import ProgramFileError
from pilot_tracker.ledger.program_file import (
    MAX_PROGRAM_FILE_BYTES,
    SIX_HAS,
    ProgramSpec,
    read_program_file,
    short_name,
    validate_program,
    write_program_file,
)

from .conftest import EXAMPLES

SMALL: dict[str, Any] = {
    "code": "demo",
    "name": "演示县试点",
    "level": "provincial",
    "start": "2021-01-01",
    "end": "2021-12-31",
    "reporting": {"cadence": "monthly", "deadline": 25},
    "units": [
        {"code": "tw", "name": "团县委", "contacts": [{"role": "liaison", "title": "联络员"}]},
        {"code": "jyj", "name": "县教育局"},
        {"code": "rsj", "name": "县人力社保局"},
    ],
    "task_lists": [
        {"kind": "mechanism", "name": "机制性任务清单"},
        {"kind": "development", "name": "发展任务清单"},
    ],
    "tasks": [
        {
            "code": "T-01",
            "title": "建立青年工作联席会议制度",
            "list": "mechanism",
            "lead_unit": "tw",
            "co_units": ["jyj"],
            "start": "2021-01-04",
            "due": "2021-06-30",
            "milestones": [
                {"date": "2021-03-31", "percent": 40},
                {"date": "2021-06-30", "percent": 100},
            ],
            "weight": 1.5,
            "deliverable": "联席会议制度文件",
        },
        {
            "code": "T-02",
            "title": "实施高校毕业生就业见习计划",
            "list": "development",
            "lead_unit": "rsj",
            "start": "2021-02-01",
            "due": "2021-12-31",
        },
    ],
    "indicators": [
        {
            "code": "I-01",
            "name": "城镇青年调查失业率",
            "level": "national",
            "measure": "%",
            "baseline": {"value": 5.8, "year": 2020},
            "target": {"value": 5.5, "year": 2025},
            "direction": "decrease",
            "owner": "rsj",
        }
    ],
    "rules": {},
}


def problems_of(document: Any) -> list[str]:
    with pytest.raises(ProgramFileError) as caught:
        validate_program(document, "demo.yaml")
    return [str(problem) for problem in caught.value.problems]


def changed(**edits: Any) -> dict[str, Any]:
    """A copy of SMALL with edits given as dotted paths: ``tasks.0.lead_unit="x"``."""
    document = copy.deepcopy(SMALL)
    for dotted, value in edits.items():
        *parents, last = dotted.split("__")
        target: Any = document
        for step in parents:
            target = target[int(step)] if step.isdigit() else target[step]
        if value is DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return document


DELETE = object()


def test_the_small_program_is_valid() -> None:
    spec = validate_program(copy.deepcopy(SMALL), "demo.yaml")
    assert [unit.code for unit in spec.units] == ["tw", "jyj", "rsj"]
    assert spec.tasks[0].list_kind.value == "mechanism"
    assert spec.tasks[1].weight == 1.0


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        (
            {"units__1__code": "tw"},
            'units[1].code: unit code "tw" is used twice (also at units[0])',
        ),
        ({"units__1__name": "团县委"}, 'units[1].name: unit name "团县委" is used twice'),
        ({"tasks__1__code": "T-01"}, 'tasks[1].code: task code "T-01" is used twice'),
        ({"tasks__0__lead_unit": "xyz"}, 'tasks[0].lead_unit: unknown unit "xyz"'),
        (
            {"tasks__0__lead_unit": "团县委"},
            'tasks[0].lead_unit: unknown unit "团县委"; name units by their code ("tw")',
        ),
        ({"tasks__0__co_units": ["jyj", "zzz"]}, 'tasks[0].co_units[1]: unknown unit "zzz"'),
        ({"tasks__0__co_units": ["tw"]}, 'tasks[0].co_units[0]: "tw" is the lead unit'),
        (
            {"tasks__1__due": "2021-01-15"},
            "tasks[1].due: 2021-01-15 is before the start 2021-02-01",
        ),
        ({"tasks__1__due": "2022-03-01"}, "tasks[1].due: 2022-03-01 is after the program ends"),
        (
            {"tasks__0__milestones__0__percent": 120},
            "tasks[0].milestones[0].percent: 120 is out of range; it must be at most 100",
        ),
        (
            {"tasks__0__milestones__1__percent": 30},
            "tasks[0].milestones[1].percent: 30 is below the previous milestone's 40; "
            "planned percent cannot go down",
        ),
        (
            {"tasks__0__milestones__0__date": "2021-07-31"},
            "tasks[0].milestones[0].date: 2021-07-31 is outside the task's dates",
        ),
        (
            {"tasks__0__list": "key_project"},
            'tasks[0].list: task list "key_project" is not declared',
        ),
        ({"tasks__0__list": "misc"}, "tasks[0].list: 'misc' is not one of"),
        ({"tasks__0__start": "2021/2/30"}, "tasks[0].start: not a date: '2021/2/30'"),
        ({"tasks__0__start": "下月初"}, "tasks[0].start: not a date: '下月初'"),
        ({"tasks__0__weight": 0}, "tasks[0].weight: 0 is out of range; it must be more than 0"),
        (
            {"tasks__0__colour": "red"},
            "tasks[0].colour: unknown key; the keys here are: code, title",
        ),
        ({"indicators__0__target__year": DELETE}, "indicators[0].target.year: missing"),
        ({"indicators__0__owner": "nobody"}, 'indicators[0].owner: unknown unit "nobody"'),
        ({"indicators__0__level": "city"}, "indicators[0].level: 'city' is not one of"),
        (
            {"indicators__0__direction": "increase"},
            "indicators[0].target.value: 5.5 is below the baseline 5.8, but direction is increase",
        ),
        (
            {"indicators__0__target__year": 2019},
            "indicators[0].target.year: 2019 is before the baseline year 2020",
        ),
        ({"end": "2020-12-31"}, "end: 2020-12-31 is before the start 2021-01-01"),
        ({"units__0__code": "团委"}, "units[0].code: '团委' is not a valid code"),
        ({"units__0__code": "../etc"}, "units[0].code: '../etc' is not a valid code"),
        ({"code": DELETE}, "code: missing; this key is required"),
        ({"units": DELETE}, "units: missing"),
        (
            {"rules": {"late": {}}},
            "rules.late: unknown key; the keys here are: missing_report, overdue",
        ),
        (
            {"rules": {"behind_plan": {"tolerance": 150}}},
            "rules.behind_plan.tolerance: 150 is out of range",
        ),
        (
            {"rules": {"escalation": {"urge_after_periods": 3, "interview_after_periods": 2}}},
            "rules.escalation.interview_after_periods: 2 must be more than urge_after_periods (3)",
        ),
        (
            {"rules": {"escalation": {"acknowledge_within_workdays": 0}}},
            "rules.escalation.acknowledge_within_workdays: 0 is out of range",
        ),
        (
            {"rules": {"escalation": {"acknowledge_within_workdays": "三天"}}},
            "rules.escalation.acknowledge_within_workdays: '三天' is not a whole number",
        ),
        (
            {"calendar": {"holidays": ["2021-05-06"], "workdays": ["2021-05-06"]}},
            "calendar.workdays: 2021-05-06 is also listed under holidays",
        ),
        ({"timezone": "Mars/Olympus"}, 'timezone: unknown time zone "Mars/Olympus"'),
        ({"units__0__name": "单" * 201}, "units[0].name: too long (201 characters, at most 200)"),
    ],
)
def test_each_mistake_is_refused_with_its_place(edits: dict[str, Any], expected: str) -> None:
    problems = problems_of(changed(**edits))
    assert any(problem.startswith(expected) for problem in problems), problems


# Dates are read by the one date parser (values.parse_day) as in a ledger workbook or a
# submission; a program file refused "2021/3/1" until the parsers were one.
@pytest.mark.parametrize("written", ["2021/1/4", "2021年1月4日", "2021.1.4", "20210104", 44200])
def test_a_date_is_read_however_it_is_written(written: Any) -> None:
    spec = validate_program(
        changed(tasks__0__start=written, tasks__0__milestones__0__date=written), "demo.yaml"
    )
    assert spec.tasks[0].start == spec.tasks[0].milestones[0].planned_on == date(2021, 1, 4)


def test_every_problem_is_listed_at_once() -> None:
    document = changed(
        units__1__name="团县委",
        tasks__0__lead_unit="xyz",
        tasks__0__milestones__0__percent=120,
        tasks__1__due="2021-01-15",
        indicators__0__target__year=DELETE,
    )
    problems = problems_of(document)
    assert len(problems) == 5, problems
    # The broken percent does not hide the unknown lead unit of the same task.
    assert any(p.startswith("tasks[0].lead_unit") for p in problems)
    assert any(p.startswith("tasks[0].milestones[0].percent") for p in problems)


def write(tmp_path: Path, text: str | bytes, name: str = "program.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def refused(path: Path) -> ProgramFileError:
    with pytest.raises(ProgramFileError) as caught:
        read_program_file(path)
    return caught.value


def test_problems_name_the_line_in_the_file(tmp_path: Path) -> None:
    text = yaml.safe_dump(changed(tasks__1__lead_unit="jyj2"), allow_unicode=True, sort_keys=False)
    line = next(
        number
        for number, content in enumerate(text.splitlines(), start=1)
        if "lead_unit: jyj2" in content
    )
    error = refused(write(tmp_path, text))
    assert [str(p) for p in error.problems] == [
        f'tasks[1].lead_unit (line {line}): unknown unit "jyj2"'
    ]
    assert str(error) == "program.yaml: refused, 1 problem; nothing was written"


def test_a_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "code: demo\nunits: [\n  - code: tw\n"))
    assert len(error.problems) == 1
    assert error.problems[0].place.startswith("line ")
    assert "YAML syntax error" in error.problems[0].message


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "\n# nothing here\n"))
    assert "the file is empty" in str(error.problems[0])


# Program files read as submissions and holiday notices do (pilot_tracker.text); until the
# policy was one, a program file saved as GBK or UTF-16 (Notepad's "ANSI" and "Unicode" on
# a Chinese desktop) was refused.
@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be"])
def test_a_file_saved_as_gbk_or_utf16_is_read(tmp_path: Path, encoding: str) -> None:
    text = yaml.safe_dump(SMALL, allow_unicode=True)
    spec = read_program_file(write(tmp_path, text.encode(encoding)))
    assert (spec.code, spec.name) == (SMALL["code"], SMALL["name"])
    assert [unit.name for unit in spec.units] == [unit["name"] for unit in SMALL["units"]]


def test_a_file_that_is_not_text_is_refused_with_what_to_do(tmp_path: Path) -> None:
    error = refused(write(tmp_path, b"code: demo\nname: \xff\xfe\xfd\n"))
    assert str(error.problems[0]) == (
        "byte 17: the file is not UTF-8, UTF-16 or GBK text; save it as UTF-8 "
        "(for example 另存为 → 编码 UTF-8) and load it again"
    )


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    text = yaml.safe_dump(SMALL, allow_unicode=True)
    spec = read_program_file(write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8")))
    assert spec.code == "demo"


def test_a_key_written_twice_is_refused_not_silently_dropped(tmp_path: Path) -> None:
    text = yaml.safe_dump(SMALL, allow_unicode=True, sort_keys=False)
    error = refused(write(tmp_path, text + "tasks: []\n"))
    assert 'the key "tasks" is written twice' in str(error.problems[0])


def test_a_list_where_a_mapping_belongs(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "- code: demo\n"))
    assert "must be a mapping of keys" in str(error.problems[0])


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, b"#" * (MAX_PROGRAM_FILE_BYTES + 1))
    assert "more than the" in str(refused(path).problems[0])


def test_a_missing_file(tmp_path: Path) -> None:
    assert "no such file" in str(refused(tmp_path / "absent.yaml").problems[0])


def test_xiangshan_example() -> None:
    spec = read_program_file(EXAMPLES / "xiangshan.yaml")
    assert len(spec.units) == 30
    kinds = Counter(task.list_kind.value for task in spec.tasks)
    assert kinds == {"mechanism": 10, "development": 15, "personalised": 6}


def test_yinzhou_example() -> None:
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    assert len(spec.units) == 37
    names = {unit.name for unit in spec.units}
    assert {"区委人才办", "区教育局", "区人力社保局", "区财政局", "区统计局"} <= names
    assert {"区大数据发展服务中心", "区文广旅游体育局", "区政务服务办"} <= names
    assert Counter(i.level.value for i in spec.indicators) == {
        "national": 2,
        "provincial": 5,
        "self_set": 6,
    }
    key_projects = [task.title for task in spec.tasks if task.list_kind.value == "key_project"]
    assert len(key_projects) == 7
    for name in ("青领鄞州", "青创鄞州", "青才鄞州"):
        assert any(name in title for title in key_projects), name


def test_haishu_example() -> None:
    spec = read_program_file(EXAMPLES / "haishu.yaml")
    assert (spec.level.value, spec.start, spec.end) == (
        "municipal",
        date(2021, 1, 1),
        date(2021, 12, 31),
    )
    assert len(spec.units) == 28
    kinds = Counter(task.list_kind.value for task in spec.tasks)
    assert kinds == {"mechanism": 7, "development": 7, "personalised": 9}
    titles = "\n".join(task.title for task in spec.tasks)
    for subject in ("菁英计划", "81890540", "家燕归巢", "青年人才驿站", "路演", "微改造"):
        assert subject in titles, subject
    assert {task.has for task in spec.tasks} - {None} == set(SIX_HAS)
    assert len(spec.indicators) == 4


def test_fenghua_example() -> None:
    spec = read_program_file(EXAMPLES / "fenghua.yaml")
    assert (spec.level.value, spec.start, spec.end) == (
        "provincial",
        date(2021, 1, 1),
        date(2021, 12, 31),
    )
    assert len(spec.units) == 28
    kinds = Counter(task.list_kind.value for task in spec.tasks)
    assert kinds == {"mechanism": 7, "development": 7, "personalised": 5}
    titles = "\n".join(task.title for task in spec.tasks)
    for subject in ("联络员机制", "青年议题讨论机制", "上海社会科学院", "筑梦计划", "凤来·栖奉"):
        assert subject in titles, subject
    for subject in ("剡社", "源泉", "片羽行动", "58众创"):
        assert subject in titles, subject
    assert {task.has for task in spec.tasks} - {None} == set(SIX_HAS)
    assert len(spec.indicators) == 4


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_example_names_roles_not_people(path: Path) -> None:
    spec = read_program_file(path)
    contacts = [contact for unit in spec.units for contact in unit.contacts]
    assert contacts and all(contact.name == "" for contact in contacts)
    assert {contact.title for contact in contacts} == {"联络员", "主要负责人"}
    assert path.read_text(encoding="utf-8").startswith("# Example program: ")


def test_a_written_program_file_reads_back_the_same(tmp_path: Path) -> None:
    spec = read_program_file(EXAMPLES / "yinzhou.yaml")
    write_program_file(spec, tmp_path / "copy.yaml")
    assert read_program_file(tmp_path / "copy.yaml") == spec


def test_contacts_read_in_role_order_whatever_the_file_says() -> None:
    document = changed(
        units__0__contacts=[{"role": "head", "title": "主要负责人"}, {"role": "liaison"}]
    )
    spec: ProgramSpec = validate_program(document, "demo.yaml")
    assert [c.role.value for c in spec.units[0].contacts] == ["liaison", "head"]


def with_source(source: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(SMALL)
    document["units"][1]["sources"] = [source]
    return document


def test_an_http_source_keeps_its_secrets_in_the_environment() -> None:
    spec = validate_program(
        with_source(
            {
                "kind": "http",
                "url": "https://data.example.gov.cn/progress.json",
                "headers": {"Authorization": "Bearer ${JYJ_TOKEN}"},
            }
        ),
        "demo.yaml",
    )
    assert spec.units[1].sources[0].headers == {"Authorization": "Bearer ${JYJ_TOKEN}"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            {
                "kind": "http",
                "url": "https://x.example/p",
                "headers": {"Authorization": "Bearer abc"},
            },
            "units[1].sources[0].headers.Authorization: holds a secret in the file",
        ),
        (
            {"kind": "http", "url": "https://user:pw@x.example/p"},
            "units[1].sources[0].url: has a user name or password in it",
        ),
        ({"kind": "http", "url": "ftp://x.example/p"}, "units[1].sources[0].url: not an http://"),
        ({"kind": "email"}, "units[1].sources[0]"),
    ],
)
def test_bad_sources_are_refused(source: dict[str, Any], expected: str) -> None:
    problems = problems_of(with_source(source))
    assert any(problem.startswith(expected) for problem in problems), problems


MAILBOX = {"host": "imap.demo.gov.cn", "user": "office@demo.gov.cn", "password_env": "PT_MAIL"}


def test_the_offices_mailbox_and_the_addresses_units_mail_from() -> None:
    document = copy.deepcopy(SMALL)
    document["mailbox"] = MAILBOX | {"security": "starttls"}
    document["units"][0]["contacts"][0]["email"] = " TuanWei@Demo.gov.cn "
    document["units"][1]["mail_from"] = ["jyj-office@demo.gov.cn"]
    spec = validate_program(document, "demo.yaml")

    assert spec.mailbox is not None
    assert (spec.mailbox.effective_port, spec.mailbox.folder, spec.mailbox.processed) == (
        143,
        "INBOX",
        "已处理",
    )
    assert spec.units[0].contacts[0].email == "tuanwei@demo.gov.cn"  # compared in lower case
    assert spec.units[1].mail_from == ["jyj-office@demo.gov.cn"]


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        (
            {"mailbox": MAILBOX | {"security": "none"}},
            'mailbox.security: "none" would send the password to imap.demo.gov.cn in clear',
        ),
        ({"mailbox": MAILBOX | {"password": "s3cret"}}, "mailbox.password: "),
        ({"mailbox": MAILBOX | {"password_env": "$PT_MAIL"}}, "mailbox.password_env: "),
        ({"mailbox": MAILBOX | {"processed": "INBOX"}}, "mailbox.processed: is the folder read"),
        ({"mailbox": MAILBOX | {"deadline": 3600}}, "mailbox.deadline: "),
        ({"units__1__mail_from": ["not an address"]}, "units[1].mail_from[0]: "),
        (
            {
                "units__0__contacts": [{"role": "liaison", "email": "same@demo.gov.cn"}],
                "units__2__mail_from": ["SAME@demo.gov.cn"],
            },
            "units[2].mail_from[0]: same@demo.gov.cn is also unit tw's",
        ),
    ],
    ids=[
        "clear-text",
        "password-in-file",
        "env-name",
        "same-folder",
        "deadline",
        "address",
        "shared",
    ],
)
def test_a_bad_mailbox_or_address_is_refused(edits: dict[str, Any], expected: str) -> None:
    problems = problems_of(changed(**edits))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_mailbox_on_this_machine_may_go_without_tls() -> None:
    spec = validate_program(
        changed(mailbox=MAILBOX | {"host": "127.0.0.1", "security": "none"}), "demo.yaml"
    )
    assert spec.mailbox is not None and spec.mailbox.effective_port == 143


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ({"indicators__0__baseline__value": float("nan")}, "indicators[0].baseline.value: nan"),
        (
            {"indicators__0__target__value": float("inf"), "indicators__0__direction": "increase"},
            "indicators[0].target.value: inf is not a finite number",
        ),
        ({"indicators__0__baseline__value": "1e999"}, "indicators[0].baseline.value: "),
        (
            {"indicators__0__baseline__value": 1e308},
            "indicators[0].baseline.value: 1e+308 is out of range",
        ),
        (
            {"indicators__0__measure": "人", "indicators__0__target__value": -5},
            "indicators[0].target.value: -5 is negative, but 人 counts",
        ),
    ],
    ids=["nan", "inf", "1e999-text", "1e308", "negative-count"],
)
def test_a_baseline_or_target_that_is_not_a_plausible_figure_is_refused(
    edits: dict[str, Any], expected: str
) -> None:
    problems = problems_of(changed(**edits))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_short_names() -> None:
    assert short_name("象山县中长期青年发展规划省级试点") == "象山县试点"
    assert short_name("鄞州区中长期青年发展规划全国县级实施试点") == "鄞州区试点"
    assert short_name("Demo") == "Demo"


def test_a_program_file_is_parsed_once_with_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    from pilot_tracker.ledger import program_file

    assert program_file._Loader is yaml.CSafeLoader  # libyaml is installed here
    text = (EXAMPLES / "yinzhou.yaml").read_text(encoding="utf-8")
    parsed: list[str] = []
    streamed = yaml.parse

    class Counted(yaml.CSafeLoader):
        def __init__(self, stream: str):
            parsed.append("composed")
            super().__init__(stream)

    def counted_parse(*args: Any, **kwargs: Any) -> Any:
        parsed.append("events")
        return streamed(*args, **kwargs)

    monkeypatch.setattr(yaml, "parse", counted_parse)
    monkeypatch.setattr(program_file, "_Loader", Counted)
    monkeypatch.setattr(program_file.load_yaml, "__kwdefaults__", {"loader": Counted})
    spec = program_file.parse_program_text(text, "yinzhou.yaml")
    assert parsed == ["composed"] and len(spec.units) == 37
    # An alias in a short file is still refused with its own line: the events, on refusal.
    parsed.clear()
    with pytest.raises(ProgramFileError) as refused:
        program_file.parse_program_text(
            "code: demo\nunits:\n  - &tw {code: tw}\n  - *tw\n", "a.yaml"
        )
    problem = refused.value.problems[0]
    assert "line 4" in problem.place and "aliases" in problem.message
    assert parsed == ["composed", "events", "composed"]  # the event pass parses with its own


def test_files_read_along_by_a_helper_read_each_once_as_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From enough files a helper process reads from the last while this one reads from
    the first: the same programs and refusals, in order, each file read by one of the two."""
    from pilot_tracker.ledger import store

    paths = []
    for number in range(1, 41):
        document = copy.deepcopy(SMALL)
        document["code"] = f"p{number:02d}"
        if number in (5, 38):  # refused: by this process, and by the helper
            document["tasks"][1]["code"] = document["tasks"][0]["code"]
        path = tmp_path / f"p{number:02d}.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        paths.append(path)
    alone = list(store.read_program_sources(paths, along_from=len(paths) + 1))
    here: list[str] = []
    read = store._read_or_refusal

    def counted(path: Path) -> Any:
        here.append(path.name)
        return read(path)

    monkeypatch.setattr(store, "_read_or_refusal", counted)
    along = list(store.read_program_sources(paths, along_from=2))

    def shown(outcome: Any) -> Any:
        return (str(outcome), outcome.problems) if isinstance(outcome, Exception) else outcome

    assert [shown(item) for item in along] == [shown(item) for item in alone]
    assert sum(isinstance(item, ProgramFileError) for item in along) == 2
    assert "p01.yaml" in here and len(here) < len(paths)  # the helper read the rest
    assert "p38.yaml" in here  # refused (by either): read here, to say why
