"""End to end on Prefect's own server: deploy prefect.yaml, load a program afterwards, and
workers run supervise for every program, the new one too.

Slow (a real Prefect server, a work pool, a worker and a flow run): CI runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from pilot_tracker.cli import app

from .conftest import EXAMPLES, POSTGRES_URL, ROOT
from .processes import Output, child_environment, sigint_ignored, stop, wait_until

pytestmark = pytest.mark.slow
PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


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


def test_a_program_loaded_after_deploying_is_supervised_with_no_edit(
    isolated_environment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    databases: tuple[str, str],
) -> None:
    """A Prefect server (on PostgreSQL where configured), the project database (likewise),
    prefect.yaml deployed as it is, two workers on one pool; a third program loaded after
    deploying: supervise-all runs a child supervise run for each of the three, all complete,
    and prefect.yaml is as it was."""
    project_database, server_database = databases
    if project_database:
        monkeypatch.setenv("PILOT_TRACKER_DATABASE_URL", project_database)
    deployments = (ROOT / "prefect.yaml").read_bytes()
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0

    def load(program: str, path: Path) -> None:
        loaded = runner.invoke(app, ["program", "load", str(path)])
        assert loaded.exit_code == 0, loaded.output
        simulated = runner.invoke(app, ["simulate", "--program", program, "--until", "2021-04-06"])
        assert simulated.exit_code == 0, simulated.output

    for program in ("xiangshan", "yinzhou"):
        load(program, EXAMPLES / f"{program}.yaml")

    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-server"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
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
    api = f"http://127.0.0.1:{port}/api"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_until(
            lambda: healthy(f"{api}/health"), timeout=90, what="the Prefect server answering"
        )
        prefect(env, "work-pool", "create", "pilot-tracker", "--type", "process")
        deployed = prefect(env, "--no-prompt", "deploy", "--all")
        for name in (
            "supervise-all",
            "quarterly-reconciliation-all",
            "half-year-evaluation-all",
            "city-rollup-all",
        ):
            assert name in deployed.stdout, deployed.stdout[-2000:]
        assert "xiangshan" not in deployed.stdout and "yinzhou" not in deployed.stdout

        # A third program, loaded once the deployments are on the server.
        text = (EXAMPLES / "xiangshan.yaml").read_text(encoding="utf-8")
        third = tmp_path / "ninghai.yaml"
        third.write_text(text.replace("code: xiangshan", "code: ninghai", 1), encoding="utf-8")
        load("ninghai", third)

        triggered = prefect(
            env, "deployment", "run", "supervise-all/supervise-all", "--param", 'as_of="2021-04-06"'
        )
        assert "Created flow run" in triggered.stdout
        parent = re.search(r"UUID:\s*([0-9a-f-]{36})", triggered.stdout).group(1)
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
        ended = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")

        def final_state() -> str:
            with urllib.request.urlopen(f"{api}/flow_runs/{parent}", timeout=5) as answer:
                state = json.loads(answer.read())["state_type"]
            return state if state in ended else ""

        state = wait_until(final_state, timeout=300, every=1, what="supervise-all ending")
        found = httpx.post(
            f"{api}/flow_runs/filter",
            json={"flow_runs": {"parent_flow_run_id": {"any_": [parent]}}},
            timeout=10,
            trust_env=False,
        ).json()
    finally:
        stop(*workers)  # a worker ignores SIGTERM: SIGINT stops it
        stop(server)

    children = {run["parameters"]["program"]: run["state_type"] for run in found}
    assert children == dict.fromkeys(("ninghai", "xiangshan", "yinzhou"), "COMPLETED")
    assert state == "COMPLETED"
    assert (ROOT / "prefect.yaml").read_bytes() == deployments
    monkeypatch.setenv("PILOT_TRACKER_HOME", str(isolated_environment))
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    for program in status["programs"]:
        runs = program["last_runs"]
        assert runs["supervise"]["as_of"] == "2021-04-06" and runs["supervise"]["outcome"] == "ok"
        assert runs["collect-status"]["outcome"] == "ok"
    assert [program["program"] for program in status["programs"]] == [
        "ninghai",
        "xiangshan",
        "yinzhou",
    ]


@pytest.mark.parametrize(
    ("signum", "said"),
    [(signal.SIGINT, "Ctrl-C (SIGINT): stopping"), (signal.SIGTERM, "SIGTERM: stopping")],
    ids=["ctrl-c", "sigterm"],
)
def test_serve_runs_the_schedules_until_ctrl_c_or_sigterm(
    signum: signal.Signals, said: str, isolated_environment: Path, tmp_path: Path
) -> None:
    """serve keeps Prefect's home and log under the data home, and stops cleanly on Ctrl-C
    (to its whole process group, as a terminal sends it) or on SIGTERM (to it alone, as
    ``kill`` or a service manager sends it), saying so, with its Prefect server; also when
    it was started with SIGINT ignored, as a background job is."""
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["program", "load", str(EXAMPLES / "yinzhou.yaml")]).exit_code == 0
    printed = runner.invoke(app, ["links", "--program", "yinzhou", "--unit", "tqw", "--json"])
    link = json.loads(printed.stdout)[0]["url"].removeprefix("http://127.0.0.1:8000")
    env = {k: v for k, v in child_environment().items() if not k.startswith("PREFECT_")}
    script = str(Path(sys.executable).parent / "pilot-tracker")
    web = free_port()
    with sigint_ignored():
        served = subprocess.Popen(
            [script, "serve", "--port", str(web)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    output = Output(served)
    escalated: list[str] = []
    try:
        started = output.wait_for("Prefect server on http://127.0.0.1:", timeout=180)
        output.wait_for("Ctrl-C or SIGTERM stops", timeout=120)
        # The portal answers a unit's link while the schedules are served.
        assert f"portal on http://127.0.0.1:{web}" in output.text
        page = httpx.get(f"http://127.0.0.1:{web}{link}", timeout=10, trust_env=False)
        assert page.status_code == 200 and "团区委" in page.text
        if signum == signal.SIGINT:
            os.killpg(served.pid, signum)
        else:
            served.send_signal(signum)
        # It stops on that one signal: its own deadlines (5 s for its server) bound how long
        # it takes; on a loaded machine, more than the 10 s it takes on an idle one.
        with contextlib.suppress(subprocess.TimeoutExpired):
            served.wait(timeout=60)
    finally:
        escalated = stop(served, group=True)
    text = output.wait_ended(timeout=30)
    assert escalated == [], (escalated, text[-2000:])
    assert (
        "serving 5 schedules: supervise-all, quarterly-reconciliation-all, "
        "half-year-evaluation-all, city-rollup-all, send-alerts"
    ) in text
    assert served.returncode == 0, text[-2000:]
    lines = text.splitlines()
    assert said in lines and lines[-1] == "stopped", text[-2000:]
    assert "Traceback" not in text
    port = int(re.search(r"127\.0\.0\.1:(\d+)/api", started).group(1))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # its Prefect server stopped with it
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", web), timeout=5):
        pass  # and the portal
    assert link.removeprefix("/u/") not in text
    serve_log = (isolated_environment / "logs" / "serve.log").read_text(encoding="utf-8")
    assert "GET /u/… 200" in serve_log and link.removeprefix("/u/") not in serve_log
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
