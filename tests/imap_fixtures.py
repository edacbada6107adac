"""A real IMAP server on loopback (Debian's Dovecot), and a faulty network in front of it.

- **The server** is the demo's (``pilot_tracker.demo.mail_server``: Dovecot with a throwaway
  configuration, on 127.0.0.1 only) with what only the tests need: TLS, with a certificate
  from ``trustme`` for ``localhost`` and 127.0.0.1 whose CA is in ``ca_file``, on a port of
  its own (``imaps``) and through STARTTLS on the plain one; an older server without MOVE
  on 127.0.0.2; and a thousand users with random plain passwords, so that each test gets a
  user no test had, with an empty mailbox (:meth:`Dovecot.new_user`). Its log is
  ``dovecot.log`` in the folder.
- **The fault proxy** is a thread on 127.0.0.1 in front of the server that passes the
  conversation through, drops the connection once the server has sent so many bytes,
  or accepts and never answers.
"""

from __future__ import annotations

import contextlib
import email.policy
import itertools
import secrets
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from pilot_tracker.demo import mail_server

# A free port is a server that is down, for the tests.
from pilot_tracker.demo.mail_server import free_port as free_port

# Another loopback address of the same server, where it plays one without MOVE (RFC 6851).
OLD_SERVER_HOST = "127.0.0.2"
USERS = 1000  # one for each test that asks, in a test process
START_DEADLINE = 20.0  # seconds for Dovecot to answer "* OK" on both ports


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
                uids.append(mail_server.appended_uid(answer))
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


# 127.0.0.2 plays an older server, without MOVE (RFC 6851): a client must copy, flag
# \Deleted and expunge instead. Dovecot merges this service section into the demo's.
OLD_SERVER = f"""\
listen = 127.0.0.1, {OLD_SERVER_HOST}
service imap-login {{
  inet_listener imap_old {{
    address = {OLD_SERVER_HOST}
    port = {{imap_port}}
  }}
}}
local {OLD_SERVER_HOST} {{
  protocol imap {{
    imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS NAMESPACE
  }}
}}
"""


@contextlib.contextmanager
def dovecot() -> Iterator[Dovecot]:
    """The demo's Dovecot with TLS, the old server on 127.0.0.2 and a thousand users;
    stopped and its folder removed when the block ends."""
    import trustme

    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", "127.0.0.1")
    # Written once: Dovecot reads a passwd-file again only a second after it last did.
    users = [
        (f"office{number}@example.org", secrets.token_urlsafe(16)) for number in range(1, USERS + 1)
    ]
    with tempfile.TemporaryDirectory(prefix="pilot-tracker-tls-") as keys:
        chain, key = Path(keys) / "server.pem", Path(keys) / "server.key"
        certificate.private_key_and_cert_chain_pem.write_to_path(str(chain))
        certificate.private_key_pem.write_to_path(str(key))
        tls = (chain, key)
        with mail_server.dovecot(
            users, tls=tls, extra=OLD_SERVER, deadline=START_DEADLINE
        ) as server:
            ca_file = server.folder / "ca.pem"
            authority.cert_pem.write_to_path(str(ca_file))
            assert server.imaps_port is not None
            yield Dovecot(
                server.folder, server.imap_port, server.imaps_port, ca_file, server.log, users
            )


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
