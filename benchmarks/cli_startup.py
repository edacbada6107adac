"""CLI start-up: whole-process wall time of the commands a person types to look around.

Loads the example programs into a fresh data home in a temporary folder (not timed),
then runs each command below N times (5 by default) as its own process, the way a shell
starts it, and prints the median wall time with the min and max, and the median CPU time
(user + system) of the process. ``python -c pass`` is timed too: the floor the interpreter
itself sets. The load average is printed before and after: on a busy machine the wall
times grow, the CPU times much less.

Run from the repository root::

    .venv/bin/python benchmarks/cli_startup.py

The commands run as ``python -c "from pilot_tracker.cli import main; main()" ARGS`` with
the interpreter running this script, so the ``pilot_tracker`` on its path is measured: set
``PYTHONPATH=src`` to measure a checkout other than the installed one. Bytecode is cached
as an installed package has it (compiled once, in a temporary PYTHONPYCACHEPREFIX, even
where PYTHONDONTWRITEBYTECODE is set), and each command runs once untimed first.
``--importtime`` also prints the costliest imports of ``pilot_tracker.cli``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "examples" / "programs").glob("*.yaml"))
PROGRAM = "xiangshan"
COMMANDS: list[tuple[str, list[str]]] = [
    ("pilot-tracker --help", ["--help"]),
    ("pilot-tracker program list", ["program", "list"]),
    (f"pilot-tracker progress --program {PROGRAM}", ["progress", "--program", PROGRAM]),
    ("pilot-tracker status", ["status"]),
]
RUN_CLI = "from pilot_tracker.cli import main; main()"
DEADLINE_S = 60


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process running ``argv``. It must exit 0; ``status`` may
    exit 1, which says that something needs an operator (a year whose days are guessed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=DEADLINE_S, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ((0, 1) if argv[-1] == "status" else (0,)):
        raise SystemExit(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode(errors='replace')}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", RUN_CLI, *args]


def prepare(env: dict[str, str]) -> None:
    """A data home with the database at the current schema and the example programs."""
    run(cli("init"), env)
    run(cli("program", "load", *map(str, PROGRAMS)), env)


def costliest_imports(env: dict[str, str], top: int = 12) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of what pilot_tracker.cli imports itself."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pilot_tracker.cli"],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( +)(\S+)", line)
        if match and len(match.group(2)) <= 3:  # pilot_tracker.cli and its own imports
            rows.append((int(match.group(1)), match.group(3)))
    return sorted(rows, reverse=True)[:top]


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument("--importtime", action="store_true", help="also list costly imports")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cli-startup-") as folder:
        env = {
            **os.environ,
            "PILOT_TRACKER_HOME": str(Path(folder) / "home"),
            "PYTHONPYCACHEPREFIX": str(Path(folder) / "pycache"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
        env.pop("PILOT_TRACKER_DATABASE_URL", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        prepare(env)

        rows = [("python -c pass", [sys.executable, "-c", "pass"])]
        rows += [(label, cli(*args)) for label, args in COMMANDS]
        for _, argv in rows:  # untimed: compiles the bytecode, warms the file cache
            run(argv, env)
        print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()}")
        print(f"median of {options.repeat} runs; load average before: {load()}\n")
        print(f"| {'command':<44} | wall (median) | min | max | CPU (median) |")
        print(f"|{'-' * 46}|--------------:|----:|----:|-------------:|")
        for label, argv in rows:
            walls, cpus = zip(*(run(argv, env) for _ in range(options.repeat)), strict=True)
            print(
                f"| {label:<44} | {statistics.median(walls):.2f} s "
                f"| {min(walls):.2f} | {max(walls):.2f} | {statistics.median(cpus):.2f} s |"
            )
        print(f"\nload average after: {load()}")
        if options.importtime:
            print("\ncostliest imports of pilot_tracker.cli (cumulative):")
            for microseconds, module in costliest_imports(env):
                print(f"  {microseconds / 1000:8.1f} ms  {module}")


if __name__ == "__main__":
    main()
