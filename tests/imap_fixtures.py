"""A real IMAP server on loopback (Debian's Dovecot), and a faulty network in front of it.

- **The server** is ``/usr/sbin/dovecot`` (``scripts/setup --test`` installs
  ``dovecot-imapd``) with a throwaway configuration in a temporary folder: it listens on
  127.0.0.1 only, on two ports the system picked: ``imap`` (plain, offering STARTTLS) and
  ``imaps`` (TLS from the start), with a certificate from ``trustme`` for ``localhost`` and
  127.0.0.1 whose CA is in ``ca_file``. A thousand users with random plain passwords are
  in its passwd-file, so each test gets a user no test had, with an empty mailbox
  (:meth:`Dovecot.new_user`). Its log is ``dovecot.log`` in the folder.
- **The fault proxy** is a thread on 127.0.0.1 in front of the server that passes the
  conversation through, drops the connection once the server has sent so many bytes,
  or accepts and never answers.
"""

from __future__ import annotations

import contextlib
import email.policy
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from . import processes

DOVECOT = Path("/usr/sbin/dovecot")
# Another loopback address of the same server, where it plays one without MOVE (RFC 6851).
OLD_SERVER_HOST = "127.0.0.2"
USERS = 1000  # one for each test that asks, in a test process
START_DEADLINE = 20.0  # seconds for Dovecot to answer "* OK" on both ports


def missing() -> str:
    """Why no IMAP test can run here, or "" if Dovecot is installed."""
    if not DOVECOT.is_file():
        return f"{DOVECOT} is missing: install Debian's dovecot-imapd (scripts/setup --test does)"
    return ""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the system's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class MailUser:
    """A user of the test server: its name, password and the server's ports."""

    name: str
    password: str
    server: Dovecot

    def client(self, *, tls: bool = False):  # -> imapclient.IMAPClient, logged in
        """A client logged in as this user, for a test to set up or look at the mailbox."""
        import ssl

        from imapclient import IMAPClient

        if tls:
            context = ssl.create_default_context(cafile=str(self.server.ca_file))
            client = IMAPClient(
                "127.0.0.1", self.server.imaps_port, ssl_context=context, timeout=10
            )
        else:
            client = IMAPClient("127.0.0.1", self.server.imap_port, ssl=False, timeout=10)
        client.login(self.name, self.password)
        return client

    def deliver(
        self, *messages: bytes, folder: str = "INBOX", at: datetime | None = None
    ) -> list[int]:
        """APPEND ``messages`` to ``folder`` in this order (their internal date ``at``, or a
        minute apart from 2024-03-01 09:00); their UIDs."""
        uids = []
        with _logged_in(self) as client:
            for index, raw in enumerate(messages):
                when = at or datetime(2024, 3, 1, 9, index % 60)
                answer = client.append(folder, raw, msg_time=when)
                uids.append(_appended_uid(answer))
        return uids

    def uids(self, folder: str = "INBOX") -> list[int]:
        """The UIDs in ``folder`` now, oldest first; [] if the folder does not exist."""
        with _logged_in(self) as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """Each message's flags in ``folder``."""
        with _logged_in(self) as client:
            client.select_folder(folder, readonly=True)
            return {
                uid: data[b"FLAGS"]
                for uid, data in client.fetch(client.search("ALL"), ["FLAGS"]).items()
            }


@contextlib.contextmanager
def _logged_in(user: MailUser) -> Iterator[object]:
    client = user.client()
    try:
        yield client
    finally:
        client.logout()


def _appended_uid(answer: bytes) -> int:
    """The UID from an APPEND's ``[APPENDUID validity uid]`` (Dovecot has UIDPLUS)."""
    text = answer.decode() if isinstance(answer, bytes) else str(answer)
    return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))


@dataclass
class Dovecot:
    """A running Dovecot: its folder, ports, CA file and users."""

    folder: Path
    imap_port: int
    imaps_port: int
    ca_file: Path
    log: Path
    _users: list[tuple[str, str]]
    _numbers: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_user(self) -> MailUser:
        """A user no test had yet: an empty mailbox and a random password."""
        with self._lock:
            number = next(self._numbers)
        if number >= len(self._users):
            raise AssertionError(f"the test IMAP server has only {len(self._users)} users")
        name, password = self._users[number]
        return MailUser(name, password, self)


CONFIGURATION = """\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1, 127.0.0.2
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
# No wait after a wrong password: the wrong-password test would slow itself by seconds.
auth_failure_delay = 0
# The plain listener is on loopback only; the client under test decides whether it asks
# for STARTTLS first.
disable_plaintext_auth = no
ssl = yes
ssl_cert = <{folder}/server.pem
ssl_key = <{folder}/server.key
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
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
  inet_listener imap_old {{
    address = 127.0.0.2
    port = {imap_port}
  }}
}}
# 127.0.0.2 plays an older server, without MOVE (RFC 6851): a client must copy, flag
# \\Deleted and expunge instead.
# No penalty on the next logins from 127.0.0.1 after a wrong password (Dovecot's documented
# switch): the tests after the wrong-password test would each wait seconds.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
local 127.0.0.2 {{
  protocol imap {{
    imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS NAMESPACE
  }}
}}
"""


@contextlib.contextmanager
def dovecot() -> Iterator[Dovecot]:
    """Dovecot on 127.0.0.1 with a fresh configuration, stopped and its folder removed when
    the block ends."""
    import trustme

    # Not under pytest's temporary folder: that is private to root, and Dovecot's own
    # processes (its internal and mail users) must reach their files.
    folder = Path(tempfile.mkdtemp(prefix="pilot-tracker-imap-"))
    folder.chmod(0o755)
    process = None
    try:
        if os.geteuid() == 0:
            mail = pwd.getpwnam("dovecot")
            internal_user, login_user = "dovecot", "dovenull"
        else:  # a developer's own account runs every part of it
            mail = pwd.getpwuid(os.geteuid())
            internal_user = login_user = mail.pw_name
        internal_group = internal_user if os.geteuid() == 0 else _group_name(mail.pw_gid)
        authority = trustme.CA()
        certificate = authority.issue_cert("localhost", "127.0.0.1")
        certificate.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
        certificate.private_key_pem.write_to_path(str(folder / "server.key"))
        authority.cert_pem.write_to_path(str(folder / "ca.pem"))
        # Written once: Dovecot reads a passwd-file again only a second after it last did.
        users = [
            (f"office{number}@example.org", secrets.token_urlsafe(16))
            for number in range(1, USERS + 1)
        ]
        passwd = folder / "passwd"
        passwd.write_text(
            "".join(
                f"{name}:{{PLAIN}}{password}:{mail.pw_uid}:{mail.pw_gid}::{folder}/mail/{name}::\n"
                for name, password in users
            ),
            encoding="utf-8",
        )
        passwd.chmod(0o644)
        mail_folder = folder / "mail"
        mail_folder.mkdir()
        os.chown(mail_folder, mail.pw_uid, mail.pw_gid)
        imap_port, imaps_port = _two_free_ports()
        configuration = folder / "dovecot.conf"
        configuration.write_text(
            CONFIGURATION.format(
                folder=folder,
                internal_user=internal_user,
                internal_group=internal_group,
                login_user=login_user,
                uid=mail.pw_uid,
                gid=mail.pw_gid,
                imap_port=imap_port,
                imaps_port=imaps_port,
            ),
            encoding="utf-8",
        )
        log = folder / "dovecot.log"
        process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(configuration)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output = processes.Output(process)
        server = Dovecot(folder, imap_port, imaps_port, folder / "ca.pem", log, users)
        deadline = time.monotonic() + START_DEADLINE
        for port in (imap_port, imaps_port):
            processes.wait_until(
                lambda port=port: (
                    process.poll() is not None or _greets(port, tls=port == imaps_port)
                ),
                timeout=max(0.0, deadline - time.monotonic()),
                what=f"Dovecot answering on 127.0.0.1:{port}",
                every=0.1,
            )
            if process.poll() is not None:
                raise AssertionError(
                    f"Dovecot ended at start ({process.returncode}):\n{output.wait_ended(timeout=5)}"
                    f"\n{_tail(log)}"
                )
        yield server
    finally:
        if process is not None:
            processes.stop(process)
            if process.stdout is not None:
                process.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def _two_free_ports() -> tuple[int, int]:
    while True:
        first, second = free_port(), free_port()
        if first != second:
            return first, second


def _greets(port: int, *, tls: bool) -> bool:
    """Whether the server on ``port`` answers with its "* OK" greeting (over TLS, or not)."""
    import ssl

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            if tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE  # only asks whether it is up
                with context.wrap_socket(connection) as secure:
                    return secure.recv(64).startswith(b"* OK")
            return connection.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _tail(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-3000:]
    except OSError:
        return ""


def message(
    number: int,
    *,
    sender: str = "liaison@unit.example.org",
    body: str = "",
    attachment: bytes = b"",
    message_id: str | None = None,
) -> bytes:
    """A liaison's reply as a mail client sends it: a subject and text, perhaps a workbook."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "office@example.org"
    mail["Subject"] = f"回复：第{number}期进度报送"
    mail["Date"] = "Fri, 01 Mar 2024 09:00:00 +0800"
    if message_id != "":
        mail["Message-ID"] = f"<{message_id or f'reply-{number}@unit.example.org'}>"
    mail.set_content(body or f"第{number}期的表格见附件。")
    if attachment:
        mail.add_attachment(
            attachment,
            maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"报送{number}.xlsx",
        )
    # CRLF line ends, as a message travels: the server hands back the very same bytes.
    return mail.as_bytes(policy=email.policy.SMTP)


# --- the fault proxy ---------------------------------------------------------------------


class FaultProxy:
    """A loopback TCP proxy in front of ``port``: passes the conversation through, or
    (``drop_after``) cuts both sides once the server has sent that many bytes, or
    (``silent``) accepts and never answers. Stopped by :meth:`close` within a deadline."""

    def __init__(self, port: int, *, drop_after: int | None = None, silent: bool = False):
        self.target = port
        self.drop_after = drop_after
        self.silent = silent
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.dropped = threading.Event()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._sockets.append(client)
            if self.silent:
                continue  # held open, never answered, until close()
            server = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            self._sockets.append(server)
            sent = [0]
            for source, sink, counted in ((client, server, False), (server, client, True)):
                thread = threading.Thread(
                    target=self._pipe, args=(source, sink, counted, sent), daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _pipe(
        self, source: socket.socket, sink: socket.socket, counted: bool, sent: list[int]
    ) -> None:
        source.settimeout(0.2)
        try:
            while not self._stop.is_set():
                try:
                    chunk = source.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                if counted and self.drop_after is not None:
                    room = self.drop_after - sent[0]
                    if len(chunk) >= room:
                        sink.sendall(chunk[: max(room, 0)])
                        self.dropped.set()
                        break
                    sent[0] += len(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(5)
        for thread in self._threads:
            thread.join(5)
        for end in [self.listener, *self._sockets]:
            with contextlib.suppress(OSError):
                end.close()
        assert not self._accepter.is_alive(), "the fault proxy did not stop within 5 s"
