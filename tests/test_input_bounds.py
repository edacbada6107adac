"""Hostile program files and ledger workbooks are refused fast, naming the bound.

Each hostile file is read in a child process with hard limits (2 GB of memory, 60 s of
CPU, a wall-clock timeout), so a regression fails here instead of eating the machine.
"""

from __future__ import annotations

import copy
import io
import os
import re
import resource
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from pilot_tracker.ledger.program_file import validate_program
from pilot_tracker.ledger.workbook import write_ledger_workbook

from .test_program_file import SMALL

MEMORY_LIMIT = 2 * 1024**3
CPU_SECONDS = 60
# Generous: the refusals take a fraction of a second; timing belongs to benchmarks.
FAST = 5.0

READER = """
import sys, time
from pathlib import Path
from pilot_tracker.errors import Refusal
from pilot_tracker.ledger.workbook import read_ledger_workbook
from pilot_tracker.ledger.program_file import read_program_file

path = Path(sys.argv[1])
read = read_ledger_workbook if path.suffix == ".xlsx" else read_program_file
start = time.monotonic()
try:
    spec = read(path)
except Refusal as refusal:
    print(f"refused in {time.monotonic() - start:.3f}")
    print(refusal)
    for problem in refusal.problems:
        print(problem)
else:
    print(f"accepted in {time.monotonic() - start:.3f}")
    print(f"{len(spec.units)} units, {len(spec.tasks)} tasks")
"""


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def read_in_cage(path: Path) -> tuple[str, float, list[str]]:
    """Read ``path`` as the CLI would, in a limited child: (outcome, seconds, lines)."""
    result = subprocess.run(
        [sys.executable, "-c", READER, str(path)],
        capture_output=True,
        text=True,
        timeout=CPU_SECONDS + 30,
        preexec_fn=_limits,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and lines, (
        f"the reader died (exit {result.returncode}): {result.stderr[-1500:]}"
    )
    outcome, _, seconds = lines[0].partition(" in ")
    return outcome, float(seconds), lines[1:]


def refused_fast(path: Path) -> str:
    """The refusal's text, after checking it came quickly and named the file."""
    outcome, seconds, lines = read_in_cage(path)
    assert outcome == "refused", lines
    assert seconds < FAST
    assert lines[0].startswith(f"{path.name}: refused")
    return "\n".join(lines[1:])


def program(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(SMALL)
    document.update(changes)
    return document


class PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_yaml(path: Path, document: Any) -> Path:
    text = yaml.dump(document, Dumper=PlainDumper, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


# --- program files --------------------------------------------------------------------------

LAUGHS = "\n".join(
    ['lol0: &lol0 ["哈哈哈哈哈哈哈哈哈哈"]']
    + [f"lol{n}: &lol{n} [{', '.join([f'*lol{n - 1}'] * 10)}]" for n in range(1, 10)]
)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("code: demo\n" + LAUGHS + "\n", 3, id="aliases-of-aliases"),
        pytest.param(
            "code: demo\nbase: &base {start: 2021-01-04, due: 2021-06-30}\n"
            "tasks:\n  - <<: *base\n    code: T-01\n",
            4,
            id="merge-key",
        ),
        pytest.param(
            "code: demo\nunits:\n  - &tw {code: tw, name: 团县委}\n  - *tw\n", 4, id="plain-alias"
        ),
    ],
)
def test_yaml_aliases_are_refused_with_their_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "program.yaml"
    path.write_text(text, encoding="utf-8")
    problems = refused_fast(path)
    assert f"line {line}" in problems
    assert "aliases" in problems and "write the value out in full" in problems


@pytest.mark.parametrize(
    "nested",
    [
        pytest.param(" " + "[" * 100_000 + "]" * 100_000, id="lists"),
        pytest.param(" " + "{a: " * 50_000 + "1" + "}" * 50_000, id="mappings"),
        pytest.param(
            "".join("\n" + "  " * depth + "- x:" for depth in range(40)) + " 1", id="block"
        ),
    ],
)
def test_deep_nesting_is_refused_naming_the_depth(tmp_path: Path, nested: str) -> None:
    path = tmp_path / "program.yaml"
    path.write_text("code: demo\nunits:" + nested + "\n", encoding="utf-8")
    problems = refused_fast(path)
    assert "nested more than 20 levels deep" in problems


def test_too_many_values_are_refused_naming_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "program.yaml"
    path.write_text("code: demo\nnotes: [" + "1, " * 300_000 + "1]\n", encoding="utf-8")
    problems = refused_fast(path)
    assert "more than 250,000 values" in problems


@pytest.mark.parametrize("size", [3 * 1024**2, 50 * 1024**2])
def test_a_large_file_is_refused_before_it_is_read(tmp_path: Path, size: int) -> None:
    path = tmp_path / "program.yaml"
    path.write_text("code: demo\n", encoding="utf-8")
    os.truncate(path, size)  # sparse: no disk space, no memory
    problems = refused_fast(path)
    assert f"the file is {size:,} bytes, more than the 2,097,152 (2 MB) allowed" in problems


def many_units(count: int) -> list[dict[str, str]]:
    return [{"code": f"u{n}", "name": f"单位{n}"} for n in range(count)]


def many_tasks(count: int) -> list[dict[str, Any]]:
    task = SMALL["tasks"][1]
    return [{**task, "code": f"T-{n}"} for n in range(count)]


def many_indicators(count: int) -> list[dict[str, Any]]:
    indicator = SMALL["indicators"][0]
    return [{**indicator, "code": f"I-{n}"} for n in range(count)]


@pytest.mark.parametrize(
    ("section", "items", "expected"),
    [
        ("units", many_units(10_000), "units[200] (line 410, column 3): more than the 200 units"),
        ("units", many_units(201), "units[200] (line 410, column 3): more than the 200 units"),
        ("tasks", many_tasks(2_001), "more than the 2,000 tasks a program may hold"),
        ("indicators", many_indicators(501), "more than the 500 indicators a program may hold"),
    ],
)
def test_too_many_items_are_refused_naming_the_bound(
    tmp_path: Path, section: str, items: list[Any], expected: str
) -> None:
    path = write_yaml(tmp_path / "program.yaml", program(**{section: items}))
    problems = refused_fast(path)
    assert expected in problems


def test_the_largest_program_allowed_is_read(tmp_path: Path) -> None:
    document = program(tasks=many_tasks(2_000), indicators=many_indicators(500))
    document["units"] = many_units(197) + SMALL["units"]
    path = write_yaml(tmp_path / "program.yaml", document)
    outcome, _, lines = read_in_cage(path)
    assert outcome == "accepted", lines
    assert lines == ["200 units, 2000 tasks"]


@pytest.mark.parametrize(
    ("where", "value", "expected"),
    [
        (
            ("tasks", 0, "milestones"),
            [{"date": "2021-03-31", "percent": 40}] * 61,
            "tasks[0].milestones (line",
        ),
        (("calendar", "holidays"), ["2021-05-03"] * 1_001, "calendar.holidays (line"),
    ],
)
def test_long_lists_inside_an_item_are_refused(
    tmp_path: Path, where: tuple[Any, ...], value: list[Any], expected: str
) -> None:
    document = program(calendar={})
    target: Any = document
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    path = write_yaml(tmp_path / "program.yaml", document)
    problems = refused_fast(path)
    assert expected in problems
    assert f"{len(value):,} items, more than the" in problems


# --- ledger workbooks -----------------------------------------------------------------------


def ledger_workbook(path: Path, **changes: Any) -> Path:
    write_ledger_workbook(validate_program(program(**changes), "demo.yaml"), path)
    return path


def rewrite_zip(path: Path, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> None:
    """Change entries of an .xlsx as raw XML (openpyxl could not write these lies)."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry, replace.get(entry.filename, source.read(entry.filename)))
        for name, data in (add or {}).items():
            target.writestr(name, data)


def sheet_entry(path: Path, title: str) -> str:
    workbook = openpyxl.load_workbook(path)
    index = workbook.sheetnames.index(title) + 1
    return f"xl/worksheets/sheet{index}.xml"


def sheet_xml(rows: str, dimension: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData></worksheet>'
    ).encode()


def inline(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


HEADER = "".join(
    inline(f"{column}1", header)
    for column, header in zip("ABCDEFGHIJ", ["单位编号", "单位名称"], strict=False)
)


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (150_000, "sheet 成员单位: more than 5,000 rows below the header (row 1)"),
        (300_000, "has a part that unpacks to more than 8 MB"),
        (1_000_000, "more than the 5,242,880 (5 MB) allowed"),
    ],
)
def test_a_workbook_with_a_huge_sheet_is_refused_naming_the_bound(
    tmp_path: Path, count: int, expected: str
) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    rows = f'<row r="1">{HEADER}</row>' + "".join(
        f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(2, count + 1)
    )
    rewrite_zip(path, {sheet_entry(path, "成员单位"): sheet_xml(rows, f"A1:B{count}")})
    problems = refused_fast(path)
    assert expected in problems


def unit_rows(first: int = 2) -> str:
    return "".join(
        f'<row r="{first + n}">{inline(f"A{first + n}", unit["code"])}'
        f"{inline(f'B{first + n}', unit['name'])}</row>"
        for n, unit in enumerate(SMALL["units"])
    )


def test_rows_of_stray_cells_far_right_are_read_in_bounded_time(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    rows = f'<row r="1">{HEADER}</row>{unit_rows()}' + "".join(
        f'<row r="{n}"><c r="XFD{n}"><v>1</v></c></row>' for n in range(5, 150_000)
    )
    rewrite_zip(path, {sheet_entry(path, "成员单位"): sheet_xml(rows, "A1:XFD150000")})
    outcome, seconds, lines = read_in_cage(path)
    assert (outcome, lines) == ("accepted", ["3 units, 2 tasks"])
    assert seconds < FAST


def test_a_lying_dimension_does_not_make_a_small_sheet_large(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    rows = (
        f'<row r="1">{HEADER}</row>{unit_rows()}'
        '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    )
    rewrite_zip(path, {sheet_entry(path, "成员单位"): sheet_xml(rows, "A1:XFD1048576")})
    outcome, seconds, lines = read_in_cage(path)
    assert (outcome, lines) == ("accepted", ["3 units, 2 tasks"])
    assert seconds < FAST


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    rewrite_zip(path, {}, add={"xl/media/image1.bin": bytes(300 * 1024**2)})
    assert path.stat().st_size < 2 * 1024**2
    problems = refused_fast(path)
    assert "uncompressed" in problems and "50 MB" in problems


def test_a_large_workbook_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    os.truncate(path, 8 * 1024**2)
    problems = refused_fast(path)
    assert "more than the 5,242,880 (5 MB) allowed" in problems


def test_too_many_units_in_a_workbook_are_refused_naming_the_bound(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    workbook = openpyxl.load_workbook(path)
    for unit in many_units(300):
        workbook["成员单位"].append([unit["code"], unit["name"]])
    workbook.save(path)
    problems = refused_fast(path)
    assert "303 units, more than the 200 units a program may hold" in problems


def test_a_yaml_bomb_in_a_settings_cell_is_refused_naming_the_cell(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["试点信息"]
    row = next(r for r in range(1, 30) if sheet.cell(r, 1).value == "规则设置")
    sheet.cell(row, 2).value = LAUGHS
    workbook.save(path)
    problems = refused_fast(path)
    assert f"sheet 试点信息, row {row} (规则设置)" in problems
    assert "aliases" in problems


def test_a_yaml_bomb_in_a_sources_cell_is_refused_naming_the_cell(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["成员单位"]
    column = next(c for c in range(1, 20) if sheet.cell(1, c).value == "数据来源")
    sheet.cell(3, column).value = LAUGHS
    workbook.save(path)
    problems = refused_fast(path)
    assert "sheet 成员单位, row 3, column 数据来源: YAML aliases" in problems


def with_shared_strings(path: Path, count: int) -> None:
    """Give the workbook a shared-strings table of ``count`` texts (Excel's usual form)."""
    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    relations = archive.read("xl/_rels/workbook.xml.rels").decode()
    types = archive.read("[Content_Types].xml").decode()
    relations = relations.replace(
        "</Relationships>",
        '<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    types = types.replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    table = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main" count="{count}" uniqueCount="{count}">'
        + "".join(f"<si><t>{n}</t></si>" for n in range(count))
        + "</sst>"
    )
    rewrite_zip(
        path,
        {"xl/_rels/workbook.xml.rels": relations.encode(), "[Content_Types].xml": types.encode()},
        add={"xl/sharedStrings.xml": table.encode()},
    )


def test_a_workbook_of_too_many_texts_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    with_shared_strings(path, 200_000)
    assert path.stat().st_size < 5 * 1024**2
    problems = refused_fast(path)
    assert "holds more than 100,000 distinct texts" in problems


def test_a_workbook_with_a_shared_strings_table_is_read(tmp_path: Path) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    with_shared_strings(path, 1_000)
    outcome, _, lines = read_in_cage(path)
    assert (outcome, lines) == ("accepted", ["3 units, 2 tasks"])


def test_a_workbook_of_too_many_cell_formats_is_refused_before_it_is_opened(
    tmp_path: Path,
) -> None:
    path = ledger_workbook(tmp_path / "台账.xlsx")
    styles = zipfile.ZipFile(path).read("xl/styles.xml").decode()
    count = 100_000
    formats = "".join(
        f'<xf numFmtId="{n % 150}" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        for n in range(count)
    )
    bloated = re.sub(r'<cellXfs count="\d+">', f'<cellXfs count="{count}">{formats}', styles)
    assert bloated != styles
    rewrite_zip(path, {"xl/styles.xml": bloated.encode()})
    problems = refused_fast(path)
    assert "holds more than 4 MB of cell formats (xl/styles.xml)" in problems


PAYLOAD_READER = """
import sys, time
from pathlib import Path
from pilot_tracker.collect.payload import read_payload
from pilot_tracker.errors import PayloadError

path = Path(sys.argv[1])
start = time.monotonic()
try:
    read = read_payload(path.read_bytes(), path.name)
except PayloadError as error:
    print(f"refused in {time.monotonic() - start:.3f}")
    print(error)
else:
    print(f"read {len(read.task_rows)} rows")
"""


def submission_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "任务进展"
    sheet.append(["任务编号", "进展状态", "完成进度", "填报日期"])
    sheet.append(["T-01", "推进中", 30, "2021-03-20"])
    workbook.save(path)
    return path


@pytest.mark.parametrize("kind", ["texts", "formats"])
def test_a_submission_workbook_that_openpyxl_would_chew_on_is_refused_before_it_is_opened(
    tmp_path: Path, kind: str
) -> None:
    path = submission_workbook(tmp_path / "填报表.xlsx")
    if kind == "texts":
        with_shared_strings(path, 250_000)
    else:
        styles = zipfile.ZipFile(path).read("xl/styles.xml").decode()
        formats = "".join(
            f'<xf numFmtId="{n % 150}" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            for n in range(100_000)
        )
        bloated = re.sub(r'<cellXfs count="\d+">', f'<cellXfs count="100000">{formats}', styles)
        rewrite_zip(path, {"xl/styles.xml": bloated.encode()})
    assert path.stat().st_size < 20 * 1024**2
    done = subprocess.run(
        [sys.executable, "-c", PAYLOAD_READER, str(path)],
        capture_output=True,
        text=True,
        timeout=CPU_SECONDS + 30,
        preexec_fn=_limits,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines[0].startswith("refused in"), done.stderr[-1500:]
    assert float(lines[0].split()[-1]) < FAST
    reason = {"texts": "文本过多（超过 200,000 条）", "formats": "单元格格式过多（超过 4 MB）"}
    assert reason[kind] in lines[1]
