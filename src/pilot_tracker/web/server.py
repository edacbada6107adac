"""The portal's HTTP server (uvicorn), for ``pilot-tracker web`` and ``serve``.

Its address is bound when it is made, so a port in use is a clear error before anything
else starts; uvicorn then serves on that socket, in the foreground (``web``: Ctrl-C or
SIGTERM stops it) or in a thread beside Prefect's serve (``serve`` stops it). uvicorn's
access log is off: the guard logs each request with the link token redacted.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import gc
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import uvicorn
import uvicorn.config

from pilot_tracker.errors import ConfigurationError, ServeError
from pilot_tracker.settings import Settings

START_SECONDS = 30.0
# A request still running this long after the stop is cut short.
STOP_SECONDS = 5


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (connections wait in its backlog until the
    server accepts them); ``ConfigurationError`` if the address is in use or not this
    machine's."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as error:
        raise ConfigurationError(
            f"--host {host}: not an address of this machine ({error})"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
        sock.listen(2048)  # uvicorn's backlog
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"{host}:{port} is already in use by another program; stop it, or give the "
                "portal another port with --port"
            ) from None
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


def web_logging() -> dict[str, Any]:
    """uvicorn's own logging configuration, with the portal's log (the guard's access
    lines, its errors) on the same terminal."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["pilot_tracker"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


class PortalServer:
    """The portal on one address; made before it runs, so a taken port fails early."""

    def __init__(
        self,
        settings: Settings,
        host: str,
        port: int,
        *,
        log_config: Any = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from pilot_tracker.web.app import create_app

        self.host, self.port = host, port
        self.socket = listening_socket(host, port)
        try:
            # The demo's portal runs on the demo's days (`pilot-tracker demo --web`).
            application = (
                create_app(settings) if clock is None else create_app(settings, clock=clock)
            )
        except BaseException:
            self.socket.close()
            raise
        # The start-up's objects (the app, the templates, the modules) live as long as the
        # process: out of every later collection, so no answer waits on a full one
        # (docs/benchmarks.md, "Unit page": the p95 from 100 ms to 35 ms).
        gc.freeze()
        self.server = uvicorn.Server(
            uvicorn.Config(
                application,
                access_log=False,
                server_header=False,
                log_config=log_config,
                lifespan="off",  # the app has no start-up or shut-down work
                timeout_graceful_shutdown=STOP_SECONDS,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM (or ``stop``)."""
        try:
            self.server.run(sockets=[self.socket])
        except KeyboardInterrupt:  # uvicorn raises the signal again once it has stopped
            pass
        finally:
            self.socket.close()

    def start(self, timeout: float = START_SECONDS) -> str:
        """Serve in a thread of its own; its address, once it answers."""
        self._thread = threading.Thread(target=self.run, name="portal", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise ServeError(f"the portal stopped at start on {self.url}; see the log")
            if time.monotonic() > deadline:
                self.stop()
                raise ServeError(f"the portal did not start on {self.url} within {timeout:.0f} s")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        """Stop serving (requests under way get STOP_SECONDS to finish)."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STOP_SECONDS + 5)
        with contextlib.suppress(OSError):
            self.socket.close()
