"""The demo's last working day through the real flows, on Prefect's temporary server.

``pilot-tracker demo`` plays its half-year through the domain calls, which is fast, and
hands its last working day to a :class:`Runner` (``playthrough.LastDay``): the units'
submissions of the day have landed and the demo's servers are up. The runner's child
process (this module's :func:`main`) loads Prefect with a Prefect home of its own
(``DIR/prefect``) and starts Prefect's temporary server (a Prefect server on 127.0.0.1 for
one process, its database in that home) while the half-year plays; handed the day, it
points the settings at the demo's data home, database and Apprise configuration and runs
the parents ``prefect.yaml`` deploys, as a scheduled day would: ``supervise-all`` for the
day, the report parents due that day (:func:`report_parents`), then ``send-alerts``. It
lists the flow runs they made and stops the server. The runs stay in ``DIR/prefect``:
``PREFECT_HOME=DIR/prefect prefect flow-run ls`` lists them.

A child process, so that Prefect loads with that environment and its home (not the
caller's); every wait has a deadline, and the child stops with the demo however it ends.
Prefect is imported only in the child; the command line imports this module without it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pilot_tracker import telemetry
from pilot_tracker.demo.playthrough import LastDay, LastDayResult, Ran

# Prefect's home in the demo's folder, and what the child leaves there besides its database.
PREFECT_FOLDER = "prefect"
LOG_FILE = "last-day.log"
RESULT_FILE = "last-day.json"
# Prefect commands on this home (`prefect flow-run ls`, `prefect server start`) start a
# server of their own on it, with Prefect's analytics off, without a setting of yours.
PROFILE = """\
# The demo's Prefect home: `PREFECT_HOME=<this folder> prefect flow-run ls` starts a
# temporary server on its database; `prefect server start` serves it with the UI.
active = "demo"

[profiles.demo]
PREFECT_SERVER_EPHEMERAL_ENABLED = "true"
PREFECT_SERVER_ANALYTICS_ENABLED = "false"
"""
# The temporary server starts in seconds (docs/benchmarks.md); on a busy machine, slower.
SERVER_START_SECONDS = 90
# The child waits for its day while the half-year plays; it ends sooner when the demo
# ends without one (its standard input closes).
WAIT_SECONDS = 3600
# The day: supervise for every program, the reports (a PDF each), sending.
DAY_SECONDS = 900
STOP_SECONDS = 10
# Flow runs read at a time (the most Prefect's API gives).
PAGE = 200
# Where the UI is when `prefect server start` serves the demo's home.
UI = "http://127.0.0.1:4200"
# Prefect (3.9) sends a flow run's heartbeats from a thread that sleeps a second at a time,
# and a sync flow run joins it as it ends: every flow run of the day took a second more
# (27 runs, about 9 s on the day's longest chain). The day's runs send none: they are
# watched by the child that runs them, whose server stops with it (a heartbeat tells a
# worker's server that a run's process died; nothing here needs telling).
HEARTBEATS = None


class Runner:
    """The child process that runs the demo's last day through the flows.

    ``start`` it once the demo has cleared its folder (on its first day): Prefect loads and
    its server starts while the half-year plays. ``run`` hands it the day and waits for
    what it did; ``stop`` (or the end of a ``with`` block) ends it, however the demo ended.
    """

    def __init__(self, folder: Path):
        self.home = (folder / PREFECT_FOLDER).resolve()
        self.log = self.home / LOG_FILE
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the child, if it has not started yet."""
        if self.process is not None:
            return
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "profiles.toml").write_text(PROFILE, encoding="utf-8")
        (self.home / RESULT_FILE).unlink(missing_ok=True)
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flows.demo_day", "--result", str(self.home / RESULT_FILE)],
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment(self.home),
                cwd=self.home,
                start_new_session=True,  # its group (it and its server) is stopped as one
            )

    def run(self, day: LastDay) -> LastDayResult:
        """Hand the child the day; what its flows did (or why it failed)."""
        self.start()
        process = self.process
        assert process is not None and process.stdin is not None
        # Closed by a child that stopped already (its server did not start): its log says.
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(json.dumps(order(day)).encode() + b"\n")
            process.stdin.close()
        try:
            code = process.wait(timeout=DAY_SECONDS)
        except subprocess.TimeoutExpired:
            self.stop()
            problem = f"the last day's flows did not end within {DAY_SECONDS} s; see {self.log}"
            return LastDayResult(problems=[problem])
        answer = self.home / RESULT_FILE
        if code != 0 or not answer.is_file():
            problem = f"the last day's flows failed (exit code {code}); see {self.log}"
            return LastDayResult(problems=[problem])
        found = json.loads(answer.read_text(encoding="utf-8"))
        runs = [Ran(**item) for item in found["runs"]]
        return LastDayResult(
            reports=found["reports"],
            problems=found["problems"],
            runs=runs,
            look=look(self.home, runs, found["server_seconds"]),
        )

    def stop(self) -> None:
        """Stop the child's group, if it still runs: SIGINT (its server stops with it),
        then SIGKILL."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        for stop in (signal.SIGINT, signal.SIGKILL):
            if process.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, stop)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_SECONDS)


def environment(home: Path) -> dict[str, str]:
    """The child's environment: a Prefect of its own in ``home``, none of the caller's
    Prefect settings (a server, a profile), Prefect's telemetry off; the same
    ``pilot_tracker`` and ``flows`` as this process."""
    import flows
    import pilot_tracker

    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    telemetry.switch_off(env)
    code = [Path(package.__file__).resolve().parents[1] for package in (flows, pilot_tracker)]
    paths = [*map(str, code), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
            "PREFECT_HOME": str(home),
            "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
        }
    )
    return env


def order(day: LastDay) -> dict[str, Any]:
    """What the child is handed: the day, the programs and the reports due, and the
    settings that point the flows at the demo's data (with the mailbox's password)."""
    return {
        "day": day.day.isoformat(),
        "programs": day.programs,
        "reports": day.reports,
        "environ": {
            "PILOT_TRACKER_HOME": str(day.home.resolve()),
            "PILOT_TRACKER_DATABASE_URL": day.database_url,
            "PILOT_TRACKER_APPRISE_CONFIG": str(day.apprise_config.resolve()),
            "PILOT_TRACKER_TEMPLATES": str(day.templates.resolve()),
            **day.environ,
        },
    }


def look(home: Path, runs: list[Ran], server_seconds: float) -> list[str]:
    """How to look at the runs afterwards, with Prefect's own commands on the demo's home."""
    prefect = f"PREFECT_HOME={home} prefect"
    first = next((ran for ran in runs if ran.depth == 0 and ran.id), None)
    lines = [
        f"on Prefect's temporary server (started in {server_seconds:.1f} s while the half-year "
        f"played, stopped at the end); its database and the runs' log: {home}",
        f"the runs: {prefect} flow-run ls",
    ]
    if first is not None:
        lines.append(f"a run's log: {prefect} flow-run logs {first.id}  ({first.flow})")
    lines.append(f"in Prefect's UI: {prefect} server start, then open {UI}")
    return lines


# --- in the child ----------------------------------------------------------------------------


def report_parents() -> list[tuple[str, Any, str]]:
    """The parents the last day runs after ``supervise-all``, for the reports due that
    day: the kind due (as ``schedule.writing_days`` names it), the parent flow, and the
    parameter its period goes in."""
    from flows.fan_out import half_year_evaluation_all, quarterly_reconciliation_all

    return [
        ("quarterly", quarterly_reconciliation_all, "quarter"),
        ("half_year", half_year_evaluation_all, "half"),
        # The city's roll-up (city-rollup-all, #14) goes here, one line per kind it covers.
    ]


# A line in each font of the reports' layout (templates/reports/base.html.j2).
SAMPLE = (
    '<html lang="zh-CN"><body style="font-family: Liberation Serif, Noto Serif CJK SC">'
    "试点 2021 <b>专班</b>"
    '<span style="font-family: Noto Sans CJK SC">进度</span>'
    '<span style="font-family: AR PL UKai CN">督办</span></body></html>'
)


def warm_up() -> None:
    """Load what the day's reports load on their first print (WeasyPrint, Pango and the
    fonts, the workbook and Word writers) while the half-year plays, not on the day: the
    first PDF of a process takes a second more than the next."""
    import tempfile

    from pilot_tracker.errors import PilotTrackerError
    from pilot_tracker.reports import documents, evaluation, reconciliation, word  # noqa: F401

    with tempfile.TemporaryDirectory() as folder, contextlib.suppress(PilotTrackerError):
        documents.pdf(SAMPLE, Path(folder) / "warm-up.pdf")  # no Chinese font: the day says


def main(argv: list[str] | None = None) -> int:
    """Start Prefect's temporary server, wait for the day, run its parents; write what
    they did to ``--result``."""
    parser = argparse.ArgumentParser(prog="python -m flows.demo_day")
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    began = time.monotonic()
    # ``python -m flows.demo_day`` loaded the package ``flows`` first: telemetry is off.
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # The one Prefect starts by itself when no API is set (the same instance): started
    # here, to time it and to stop it when the day is done.
    server = SubprocessASGIServer()
    server.start(timeout=SERVER_START_SECONDS)
    server_seconds = time.monotonic() - began
    say(f"Prefect's temporary server on {server.address}, started in {server_seconds:.1f} s")
    try:
        report_parents()  # the flows load while the half-year plays
        warm_up()
        ready, _, _ = select.select([sys.stdin], [], [], WAIT_SECONDS)
        line = sys.stdin.readline() if ready else ""
        if not line:
            say("the demo ended without its last day: stopping")
            return 0
        handed = json.loads(line)
        os.environ.update(handed["environ"])  # read by each run (flows/common.py)
        due = [(kind, period) for kind, period in handed["reports"]]
        say(f"the demo's last day, {handed['day']}: reports due {due or 'none'}")
        since = datetime.now(UTC)
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: HEARTBEATS}):
            problems = _the_day(date.fromisoformat(handed["day"]), due)
        runs = _runs(since)
        reports = _reports(handed["programs"], due)
    finally:
        # The runs' last log lines reach the server before it stops.
        APILogWorker.drain_all(timeout=STOP_SECONDS, at_exit=False)
        server.stop()
    found = {
        "server_seconds": round(server_seconds, 1),
        "runs": [ran.__dict__ for ran in runs],
        "reports": [str(path) for path in reports],
        "problems": problems,
    }
    args.result.write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


def say(line: str) -> None:
    """A line in the child's log (its standard output)."""
    print(f"{datetime.now():%H:%M:%S.%f}"[:-3] + f" | demo_day | {line}", flush=True)


def _the_day(day: date, due: list[tuple[str, str]]) -> list[str]:
    """``supervise-all``, the report parents due, ``send-alerts``, in turn; a line for each
    that did not complete."""
    from flows.fan_out import supervise_all
    from flows.supervise import send_alerts

    states = [(supervise_all.name, supervise_all(as_of=day, settle_seconds=0, return_state=True))]
    for kind, period in due:
        for due_kind, parent, parameter in report_parents():
            if due_kind == kind:
                states.append((parent.name, parent(**{parameter: period}, return_state=True)))
    states.append((send_alerts.name, send_alerts(return_state=True)))
    return [
        f"{name} ended {state.name}: {state.message}"
        for name, state in states
        if not state.is_completed()
    ]


def _runs(since: datetime) -> list[Ran]:
    """Every flow run since ``since``, each followed by the runs under it, by start."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime

    started = FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since))
    with get_client(sync_client=True) as client:
        found: list[Any] = []
        while page := client.read_flow_runs(flow_run_filter=started, limit=PAGE, offset=len(found)):
            found += page
        names: dict[Any, str] = {}
        parent: dict[Any, Any] = {}
        for flow_run in found:
            if flow_run.flow_id not in names:
                names[flow_run.flow_id] = client.read_flow(flow_run.flow_id).name
            if flow_run.parent_task_run_id is not None:
                parent[flow_run.id] = client.read_task_run(flow_run.parent_task_run_id).flow_run_id
    under: dict[Any, list[Any]] = {}
    for flow_run in sorted(found, key=lambda item: item.start_time or since):
        under.setdefault(parent.get(flow_run.id), []).append(flow_run)
    ordered: list[Ran] = []

    def walk(key: Any, depth: int) -> None:
        for flow_run in under.get(key, []):
            ordered.append(
                Ran(
                    flow=names[flow_run.flow_id],
                    name=flow_run.name,
                    state=flow_run.state.name if flow_run.state else "?",
                    seconds=round(flow_run.total_run_time.total_seconds(), 1),
                    depth=depth,
                    program=str(flow_run.parameters.get("program", "")),
                    id=str(flow_run.id),
                )
            )
            walk(flow_run.id, depth + 1)

    walk(None, 0)
    return ordered


def _reports(programs: list[str], due: list[tuple[str, str]]) -> list[Path]:
    """The files of every report due, as recorded (each program's, where it was written)."""
    from flows.common import opened
    from pilot_tracker.reports import writing

    files: list[Path] = []
    with opened() as run, run.session() as session:
        for program in programs:
            for kind, period in due:
                files += writing.recorded_files(
                    session=session,
                    program=program,
                    kind=kind,
                    period=period,
                    home=run.settings.home,
                )
    return files


if __name__ == "__main__":
    sys.exit(main())
