"""The portal as the office runs it: ``pilot-tracker web`` in a process of its own, and the
address it (or ``serve``) listens on. ``serve`` running the portal beside its schedules is
tested with serve itself (tests/test_deployment.py, slow)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pilot_tracker.cli import app

from .conftest import EXAMPLES
from .processes import Output, child_environment, stop

SCRIPT = str(Path(sys.executable).parent / "pilot-tracker")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def loaded_home() -> str:
    """The data home of the test with yinzhou loaded; the path of one unit's link."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "yinzhou.yaml")]).exit_code == 0
    printed = runner.invoke(app, ["links", "--program", "yinzhou", "--unit", "tqw", "--json"])
    assert printed.exit_code == 0, printed.output
    (link,) = json.loads(printed.stdout)
    return str(link["url"]).removeprefix("http://127.0.0.1:8000")


def test_web_serves_a_units_link_logs_no_token_and_stops_on_ctrl_c(
    isolated_environment: Path, tmp_path: Path
) -> None:
    path = loaded_home()
    token = path.removeprefix("/u/")
    port = free_port()
    served = subprocess.Popen(
        [SCRIPT, "web", "--port", str(port)],
        cwd=tmp_path,
        env=child_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(served)
    escalated: list[str] = []
    try:
        output.wait_for(f"portal on http://127.0.0.1:{port}", timeout=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as web:
            page = web.get(path)
            assert page.status_code == 200 and "团区委" in page.text
            assert page.headers["x-frame-options"] == "DENY"
            assert "server" not in page.headers  # uvicorn does not name itself
            assert web.get(path[:-2] + "xx").status_code == 404
        output.wait_for("GET /u/… 404", timeout=10)
        served.send_signal(signal.SIGINT)
        served.wait(timeout=30)
    finally:
        escalated = stop(served)
    text = output.wait_ended(timeout=30)
    assert escalated == [] and served.returncode == 0, text
    assert "GET /u/… 200" in text  # the portal's own access log, redacted
    assert token not in text and token[:20] not in text
    assert "Traceback" not in text
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


@pytest.mark.parametrize("command", ["web", "serve"])
def test_a_port_in_use_is_a_clear_error_before_anything_starts(
    command: str, isolated_environment: Path
) -> None:
    loaded_home()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, [command, "--port", str(port)])
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == (
        f"error: 127.0.0.1:{port} is already in use by another program; stop it, or give "
        "the portal another port with --port"
    )
    assert not (isolated_environment / "prefect").exists()  # serve started nothing
    assert not (isolated_environment / "logs").exists()


def test_a_host_that_is_not_this_machines_is_a_clear_error(isolated_environment: Path) -> None:
    loaded_home()
    result = CliRunner().invoke(app, ["web", "--host", "192.0.2.1", "--port", str(free_port())])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: cannot listen on 192.0.2.1:")


@pytest.mark.parametrize("no_web", [False, True], ids=["with the portal", "--no-web"])
def test_serve_gives_its_schedules_the_portal_on_its_port_or_none(
    no_web: bool, isolated_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What serve hands to flows.serving (the schedules themselves: tests/test_deployment.py):
    the portal bound to --port, which answers a unit's link in its thread until stopped;
    nothing with --no-web."""
    from flows import serving

    path = loaded_home()
    port = free_port()
    seen: dict[str, object] = {}

    def schedules(*, portal: serving.Portal | None = None, **_: object) -> list[str]:
        seen["portal"] = portal
        if portal is not None:
            url = portal.start()
            try:
                seen["page"] = httpx.get(url + path, trust_env=False, timeout=10)
            finally:
                portal.stop()
        return []

    monkeypatch.setattr(serving, "serve", schedules)
    option = ["--no-web"] if no_web else []
    result = CliRunner().invoke(app, ["serve", "--port", str(port), *option])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "stopped"
    if no_web:
        assert seen == {"portal": None}
        return
    page = seen["page"]
    assert isinstance(page, httpx.Response)
    assert page.status_code == 200 and "团区委" in page.text
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # stopped with serve
