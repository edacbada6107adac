"""The layout rules: the domain never imports Prefect, Typer or a web framework, and never
reads the clock or the settings; entry points (cli.py, web/, flows/) do. Import arrows point
one way, down the pipeline: entry points → demo → board → portal → reports → supervise → collect →
alerts → ledger → the core (models, db, errors, periods, spreadsheet, values ...). The command line
imports a heavy edge (Apprise, Alembic, openpyxl, ...) only in a command that uses it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "src" / "pilot_tracker"
DOMAIN = sorted(PACKAGE.rglob("*.py"))
ENTRY_POINTS = {"cli.py", "settings.py"}
# The web app is an entry point like cli.py: FastAPI, the settings and the clock live there.
ENTRY_PACKAGES = {"migrations", "web"}
FORBIDDEN_IMPORTS = ("prefect", "typer", "click", "fastapi", "flask", "starlette")
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}


def domain_modules() -> list[Path]:
    return [
        path
        for path in DOMAIN
        if path.name not in ENTRY_POINTS and not ENTRY_PACKAGES & set(path.parts)
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
# What the command line and --help need before they know which command runs: no database,
# no rich (out and err make their console when first printed to), no settings (pydantic;
# Typer imports it too, to read a command's parameters, once it builds a command).
DATABASE = {"sqlalchemy", "sqlmodel"}
BEFORE_A_COMMAND = DATABASE | {"rich", "yaml"}
SETTINGS = {"pydantic", "pydantic_core"}
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
    assert set(done.stdout.split()) & (HEAVY | BEFORE_A_COMMAND | SETTINGS) == set()


# Lowest first: a module may import its own package and the layers below it, never above.
LAYERS = (
    "core",
    "ledger",
    "alerts",
    "collect",
    "supervise",
    "reports",
    "portal",
    "board",
    "demo",
)


def layer_of(module: str) -> str:
    """The layer of ``pilot_tracker.x.y``: its subpackage, or ``core`` for a top-level module."""
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() and parts[1] != "migrations":
        return parts[1]
    return "core"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "pilot_tracker":
                found += [(node.lineno, f"pilot_tracker.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_every_subpackage_has_its_place_in_the_layers() -> None:
    packages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert packages - ENTRY_PACKAGES == set(LAYERS) - {"core"}


@pytest.mark.parametrize("path", domain_modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down_the_pipeline(path: Path) -> None:
    module = ".".join(("pilot_tracker", *path.relative_to(PACKAGE).with_suffix("").parts))
    own = LAYERS.index(layer_of(module))
    for line, name in imported_modules(path):
        assert name.split(".")[0] != "flows", f"{path.name}:{line} imports the flows"
        if name.split(".")[0] != "pilot_tracker":
            continue
        assert LAYERS.index(layer_of(name)) <= own, (
            f"{module}:{line} imports {name}, a layer above it ({' → '.join(LAYERS)})"
        )


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.glob("*/__init__.py")), ids=lambda path: path.parent.name
)
def test_a_subpackage_init_only_says_what_the_package_is(path: Path) -> None:
    """Importing ``pilot_tracker.collect.sources`` must not drag in the rest of ``collect``."""
    if path.parent.name == "migrations":
        return
    body = ast.parse(path.read_text(encoding="utf-8")).body
    assert body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    assert len(body) == 1, f"{path.parent.name}/__init__.py holds code; put it in a named module"


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
        pytest.param(["--help"], "program", HEAVY | BEFORE_A_COMMAND | SETTINGS, id="--help"),
        pytest.param(["program", "--help"], "list", HEAVY | BEFORE_A_COMMAND, id="program --help"),
        # The ledger's list reads no program file: neither YAML nor the program file's models.
        pytest.param(["program", "list"], "xiangshan", HEAVY | {"yaml"}, id="program list"),
        pytest.param(["progress", "--program", "xiangshan"], "xiangshan", HEAVY, id="progress"),
        pytest.param(["status"], "outbox:", HEAVY, id="status"),
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
