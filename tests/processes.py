"""Processes a test starts: wait on what they print, and stop them for sure.

Every wait has a deadline and waits on the event (a line of output, the process's end), not
on a guessed sleep; every process a test starts is stopped by the test, whatever it ignores:
a Prefect worker ignores SIGTERM, and a process started from a background job inherits
SIGINT ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# SIGTERM, then SIGINT, then SIGKILL: each gets this many seconds to end the process.
STOP_DEADLINES = ((signal.SIGTERM, 10.0), (signal.SIGINT, 10.0), (signal.SIGKILL, 10.0))


class Output:
    """The lines a process prints on its stdout (a text pipe), read as they come."""

    def __init__(self, process: subprocess.Popen[str]):
        assert process.stdout is not None
        self.process = process
        self.lines: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, text: str, *, timeout: float) -> str:
        """The first line holding ``text``; fails with the output so far if the process ends
        or ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if self.ended or left <= 0:
                    what = "ended" if self.ended else f"is silent after {timeout:.0f} s"
                    raise AssertionError(
                        f"no line with {text!r}: the process {what}; it printed:\n"
                        + "".join(self.lines)[-3000:]
                    )
                self._changed.wait(left)

    def wait_ended(self, *, timeout: float) -> str:
        """All it printed, once its output has ended (within ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self.ended and time.monotonic() < deadline:
                self._changed.wait(max(0.0, deadline - time.monotonic()))
            return "".join(self.lines)


def child_environment() -> dict[str, str]:
    """This process's environment for a command it starts elsewhere: PYTHONPATH made
    absolute, so that the child runs this checkout's code from any folder."""
    paths = filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))
    absolute = os.pathsep.join(str(Path(path).resolve()) for path in paths)
    return {**os.environ, "PYTHONPATH": absolute, "PYTHONUNBUFFERED": "1"}


def stop(*processes: subprocess.Popen[Any], group: bool = False) -> list[str]:
    """Stop every one of ``processes`` (each one's whole process group with ``group``):
    SIGTERM, then SIGINT, then SIGKILL, each with a deadline. The signals it took to stop
    them, for a test to report."""
    sent: list[str] = []
    for signum, deadline in STOP_DEADLINES:
        running = [process for process in processes if process.poll() is None]
        if not running:
            break
        sent.append(signal.Signals(signum).name)
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(process.pid, signum)
                else:
                    process.send_signal(signum)
        end = time.monotonic() + deadline
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, end - time.monotonic()))
    return sent


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Processes started in this block begin with SIGINT ignored, as a shell's background
    job (``command &``) does, however the test suite itself was started."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_until(check: Callable[[], T], *, timeout: float, what: str, every: float = 0.2) -> T:
    """Ask ``check()`` until it answers something true, and return that; fail naming
    ``what`` after ``timeout`` seconds. ``every`` is how often to ask (a server's health, a
    run's state), not a guess of how long the wait takes."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)
