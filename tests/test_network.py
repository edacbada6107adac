"""Nothing leaves the machine unasked: every name lookup and socket connect is recorded.

The processes run with ``tests/netaudit.py``'s recorder on PYTHONPATH (so Prefect's server
and the flow runs it starts record too), inside a network namespace with loopback only
where the machine allows it (root and ``unshare -n``). The recorder also refuses anything
off loopback before it happens, so even without a namespace nothing leaves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from . import netaudit
from .conftest import EXAMPLES, ROOT

SCENARIO = Path(__file__).with_name("network_scenario.py")


def clean_environment(tmp_path: Path) -> dict[str, str]:
    """The environment an operator's shell would give: no Prefect or project settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_", "PILOT_TRACKER_"))
        and name not in ("DO_NOT_TRACK", "CI", "GITHUB_ACTIONS")
    }
    env["HOME"] = str(tmp_path / "user")  # Prefect's default home would be ~/.prefect
    return env


def test_the_recorder_catches_a_lookup_of_a_host_that_is_not_configured(tmp_path: Path) -> None:
    """The check can fail: a deliberate lookup of a name nobody configured is recorded and
    refused before it is made (and, where the namespace exists, could not leave anyway)."""
    audit = netaudit.recorder(tmp_path / "audit", clean_environment(tmp_path))
    code = (
        "import socket\n"
        "try:\n"
        "    socket.getaddrinfo('example.invalid', 80)\n"
        "except OSError as error:\n"
        "    print('refused:', error)\n"
        "socket.getaddrinfo('127.0.0.1', 80)\n"
    )
    done = subprocess.run(
        netaudit.isolated([sys.executable, "-c", code]),
        env=audit.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "refused: netaudit: refused socket.getaddrinfo to 'example.invalid'" in done.stdout
    assert [(r["event"], r["host"], r["port"]) for r in audit.off_loopback()] == [
        ("socket.getaddrinfo", "example.invalid", 80)
    ]
    assert len(audit.records()) == 2  # the loopback lookup is recorded too, and allowed


@pytest.mark.slow
def test_serve_a_flow_run_and_alerts_send_call_only_loopback_and_the_configured_targets(
    tmp_path: Path,
) -> None:
    """serve with one program for at least 30 s, one real supervise run through it, one
    ``alerts send`` to a loopback SMTP server (the only Apprise target): every lookup and
    connect of every process is loopback, and every connect goes to serve's Prefect server
    or to the SMTP server."""
    work = tmp_path / "work"
    work.mkdir()
    audit = netaudit.recorder(tmp_path / "audit", clean_environment(tmp_path))
    result_file = tmp_path / "result.json"
    done = subprocess.run(
        netaudit.isolated(
            [
                sys.executable,
                str(SCENARIO),
                "--examples",
                str(EXAMPLES),
                "--work",
                str(work),
                "--seconds",
                "30",
                "--result",
                str(result_file),
            ]
        ),
        cwd=ROOT,
        env=audit.env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    result = json.loads(result_file.read_text())
    records = audit.records()
    hosts = Counter((r["event"], r["host"], r["port"]) for r in records)
    print(f"namespace: {netaudit.can_isolate()}; result: {json.dumps(result, indent=2)}")
    print("recorded:", *sorted(f"{n:5d}  {key}" for key, n in hosts.items()), sep="\n")
    print(f"(Prefect server: {result['prefect_port']}; SMTP: {result['smtp_port']})")

    # What the scenario did.
    assert result["alerts_send"]["sent"] > 0 and result["alerts_send"]["failed"] == 0
    assert result["mails_after_alerts_send"] > 0
    assert result["flow_run_state"] == "COMPLETED"
    assert result["served_seconds"] >= 30
    # One Ctrl-C stopped serve, cleanly (the scenario waits up to 60 s before it escalates).
    assert result["serve_exit"] == 0 and result["stop_escalated"] == []
    assert "Traceback" not in result["serve_output"], result["serve_output"]

    # Every process was recorded: serve, Prefect's server, the flow run, alerts send.
    commands = " | ".join({str(r["argv"]) for r in records})
    assert "prefect/__main__.py server start" in commands, commands
    assert "prefect/engine.py" in commands, commands  # the flow run serve started
    assert "alerts send" in commands, commands
    assert any(r["port"] == result["smtp_port"] for r in records)

    # And nothing but loopback (and this machine's own name, which smtplib looks up for its
    # greeting): the Prefect server serve started, the SMTP target, and the control channel
    # serve's runner opens for the flow runs it starts.
    assert audit.off_loopback() == []
    others = {
        (r["port"], str(r["argv"]).split()[0])
        for r in records
        if r["event"] == "socket.connect"
        and r["port"] not in (result["prefect_port"], result["smtp_port"])
    }
    assert all(command.endswith("prefect/engine.py") for _, command in others), others
