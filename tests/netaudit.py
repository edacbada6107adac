"""A recorder of every name lookup and socket connect a process tree makes.

:func:`recorder` writes a ``sitecustomize.py`` into a folder; with that folder on
``PYTHONPATH``, every Python process started with that environment, and every Python child
it starts (Prefect's server, flow runs, Apprise's senders), installs an audit hook at
start-up (``sys.addaudithook``). The hook appends one JSON line per ``socket.getaddrinfo``,
``socket.gethostbyname``, ``socket.gethostbyaddr``, ``socket.connect`` and
``socket.sendto`` to the file named by ``PILOT_TRACKER_NETAUDIT_LOG``, and then refuses
(raises ``OSError`` before the call) anything that is not loopback, so a regression is
recorded without any traffic leaving the machine even where no network namespace can be
made. :func:`isolated` runs a command in a network namespace with loopback only where the
machine allows it (root and ``unshare -n``), a second wall.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

LOG_VARIABLE = "PILOT_TRACKER_NETAUDIT_LOG"

SITECUSTOMIZE = r'''
"""Installed by tests/netaudit.py: record, then refuse, every lookup and connect off loopback."""
import json as _json
import os as _os
import sys as _sys

_LOG = _os.environ.get("PILOT_TRACKER_NETAUDIT_LOG")
_EVENTS = {
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.connect",
    "socket.sendto",
}
_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "0.0.0.0", "::"}
# smtplib names this machine in its greeting (socket.getfqdn): a lookup of its own name,
# answered from /etc/hosts. Recorded, and allowed.
_LOCAL_NAMES.add(__import__("socket").gethostname().lower())


def _local(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    return host in _LOCAL_NAMES or host.startswith("127.") or host == "::1"


def _hook(event, args):
    if event not in _EVENTS or not _LOG:
        return
    if event in ("socket.connect", "socket.sendto"):
        address = args[1]
        if not isinstance(address, tuple):
            return  # a Unix socket: a file on this machine
        host, port = address[0], address[1]
    elif event == "socket.getaddrinfo":
        host, port = args[0], args[1]
    else:
        host, port = args[0], None
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    record = {
        "event": event,
        "host": host,
        "port": port if isinstance(port, (int, str, type(None))) else str(port),
        "pid": _os.getpid(),
        "argv": " ".join(_sys.argv)[:200],
    }
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(_json.dumps(record) + "\n")
    if not _local(host):
        raise OSError(f"netaudit: refused {event} to {host!r} (not loopback)")


_sys.addaudithook(_hook)
'''


@dataclass(frozen=True)
class Recorder:
    """The environment that records, and the file it records into."""

    env: dict[str, str]
    log: Path

    def records(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def off_loopback(self) -> list[dict[str, object]]:
        """Every record whose host is not loopback (nor a wildcard or a Unix socket)."""
        return [record for record in self.records() if not is_local(record["host"])]


LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "0.0.0.0", "::"}


def is_local(host: object) -> bool:
    """Loopback, a wildcard, or this machine's own name (looked up in /etc/hosts)."""
    if host is None:
        return True
    text = str(host).strip("[]").lower()
    names = LOCAL_NAMES | {socket.gethostname().lower()}
    return text in names or text.startswith("127.") or text == "::1"


def recorder(folder: Path, env: dict[str, str]) -> Recorder:
    """An environment (a copy of ``env``) whose Python processes record their network use."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = folder / "network.jsonl"
    paths = [str(folder), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return Recorder({**env, "PYTHONPATH": os.pathsep.join(paths), LOG_VARIABLE: str(log)}, log)


@functools.cache
def can_isolate() -> bool:
    """Whether commands can run in a network namespace with loopback only (root, unshare)."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return False
    try:
        done = subprocess.run(
            ["unshare", "-n", "sh", "-c", "ip link set lo up && ip -o link | wc -l"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "1"


def isolated(command: list[str]) -> list[str]:
    """``command`` inside a network namespace with loopback only, where the machine allows."""
    if not can_isolate():
        return command
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "netaudit", *command]
