"""What an office runs, end to end, for tests/test_network.py to record: run as a script.

One program loaded; a loopback SMTP server as the only Apprise target; ``alerts send`` in a
child; then ``pilot-tracker serve`` for at least ``--seconds``, with one real supervise run
through serve's Prefect server, and Ctrl-C to serve's process group as a terminal sends it.
Writes what happened as JSON to ``--result``. Every process it starts inherits its
environment (the recorder on PYTHONPATH, and the network namespace it runs in).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from processes import Output, stop, wait_until  # beside this script

COMMAND = str(Path(sys.executable).parent / "pilot-tracker")
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Mailroom:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [COMMAND, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args}: exit {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def api(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    deadline = time.monotonic() + 30
    while True:
        try:
            with LOOPBACK.open(request, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            # Prefect's server answers 503 while its SQLite database is busy (a loaded
            # machine): that is "try again", not a finding of this test.
            if error.code != 503 or time.monotonic() > deadline:
                raise
            time.sleep(1)


def serve_once(seconds: float, result: dict[str, Any]) -> None:
    """serve for at least ``seconds`` with one supervise run through it, then Ctrl-C."""
    started = time.monotonic()
    served = subprocess.Popen(
        [COMMAND, "serve", "--port", str(free_port())],  # the portal on a port of its own
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    output = Output(served)
    try:
        line = output.wait_for("Prefect server on", timeout=120)
        output.wait_for("Ctrl-C or SIGTERM stops", timeout=120)
        found = re.search(r"Prefect server on (http://127\.0\.0\.1:(\d+)/api)", line)
        if not found:
            raise RuntimeError("serve did not start: " + output.text[-2000:])
        url, result["prefect_port"] = found.group(1), int(found.group(2))

        def registered() -> Any:
            try:
                return api(f"{url}/deployments/name/supervise-all/supervise-all")
            except urllib.error.HTTPError:
                return None

        # The runner registers the deployments as it starts.
        deployment = wait_until(registered, timeout=60, what="supervise-all registered")
        # Every loaded program (xiangshan here), each a child run of this one.
        run_id = api(
            f"{url}/deployments/{deployment['id']}/create_flow_run",
            {"parameters": {"as_of": "2021-04-07"}},
        )["id"]

        def final_state() -> str:
            state = api(f"{url}/flow_runs/{run_id}")["state_type"]
            return state if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else ""

        result["flow_run_state"] = wait_until(
            final_state, timeout=180, every=1, what="the supervise run ending"
        )
        # Not a wait for something: serve runs this long for its background traffic (the
        # runner's polls, the server's services) to be recorded too.
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        result["served_seconds"] = round(time.monotonic() - started, 1)
    finally:
        stopping = time.monotonic()
        os.killpg(served.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        with contextlib.suppress(subprocess.TimeoutExpired):
            served.wait(timeout=60)
        result["stop_seconds"] = round(time.monotonic() - stopping, 1)
        result["stop_escalated"] = stop(served, group=True)
        result["serve_exit"] = served.returncode
        result["serve_output"] = output.wait_ended(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--result", type=Path, required=True)
    options = parser.parse_args()

    from aiosmtpd.controller import Controller

    mailroom = Mailroom()
    smtp_port = free_port()
    # server_hostname: no lookup of this machine's name for the greeting
    smtp = Controller(mailroom, hostname="127.0.0.1", port=smtp_port, server_hostname="localhost")
    smtp.start()
    result: dict[str, Any] = {"smtp_port": smtp_port}
    try:
        config = options.work / "apprise.yml"
        config.write_text(
            "version: 1\nurls:\n"
            f'  - "mailto://127.0.0.1:{smtp_port}?from=pilot@example.gov.cn'
            '&to=office@example.gov.cn&format=text":\n      tag: role:office\n',
            encoding="utf-8",
        )
        os.environ["PILOT_TRACKER_HOME"] = str(options.work / "data")
        os.environ["PILOT_TRACKER_APPRISE_CONFIG"] = str(config)
        os.chdir(options.work)
        run("init")
        run("program", "load", str(options.examples / "xiangshan.yaml"))
        run("simulate", "--program", "xiangshan", "--until", "2021-04-06")
        run("collect", "--program", "xiangshan", "--as-of", "2021-04-06")
        run("flag", "--program", "xiangshan", "--as-of", "2021-04-06")
        result["alerts_send"] = json.loads(run("alerts", "send", "--json"))
        result["mails_after_alerts_send"] = mailroom.count
        serve_once(options.seconds, result)
        result["mails"] = mailroom.count
    finally:
        smtp.stop()
        options.result.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
