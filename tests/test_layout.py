"""The layout rules: the domain never imports Prefect, Typer or a web framework, and never
reads the clock or the settings; entry points (cli.py, flows/) do."""

from __future__ import annotations

import ast
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


def test_the_command_line_starts_without_prefect() -> None:
    code = "import sys, pilot_tracker.cli; print('prefect' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
