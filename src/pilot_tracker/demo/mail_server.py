"""The office's mail server for the demo and the tests: Debian's Dovecot on loopback.

:func:`dovecot` writes a throwaway configuration into a fresh folder under the system's
temporary folder, starts ``/usr/sbin/dovecot -F -c CONF`` there and stops it when the block
ends, however it ends (an error, Ctrl-C): Dovecot runs in a process group of its own, so a
Ctrl-C reaches only the demo, whose ``finally`` stops the whole group (SIGTERM, then
SIGKILL, each with a deadline) and removes the folder. It listens on 127.0.0.1 only: plain
IMAP (offering STARTTLS when given a certificate) on a port the system picked, and IMAPS on
another one with ``tls``. Its users are in a passwd-file with plain passwords, each with a
maildir under the folder. The log is ``dovecot.log`` in the folder while it runs.

``scripts/setup`` installs ``dovecot-imapd`` without starting the system's own Dovecot;
:func:`missing` says why none can run here.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pilot_tracker.errors import DemoError

DOVECOT = Path("/usr/sbin/dovecot")
HOST = "127.0.0.1"
# Seconds for the SIGTERM, then the SIGKILL, to end Dovecot's process group. SIGTERM to
# the master alone would do, but it then waits a second or more for its log process.
STOP_DEADLINE = 10.0
# A user's name is also its maildir's folder name, and a line of the passwd-file.
USER_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._@+-]{0,127}")

CONFIGURATION = """\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = {host}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_plugins =
auth_mechanisms = plain
# No wait after a wrong password: a test of one would slow itself by seconds.
auth_failure_delay = 0
# The plain listener is on loopback only; the client decides whether it asks for STARTTLS.
disable_plaintext_auth = no
{ssl}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {folder}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {imap_port}
  }}
{imaps_listener}}}
# No penalty on the next logins from 127.0.0.1 after a wrong password (Dovecot's documented
# switch): every login after one would wait seconds.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
WITH_TLS = "ssl = yes\nssl_cert = <{folder}/server.pem\nssl_key = <{folder}/server.key"
IMAPS_LISTENER = """\
  inet_listener imaps {{
    address = {host}
    port = {port}
    ssl = yes
  }}
"""


@dataclass(frozen=True)
class MailServer:
    """A running Dovecot: its folder, ports and log, and its process (group) id."""

    folder: Path
    imap_port: int
    imaps_port: int | None  # None without TLS
    log: Path
    pid: int  # Dovecot's master process, leader of its own process group


def missing() -> str:
    """Why Dovecot cannot run here, or "" when it can."""
    if not DOVECOT.is_file():
        return f"{DOVECOT} is missing: install Debian's dovecot-imapd (scripts/setup does, as root)"
    if os.geteuid() == 0:  # it runs as the users the package adds
        for user in ("dovecot", "dovenull"):
            try:
                pwd.getpwnam(user)
            except KeyError:
                return f"the user {user} is missing: reinstall Debian's dovecot-core"
    return ""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the system's pick)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def dovecot(
    users: list[tuple[str, str]],
    *,
    tls: tuple[Path, Path] | None = None,
    extra: str = "",
    deadline: float = 20.0,
) -> Iterator[MailServer]:
    """Dovecot on 127.0.0.1 for ``users`` (name, password), each with an empty mailbox;
    stopped, and its folder removed, when the block ends.

    Args:
        tls: the server's certificate chain and its key (PEM files, copied): IMAPS on a
            port of its own, and STARTTLS on the plain one. Without it, plain IMAP only.
        extra: configuration appended as written, where ``{imap_port}`` stands for the
            plain port (the tests add a second listener).
        deadline: seconds for Dovecot to greet on every port; then a DemoError.
    """
    _check_users(users)
    # Not under a private temporary folder: Dovecot's own processes (its internal and mail
    # users) must reach their files.
    folder = Path(tempfile.mkdtemp(prefix="pilot-tracker-imap-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        folder.chmod(0o755)
        configuration, imap_port, imaps_port = _configure(folder, users, tls=tls, extra=extra)
        log = folder / "dovecot.log"
        # What it says before its log is open (a configuration it rejects) goes to a file.
        with (folder / "dovecot.out").open("wb") as out:
            process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(configuration)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=out,
                # Its own group: a Ctrl-C reaches the demo, which stops the whole group.
                process_group=0,
            )
        server = MailServer(folder, imap_port, imaps_port, log, process.pid)
        _wait_greeting(server, process, deadline=deadline)
        yield server
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def append(
    server: MailServer,
    user: str,
    password: str,
    raw: bytes,
    folder: str = "INBOX",
    at: datetime | None = None,
) -> int:
    """APPEND ``raw`` to ``user``'s ``folder`` (its internal date ``at``, or the server's
    now), as a liaison's mail arrives; the message's UID."""
    from imapclient import IMAPClient

    client = IMAPClient(HOST, server.imap_port, ssl=False, timeout=10)
    try:
        client.login(user, password)
        answer = client.append(folder, raw, msg_time=at)
    finally:
        with contextlib.suppress(Exception):  # the APPEND's outcome is what matters
            client.logout()
    return appended_uid(answer)


def appended_uid(answer: bytes | str) -> int:
    """The UID from an APPEND's ``[APPENDUID validity uid]`` (Dovecot has UIDPLUS)."""
    text = answer.decode() if isinstance(answer, bytes) else str(answer)
    return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))


def _check_users(users: list[tuple[str, str]]) -> None:
    for name, password in users:
        if not USER_NAME.fullmatch(name):
            raise ValueError(f"mail user {name!r}: use letters, digits and ._@+- only")
        if not password or any(character in password for character in ":\r\n\0"):
            raise ValueError(f"mail user {name!r}: a password without ':' or line breaks")


def _configure(
    folder: Path, users: list[tuple[str, str]], *, tls: tuple[Path, Path] | None, extra: str
) -> tuple[Path, int, int | None]:
    """Write the passwd-file, the mail folder, the certificate and dovecot.conf; its path,
    the plain port and the TLS one (None without ``tls``)."""
    root = os.geteuid() == 0
    if root:
        mail = pwd.getpwnam("dovecot")
        internal_user, login_user = "dovecot", "dovenull"
        internal_group = "dovecot"
    else:  # a developer's own account runs every part of it
        mail = pwd.getpwuid(os.geteuid())
        internal_user = login_user = mail.pw_name
        internal_group = _group_name(mail.pw_gid)
    passwd = folder / "passwd"
    passwd.touch(mode=0o600)
    passwd.write_text(
        "".join(
            f"{name}:{{PLAIN}}{password}:{mail.pw_uid}:{mail.pw_gid}::{folder}/mail/{name}::\n"
            for name, password in users
        ),
        encoding="utf-8",
    )
    if root:  # Dovecot's auth process reads it as its internal user
        os.chown(passwd, 0, mail.pw_gid)
        passwd.chmod(0o640)
    mail_folder = folder / "mail"
    mail_folder.mkdir()
    os.chown(mail_folder, mail.pw_uid, mail.pw_gid)
    if tls:
        for source, name in zip(tls, ("server.pem", "server.key"), strict=True):
            target = folder / name
            target.touch(mode=0o600)
            target.write_bytes(Path(source).read_bytes())
    imap_port, imaps_port = _two_free_ports()
    configuration = folder / "dovecot.conf"
    text = CONFIGURATION.format(
        folder=folder,
        host=HOST,
        internal_user=internal_user,
        internal_group=internal_group,
        login_user=login_user,
        uid=mail.pw_uid,
        gid=mail.pw_gid,
        imap_port=imap_port,
        ssl=WITH_TLS.format(folder=folder) if tls else "ssl = no",
        imaps_listener=IMAPS_LISTENER.format(host=HOST, port=imaps_port) if tls else "",
    )
    configuration.write_text(text + extra.replace("{imap_port}", str(imap_port)), encoding="utf-8")
    return configuration, imap_port, imaps_port if tls else None


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def _two_free_ports() -> tuple[int, int]:
    while True:
        first, second = free_port(), free_port()
        if first != second:
            return first, second


def _wait_greeting(
    server: MailServer, process: subprocess.Popen[bytes], *, deadline: float
) -> None:
    """Return once Dovecot greets on every port; a DemoError if it ends or is silent."""
    ends = time.monotonic() + deadline
    ports = [(server.imap_port, False)]
    if server.imaps_port is not None:
        ports.append((server.imaps_port, True))
    for port, tls in ports:
        while not _greets(port, tls=tls):
            if process.poll() is not None:
                raise DemoError(
                    f"the mail server (Dovecot) ended at start with code {process.returncode}: "
                    f"{_last_words(server.folder)}"
                )
            if time.monotonic() > ends:
                raise DemoError(
                    f"the mail server (Dovecot) did not answer on {HOST}:{port} within "
                    f"{deadline:.0f} s: {_last_words(server.folder)}"
                )
            time.sleep(0.05)


def _greets(port: int, *, tls: bool) -> bool:
    """Whether the server on ``port`` answers with its "* OK" greeting (over TLS, or not)."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as connection:
            if tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE  # only asks whether it is up
                with context.wrap_socket(connection) as secure:
                    return secure.recv(64).startswith(b"* OK")
            return connection.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _last_words(folder: Path) -> str:
    """The end of what Dovecot wrote (its log, or its standard error), for an error."""
    for name in ("dovecot.log", "dovecot.out"):
        with contextlib.suppress(OSError):
            lines = (folder / name).read_text(encoding="utf-8", errors="replace").split("\n")
            lines = [line for line in lines if line.strip()]
            if lines:
                return " | ".join(lines[-3:])[-1000:]
    return "it wrote nothing"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End Dovecot's whole process group: SIGTERM to every process in it, then SIGKILL to
    what is left, each with a deadline. A second Ctrl-C while it waits goes straight to
    SIGKILL, and is raised after."""
    try:
        if _ended(process, signal.SIGTERM, deadline=STOP_DEADLINE):
            return
    except KeyboardInterrupt:
        _ended(process, signal.SIGKILL, deadline=STOP_DEADLINE)
        raise
    _ended(process, signal.SIGKILL, deadline=STOP_DEADLINE)


def _ended(process: subprocess.Popen[bytes], signum: int, *, deadline: float) -> bool:
    """Send ``signum`` to the group, again every tenth of a second (a child the master was
    forking when it went out missed it, and the master would wait seconds for it); whether
    the master and every other process of the group ended within ``deadline`` seconds."""
    ends = time.monotonic() + deadline
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)
        if process.returncode is not None and not live_in_group(process.pid):
            return True
        if time.monotonic() > ends:
            return False


def live_in_group(pgid: int) -> list[str]:
    """The names of the live processes of group ``pgid``. An ended child that its new parent
    has not reaped yet (a zombie) counts as ended: it holds no port, no file, no memory."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            # "pid (name) state ppid pgrp ...": the name may hold spaces and parentheses.
            text = stat.read_text()
            name, rest = text.split(" (", 1)[1].rsplit(") ", 1)
            state, _, group = rest.split()[:3]
            if int(group) == pgid and state != "Z":
                found.append(name)
    return found
