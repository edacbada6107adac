"""Sources: where a unit's submissions come from.

A source yields payloads (bytes with a name) or says it is unavailable; it never parses.
``folder`` reads ``<data home>/inbox/<unit code>/``; ``http`` GETs a URL. Every source
has the same small interface, so a web form is one more source.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import re
import socket
import ssl
import stat as statmodule
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpcore
import httpx

from pilot_tracker.collect.intake import Payload, display_name
from pilot_tracker.collect.payload import MAX_PAYLOAD_BYTES, ZIP_MAGIC, decode_text
from pilot_tracker.errors import PayloadError, SourceRefused, SourceUnavailable
from pilot_tracker.ledger.program_file import FolderSourceSpec, HttpSourceSpec

MAX_HTTP_BYTES = 10 * 1024 * 1024
RETRY_DELAYS = (1.0, 4.0, 15.0)
MAX_RETRY_AFTER = 60.0
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
# What the inbox reads (docs/collect.md); any other file is archived and refused.
INBOX_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt", ".json")
MAX_INBOX_BYTES = MAX_PAYLOAD_BYTES
HEAD_BYTES = 1024 * 1024  # what is kept of a file over the limit
MAX_FOLDER_ENTRIES = 10_000
# Files a desktop leaves while a document is open or being copied: not submissions yet.
SKIPPED_NAMES = re.compile(r"^(~\$|\.|~)|\.(tmp|part|crdownload|swp)$", re.IGNORECASE)
_ENVIRONMENT_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class NotTaken:
    """Something in the inbox a run will not take: a link, a hard link, a file in the wrong
    place. It is left where it is; ``reason`` is for the operator, ``notice`` (Chinese) for
    the office when the office should have the file moved ("" when it need not act)."""

    path: str
    reason: str
    notice: str = ""
    stamp: str = ""  # size and time of a reported file: a changed file is reported anew


@dataclass(frozen=True)
class InboxFile:
    """The inbox file a payload was read from, pinned by its device and inode."""

    folder: Path
    name: str
    device: int
    inode: int
    size: int
    modified_ns: int
    root: Path | None = None

    def remove(self) -> str | None:
        """Unlink the file if its name still is the file that was read; else say why not.

        A file replaced under the same name meanwhile (a corrected copy) is left for the
        next run, so nothing a unit sent goes unread.
        """
        try:
            folder = _open_folder(self.folder, self.root)
        except OSError as error:
            return f"its folder cannot be opened to remove it ({error.strerror or error})"
        try:
            stat = os.stat(self.name, dir_fd=folder, follow_symlinks=False)
            # An inode number is reused at once; with the size and time it is this file.
            now = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if now != (self.device, self.inode, self.size, self.modified_ns):
                return "replaced while it was taken in; it is read again next run"
            os.unlink(self.name, dir_fd=folder)
            return None
        except FileNotFoundError:
            return None
        except OSError as error:
            return f"taken in, but it cannot be removed ({error.strerror})"
        finally:
            os.close(folder)


@dataclass
class Pulled:
    """A payload and, for a folder, the inbox file to remove once it is safely stored.

    ``unfinished`` says why the file does not read as a whole file (cut short, empty) and
    ``modified`` when it was last written: the run leaves a young unfinished file waiting.
    """

    payload: Payload
    inbox_file: InboxFile | None = None
    unfinished: str | None = None
    modified: datetime | None = None


@dataclass
class Pull:
    """What one pull of one source gave: payloads, files left for later, or an error.

    ``waiting`` maps a file left for the next run to why; ``not_taken`` lists what the
    source will never take as it is (links, hard links, folders inside the unit folder).
    """

    unit: str
    source: str
    pulled: list[Pulled] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    not_taken: list[NotTaken] = field(default_factory=list)


class Source(Protocol):
    kind: str
    unit: str

    def pull(self) -> Pull: ...


def redact_url(url: str) -> str:
    """A URL as it may be shown: scheme, host, port and path; no credentials, no query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


# A file's identity and state as scanned: device, inode, size, modification time.
Signature = tuple[int, int, int, int]


class FolderSource:
    """Files dropped in the unit's inbox folder (by a mail gateway or a shared drive).

    Only regular files that really live in the folder are read: the folder is opened
    without following links below ``root`` (the inbox, which the operator may have made a
    link), each file is opened without following a link and without blocking, checked by
    its descriptor to be the regular, singly linked file that was scanned, and read no
    further than the size limit. A file over the limit gives only its first MB.
    """

    kind = "folder"

    def __init__(
        self,
        unit: str,
        folder: Path,
        *,
        root: Path | None = None,
        settle_seconds: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.unit = unit
        self.folder = folder
        self.root = root
        self.settle_seconds = settle_seconds
        self.sleep = sleep

    def where(self, name: str = "") -> str:
        """A path as shown: relative to the inbox when it is known."""
        path = self.folder / name if name else self.folder
        if self.root is not None:
            path = path.relative_to(self.root)
        return display_name(path.as_posix(), 300)

    def scan(self) -> tuple[dict[str, Signature], list[NotTaken]]:
        """The candidate files with their signatures, and what is in the way."""
        try:
            folder = _open_folder(self.folder, self.root)
        except FileNotFoundError:
            return {}, []
        except _FolderRefused as refused:
            return {}, [refused.not_taken(self.root)]
        except OSError as error:
            return {}, [NotTaken(self.where(), f"cannot be opened ({error.strerror})")]
        found: dict[str, Signature] = {}
        refused: list[NotTaken] = []
        try:
            listed, truncated = _entries(folder)
        finally:
            os.close(folder)
        for name, stat in listed:
            problem = _unsafe(stat)
            if problem is not None:
                refused.append(_refusal(self.where(name), problem))
            else:
                found[name] = _signature_of(stat)
        if truncated:
            refused.append(
                NotTaken(
                    self.where(),
                    f"more than {MAX_FOLDER_ENTRIES} entries; the rest are read in later runs",
                )
            )
        return found, refused

    def snapshot(self) -> dict[str, Signature]:
        """Signature of every candidate file, to compare after a pause."""
        return self.scan()[0]

    def pull(self, before: dict[str, Signature] | None = None) -> Pull:
        """Read the files that did not change since ``before`` (a snapshot).

        Without a snapshot, take one and wait ``settle_seconds``. A file whose size or
        time changed is still being written and is left for the next run.
        """
        result = Pull(self.unit, self.kind)
        scanned, refused = self.scan()
        result.not_taken += refused
        if before is None:
            before = scanned
            if before and self.settle_seconds:
                self.sleep(self.settle_seconds)
        if not before:
            return result
        try:
            folder = _open_folder(self.folder, self.root)
        except OSError:
            result.waiting.update(dict.fromkeys(before, "the folder cannot be opened now"))
            return result
        try:
            for name, signature in before.items():
                self._read(folder, name, signature, result)
        finally:
            os.close(folder)
        return result

    def _read(self, folder: int, name: str, signature: Signature, result: Pull) -> None:
        try:
            stat = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            return
        problem = _unsafe(stat)
        if problem is not None:
            result.not_taken.append(_refusal(self.where(name), problem))
            return
        if _signature_of(stat) != signature:
            result.waiting[name] = "still being written (its size or time changed)"
            return
        try:
            handle = os.open(name, _OPEN_FILE, dir_fd=folder)
        except OSError as error:
            if error.errno == errno.ELOOP:
                result.not_taken.append(_refusal(self.where(name), "link"))
            else:
                result.waiting[name] = f"cannot be opened ({error.strerror})"
            return
        try:
            opened = os.fstat(handle)
            problem = _unsafe(opened)
            if problem is not None:
                result.not_taken.append(_refusal(self.where(name), problem))
                return
            if (opened.st_dev, opened.st_ino) != signature[:2]:
                result.waiting[name] = "replaced while it was read"
                return
            data, size, oversized = _read_bounded_file(handle, opened.st_size)
            after = os.fstat(handle)
        except OSError as error:
            result.waiting[name] = f"cannot be read ({error.strerror})"
            return
        finally:
            os.close(handle)
        if (after.st_size, after.st_mtime_ns) != (opened.st_size, opened.st_mtime_ns):
            result.waiting[name] = "still being written (it changed while it was read)"
            return
        payload = Payload(name, data, self.kind, size=size, oversized=oversized)
        result.pulled.append(
            Pulled(
                payload,
                inbox_file=InboxFile(
                    self.folder,
                    name,
                    *_signature_of(opened),
                    root=self.root,
                ),
                unfinished=None if oversized else unfinished(data, name),
                modified=datetime.fromtimestamp(opened.st_mtime_ns / 1e9, UTC),
            )
        )


class _FolderRefused(OSError):
    """A step of an inbox folder's path is a link or not a folder."""

    def __init__(self, step: Path, problem: str):
        super().__init__(problem)
        self.step = step
        self.problem = problem

    def not_taken(self, root: Path | None) -> NotTaken:
        shown = self.step.relative_to(root) if root is not None else self.step
        return _refusal(display_name(shown.as_posix(), 300), self.problem)


def _open_folder(folder: Path, root: Path | None) -> int:
    """A descriptor of ``folder``, opened without following a link below ``root``."""
    if root is None:
        steps, handle = [folder], None
    else:
        steps = list(folder.relative_to(root).parts)
        handle = os.open(root, _OPEN_FOLDER & ~os.O_NOFOLLOW)
    here = root
    for step in steps:
        here = Path(step) if here is None else here / step
        try:
            following = os.open(step, _OPEN_FOLDER, dir_fd=handle)
        except OSError as error:
            # With O_DIRECTORY, Linux says ENOTDIR for a link; lstat tells which it is.
            link = error.errno == errno.ELOOP or (
                error.errno == errno.ENOTDIR and _is_link(step, handle)
            )
            if handle is not None:
                os.close(handle)
            if link:
                raise _FolderRefused(here, "link") from None
            if error.errno == errno.ENOTDIR:
                raise _FolderRefused(here, "not a folder") from None
            raise
        if handle is not None:
            os.close(handle)
        handle = following
    assert handle is not None
    return handle


def _is_link(name: str, folder: int | None) -> bool:
    try:
        return statmodule.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        return False


_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO or device swapped in after the scan must not block the run.
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def _signature_of(stat: os.stat_result) -> Signature:
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _unsafe(stat: os.stat_result) -> str | None:
    """Why an entry of a unit folder is not taken: link, folder, not a file, hard link."""
    if statmodule.S_ISLNK(stat.st_mode):
        return "link"
    if statmodule.S_ISDIR(stat.st_mode):
        return "folder"
    if not statmodule.S_ISREG(stat.st_mode):
        return "special"
    if stat.st_nlink > 1:
        return "hard link"
    return None


_REFUSALS = {
    "link": "symbolic link, not followed; copy the file itself into the folder",
    "folder": "a folder inside the unit folder is not read; put the files directly "
    "in the unit folder",
    "special": "not a regular file (a pipe, socket or device); left alone",
    "hard link": "hard link to a file that has another name elsewhere; not read. "
    "Copy the file into the folder instead",
    "not a folder": "should be a folder but is not",
}


def _refusal(path: str, problem: str) -> NotTaken:
    notice = "" if problem != "folder" else "子文件夹不会被读取，请将其中的文件直接放入单位文件夹"
    return NotTaken(path, _REFUSALS[problem], notice)


def _read_bounded_file(handle: int, declared: int) -> tuple[bytes, int, bool]:
    """(bytes, size, oversized): the whole file up to the limit, else only its first MB.

    The read stops at the limit even when the file grew after ``declared`` was taken.
    """
    if declared > MAX_INBOX_BYTES:
        return _read_at_most(handle, HEAD_BYTES), declared, True
    data = _read_at_most(handle, MAX_INBOX_BYTES + 1)
    if len(data) > MAX_INBOX_BYTES:
        return data[:HEAD_BYTES], max(declared, len(data)), True
    return data, len(data), False


def _read_at_most(handle: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(handle, min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _zip_complete(data: bytes) -> bool:
    """A zip ends with its end-of-central-directory record; a copy cut short does not."""
    tail = data[-(22 + 65535) :]
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return False
    size, offset = struct.unpack("<II", tail[at + 12 : at + 20])
    if 0xFFFFFFFF in (size, offset):
        return True  # zip64: the sizes are in another record
    return offset + size <= len(data) - len(tail) + at


def _json_closed(data: bytes) -> bool:
    """A JSON document that ends as it began, its brackets balanced (counted, not parsed:
    the check builds nothing, whatever the document holds; a bracket inside a string can
    make a whole document wait, never a cut one pass)."""
    try:
        text = decode_text(data).strip().lstrip("\ufeff")
    except PayloadError:
        return False  # cut inside a character
    if not text or (text[0], text[-1]) not in (("{", "}"), ("[", "]")):
        return False
    return text.count("{") == text.count("}") and text.count("[") == text.count("]")


# A text file's last line break: in UTF-8, GBK or UTF-16 BE, and in UTF-16 LE (Excel's
# "Unicode text"), where the break's second byte is the NUL.
_LINE_ENDS = (b"\n", b"\r", b"\n\x00", b"\r\x00")


def unfinished(data: bytes, name: str) -> str | None:
    """Why the bytes do not read as a whole file, as a copy cut short would not; or None.

    Cheap checks of the format's own end, bounded in time and memory: a workbook's zip
    directory, a JSON document's closing bracket, a text file's final line break. A young
    file failing them is still being copied; an old one is taken as it is.
    """
    if not data:
        return "empty"
    lowered = name.lower()
    if data.startswith(ZIP_MAGIC) or lowered.endswith((".xlsx", ".xlsm")):
        if _zip_complete(data):
            return None
        return "the workbook is cut short (its zip directory is missing)"
    if lowered.endswith(".json") or data.lstrip()[:1] in (b"{", b"["):
        return None if _json_closed(data) else "the JSON document is cut short"
    if lowered.endswith((".csv", ".txt")) and not data.endswith(_LINE_ENDS):
        return "the text does not end with a line break"
    return None


class HttpSource:
    """A URL answering JSON or CSV, fetched within a deadline and retried with backoff.

    Redirects are followed here, one hop at a time, and only within the URL's origin (or
    to an origin the program file allows); every hop's host is resolved, refused if any
    address is off the public internet (unless the source is ``internal``), and connected
    to at exactly the address that was checked. The declared headers go to the URL's own
    origin only.
    """

    kind = "http"

    def __init__(
        self,
        unit: str,
        spec: HttpSourceSpec,
        *,
        environ: Mapping[str, str],
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.unit = unit
        self.spec = spec
        self.environ = environ
        self.attempts = max(1, attempts)
        self.sleep = sleep
        self.transport = transport
        self.resolver = resolver or resolve
        self.rng = rng or random.Random()
        self.clock = clock

    def pull(self) -> Pull:
        result = Pull(self.unit, self.kind)
        try:
            result.pulled.append(Pulled(self.fetch()))
        except SourceUnavailable as error:
            result.error = str(error)
        return result

    def headers(self) -> dict[str, str]:
        """The declared headers with ``${NAME}`` taken from the environment."""
        headers = {}
        for name, value in self.spec.headers.items():
            for variable in _ENVIRONMENT_REFERENCE.findall(value):
                if variable not in self.environ:
                    raise SourceUnavailable(
                        f"environment variable {variable} (header {name}) is not set"
                    )
            headers[name] = _ENVIRONMENT_REFERENCE.sub(
                lambda match: self.environ[match.group(1)], value
            )
        return headers

    def fetch(self) -> Payload:
        """GET the URL within the deadline; retry timeouts, 5xx and 429 with jittered
        backoff; raise ``SourceUnavailable`` at the end (``SourceRefused`` at once for what
        no retry can mend)."""
        where = redact_url(self.spec.url)
        headers = self.headers()
        deadline = _Deadline(self.clock, self.spec.deadline)
        last = ""
        for attempt in range(1, self.attempts + 1):
            retry_after: float | None = None
            try:
                return self._get(where, headers, deadline)
            except _Answered as answer:
                last = f"{where} answered HTTP {answer.status}"
                if answer.status != 429 and answer.status < 500:
                    raise SourceUnavailable(last) from None
                retry_after = answer.retry_after
            except _NotFound as error:
                last = str(error)
            except httpx.TimeoutException:
                if deadline.passed():
                    raise SourceUnavailable(deadline.missed(where)) from None
                last = f"{where} did not answer within {self.spec.timeout:g} s"
            except httpx.HTTPError as error:
                last = f"{where} could not be reached ({type(error).__name__})"
            if attempt == self.attempts:
                break
            if retry_after is not None and retry_after >= deadline.left():
                raise SourceUnavailable(
                    f"{last} and asked to wait {retry_after:g} s, longer than its deadline "
                    f"of {self.spec.deadline:g} s allows"
                )
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise SourceUnavailable(
                    f"{last} and asked to wait {retry_after:g} s, longer than the "
                    f"{MAX_RETRY_AFTER:g} s a source may ask for"
                )
            # Full jitter: sources that failed together do not come back in step.
            base = RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)]
            wait = max(self.rng.uniform(0, base), retry_after or 0)
            if wait >= deadline.left():
                break
            self.sleep(wait)
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        raise SourceUnavailable(f"{last}{tries}")

    def _get(self, where: str, headers: dict[str, str], deadline: _Deadline) -> Payload:
        """One attempt: the URL and its redirects, each hop checked before it is asked."""
        url = self._parse(where, self.spec.url)
        origin = _origin(url)
        allowed = _origins(self.spec.allow_redirects_to)
        pins: dict[tuple[str, int], list[str]] = {}
        transport = self.transport or _pinned_transport(pins, deadline)
        with httpx.Client(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            timeout=self.spec.timeout,
            # Unpacked here, within the size limit: a small packed body can unpack to GBs.
            headers={"Accept-Encoding": "identity"},
        ) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                self._check_host(where, url, pins, deadline)
                own = _origin(url) == origin  # the declared headers go nowhere else
                request = client.build_request("GET", url, headers=headers if own else {})
                response = client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        url = self._redirect(where, url, location, origin, allowed)
                        continue
                    if response.status_code != 200:
                        raise _Answered(
                            response.status_code, _retry_after(response.headers.get("retry-after"))
                        )
                    return Payload(
                        _payload_name(self.spec, response),
                        _read_bounded(response, where, deadline),
                        self.kind,
                        response.headers.get("content-type", ""),
                    )
                finally:
                    response.close()
        raise SourceRefused(f"{where}: refused: more than {MAX_REDIRECTS} redirects")

    def _parse(self, where: str, text: str) -> httpx.URL:
        """The source's URL, if it is an http(s) URL that httpx can follow."""
        try:
            url = httpx.URL(text)
        except httpx.InvalidURL:
            # httpx refuses some numeric forms (0177.0.0.1) that a C library would take.
            address = _numeric_address(urlsplit(text).hostname or "")
            if address is not None:
                self._check_addresses(where, [address])
            raise SourceRefused(f"{where}: refused: not a valid URL") from None
        if url.scheme not in DEFAULT_PORTS or not url.host:
            raise SourceRefused(f"{where}: refused: not an http:// or https:// URL")
        return url

    def _check_host(
        self,
        where: str,
        url: httpx.URL,
        pins: dict[tuple[str, int], list[str]],
        deadline: _Deadline,
    ) -> None:
        """Resolve the host of ``url`` once, check every address, pin what was checked."""
        host = url.raw_host.decode("ascii").lower()
        port = url.port or DEFAULT_PORTS.get(url.scheme, 80)
        if (host, port) in pins:
            return
        address = _numeric_address(host)
        if address is not None:
            addresses = [address]
        else:
            try:
                found = _within(deadline, lambda: list(self.resolver(host, port)))
                addresses = [ipaddress.ip_address(text) for text in found]
            except (OSError, UnicodeError, ValueError):
                addresses = []
            if not addresses:
                raise _NotFound(f"{where}: the host {host} could not be found")
        self._check_addresses(where, addresses)
        pins[(host, port)] = [str(address) for address in addresses]

    def _check_addresses(self, where: str, addresses: list[IPAddress]) -> None:
        if self.spec.internal:
            return
        for address in addresses:
            refused = _not_public(address)
            if refused is not None:
                shown, kind = refused
                raise SourceRefused(
                    f"{where}: refused: {shown} is not a public address ({kind}); if this "
                    "source is on the office's own network, mark it internal: true in the "
                    "program file"
                )

    def _redirect(
        self,
        where: str,
        url: httpx.URL,
        location: str,
        origin: Origin,
        allowed: set[Origin],
    ) -> httpx.URL:
        """The next hop, if the program file lets the source go there."""
        try:
            target = url.join(location)
        except httpx.InvalidURL:
            raise SourceRefused(f"{where}: refused: redirected to an invalid URL") from None
        if (
            target.scheme not in DEFAULT_PORTS
            or target.userinfo
            or (_origin(target) != origin and _origin(target) not in allowed)
        ):
            raise SourceRefused(
                f"{where}: refused: redirected to {redact_url(str(target))}, which is not "
                "this source's origin; if that server is trusted, list its origin under "
                "allow_redirects_to"
            )
        return target


Origin = tuple[str, str, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system's resolver (``socket.getaddrinfo``)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _origin(url: httpx.URL) -> Origin:
    return (url.scheme, url.raw_host.decode("ascii").lower(), url.port or DEFAULT_PORTS[url.scheme])


def _origins(targets: Iterable[str]) -> set[Origin]:
    """The origins of ``targets`` (the program file has checked them; skip what is not)."""
    origins = set()
    for target in targets:
        try:
            url = httpx.URL(target)
            if url.scheme in DEFAULT_PORTS and url.host:
                origins.add(_origin(url))
        except httpx.InvalidURL:
            continue
    return origins


_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


def _numeric_address(host: str) -> IPAddress | None:
    """``host`` as an IP address in any form a C resolver takes: ``::1``, ``127.0.0.1``,
    and also ``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


def _not_public(address: IPAddress) -> tuple[IPAddress, str] | None:
    """The address (or the IPv4 address inside it) and why it is not on the public
    internet; None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        inside = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if inside is not None and (refused := _not_public(inside)) is not None:
            return refused
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address in _SHARED_ADDRESS_SPACE, "carrier-grade NAT"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved or not address.is_global, "reserved"),
    )
    for refused, kind in checks:
        if refused:
            return address, kind
    return None


class _Answered(Exception):
    """The source answered with a status other than 200 (and not a redirect)."""

    def __init__(self, status: int, retry_after: float | None):
        self.status = status
        self.retry_after = retry_after


class _NotFound(Exception):
    """The source's host name does not resolve (now; it may again)."""


class _Deadline:
    """The moment a pull must be over: connect, TLS, request, answer and body included."""

    def __init__(self, clock: Callable[[], float], seconds: float):
        self.clock = clock
        self.seconds = seconds
        self.at = clock() + seconds

    def left(self) -> float:
        return self.at - self.clock()

    def passed(self) -> bool:
        return self.left() <= 0

    def timeout(self, timeout: float | None) -> float:
        """A network operation's timeout, cut to what is left before the deadline."""
        left = self.left()
        if left <= 0:
            raise httpcore.ReadTimeout("deadline passed")
        return left if timeout is None else min(timeout, left)

    def missed(self, where: str) -> str:
        return f"{where}: did not finish within its deadline of {self.seconds:g} s"


def _within(deadline: _Deadline, work: Callable[[], list[str]]) -> list[str]:
    """``work()`` (a name lookup, which no timeout of ours reaches) if it ends by the
    deadline; else a timeout, and the lookup is left to finish on its own."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the caller below
            outcome.append(error)

    thread = threading.Thread(target=run, name="resolve", daemon=True)
    thread.start()
    thread.join(max(deadline.left(), 0))
    if not outcome:
        raise httpx.ConnectTimeout("the name lookup did not finish by the deadline")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to the addresses checked for a host, and never past the deadline."""

    def __init__(self, pins: dict[tuple[str, int], list[str]], deadline: _Deadline):
        self.pins = pins
        self.deadline = deadline
        self.backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.pins.get((host.lower(), port))
        if not addresses:  # never resolve here: only a checked address is connected to
            raise httpcore.ConnectError(f"{host}:{port} was not checked")
        error: Exception | None = None
        for address in addresses:
            try:
                stream = self.backend.connect_tcp(
                    address, port, self.deadline.timeout(timeout), local_address, socket_options
                )
            except httpcore.ConnectError as failed:
                error = failed
                continue
            return _DeadlineStream(stream, self.deadline)
        raise error or httpcore.ConnectError(f"{host}:{port}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("an HTTP source connects over TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline, however slowly the
    other side trickles bytes."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline):
        self.stream = stream
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self.deadline.timeout(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self.deadline.timeout(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self.stream.start_tls(ssl_context, server_hostname, self.deadline.timeout(timeout))
        return _DeadlineStream(stream, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


def _pinned_transport(
    pins: dict[tuple[str, int], list[str]], deadline: _Deadline
) -> httpx.HTTPTransport:
    """httpx's transport on a connection pool that uses ``_PinnedBackend``.

    httpx takes no network backend, so its pool is swapped for one that has it; no
    proxy from the environment (a proxy would connect wherever it resolves the name).
    """
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=_PinnedBackend(pins, deadline),
    )
    return transport


def _read_bounded(response: httpx.Response, where: str, deadline: _Deadline) -> bytes:
    """The body, unpacked (gzip, deflate) no further than the size limit allows."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_HTTP_BYTES:
        raise SourceUnavailable(
            f"{where} sent {int(declared):,} bytes, more than the 10 MB allowed"
        )
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", *_UNPACKERS):
        raise SourceUnavailable(
            f"{where} sent its answer compressed ({encoding}), which is not read; have the "
            "server send it uncompressed"
        )
    unpacker = _UNPACKERS[encoding]() if encoding in _UNPACKERS else None
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        if unpacker is None:
            chunk = raw
        else:
            try:
                # At most one byte past the limit: enough to know it is too big.
                chunk = unpacker.decompress(raw, MAX_HTTP_BYTES - size + 1)
            except zlib.error:
                raise SourceUnavailable(
                    f"{where} sent a {encoding} answer that cannot be unpacked"
                ) from None
        size += len(chunk)
        if size > MAX_HTTP_BYTES:
            raise SourceUnavailable(f"{where} sent more than the 10 MB allowed; stopped reading")
        if deadline.passed():
            raise SourceUnavailable(deadline.missed(where))
        chunks.append(chunk)
    return b"".join(chunks)


_UNPACKERS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    "x-gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
    "deflate": lambda: zlib.decompressobj(zlib.MAX_WBITS | 32),  # zlib or gzip wrapped
}


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _payload_name(spec: HttpSourceSpec, response: httpx.Response) -> str:
    name = urlsplit(spec.url).path.rsplit("/", 1)[-1] or "response"
    kind = spec.format or ("json" if "json" in response.headers.get("content-type", "") else None)
    if kind and not name.lower().endswith(f".{kind}"):
        name = f"{name}.{kind}"
    return name


def inbox_folder(inbox: Path, program: str, unit: str) -> Path:
    """The inbox folder of a unit: ``inbox/<program code>/<unit code>/``.

    Codes are validated as [A-Za-z0-9][A-Za-z0-9_.-]*, so both are safe folder names; the
    program's code keeps apart units of two programs that share a code.
    """
    return inbox / program / unit


def sources_of(
    program: str,
    unit: str,
    declared: list[FolderSourceSpec | HttpSourceSpec],
    *,
    inbox: Path,
    environ: Mapping[str, str],
    settle_seconds: float = 0.0,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Source]:
    """The sources of a unit; with none declared, its inbox folder."""
    folder = inbox_folder(inbox, program, unit)
    for spec in declared or [FolderSourceSpec(kind="folder")]:
        if isinstance(spec, HttpSourceSpec):
            yield HttpSource(unit, spec, environ=environ, attempts=attempts, sleep=sleep)
        else:
            yield FolderSource(unit, folder, root=inbox, settle_seconds=settle_seconds, sleep=sleep)


MAX_REPORTED = 200


def survey_inbox(inbox: Path, program: str, units: Mapping[str, bool]) -> list[NotTaken]:
    """What lies in the program's inbox tree where no source reads it.

    ``units`` maps each unit code to whether the unit has an inbox source. Reported, never
    taken: files beside the unit folders, folders of unknown units or whose name differs
    from a unit code only in case (and the files in them, one level down), a folder named
    like the program but in another case, the files of a unit that has no inbox source,
    and links. The unit folders themselves are the folder sources' to report.
    """
    found: list[NotTaken] = []
    for name, stat in _entries(inbox)[0]:
        if name != program and name.casefold() == program.casefold():
            found.append(
                NotTaken(
                    _shown(name),
                    f"differs from the program code {program} only in case; not read",
                    f"文件夹名与试点代码 {program} 大小写不一致，其中的文件不会被读取，"
                    f"请移入 inbox/{program}/<单位代码>/",
                    _stamp(stat),
                )
            )
    try:
        folder = _open_folder(inbox / program, inbox)
    except _FolderRefused as refused:
        return [*found, refused.not_taken(inbox)]
    except OSError:
        return found
    by_case = {code.casefold(): code for code in units}
    try:
        for name, stat in _entries(folder)[0]:
            if len(found) > MAX_REPORTED:
                break  # enough to act on; the walk stays short however much is there
            where = f"{program}/{name}"
            if statmodule.S_ISLNK(stat.st_mode):
                if name not in units or not units[name]:
                    found.append(_refusal(_shown(where), "link"))
                continue
            if not statmodule.S_ISDIR(stat.st_mode):
                found.append(
                    NotTaken(
                        _shown(where),
                        f"not in a unit folder; move it to {program}/<unit code>/",
                        f"文件未放入单位文件夹，未导入。请移入 inbox/{program}/<单位代码>/",
                        _stamp(stat),
                    )
                )
                continue
            if units.get(name):
                continue  # a unit folder: its folder source reads it
            if name in units:
                reason = f"unit {name} has no inbox source (see its sources:); not read"
                notice = f"单位 {name} 未配置文件夹报送方式，此处文件未导入"
            elif name.casefold() in by_case:
                code = by_case[name.casefold()]
                reason = (
                    f"folder {name} differs from unit code {code} only in case; "
                    f"move the file to {program}/{code}/"
                )
                notice = (
                    f"文件夹名 {name} 与单位代码 {code} 大小写不一致，未导入。"
                    f"请移入 {program}/{code}/"
                )
            else:
                reason = f"no unit {name} in program {program}; move the file to its unit's folder"
                notice = f"试点中没有代码为 {name} 的单位，未导入。请移入报送单位的文件夹"
            found += _inside(folder, name, where, reason, notice)
    finally:
        os.close(folder)
    if len(found) > MAX_REPORTED:
        found = [*found[:MAX_REPORTED], NotTaken(program, "and more, not listed")]
    return found


def survey_root(inbox: Path, programs: Iterable[str]) -> list[NotTaken]:
    """What lies directly in the inbox outside every program's folder: loose files and
    folders of programs not loaded. (A folder named like a program in another case is that
    program's survey's to report.)"""
    codes = set(programs)
    folded = {code.casefold() for code in codes}
    found = []
    for name, stat in _entries(inbox)[0]:
        if name in codes or name.casefold() in folded:
            continue
        kind = "folder" if statmodule.S_ISDIR(stat.st_mode) else "file"
        found.append(
            NotTaken(
                _shown(name),
                f"{kind} outside every loaded program's folder (inbox/<program code>/); not read",
            )
        )
    return found[:MAX_REPORTED]


def _inside(parent: int, name: str, where: str, reason: str, notice: str) -> list[NotTaken]:
    """The entries of a folder no source reads, one level down, each with the reason."""
    try:
        folder = os.open(name, _OPEN_FOLDER, dir_fd=parent)
    except OSError:
        return []
    try:
        found = []
        for inner, stat in _entries(folder)[0]:
            if len(found) > MAX_REPORTED:
                break
            kind = "" if statmodule.S_ISREG(stat.st_mode) else " (a folder or special file)"
            found.append(NotTaken(_shown(f"{where}/{inner}"), reason + kind, notice, _stamp(stat)))
        return found
    finally:
        os.close(folder)


def _entries(folder: Path | int) -> tuple[list[tuple[str, os.stat_result]], bool]:
    """Names and lstat of a folder's entries, sorted, without temporary files; and whether
    the listing stopped at ``MAX_FOLDER_ENTRIES`` (the rest wait for a later run)."""
    listed: list[tuple[str, os.stat_result]] = []
    truncated = False
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_FOLDER_ENTRIES:
                    truncated = True
                    break
                if not SKIPPED_NAMES.search(entry.name):
                    try:
                        listed.append((entry.name, entry.stat(follow_symlinks=False)))
                    except OSError:
                        continue  # gone since it was listed
    except OSError:
        return [], False
    return sorted(listed, key=lambda item: item[0]), truncated


def _shown(path: str) -> str:
    return display_name(path, 300)


def _stamp(stat: os.stat_result) -> str:
    """What makes a reported file the same file next time: size and modification time."""
    return f"{stat.st_size}:{stat.st_mtime_ns}"
