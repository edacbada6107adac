"""Prefect's telemetry is off in every process the product starts, unless the operator opts in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pilot_tracker import telemetry

from . import netaudit
from .conftest import ROOT

# What a shell might carry in: telemetry settings, and the CI markers Prefect also reads.
CARRIED = ("PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK", "CI", "GITHUB_ACTIONS")


@pytest.mark.parametrize(
    "given",
    [{}, {"DO_NOT_TRACK": "0"}, {"PREFECT_SERVER_ANALYTICS_ENABLED": "true"}],
    ids=["unset", "do-not-track-0", "analytics-true"],
)
def test_telemetry_is_switched_off_whatever_the_shell_carries(given: dict[str, str]) -> None:
    environ = dict(given)
    assert telemetry.switch_off(environ) is True
    assert environ == {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_the_operator_opts_in_with_one_setting(value: str) -> None:
    environ = {telemetry.OPT_IN: value}
    assert telemetry.switch_off(environ) is False
    assert environ == {telemetry.OPT_IN: value}


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_anything_else_is_not_an_opt_in(value: str) -> None:
    environ = {telemetry.OPT_IN: value}
    assert telemetry.switch_off(environ) is True
    assert environ["DO_NOT_TRACK"] == "1"


PROBE = """
import json, os, sys
{first}
from prefect._internal.analytics import is_telemetry_enabled
from prefect.settings import get_current_settings
print(json.dumps({{
    "client": is_telemetry_enabled(),
    "server": get_current_settings().server.analytics_enabled,
    "do_not_track": os.environ.get("DO_NOT_TRACK"),
}}))
"""


def probe(
    first: str, tmp_path: Path, extra: dict[str, str] | None = None
) -> tuple[dict[str, object], netaudit.Recorder]:
    """Run PROBE after ``first`` in a child with the recorder on, in the environment an
    operator's shell would give (plus ``extra``): what Prefect's settings say, and the
    recorder."""
    env = {k: v for k, v in os.environ.items() if k not in CARRIED}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), **(extra or {}))
    audit = netaudit.recorder(tmp_path / "audit", env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(first=first)],
        cwd=ROOT,
        env=audit.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1]), audit


@pytest.mark.parametrize(
    "first",
    [
        "import pilot_tracker.cli",  # the pilot-tracker command, every subcommand
        "import flows.supervise",  # a flow imported by a script, serve or a worker
        "import flows.reports",
        "import flows.collect_status",
    ],
)
def test_every_entry_point_turns_telemetry_off_before_prefect_loads(
    first: str, tmp_path: Path
) -> None:
    seen, audit = probe(first, tmp_path)
    assert seen == {"client": False, "server": False, "do_not_track": "1"}
    assert audit.off_loopback() == []


def test_an_operator_who_opts_in_gets_prefects_defaults(tmp_path: Path) -> None:
    seen, audit = probe("import pilot_tracker.cli", tmp_path, {telemetry.OPT_IN: "1"})
    assert seen["server"] is True and seen["do_not_track"] is None
    # Importing Prefect still calls no one (its first-run event waits for a terminal).
    assert audit.off_loopback() == []
