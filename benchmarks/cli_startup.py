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

The aim (#19) is 0.3 s of wall time (median) for each command; the table says which meet
it. ``--importtime`` also prints, for each command, where its imports spend their time:
the self time of every module it imports, summed by package (``pilot_tracker``'s modules
one by one), the costliest first; what is left of the wall time is the command's own work.
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
AIM_S = 0.3  # issue #19: the commands a person types to look around answer at once


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


def import_profile(argv: list[str], env: dict[str, str], top: int = 8) -> list[tuple[int, str]]:
    """(self microseconds, package) of every import ``argv`` makes, summed by package
    (``pilot_tracker.models`` on its own: building the tables is its self time), costliest
    first, and the total of all of them last."""
    done = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    spent: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if match:
            parts = match.group(2).split(".")
            package = ".".join(parts[:2]) if parts[0] == "pilot_tracker" else parts[0]
            spent[package] = spent.get(package, 0) + int(match.group(1))
    rows = sorted(((time_us, name) for name, time_us in spent.items()), reverse=True)
    return [*rows[:top], (sum(spent.values()), "all imports")]


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
        print(f"| {'command':<44} | wall (median) | min | max | CPU (median) | aim {AIM_S} s |")
        print(f"|{'-' * 46}|--------------:|----:|----:|-------------:|:----------:|")
        for label, argv in rows:
            walls, cpus = zip(*(run(argv, env) for _ in range(options.repeat)), strict=True)
            wall = statistics.median(walls)
            aim = "" if argv[1:] == ["-c", "pass"] else ("met" if wall <= AIM_S else "missed")
            print(
                f"| {label:<44} | {wall:.2f} s | {min(walls):.2f} | {max(walls):.2f} "
                f"| {statistics.median(cpus):.2f} s | {aim:^10} |"
            )
        print(f"\nload average after: {load()}")
        if options.importtime:
            for label, argv in rows[1:]:
                print(f"\n{label}: self time of its imports, by package")
                for microseconds, package in import_profile(argv, env):
                    print(f"  {microseconds / 1000:8.1f} ms  {package}")


if __name__ == "__main__":
    main()
