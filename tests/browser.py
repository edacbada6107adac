"""Chromium for the browser tests and the docs' screenshots, and the portal it looks at.

- **The browser** is Debian's Chromium (/usr/bin/chromium, ``scripts/setup --test``
  installs it), launched by Playwright through ``executable_path`` (Playwright's own
  browser download cannot work here), by way of ``tests/chromium``, which puts it under
  hard limits. Its flags keep it off the network: no background requests, no component or
  sync updates, no QUIC, and every host name but the loopback address fails to resolve.
- **The portal** is uvicorn serving the app on 127.0.0.1, on a port the system picks, in a
  thread of this process; :func:`serving` stops it (and fails if it does not stop within
  its deadline).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

CHROMIUM = Path("/usr/bin/chromium")
LIMITED = Path(__file__).with_name("chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=zh-CN",  # Chromium's own words in Chinese (Debian's chromium-l10n)
    # The wall: a page that names any host (a font, a script, an update server) gets "not
    # resolved"; the portal is reached at its address, 127.0.0.1.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
T = TypeVar("T")
# Every wait in a browser test has a deadline: Playwright's, in milliseconds.
TIMEOUT_MS = 15_000

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
# A phone's screen (390 × 844 CSS pixels, the width of most current phones), at twice the
# pixels, with touch: what Chromium's device emulation does for an iPhone 12 to 15.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
# What every context shares: the language and time zone of a liaison's phone.
CONTEXT: dict[str, Any] = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


def missing() -> str:
    """Why no browser test can run here, or "" if Chromium is installed."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing: install Debian's chromium (scripts/setup --test does)"
    return ""


def launch_options() -> dict[str, Any]:
    """Keyword arguments of ``playwright.chromium.launch``."""
    return {"executable_path": str(LIMITED), "args": LAUNCH_ARGS, "timeout": TIMEOUT_MS}


@dataclass
class Console:
    """What the pages of one test said on their console, and the scripts that failed."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        """Record ``page``'s console and uncaught errors; the page."""
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        return page

    def _console(self, message: Any) -> None:
        line = f"{message.type}: {message.text}"
        self.messages.append(line)
        if message.type == "error":
            self.errors.append(line)

    @property
    def blocked(self) -> list[str]:
        """What the Content-Security-Policy refused to load or run."""
        return [line for line in self.messages if "Content Security Policy" in line]


@contextlib.contextmanager
def serving(make_app: Callable[[str], Any], *, deadline: float = 15.0) -> Iterator[str]:
    """The app ``make_app(base_url)`` returns, served by uvicorn on 127.0.0.1 in a thread;
    its base URL (``http://127.0.0.1:PORT``, for PILOT_TRACKER_PUBLIC_URL). The port is
    bound before the app is made, so no other process can take it in between."""
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        config = uvicorn.Config(
            make_app(base_url), access_log=False, log_level="warning", server_header=False
        )
    except BaseException:
        listener.close()
        raise
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="portal", daemon=True
    )
    thread.start()
    try:
        end = time.monotonic() + deadline
        while not server.started:
            if not thread.is_alive() or time.monotonic() > end:
                raise RuntimeError(f"the portal did not start at {base_url}")
            time.sleep(0.02)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(deadline)
        listener.close()
        if thread.is_alive():
            raise RuntimeError(f"the portal at {base_url} did not stop in {deadline:.0f} s")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)`` in a thread of its own, what a test that runs a coroutine
    uses: once a browser test has run in a process, Playwright's sync API keeps an event
    loop running in the main thread, and ``asyncio.run`` refuses to start under it."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="asyncio") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def png_size(path: Path) -> tuple[int, int]:
    """The width and height of a PNG file, in pixels (from its IHDR chunk)."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG image")
    width, height = struct.unpack(">II", head[16:24])
    return width, height
