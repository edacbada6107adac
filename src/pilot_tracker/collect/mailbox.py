"""The office's mailbox as a source: liaisons reply to their reminder with the workbook.

Read over IMAP with UIDs, never changing what it reads: a pull peeks (no ``\\Seen``) and
deletes nothing; :meth:`MailboxSource.file` moves a message to the processed folder only
once what it brought is on record. A pull is bounded (messages, bytes, its deadline) and
takes the oldest first; what is left comes in the next run. Every network failure is a
``SourceUnavailable`` whose reason names the server and the step, never the password.
Parsing the messages is ``collect.mail``'s; which unit sent one is the caller's.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

# A message larger than MAX_MESSAGE_BYTES is not taken whole: only its head is fetched, to
# say who sent it and what it was (collect.replies refuses it).
from pilot_tracker.collect.mail import MAX_MESSAGE_BYTES
from pilot_tracker.collect.sources import Deadline
from pilot_tracker.errors import SourceRefused, SourceUnavailable
from pilot_tracker.ledger.program_file import MailboxSpec

if TYPE_CHECKING:
    from imapclient import IMAPClient

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_MESSAGES = 200  # messages fetched per run, oldest first; the rest next run
MAX_RUN_BYTES = 200 * 1024 * 1024  # bytes fetched per run; the rest next run
HEAD_BYTES = 1024 * 1024  # what is fetched of a message over MAX_MESSAGE_BYTES
# UIDs per command when listing or filing: a command line stays short whatever the folder.
UIDS_PER_COMMAND = 500
MAX_MESSAGE_ID = 998  # characters: RFC 5322's longest line
# What of a server's own words goes into a reason: enough to tell what it said.
MAX_SERVER_TEXT = 200


@dataclass(frozen=True)
class Fetched:
    """One message as fetched: whole, or only its first ``HEAD_BYTES`` when ``oversized``."""

    uid: int
    raw: bytes
    size: int  # RFC822.SIZE as the server says
    oversized: bool
    message_id: str  # from the header fetch, without <>, "" if none

    def __repr__(self) -> str:  # a message's bytes do not belong in a log line
        return (
            f"Fetched(uid={self.uid}, size={self.size}, oversized={self.oversized}, "
            f"message_id={self.message_id!r}, raw=<{len(self.raw)} bytes>)"
        )


@dataclass
class MailPull:
    """What one pull gave: the messages fetched, oldest first, and the ones already on
    record (``known``: not fetched, to be filed), under the folder's ``uidvalidity``."""

    uidvalidity: int
    fetched: list[Fetched]
    known: list[int]
    more: bool  # messages left for the next run (MAX_MESSAGES, MAX_RUN_BYTES, the deadline)


class MailboxSource:
    """The office's IMAP mailbox (``MailboxSpec``): pulled without changing it, then the
    messages taken filed into the processed folder.

    TLS always verifies the server's certificate and its name, against the system's
    certificate authorities or the program file's ``ca_file``; there is no way to turn
    that off. ``ssl_context`` replaces the context built here (a caller's own trust
    store), and is refused unless it verifies too.
    """

    kind = "mailbox"

    def __init__(
        self,
        program: str,
        spec: MailboxSpec,
        *,
        environ: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.program = program
        self.spec = spec
        self.environ = environ
        self.clock = clock
        self.ssl_context = ssl_context
        self.where = _host_port(spec.host, spec.effective_port)

    def __repr__(self) -> str:
        return f"MailboxSource({self.program!r}, {self.describe()!r})"

    def describe(self) -> str:
        """Where the mail is read, for logs: never the password."""
        return f"imap://{self.spec.user}@{self.where}/{self.spec.folder}"

    def pull(self, known: Callable[[str], bool] = lambda message_id: False) -> MailPull:
        """List the folder (UID SEARCH ALL; UID FETCH of RFC822.SIZE and
        BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]), then fetch BODY.PEEK[] of the ones not
        known, oldest first, within the bounds; BODY.PEEK[]<0.HEAD_BYTES> for the oversized.
        Never sets \\Seen (PEEK, and the folder is opened read-only), never deletes. Logs out
        in every case; a failure midway raises, so nothing is half-taken."""
        deadline = _Deadline(self.clock, self.spec.deadline)
        with self._session(deadline) as session:
            selected = session.step(
                f"opening the folder {self.spec.folder}",
                lambda: session.client.select_folder(self.spec.folder, readonly=True),
            )
            uidvalidity = self._uidvalidity(selected)
            uids = sorted(session.step("listing the folder", lambda: session.client.search("ALL")))
            candidates, on_record, listed = self._list(session, uids, known, deadline)
            fetched: list[Fetched] = []
            spent = 0
            more = listed < len(uids)
            for number, (uid, size, message_id) in enumerate(candidates, start=1):
                oversized = size > MAX_MESSAGE_BYTES
                cost = HEAD_BYTES if oversized else size
                if len(fetched) >= MAX_MESSAGES or (fetched and spent + cost > MAX_RUN_BYTES):
                    more = True
                    break
                if deadline.passed():
                    log.info(
                        "%s: the deadline passed after %d messages", self.describe(), number - 1
                    )
                    more = True
                    break
                part = f"BODY.PEEK[]<0.{HEAD_BYTES}>" if oversized else "BODY.PEEK[]"
                answer = session.step(
                    f"fetching message {number} of {len(candidates)}",
                    lambda uid=uid, part=part: session.client.fetch([uid], [part]),
                )
                raw = _body(answer.get(uid, {}))
                if raw is None:  # gone since it was listed (another client moved it)
                    continue
                fetched.append(Fetched(uid, raw, size, oversized, message_id))
                spent += len(raw)
        log.info(
            "%s: fetched %d messages (%d bytes), %d already on record%s",
            self.describe(),
            len(fetched),
            spent,
            len(on_record),
            ", more left for the next run" if more else "",
        )
        return MailPull(uidvalidity, fetched, on_record, more)

    def _list(
        self,
        session: _Session,
        uids: list[int],
        known: Callable[[str], bool],
        deadline: _Deadline,
    ) -> tuple[list[tuple[int, int, str]], list[int], int]:
        """Each message's size and Message-ID, a command per ``UIDS_PER_COMMAND``, until
        there are enough to fetch: (uid, size, message id) of those to fetch, the UIDs
        ``known`` has on record, and how many UIDs were listed."""
        candidates: list[tuple[int, int, str]] = []
        on_record: list[int] = []
        listed = 0
        for start in range(0, len(uids), UIDS_PER_COMMAND):
            if len(candidates) >= MAX_MESSAGES or deadline.passed():
                break
            chunk = uids[start : start + UIDS_PER_COMMAND]
            answer = session.step(
                "reading the sizes and Message-IDs",
                lambda chunk=chunk: session.client.fetch(
                    chunk, ["RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
                ),
            )
            for uid in chunk:
                data = answer.get(uid)
                if data is None:  # gone since it was listed
                    continue
                message_id = _message_id(_header(data))
                if message_id and known(message_id):
                    on_record.append(uid)
                else:
                    candidates.append((uid, int(data.get(b"RFC822.SIZE", 0)), message_id))
            listed = start + len(chunk)
        return candidates, on_record, listed

    def file(self, uids: list[int], uidvalidity: int) -> int:
        """Move these messages to the processed folder (created if missing); returns how
        many moved. If the folder's UIDVALIDITY is not ``uidvalidity`` any more, moves
        nothing (the next run reads them again and finds them on record). Idempotent: uids
        already gone are fine."""
        if not uids:
            return 0
        deadline = _Deadline(self.clock, self.spec.deadline)
        moved = 0
        with self._session(deadline) as session:
            client = session.client
            selected = session.step(
                f"opening the folder {self.spec.folder}",
                lambda: client.select_folder(self.spec.folder),
            )
            now = self._uidvalidity(selected)
            if now != uidvalidity:
                log.warning(
                    "%s: the folder's UIDVALIDITY changed (%s, was %s): nothing filed; the "
                    "next run reads the messages again",
                    self.describe(),
                    now,
                    uidvalidity,
                )
                return 0
            self._ensure_processed(session)
            wanted = sorted(set(uids))
            for start in range(0, len(wanted), UIDS_PER_COMMAND):
                chunk = wanted[start : start + UIDS_PER_COMMAND]
                present = session.step(
                    "looking for the messages to file",
                    lambda chunk=chunk: client.search(["UID", ",".join(map(str, chunk))]),
                )
                if not present:
                    continue
                session.step(
                    f"moving {len(present)} messages to {self.spec.processed}",
                    lambda present=present: self._move(client, sorted(present)),
                )
                moved += len(present)
        log.info("%s: filed %d messages in %s", self.describe(), moved, self.spec.processed)
        return moved

    def _uidvalidity(self, selected: dict[bytes, object]) -> int:
        """The folder's UIDVALIDITY from a SELECT's answer: without it, UIDs mean nothing
        from one run to the next."""
        value = selected.get(b"UIDVALIDITY")
        if not isinstance(value, int):
            raise SourceUnavailable(
                f"the mail server {self.where} did not give the UIDVALIDITY of the folder "
                f"{self.spec.folder}, so its messages cannot be told apart from one run to the next"
            )
        return value

    def _ensure_processed(self, session: _Session) -> None:
        client = session.client
        folder = self.spec.processed
        if session.step(f"looking for the folder {folder}", lambda: client.folder_exists(folder)):
            return
        try:
            session.step(f"creating the folder {folder}", lambda: client.create_folder(folder))
        except SourceUnavailable:
            # Another run may have made it in between; if not, that error stands.
            if not session.step(
                f"looking for the folder {folder}", lambda: client.folder_exists(folder)
            ):
                raise

    def _move(self, client: IMAPClient, uids: list[int]) -> None:
        """MOVE (RFC 6851) where the server has it; else COPY, ``\\Deleted`` and UID
        EXPUNGE (RFC 4315), or a plain EXPUNGE on a server without UIDPLUS either."""
        if client.has_capability("MOVE"):
            client.move(uids, self.spec.processed)
            return
        client.copy(uids, self.spec.processed)
        client.add_flags(uids, [b"\\Deleted"], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()

    @contextlib.contextmanager
    def _session(self, deadline: _Deadline) -> Iterator[_Session]:
        """Connected (TLS as declared), logged in, and logged out at the end in any case."""
        password = self._password()
        context = self._context()
        session = _Session(self, password, deadline)
        session.connect(context)
        try:
            session.step(f"logging in as {self.spec.user}", lambda: session.login())
            yield session
        finally:
            session.close()

    def _password(self) -> str:
        name = self.spec.password_env
        password = self.environ.get(name, "")
        if not password:
            raise SourceRefused(
                f"{name} is not set: the password of {self.spec.user} on {self.where} must be "
                f"in the environment variable {name} (the program file's mailbox.password_env)"
            )
        if "\r" in password or "\n" in password or not password.isascii():
            raise SourceRefused(
                f"the password in {name} has a line break or a character outside ASCII, "
                "which IMAP's LOGIN cannot send; set it again"
            )
        return password

    def _context(self) -> ssl.SSLContext | None:
        """The TLS context: the caller's, or the system's CAs, or ``ca_file``'s."""
        if self.spec.security == "none":
            if not _loopback(self.spec.host):
                raise SourceRefused(
                    f'mailbox.security "none" would send the password to {self.spec.host} in '
                    "clear; use tls or starttls"
                )
            return None
        if self.ssl_context is not None:
            if self.ssl_context.verify_mode != ssl.CERT_REQUIRED or not (
                self.ssl_context.check_hostname
            ):
                raise SourceRefused(
                    "the TLS context given does not verify the mail server's certificate and "
                    "name; a mailbox is read only over verified TLS"
                )
            return self.ssl_context
        if not self.spec.ca_file:
            return ssl.create_default_context()
        try:
            with open(self.spec.ca_file, "rb"):
                pass
            return ssl.create_default_context(cafile=self.spec.ca_file)
        except (ssl.SSLError, ValueError):  # an OSError too: first
            raise SourceRefused(
                f"mailbox.ca_file {self.spec.ca_file} holds no PEM certificate; name the "
                "certificate of the office's certificate authority"
            ) from None
        except OSError as error:
            raise SourceRefused(
                f"mailbox.ca_file {self.spec.ca_file} cannot be read ({error.strerror or error}); "
                "name the certificate of the office's certificate authority (PEM)"
            ) from None


class _Session:
    """One connection to the mail server; each network step turned into a clear error."""

    def __init__(self, source: MailboxSource, password: str, deadline: _Deadline):
        self.source = source
        self.spec = source.spec
        self.where = source.where
        self.password = password
        self.deadline = deadline
        self.client: IMAPClient = None  # type: ignore[assignment]  # set by connect()
        self.broken = False

    def connect(self, context: ssl.SSLContext | None) -> None:
        from imapclient import IMAPClient, SocketTimeout

        timeout = self.deadline.timeout(self.spec.timeout)
        self.client = self.step(
            "connecting",
            lambda: IMAPClient(
                self.spec.host,
                port=self.spec.effective_port,
                ssl=self.spec.security == "tls",
                ssl_context=context,
                timeout=SocketTimeout(timeout, timeout),
            ),
        )
        if self.spec.security == "starttls":
            if not self.step("asking for STARTTLS", lambda: self.client.has_capability("STARTTLS")):
                self.close()
                raise SourceUnavailable(
                    f"the mail server {self.where} does not offer STARTTLS; the password is "
                    "never sent in clear: use security tls, or have the server offer STARTTLS"
                )
            self.step("starting TLS", lambda: self.client.starttls(context))

    def login(self) -> None:
        self.client.login(self.spec.user, self.password)

    def step(self, what: str, work: Callable[[], _T]) -> _T:
        """``work()``, its socket timeout cut to what is left of the deadline; any failure
        a ``SourceUnavailable`` that says where and what failed."""
        import imaplib

        from imapclient.exceptions import LoginError

        if self.client is not None:
            with contextlib.suppress(OSError, AttributeError):
                self.client.socket().settimeout(self.deadline.timeout(self.spec.timeout))
        try:
            return work()
        except LoginError:
            reason = (
                f"the mail server {self.where} refused the login of {self.spec.user}: check the "
                f"user in the program file and the password in {self.spec.password_env}"
            )
        except TimeoutError:
            reason = (
                f"the mail server {self.where} did not answer within "
                f"{min(self.spec.timeout, self.deadline.seconds):g} s while {what}"
            )
        except ssl.SSLCertVerificationError as error:
            reason = (
                f"the certificate of the mail server {self.where} could not be verified "
                f"({error.verify_message}); if the office has its own certificate authority, "
                "name its certificate in mailbox.ca_file"
            )
        except ssl.SSLError as error:
            reason = (
                f"TLS with the mail server {self.where} failed while {what} ({error.reason}): "
                "check that the port and mailbox.security are the server's"
            )
        except ConnectionRefusedError:
            reason = (
                f"the mail server {self.where} refused the connection: is it running, and is "
                "the port right?"
            )
        except socket.gaierror:
            reason = f"the mail server's host {self.spec.host} could not be found"
        except (imaplib.IMAP4.abort, OSError, EOFError):
            reason = f"the connection to {self.where} was dropped while {what}"
        except imaplib.IMAP4.error as error:  # NO or BAD, or an answer that does not parse
            said = _text(error)[:MAX_SERVER_TEXT]
            reason = f"the mail server {self.where} answered an error while {what}: {said}"
        self.broken = True
        raise SourceUnavailable(self._redacted(reason)) from None

    def _redacted(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text

    def close(self) -> None:
        """Log out (briefly: the server has a second at most), or just close the socket
        when the connection is already broken."""
        client, self.client = self.client, None
        if client is None:
            return
        if not self.broken:
            with contextlib.suppress(Exception):
                client.socket().settimeout(min(self.spec.timeout, 1.0))
                client.logout()
                return
        with contextlib.suppress(Exception):
            client.shutdown()


class _Deadline(Deadline):
    """The moment a pull or a filing must be over."""

    def timeout(self, timeout: float) -> float:
        """A network step's timeout, cut to what is left (at least a moment: the step
        then times out and says so)."""
        return max(min(timeout, self.left()), 0.01)


def _body(data: dict[bytes, object]) -> bytes | None:
    """The bytes of BODY[] (or BODY[]<0>) in a FETCH answer; None if it has none."""
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(b"BODY[]"):
            return bytes(value) if value is not None else b""
    return None


def _header(data: dict[bytes, object]) -> bytes:
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(b"BODY[HEADER") and value:
            return bytes(value)
    return b""


_ANGLED = re.compile(r"<([^<>\s]+)>")


def _message_id(header: bytes) -> str:
    """The Message-ID in a ``Message-ID:`` header block, without its <>; "" if none."""
    if not header:
        return ""
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header)
    value = str(parsed.get("Message-ID", "") or "")
    value = " ".join(value.split())
    found = _ANGLED.search(value)
    text = found.group(1) if found else value.strip().strip("<>")
    return text[:MAX_MESSAGE_ID] if text.isprintable() else ""


def _text(error: BaseException) -> str:
    argument = error.args[0] if error.args else ""
    if isinstance(argument, bytes):
        argument = argument.decode("utf-8", "replace")
    return " ".join(str(argument).split())


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
