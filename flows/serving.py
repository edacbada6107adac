"""``pilot-tracker serve``: the schedules, for every loaded program, run on this machine.

Prefect's serve runs the flows; this module gives it what a service on an office network
needs:

- Prefect's home and database under the data home (``<home>/prefect/``), and a Prefect
  server of its own on 127.0.0.1 with its scheduler (a temporary server has none, so it
  never creates the scheduled runs) and without its UI. The server runs in its own session:
  Ctrl-C in the terminal reaches ``serve`` only, which pauses the schedules, then stops the
  server, so no connection breaks under the runner. Set ``PREFECT_API_URL`` to use a Prefect
  server of your own instead.
- Every log record, Prefect's and the flows', in full in ``<home>/logs/serve.log``; a warning
  or an error also as one line on the terminal that names the log.
- The unit portal beside the schedules, in a thread of its own (``pilot_tracker.web.server``),
  its requests in the same log; given bound to its address, so a port in use stopped
  ``serve`` before anything started.
- Ctrl-C or SIGTERM stops it (the portal too) within 10 seconds, with a summary of the runs.

Prefect is imported only after the environment is set (telemetry off, its home, logging).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import yaml

from pilot_tracker.errors import ServeError

SERVER_START_SECONDS = 90.0
SERVER_STOP_SECONDS = 5.0
LOGGER = "pilot_tracker.serve"
# What ``serve`` says when a signal stops it.
STOP_SIGNALS = {"SIGINT": "Ctrl-C (SIGINT)", "SIGTERM": "SIGTERM"}


@dataclass(frozen=True)
class Layout:
    """Where ``serve`` keeps Prefect's home and its log, under the data home."""

    home: Path

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "serve.log"

    @property
    def logging_config(self) -> Path:
        return self.prefect_home / "logging.yml"


def logging_config(log_file: Path) -> dict[str, object]:
    """Prefect's logging configuration with its console replaced: everything to the log
    file, warnings and errors also as one line on stderr (``pilot_tracker.logs``).

    Prefect reads it through ``PREFECT_LOGGING_SETTINGS_PATH`` in ``serve`` and in every
    flow run ``serve`` starts, and substitutes its settings for ``${...}``.
    """
    escaped = str(log_file).replace("$", "$$")
    both = ["file", "terminal"]
    prefect_level = "${PREFECT_LOGGING_LEVEL}"
    server_level = "${PREFECT_SERVER_LOGGING_LEVEL}"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "standard": {
                "()": "prefect.logging.formatters.PrefectFormatter",
                "format": "%(asctime)s | %(levelname)-7s | %(process)d | %(name)s - %(message)s",
                "flow_run_fmt": "%(asctime)s | %(levelname)-7s | %(process)d | "
                "Flow run %(flow_run_name)r - %(message)s",
                "task_run_fmt": "%(asctime)s | %(levelname)-7s | %(process)d | "
                "Task run %(task_run_name)r - %(message)s",
            },
            "one_line": {"()": "pilot_tracker.logs.OneLineFormatter", "log_file": escaped},
        },
        "handlers": {
            "file": {
                "class": "logging.handlers.WatchedFileHandler",
                "filename": escaped,
                "encoding": "utf-8",
                "formatter": "standard",
                "level": 0,
            },
            "terminal": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "one_line",
                "level": "WARNING",
            },
            "api": {"class": "prefect.logging.handlers.APILogHandler", "level": 0},
            "worker_api": {"class": "prefect.logging.handlers.WorkerAPILogHandler", "level": 0},
        },
        "loggers": {
            "prefect": {"level": prefect_level},
            "prefect.extra": {"level": prefect_level, "handlers": ["api"], "propagate": False},
            "prefect.flow_runs": {"level": "NOTSET", "handlers": ["api"]},
            "prefect.task_runs": {"level": "NOTSET", "handlers": ["api"]},
            "prefect.workers": {"level": "NOTSET", "handlers": ["worker_api"]},
            "prefect.server": {"level": server_level},
            "prefect.client": {"level": prefect_level},
            "prefect.infrastructure": {"level": prefect_level},
            "prefect._internal": {
                "level": "${PREFECT_INTERNAL_LOGGING_LEVEL}",
                "handlers": ["file"],
                "propagate": False,
            },
            "uvicorn": {"level": server_level, "handlers": both, "propagate": False},
            "fastapi": {"level": server_level, "handlers": both, "propagate": False},
            "pilot_tracker": {"level": "INFO"},
        },
        "root": {"level": "WARNING", "handlers": both},
    }


def prepare(home: Path, project: Path | None) -> Layout:
    """Set the environment Prefect reads when it loads (its home, its logging), and let the
    flow runs it starts import ``flows`` from ``project`` (a checkout) wherever ``serve`` runs;
    ``None`` where ``flows`` is installed."""
    layout = Layout(home.resolve())
    if project is not None:
        paths = [
            str(project.resolve()),
            *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)),
        ]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    layout.prefect_home.mkdir(parents=True, exist_ok=True)
    layout.log_file.parent.mkdir(parents=True, exist_ok=True)
    layout.logging_config.write_text(
        yaml.safe_dump(logging_config(layout.log_file), sort_keys=False), encoding="utf-8"
    )
    os.environ["PREFECT_HOME"] = str(layout.prefect_home)
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(layout.logging_config)
    return layout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server stops if ``serve`` is killed outright (SIGKILL, OOM)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LocalServer:
    """Prefect's server on 127.0.0.1, in its own session, its output in the log file."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = SERVER_START_SECONDS) -> str:
        """Start it and wait until it answers; its API URL."""
        env = {**os.environ, "PREFECT_SERVER_UI_ENABLED": "false"}
        env.pop("PREFECT_API_URL", None)
        # The server's own logs go to its stdout, which is the log file.
        env.pop("PREFECT_LOGGING_SETTINGS_PATH", None)
        command = [sys.executable, "-m", "prefect", "server", "start"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.layout.log_file, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.layout.prefect_home,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        # Straight to loopback, whatever proxy the environment names.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + timeout
        while True:
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise ServeError(
                    f"Prefect's server stopped at start (exit code {code}); "
                    f"see {self.layout.log_file}"
                )
            with (
                contextlib.suppress(OSError),
                opener.open(f"{self.api_url}/health", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return self.api_url
            if time.monotonic() > deadline:
                self.stop()
                raise ServeError(
                    f"Prefect's server did not answer on {self.api_url} within {timeout:.0f} "
                    f"seconds; see {self.layout.log_file}"
                )
            time.sleep(0.3)

    def stop(self, timeout: float = SERVER_STOP_SECONDS) -> None:
        """SIGINT to its session; SIGKILL if it has not stopped within ``timeout``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


def _log_stray_errors() -> None:
    """Errors outside logging (a thread's, an ignored one, a warning) go to the log too."""
    logger = logging.getLogger(LOGGER)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "?"
        exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
        logger.error("thread %s failed", name, exc_info=exc_info)  # type: ignore[arg-type]

    def unraisable_hook(unraisable: sys.UnraisableHookArgs) -> None:
        exc_info = (unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback)
        logger.warning(
            "%s: %r",
            unraisable.err_msg or "exception ignored",
            unraisable.object,
            exc_info=exc_info,  # type: ignore[arg-type]
        )

    threading.excepthook = thread_hook
    sys.unraisablehook = unraisable_hook
    logging.captureWarnings(True)


def summary(since: datetime) -> list[str]:
    """One line per flow run that started since ``since``: flow, run and final state."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime

    with get_client(sync_client=True, httpx_settings={"timeout": 3}) as client:
        found = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)),
            limit=200,
        )
        flow_names: dict[object, str] = {}
        lines = []
        for run in sorted(found, key=lambda run: run.start_time or since):
            if run.flow_id not in flow_names:
                flow_names[run.flow_id] = client.read_flow(run.flow_id).name
            state = run.state.name if run.state else "?"
            lines.append(f"{flow_names[run.flow_id]} ({run.name}): {state}")
    return lines


class Portal(Protocol):
    """The portal's server (``pilot_tracker.web.server.PortalServer``), already bound."""

    def start(self) -> str: ...

    def stop(self) -> None: ...


def serve(
    *,
    zone: str,
    home: Path,
    project: Path | None,
    say: Callable[[str], None],
    portal: Portal | None = None,
) -> list[str]:
    """Serve every schedule (in time zone ``zone``; each covers the programs loaded when it
    runs), and ``portal`` if given, until Ctrl-C or SIGTERM; the summary of the runs that
    started meanwhile.
    ``project``: the folder with ``flows/`` where it is not installed."""
    # Ctrl-C stops serve at any moment, even when it was started with SIGINT ignored
    # (``nohup ... &``, a background job); so does SIGTERM until Prefect's runner takes it
    # over (the runner notes it).
    stopped_by = "SIGINT"

    def on_sigterm(signum: int, frame: object) -> None:
        nonlocal stopped_by
        stopped_by = "SIGTERM"
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    layout = prepare(home, project)
    since = datetime.now(UTC)
    server = None if os.environ.get("PREFECT_API_URL") else LocalServer(layout)
    started = False
    try:
        try:
            if server is not None:
                os.environ["PREFECT_API_URL"] = server.start()
                say(f"Prefect server on {server.api_url} (home {layout.prefect_home})")
            started = True
            from flows import schedules  # Prefect loads now, with the environment above

            _log_stray_errors()
            if portal is not None:
                say(f"portal on {portal.start()}")
            found = schedules.deployments(zone)
            names = ", ".join(deployment.name for deployment in found)
            say(f"serving {len(found)} schedules: {names}")
            say(f"log: {layout.log_file}; Ctrl-C or SIGTERM stops")
            if schedules.serve(found) == "SIGTERM":
                stopped_by = "SIGTERM"
        except KeyboardInterrupt:
            pass
        # Stopping: a second Ctrl-C must not break the summary or leave the server behind.
        _ignore_stop_signals()
        say(f"{STOP_SIGNALS[stopped_by]}: stopping")
        if not started:
            return []
        try:
            return summary(since)
        except Exception as error:
            logging.getLogger(LOGGER).warning("no summary of the runs: %s", error)
            return []
    finally:
        _ignore_stop_signals()
        if portal is not None:
            portal.stop()
        if server is not None:
            server.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _ignore_stop_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
