"""Sources: where a unit's submissions come from.

A source yields payloads (bytes with a name) or says it is unavailable; it never parses.
``folder`` reads ``<data home>/inbox/<unit code>/``; ``http`` GETs a URL. Every source
has the same small interface, so a web form is one more source.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from pilot_tracker.intake import Payload
from pilot_tracker.program_file import FolderSourceSpec, HttpSourceSpec

MAX_HTTP_BYTES = 10 * 1024 * 1024
RETRY_DELAYS = (1.0, 4.0, 15.0)
MAX_RETRY_AFTER = 60.0
INBOX_SUFFIXES = (".xlsx", ".csv")
# Files a desktop leaves while a document is open or being copied: not submissions yet.
SKIPPED_NAMES = re.compile(r"^(~\$|\.|~)|\.(tmp|part|crdownload|swp)$", re.IGNORECASE)
_ENVIRONMENT_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SourceUnavailable(Exception):
    """The source could not be read this time (down, timing out, refusing); try next run."""


@dataclass
class Pulled:
    """A payload and, for a folder, the inbox file to remove once it is safely stored."""

    payload: Payload
    inbox_file: Path | None = None


@dataclass
class Pull:
    """What one pull of one source gave: payloads, files left for later, or an error."""

    unit: str
    source: str
    pulled: list[Pulled] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    error: str | None = None


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


class FolderSource:
    """Files dropped in the unit's inbox folder (by a mail gateway or a shared drive)."""

    kind = "folder"

    def __init__(
        self,
        unit: str,
        folder: Path,
        *,
        settle_seconds: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.unit = unit
        self.folder = folder
        self.settle_seconds = settle_seconds
        self.sleep = sleep

    def candidates(self) -> list[os.DirEntry[str]]:
        """Regular files in the inbox (not links, not folders, not temporary files)."""
        if not self.folder.is_dir():
            return []
        with os.scandir(self.folder) as entries:
            return sorted(
                (
                    entry
                    for entry in entries
                    if entry.is_file(follow_symlinks=False) and not SKIPPED_NAMES.search(entry.name)
                ),
                key=lambda entry: entry.name,
            )

    def snapshot(self) -> dict[str, tuple[int, int] | None]:
        """Size and modification time of every candidate file, to compare after a pause."""
        return {entry.path: _signature(entry.path) for entry in self.candidates()}

    def pull(self, before: dict[str, tuple[int, int] | None] | None = None) -> Pull:
        """Read the files that did not change since ``before`` (a snapshot).

        Without a snapshot, take one and wait ``settle_seconds``. A file whose size or
        time changed is still being written and is left for the next run.
        """
        result = Pull(self.unit, self.kind)
        if before is None:
            before = self.snapshot()
            if before and self.settle_seconds:
                self.sleep(self.settle_seconds)
        for path_text, signature in sorted(before.items()):
            path = Path(path_text)
            if signature is None or _signature(path_text) != signature:
                result.waiting.append(path.name)
                continue
            try:
                data = path.read_bytes()
            except OSError:
                result.waiting.append(path.name)
                continue
            if _signature(path_text) != signature:
                result.waiting.append(path.name)
                continue
            result.pulled.append(Pulled(Payload(path.name, data, self.kind), inbox_file=path))
        return result


def _signature(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


class HttpSource:
    """A URL answering JSON or CSV, fetched with a timeout and retried with backoff."""

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
    ):
        self.unit = unit
        self.spec = spec
        self.environ = environ
        self.attempts = max(1, attempts)
        self.sleep = sleep
        self.transport = transport

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
        """GET the URL; retry timeouts, 5xx and 429; raise ``SourceUnavailable`` at the end."""
        where = redact_url(self.spec.url)
        headers = self.headers()
        last = ""
        for attempt in range(1, self.attempts + 1):
            retry_after: float | None = None
            try:
                with (
                    httpx.Client(
                        timeout=self.spec.timeout, transport=self.transport, follow_redirects=True
                    ) as client,
                    client.stream("GET", self.spec.url, headers=headers) as response,
                ):
                    if response.status_code == 200:
                        return Payload(
                            _payload_name(self.spec, response),
                            _read_bounded(response, where),
                            self.kind,
                            response.headers.get("content-type", ""),
                        )
                    last = f"{where} answered HTTP {response.status_code}"
                    if response.status_code != 429 and response.status_code < 500:
                        raise SourceUnavailable(last)
                    retry_after = _retry_after(response.headers.get("retry-after"))
            except httpx.TimeoutException:
                last = f"{where} did not answer within {self.spec.timeout:g} s"
            except httpx.HTTPError as error:
                last = f"{where} could not be reached ({type(error).__name__})"
            if attempt < self.attempts:
                delay = RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)]
                self.sleep(min(max(delay, retry_after or 0), MAX_RETRY_AFTER))
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        raise SourceUnavailable(f"{last}{tries}")


def _read_bounded(response: httpx.Response, where: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_HTTP_BYTES:
        raise SourceUnavailable(
            f"{where} sent {int(declared):,} bytes, more than the 10 MB allowed"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_HTTP_BYTES:
            raise SourceUnavailable(f"{where} sent more than the 10 MB allowed; stopped reading")
        chunks.append(chunk)
    return b"".join(chunks)


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
            yield FolderSource(unit, folder, settle_seconds=settle_seconds, sleep=sleep)
