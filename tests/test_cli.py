"""The command line, as a user drives it: outputs, exit codes, and no tracebacks."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from pilot_tracker.cli import app

from .conftest import EXAMPLES
from .test_program_file import SMALL

runner = CliRunner()


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def show(code: str) -> dict[str, Any]:
    return json.loads(run("program", "show", code, "--json").stdout)


@pytest.fixture
def initialised(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", database_url)
    run("init")
    return database_url


@pytest.fixture
def sqlite_initialised() -> None:
    run("init")


def test_the_quick_start(initialised: str) -> None:
    """Done when: after loading the examples, show prints what the source document says."""
    run("program", "load", EXAMPLES / "xiangshan.yaml")
    run("program", "load", EXAMPLES / "yinzhou.yaml")

    xiangshan = show("xiangshan")
    assert len(xiangshan["units"]) == 30
    assert Counter(task["list_kind"] for task in xiangshan["tasks"]) == {
        "mechanism": 10,
        "development": 15,
        "personalised": 6,
    }
    task = xiangshan["tasks"][0]
    assert set(task) >= {"code", "title", "list_kind", "lead_unit", "co_units", "start", "due"}

    yinzhou = show("yinzhou")
    assert len(yinzhou["units"]) == 37
    assert len(yinzhou["indicators"]) == 13
    assert Counter(i["level"] for i in yinzhou["indicators"]) == {
        "national": 2,
        "provincial": 5,
        "self_set": 6,
    }
    assert set(yinzhou["indicators"][0]) >= {"code", "name", "level", "baseline", "target"}
    assert sum(task["list_kind"] == "key_project" for task in yinzhou["tasks"]) == 7

    listed = json.loads(run("program", "list", "--json").stdout)
    assert [(p["code"], p["units"], p["tasks"]) for p in listed] == [
        ("xiangshan", 30, 31),
        ("yinzhou", 37, len(yinzhou["tasks"])),
    ]


def test_several_files_load_together_or_not_at_all(
    sqlite_initialised: None, tmp_path: Path
) -> None:
    broken = write_program(tmp_path, bad(tasks__0__lead_unit="nobody"), "broken.yaml")
    result = run("program", "load", EXAMPLES / "xiangshan.yaml", broken, code=1)
    assert "error: broken.yaml: refused, 1 problem" in result.stderr
    assert result.stderr.rstrip().endswith("nothing was written")
    assert json.loads(run("program", "list", "--json").stdout) == []

    loaded = run("program", "load", *sorted(EXAMPLES.glob("*.yaml"))).stdout
    assert "xiangshan: created" in loaded and "yinzhou: created" in loaded


def test_init_is_idempotent(isolated_environment: Path) -> None:
    first = run("init").stdout
    assert "created at schema revision" in first
    assert "already at schema revision" in run("init").stdout
    assert (isolated_environment / "inbox").is_dir()
    assert (isolated_environment / "archive").is_dir()
    assert (isolated_environment / "reports").is_dir()


def test_loading_the_same_file_twice_says_so(sqlite_initialised: None) -> None:
    path = EXAMPLES / "xiangshan.yaml"
    assert (
        "xiangshan: created with 30 units, 3 task lists, 31 tasks"
        in run("program", "load", path).stdout
    )
    second = run("program", "load", path).stdout
    assert (
        second.strip()
        == "xiangshan: unchanged (30 units, 3 task lists, 31 tasks, 0 indicators); nothing written"
    )


def test_an_edited_file_reports_what_changed(sqlite_initialised: None, tmp_path: Path) -> None:
    path = write_program(tmp_path, SMALL)
    run("program", "load", path)
    document = copy.deepcopy(SMALL)
    document["tasks"][1]["due"] = "2021-11-30"
    document["units"].append({"code": "czj", "name": "县财政局"})
    path = write_program(tmp_path, document)

    dry = run("program", "load", path, "--dry-run").stdout
    assert "demo: would be updated (dry run: nothing written)" in dry
    assert show("demo")["tasks"][1]["due"] == "2021-12-31"

    (result,) = json.loads(run("program", "load", path, "--json").stdout)
    assert result["outcome"] == "updated"
    assert result["changes"]["units"] == {"added": ["czj"], "changed": [], "removed": []}
    assert result["changes"]["tasks"]["changed"] == ["T-02"]
    assert show("demo")["tasks"][1]["due"] == "2021-11-30"


def write_program(tmp_path: Path, document: dict[str, Any], name: str = "demo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def bad(**edit: Any) -> dict[str, Any]:
    document = copy.deepcopy(SMALL)
    for key, value in edit.items():
        section, index, field = key.split("__")
        document[section][int(index)][field] = value
    return document


BAD_INPUTS = {
    "yaml syntax error": ("code: demo\nunits: [\n", "YAML syntax error"),
    "empty file": ("", "the file is empty"),
    "unit code used twice": (bad(units__1__code="tw"), "units[1].code (line"),
    "task code used twice": (bad(tasks__1__code="T-01"), 'task code "T-01" is used twice'),
    "unknown lead unit": (bad(tasks__0__lead_unit="jyj2"), 'unknown unit "jyj2"'),
    "due before start": (bad(tasks__1__due="2021-01-01"), "is before the start 2021-02-01"),
    "milestone over 100": (
        bad(tasks__0__milestones=[{"date": "2021-03-31", "percent": 120}]),
        "tasks[0].milestones[0].percent (line",
    ),
    "milestone going down": (
        bad(
            tasks__0__milestones=[
                {"date": "2021-03-31", "percent": 60},
                {"date": "2021-05-31", "percent": 40},
            ]
        ),
        "planned percent cannot go down",
    ),
    "target without a year": (
        bad(indicators__0__target={"value": 5.5}),
        "indicators[0].target.year (line",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_whole(sqlite_initialised: None, tmp_path: Path, case: str) -> None:
    run("program", "load", write_program(tmp_path, SMALL, "good.yaml"))
    before = show("demo")
    content, expected = BAD_INPUTS[case]
    path = tmp_path / "demo.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        document = copy.deepcopy(content)
        document["name"] = "改过的名字"  # would change the program, were the file accepted
        write_program(tmp_path, document)
    result = run("program", "load", path, code=1)
    assert result.stderr.startswith("error: demo.yaml: refused")
    assert "nothing was written" in result.stderr
    assert expected in result.stderr
    assert show("demo") == before


def many_programs(tmp_path: Path, count: int) -> list[Path]:
    """``count`` program files, the small pilot under a code each."""
    paths = []
    for number in range(1, count + 1):
        document = copy.deepcopy(SMALL)
        document["code"], document["name"] = f"p{number:02d}", f"试点{number}"
        paths.append(write_program(tmp_path, document, f"p{number:02d}.yaml"))
    return paths


def test_many_files_are_read_along_and_loaded_in_order(
    sqlite_initialised: None, tmp_path: Path
) -> None:
    """Enough files that a second process reads along: each is loaded, in order, once."""
    paths = many_programs(tmp_path, 30)
    loaded = json.loads(run("program", "load", *paths, "--json").stdout)
    assert [item["program"] for item in loaded] == [f"p{n:02d}" for n in range(1, 31)]
    assert {item["outcome"] for item in loaded} == {"created"}
    listed = json.loads(run("program", "list", "--json").stdout)
    assert sorted(item["code"] for item in listed) == [f"p{n:02d}" for n in range(1, 31)]


def test_one_bad_file_among_many_writes_nothing_and_every_problem_is_listed(
    sqlite_initialised: None, tmp_path: Path
) -> None:
    """The programs before it were written in the transaction as they were read: rolled
    back; the problems of a bad file read by either process are listed, each once."""
    paths = many_programs(tmp_path, 30)
    for index in (3, 27):
        document = bad(tasks__1__code="T-01")
        document["code"] = f"p{index + 1:02d}"
        write_program(tmp_path, document, paths[index].name)
    result = run("program", "load", *paths, code=1)
    assert result.stderr.count('task code "T-01" is used twice') == 2
    assert "error: p04.yaml: refused" in result.stderr
    assert "error: p28.yaml: refused" in result.stderr
    assert "nothing was written" in result.stderr
    assert json.loads(run("program", "list", "--json").stdout) == []


def test_a_file_that_is_not_text_is_refused(sqlite_initialised: None, tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_bytes(b"code: demo\nname: \xff\xfe\xfd\n")
    result = run("program", "load", path, code=1)
    assert "byte 17: the file is not UTF-8, UTF-16 or GBK text; save it as UTF-8" in result.stderr
    assert json.loads(run("program", "list", "--json").stdout) == []


def test_a_gbk_file_is_loaded(sqlite_initialised: None, tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_bytes(yaml.safe_dump(SMALL, allow_unicode=True).encode("gbk"))
    run("program", "load", path)
    listed = json.loads(run("program", "list", "--json").stdout)
    assert [(item["code"], item["name"]) for item in listed] == [(SMALL["code"], SMALL["name"])]


def test_several_faults_are_all_reported_and_nothing_is_written(
    sqlite_initialised: None, tmp_path: Path
) -> None:
    document = bad(units__1__code="tw", tasks__1__lead_unit="nobody")
    document["tasks"][0]["due"] = "2020-12-01"
    result = run("program", "load", write_program(tmp_path, document), code=1)
    assert "refused, 4 problems" in result.stderr  # duplicate code, co-unit gone, lead unit, dates
    assert len([line for line in result.stderr.splitlines() if line.startswith("  ")]) == 4
    assert json.loads(run("program", "list", "--json").stdout) == []


def test_a_ledger_workbook_with_a_missing_column(sqlite_initialised: None, tmp_path: Path) -> None:
    run("program", "load", EXAMPLES / "xiangshan.yaml")
    ledger = tmp_path / "台账.xlsx"
    run("program", "export", "xiangshan", "-o", ledger)
    workbook = openpyxl.load_workbook(ledger)
    workbook["任务"].delete_cols(7)  # 完成时限
    workbook.save(ledger)
    result = run("program", "load", ledger, code=1)
    assert 'sheet 任务, row 1: column "完成时限" is missing' in result.stderr


def test_export_and_load_the_ledger_workbook(sqlite_initialised: None, tmp_path: Path) -> None:
    run("program", "load", EXAMPLES / "yinzhou.yaml")
    before = show("yinzhou")
    ledger = tmp_path / "台账.xlsx"
    assert (
        f"yinzhou: written to {ledger}" in run("program", "export", "yinzhou", "-o", ledger).stdout
    )
    workbook = openpyxl.load_workbook(ledger)
    workbook["任务"]["B2"] = "修改后的任务名称"
    workbook.save(ledger)
    result = run("program", "load", ledger).stdout
    assert "tasks: 1 changed (" in result
    assert show("yinzhou")["tasks"][0]["title"] == "修改后的任务名称"
    assert len(show("yinzhou")["units"]) == len(before["units"])


def test_templates_for_one_unit_and_for_all(sqlite_initialised: None, tmp_path: Path) -> None:
    run("program", "load", EXAMPLES / "xiangshan.yaml")
    one = tmp_path / "jyj.xlsx"
    assert (
        "xiangshan/jyj:"
        in run("template", "--program", "xiangshan", "--unit", "jyj", "-o", one).stdout
    )
    assert openpyxl.load_workbook(one)["_meta"]["B2"].value == "jyj"
    folder = tmp_path / "all"
    run("template", "--program", "xiangshan", "--all-units", "-o", folder)
    assert len(list(folder.glob("xiangshan-*.xlsx"))) == 30
    result = run("template", "--program", "xiangshan", "--unit", "nope", "-o", one, code=1)
    assert 'no unit "nope" in program xiangshan' in result.stderr
    run("template", "--program", "xiangshan", "-o", one, code=2)


def test_commands_before_init_say_what_to_do(isolated_environment: Path) -> None:
    result = run("program", "list", code=4)
    database = isolated_environment.resolve() / "pilot-tracker.db"
    assert result.stderr.strip() == (f"error: no database at {database}; run `pilot-tracker init`")
    assert not isolated_environment.exists()  # no empty database, no data home


def test_a_database_url_in_a_missing_folder_is_refused_and_nothing_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "no" / "such" / "dir" / "x.db"
    monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", f"sqlite:///{database}")
    result = run("program", "list", code=4)
    assert result.stderr.strip() == f"error: no database at {database}; run `pilot-tracker init`"
    result = run("init", code=4)
    assert result.stderr.strip() == (
        f"error: no folder {database.parent} for the database sqlite:///{database}; create the "
        "folder, or set PILOT_TRACKER_DATABASE_URL to a file in a folder that exists"
    )
    assert not (tmp_path / "no").exists()


def test_init_creates_a_database_in_a_folder_that_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "x.db"
    monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", f"sqlite:///{database}")
    run("program", "list", code=4)
    assert not database.exists()
    run("init")
    run("program", "list")
    assert database.is_file()


def test_an_unknown_program(sqlite_initialised: None) -> None:
    result = run("program", "show", "nope", code=1)
    assert result.stderr.strip() == (
        'error: no program "nope"; no program is loaded yet '
        "(load one with `pilot-tracker program load FILE`)"
    )


def test_usage_errors_exit_2() -> None:
    assert runner.invoke(app, ["program", "load"]).exit_code == 2
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2


def test_a_bug_is_one_line_that_names_the_log_and_exits_70(
    isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("init")

    def broken(*, session: object) -> None:
        raise KeyError("a bug in the ledger")

    monkeypatch.setattr("pilot_tracker.ledger.store.list_programs", broken)
    result = run("program", "list", code=70)
    log = isolated_environment / "logs" / "errors.log"
    assert result.stderr.strip() == (
        "error: a bug in pilot-tracker: KeyError: 'a bug in the ledger' "
        f"(the traceback is in {log}; please report it)"
    )
    logged = log.read_text(encoding="utf-8")
    assert "program_list {'as_json': False} failed" in logged
    assert "Traceback" in logged and "KeyError: 'a bug in the ledger'" in logged


def test_a_file_the_system_refuses_is_named_and_exits_3(
    isolated_environment: Path, tmp_path: Path
) -> None:
    run("init")
    run("program", "load", EXAMPLES / "xiangshan.yaml")
    taken = tmp_path / "taken"
    taken.write_text("a file where the folder should be", encoding="utf-8")
    result = run("template", "--program", "xiangshan", "--all-units", "-o", taken / "sub", code=3)
    assert result.stderr.startswith(f"error: {taken / 'sub'}")


def test_a_bad_setting_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILOT_TRACKER_TIMEZONE", "Mars/Olympus")
    result = run("init", code=3)
    assert result.stderr.startswith("error: PILOT_TRACKER_TIMEZONE:")


def test_every_command_has_help_with_an_example() -> None:
    def commands(group: Any, path: tuple[str, ...] = ()):
        yield path, group
        if hasattr(group, "commands"):
            for name, command in group.commands.items():
                yield from commands(command, (*path, name))

    found = list(commands(get_command(app)))
    assert len(found) >= 8
    for path, command in found:
        assert command.help and "Example: pilot-tracker" in command.help, path
        for parameter in command.params:
            if type(parameter).__name__ == "TyperOption" and parameter.name != "help":
                assert parameter.help, (path, parameter.name)
        assert runner.invoke(app, [*path, "--help"]).exit_code == 0


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    script = shutil.which("pilot-tracker", path=str(Path(sys.executable).parent))
    assert script, "the console script is installed with the package"
    broken = tmp_path / "broken.yaml"
    broken.write_text("code: [\n", encoding="utf-8")
    done = subprocess.run(
        [script, "program", "load", str(broken)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: broken.yaml: refused")
    assert "Traceback" not in done.stderr
