"""The layout rules: the domain never imports Prefect, Typer or a web framework, and never
reads the clock or the settings; entry points (cli.py, flows/) do. The command line imports
a heavy edge (Apprise, Alembic, openpyxl, ...) only in a command that uses it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

DOMAIN = sorted((ROOT / "src" / "pilot_tracker").rglob("*.py"))
ENTRY_POINTS = {"cli.py", "settings.py"}
FORBIDDEN_IMPORTS = ("prefect", "typer", "click", "fastapi", "flask", "starlette")
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}


def domain_modules() -> list[Path]:
    return [
        path for path in DOMAIN if path.name not in ENTRY_POINTS and "migrations" not in path.parts
    ]


@pytest.mark.parametrize("path", domain_modules(), ids=lambda path: path.name)
def test_the_domain_stays_plain(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_IMPORTS, f"{path.name} imports {name}"
            assert name != "pilot_tracker.settings", f"{path.name} reads the settings"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name):
                assert (owner.id, node.func.attr) not in CLOCK_CALLS, (
                    f"{path.name}:{node.lineno} reads the clock"
                )


# The heavy edges (STYLE.md, "Start-up"): a command imports them only when it uses them, so
# that --help and the commands that only read answer at once (benchmarks/cli_startup.py).
HEAVY = {
    "prefect",
    "apprise",
    "requests",
    "weasyprint",
    "pypdf",
    "docx",
    "openpyxl",
    "alembic",
    "mako",
    "httpx",
    "aiosmtpd",
}
# What the command line and --help need before they know which command runs: no database.
DATABASE = {"sqlalchemy", "sqlmodel"}
# Runs a command as the console script does, then prints the top-level modules it loaded.
PROBE = """
import sys
from pilot_tracker.cli import app
try:
    app(args=sys.argv[1:], prog_name="pilot-tracker")
except SystemExit as exit:
    code = exit.code
print()
print(code, *sorted({name.split(".")[0] for name in sys.modules}))
"""


def loaded_by(*args: str) -> tuple[str, int, set[str]]:
    """What ``pilot-tracker ARGS`` printed, its exit code, and the modules it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, "COLUMNS": "200"},  # wide enough for a table to keep its codes whole
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    output, _, last = done.stdout.rstrip("\n").rpartition("\n")
    code, *modules = last.split()
    return output, int(code), set(modules)


def test_importing_the_command_line_loads_no_heavy_module() -> None:
    code = "import sys, pilot_tracker.cli; print(*sorted({m.split('.')[0] for m in sys.modules}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(done.stdout.split()) & (HEAVY | DATABASE) == set()


@pytest.fixture
def loaded_home() -> None:
    """The data home of the autouse isolated environment, with the example programs."""
    from typer.testing import CliRunner

    from pilot_tracker.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    programs = [str(path) for path in sorted((ROOT / "examples" / "programs").glob("*.yaml"))]
    assert runner.invoke(app, ["program", "load", *programs]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "shows", "left_out"),
    [
        pytest.param(["--help"], "program", HEAVY | DATABASE, id="--help"),
        pytest.param(["program", "list"], "xiangshan", HEAVY, id="program list"),
        pytest.param(["progress", "--program", "xiangshan"], "xiangshan", HEAVY, id="progress"),
        # collect/sources.py imports httpx at its top until the HTTP source has a module of
        # its own, which collection imports only to pull (#10).
        pytest.param(["status"], "outbox:", HEAVY - {"httpx"}, id="status"),
    ],
)
def test_the_commands_that_only_read_load_no_heavy_module(
    loaded_home: None, args: list[str], shows: str, left_out: set[str]
) -> None:
    output, code, modules = loaded_by(*args)
    assert shows in output
    assert code in (0, 1)  # status exits 1 when something needs an operator
    assert modules & left_out == set()


def test_the_illegal_characters_of_a_cell_are_openpyxls() -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    from pilot_tracker import spreadsheet

    assert spreadsheet.ILLEGAL_CHARACTERS_RE.pattern == ILLEGAL_CHARACTERS_RE.pattern
