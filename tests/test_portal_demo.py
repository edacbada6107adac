"""The portal in the demo: the link it prints, and ``demo --web`` serving the demo's data.

The demo runs as a child process, under hard limits, for one week of its half-year
(tests/test_demo.py plays the whole of it): what is tested here is what comes after the
play, which a week leaves as a half-year would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from pilot_tracker import db
from pilot_tracker.cli import app
from pilot_tracker.errors import NotFoundError
from pilot_tracker.portal.unit_page import busiest_unit
from pilot_tracker.settings import Settings
from pilot_tracker.web.app import create_app

from .conftest import ROOT
from .portal_fixtures import PortalUnderTest
from .processes import Output, stop

# The demo, one week long: the command as a user runs it, around a shorter play.
SHORT_DEMO = """
import functools, sys
from datetime import date
from pilot_tracker.demo import playthrough
playthrough.play = functools.partial(playthrough.play, end=date(2021, 1, 8))
from pilot_tracker.cli import main
sys.argv = ["pilot-tracker", *sys.argv[1:]]
main()
"""
LIMITS = ["prlimit", "--as=2147483648", "--cpu=60", "--"]
LINK = re.compile(r"a unit's page \(xiangshan tw\): (\S+/u/\S+)$", re.MULTILINE)
BOARD = re.compile(r"the office's board: (\S+)/login as office / (\S+), leader / (\S+) \(")


def short_demo(*args: str) -> list[str]:
    return [*LIMITS, sys.executable, "-c", SHORT_DEMO, *args]


def environment(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(
        filter(None, [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")])
    )
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "80", **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_busiest_unit_of_the_examples_is_xiangshans_league_committee(
    portal: PortalUnderTest,
) -> None:
    # 团县委 shares or leads 20 of Xiangshan's tasks; 团区委 of Yinzhou 13, and 2 indicators.
    with db.session(portal.engine) as session:
        program, unit = busiest_unit(session=session)
        assert (program.code, unit.code, unit.name) == ("xiangshan", "tw", "团县委")


def test_no_busiest_unit_without_a_program(sqlite_engine: Engine) -> None:
    with db.session(sqlite_engine) as session, pytest.raises(NotFoundError, match="no program"):
        busiest_unit(session=session)


def test_demo_web_on_a_port_in_use_says_so_before_playing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["demo", "-o", str(tmp_path / "demo"), "--web", "--port", str(port)]
        )
    assert result.exit_code == 3
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "another port with --port" in result.stderr
    assert not (tmp_path / "demo").exists()


@pytest.mark.slow
def test_the_demo_prints_a_link_that_opens_the_units_page(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = subprocess.run(
        short_demo("demo", "-o", str(folder)),
        env=environment(PILOT_TRACKER_HOME=str(tmp_path / "home")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = LINK.search(done.stdout)
    assert found, done.stdout
    url = found.group(1)
    assert url.startswith("http://127.0.0.1:8000/u/")
    assert f"PILOT_TRACKER_HOME={folder / 'data'} pilot-tracker web" in done.stdout
    assert (folder / "data" / "secret.key").is_file()
    board = BOARD.search(done.stdout)
    assert board, done.stdout

    # What `pilot-tracker web` serves on the demo's data home opens it, and the board
    # opens to the office's printed password.
    settings = Settings(home=folder / "data")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        page = client.get(url.removeprefix("http://127.0.0.1:8000"))
        assert page.status_code == 200
        assert "团县委" in page.text and "XS-JZ-01" in page.text
        login = client.get("/login")
        token = re.search(r'name="csrf" value="([0-9a-f]{64})"', login.text)
        assert token, login.text
        signed = client.post(
            "/login",
            data={"csrf": token.group(1), "name": "office", "password": board.group(2)},
        )
        assert signed.status_code == 200, signed.text
        assert 'href="/p/xiangshan"' in signed.text and 'href="/p/yinzhou"' in signed.text


@pytest.mark.slow
def test_demo_web_serves_the_demos_data_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        short_demo("demo", "-o", str(tmp_path / "demo"), "--web", "--port", str(port)),
        env=environment(
            PILOT_TRACKER_HOME=str(tmp_path / "home"),
            PILOT_TRACKER_PUBLIC_URL="https://pilot.example.org",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        output.wait_for("portal on", timeout=120)
        assert f"portal on http://127.0.0.1:{port} (today is 2021-07-09 there)" in output.text
        found = LINK.search(output.text)
        assert found, output.text
        # The link carries the public address; the portal answers it here.
        path = found.group(1).removeprefix("https://pilot.example.org")
        assert path.startswith("/u/")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            page = client.get(path, timeout=10)
            assert page.status_code == 200
            assert "团县委" in page.text and "今天 2021-07-09" in page.text
            assert client.get("/u/nonsense", timeout=10).status_code == 404

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert "portal stopped" in output.wait_ended(timeout=10)
    finally:
        stop(process)
