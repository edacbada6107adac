"""What the page benchmarks share: time a call many times, and say the figures."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WARM_UP = 10


def timings(run: Callable[[], object], times: int) -> list[float]:
    """Milliseconds of each of ``times`` calls of ``run``, after WARM_UP untimed ones."""
    for _ in range(WARM_UP):
        run()
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def summary(spent: list[float]) -> str:
    ordered = sorted(spent)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   "
        f"min {ordered[0]:6.1f} ms   max {ordered[-1]:6.1f} ms   (n={len(ordered)})"
    )


# A fork shares its parent's memory, and Linux keeps the parent's peak as the child's when
# the child execs: ``os.wait4`` on a child of a large process reports at least that
# process's own peak (a 400 MB parent's ``python -c pass`` "peaks" at 411 MB). A small
# launcher between them reports its own child's: ``python -c pass`` then peaks at 11 MB.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def launched(command: list[str], peak_file: Path) -> list[str]:
    """``command`` run by the launcher, which writes its peak RSS (KB) to ``peak_file``."""
    return [sys.executable, "-c", _LAUNCHER, str(peak_file), *command]


def peak_mb(peak_file: Path) -> float:
    """What the launcher wrote: the command's own peak RSS, in MB."""
    return int(peak_file.read_text()) / 1024


def measured(
    command: list[str], *, env: dict[str, str], cwd: Path, timeout: float, peak: bool = True
) -> dict[str, Any] | None:
    """Run ``command`` in a session of its own: its wall time, its own peak RSS in MB
    (through the launcher; None with ``peak=False``, which runs it directly, for start-up
    times), CPU time, exit code and output; None, its processes killed, past ``timeout``."""
    began = time.perf_counter()
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as folder,
    ):
        peak_file = Path(folder) / "peak"
        process = subprocess.Popen(
            launched(command, peak_file) if peak else command,
            env=env,
            stdout=out,
            stderr=err,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not (waited := os.wait4(process.pid, os.WNOHANG))[0]:
            if time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return None
            time.sleep(0.005)
        _, status, usage = waited
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        return {
            "wall": wall,
            "peak_mb": peak_mb(peak_file) if peak else None,
            "cpu": usage.ru_utime + usage.ru_stime,
            "code": process.returncode,
            "out": out.read().decode(errors="replace"),
            "err": err.read().decode(errors="replace"),
        }
