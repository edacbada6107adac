"""Sources: where a unit's submissions come from.

A source yields payloads (bytes with a name) or says it is unavailable; it never parses.
Every source has the same small interface (``pull``), so a web form is one more source.
Each kind lives in its own module: ``inbox`` reads ``<data home>/inbox/<program>/<unit>/``,
``http`` GETs a URL. This module holds what they share. The office's mailbox
(``mailbox``) is not a unit's source but the program's: whose each mail is, is found from
what it carries (``replies``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from pilot_tracker.collect.payload import Payload
from pilot_tracker.ledger.program_file import FolderSourceSpec, HttpSourceSpec

if TYPE_CHECKING:
    from pilot_tracker.collect.inbox import InboxFile


@dataclass(frozen=True)
class NotTaken:
    """Something in the inbox a run will not take: a link, a hard link, a file in the wrong
    place. It is left where it is; ``reason`` is for the operator, ``notice`` (Chinese) for
    the office when the office should have the file moved ("" when it need not act)."""

    path: str
    reason: str
    notice: str = ""
    stamp: str = ""  # size and time of a reported file: a changed file is reported anew


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


class Deadline:
    """The moment a pull must be over, on the source's clock: every network step of it is
    given at most what is left."""

    def __init__(self, clock: Callable[[], float], seconds: float):
        self.clock = clock
        self.seconds = seconds
        self.at = clock() + seconds

    def left(self) -> float:
        return self.at - self.clock()

    def passed(self) -> bool:
        return self.left() <= 0

    def missed(self, where: str) -> str:
        return f"{where}: did not finish within its deadline of {self.seconds:g} s"


def redact_url(url: str) -> str:
    """A URL as it may be shown: scheme, host, port and path; no credentials, no query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def sources_of(
    program: str,
    unit: str,
    declared: list[FolderSourceSpec | HttpSourceSpec],
    *,
    inbox: Path,
    environ: Mapping[str, str],
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Source]:
    """The sources of a unit; with none declared, its inbox folder."""
    # The kinds build on this module's types, so they are imported when first asked for
    # (HTTP's only for a unit that has one: httpx takes a quarter of a second to import).
    from pilot_tracker.collect.inbox import FolderSource, inbox_folder

    folder = inbox_folder(inbox, program, unit)
    for spec in declared or [FolderSourceSpec(kind="folder")]:
        if isinstance(spec, HttpSourceSpec):
            from pilot_tracker.collect.http import HttpSource

            yield HttpSource(unit, spec, environ=environ, attempts=attempts, sleep=sleep)
        else:
            yield FolderSource(unit, folder, root=inbox)
