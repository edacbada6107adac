"""End to end on Prefect's own server: deploy from prefect.yaml, a worker runs supervise.

Slow (a real Prefect server, a work pool, a worker and a flow run): CI runs it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from pilot_tracker.cli import app

from .conftest import EXAMPLES, POSTGRES_URL, ROOT

pytestmark = pytest.mark.slow
PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prefect(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [PREFECT, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


@pytest.fixture
def databases(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(project database, Prefect server database): both PostgreSQL where configured."""
    if not POSTGRES_URL:
        return "", ""
    project = request.getfixturevalue("postgres_url")
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"prefect_test_{os.getpid()}_{free_port()}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    request.addfinalizer(lambda: _drop(admin, name))
    server = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=name)
    return project, server.render_as_string(hide_password=False)


def _drop(admin: sa.Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_workers_complete_deployed_supervise_runs(
    isolated_environment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    databases: tuple[str, str],
) -> None:
    """A Prefect server (on PostgreSQL where configured), the project database (likewise),
    two workers on one pool: supervise runs for two programs, both complete."""
    project_database, server_database = databases
    if project_database:
        monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", project_database)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    for program in ("xiangshan", "yinzhou"):
        loaded = runner.invoke(app, ["program", "load", str(EXAMPLES / f"{program}.yaml")])
        assert loaded.exit_code == 0
        simulated = runner.invoke(app, ["simulate", "--program", program, "--until", "2021-04-06"])
        assert simulated.exit_code == 0

    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-server"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PILOT_TRACKER_HOME": str(isolated_environment),
    }
    if server_database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = server_database
    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/health", timeout=2
                ) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the Prefect server did not start"
            time.sleep(0.5)

        prefect(env, "work-pool", "create", "pilot-tracker", "--type", "process")
        run_ids = []
        for program in ("xiangshan", "yinzhou"):
            prefect(env, "--no-prompt", "deploy", "--name", f"supervise-{program}")
            triggered = prefect(
                env,
                "deployment",
                "run",
                f"supervise/supervise-{program}",
                "--param",
                'as_of="2021-04-06"',
            )
            assert "Created flow run" in triggered.stdout
            run_ids.append(re.search(r"UUID:\s*([0-9a-f-]{36})", triggered.stdout).group(1))
        workers = [
            subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "pilot-tracker", "--limit", "1"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        state, states = "", []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = []
            for run_id in run_ids:
                url = f"http://127.0.0.1:{port}/api/flow_runs/{run_id}"
                with urllib.request.urlopen(url, timeout=5) as answer:
                    states.append(json.loads(answer.read())["state_type"])
            if all(s in ("COMPLETED", "FAILED", "CRASHED") for s in states):
                state = ",".join(sorted(states))
                break
            time.sleep(1)
        assert state == "COMPLETED,COMPLETED", states
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)  # a worker ignores SIGTERM
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    monkeypatch.setenv("PILOT_TRACKER_HOME", str(isolated_environment))
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    for program in status["programs"]:
        runs = program["last_runs"]
        assert runs["supervise"]["as_of"] == "2021-04-06" and runs["supervise"]["outcome"] == "ok"
        assert runs["collect-status"]["outcome"] == "ok"
    assert len(status["programs"]) == 2


def test_serve_runs_the_schedules_until_ctrl_c(isolated_environment: Path, tmp_path: Path) -> None:
    """serve keeps Prefect's home and log under the data home, and Ctrl-C (to its whole
    process group, as a terminal sends it) stops it cleanly within 10 seconds."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "yinzhou.yaml")]).exit_code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    script = str(Path(sys.executable).parent / "pilot-tracker")
    served = subprocess.Popen(
        [script, "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert served.stdout is not None
        while time.monotonic() < deadline:
            line = served.stdout.readline()
            lines.append(line)
            if "Ctrl-C stops" in line or not line:
                break
    finally:
        stop = time.monotonic()
        os.killpg(served.pid, signal.SIGINT)
        try:
            rest, _ = served.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(served.pid, signal.SIGKILL)
            rest, _ = served.communicate()
    output = "".join(lines) + rest
    assert "serving 4 schedules: supervise-yinzhou, quarterly-reconciliation-yinzhou" in output
    assert served.returncode == 0, output[-2000:]
    assert time.monotonic() - stop <= 10
    assert "stopped" in output.splitlines()
    assert "Traceback" not in output
    assert (isolated_environment / "prefect" / "prefect.db").exists()
    assert (isolated_environment / "logs" / "serve.log").exists()


def test_an_unreachable_prefect_server_is_a_clear_error_and_writes_nothing(
    isolated_environment: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "xiangshan.yaml")]).exit_code == 0
    assert (
        runner.invoke(
            app, ["simulate", "--program", "xiangshan", "--until", "2021-01-31"]
        ).exit_code
        == 0
    )
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",  # nothing listens there
    }
    code = (
        "import datetime; from flows.supervise import supervise; "
        "supervise('xiangshan', as_of=datetime.date(2021, 1, 29))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "127.0.0.1" in done.stderr  # the error names the server it could not reach
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert status["programs"][0]["last_runs"] == {}
    inbox = isolated_environment / "inbox" / "xiangshan"
    assert any(inbox.rglob("*.xlsx"))  # nothing was taken: the next run catches up
