"""The layout rules: the domain never imports Prefect, Typer or a web framework, and never
reads the clock or the settings; entry points (cli.py, flows/) do. Import arrows point one
way, down the pipeline: entry points → demo → reports → supervise → collect → alerts →
ledger → the core (models, db, errors, periods, spreadsheet, values ...)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "src" / "pilot_tracker"
DOMAIN = sorted(PACKAGE.rglob("*.py"))
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


def test_the_command_line_starts_without_prefect() -> None:
    code = "import sys, pilot_tracker.cli; print('prefect' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# Lowest first: a module may import its own package and the layers below it, never above.
LAYERS = ("core", "ledger", "alerts", "collect", "supervise", "reports", "demo")


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
    packages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()} - {
        "migrations"
    }
    assert packages == set(LAYERS) - {"core"}


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
