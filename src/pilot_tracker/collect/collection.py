"""A collection run: every source of every unit of a program pulled once, every payload
taken in. One unit's broken source never stops the others; a source that is down marks
its unit unavailable (not lagging), and its files stay where they are for the next run.

A bug is not a source down: what a source raises beyond ``SOURCE_FAILURES``, or intake
beyond what it records as a rejection, is a fault of pilot-tracker. It is logged with its
traceback and recorded in the run's ``errors``, never reported as the unit's source being
unavailable; the unit is only spared flags on this run's evidence (``excused``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.alerts import outbox
from pilot_tracker.collect import replies
from pilot_tracker.collect.inbox import FolderSource, inbox_folder, settle_wait, survey_inbox
from pilot_tracker.collect.inbox import survey_root as survey_inbox_root
from pilot_tracker.collect.intake import (
    Codes,
    SubmissionSummary,
    archive_payload,
    record_failure,
    sweep_temporaries,
    take_payload,
)
from pilot_tracker.collect.mailbox import MailboxSource, MailPull
from pilot_tracker.collect.payload import Payload, display_name
from pilot_tracker.collect.reader import ReaderProcess, reader_of
from pilot_tracker.collect.sources import NotTaken, Pull, Source, sources_of
from pilot_tracker.errors import SourceError, SourceRefused
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import FolderSourceSpec, MailboxSpec, SourceSpec
from pilot_tracker.models import Program, Unit

log = logging.getLogger(__name__)
_SOURCE_SPECS = TypeAdapter(list[SourceSpec])
# A file that does not read as a whole file is left this long for its writer to finish.
ARCHIVE_AHEAD = 4  # payloads archived ahead of the one being taken in
INBOX_WAIT = timedelta(minutes=15)
# Archive temporaries older than this are a killed run's, and are swept.
TEMPORARY_AGE = timedelta(hours=1)
MISPLACED_TEMPLATE = "alerts/misplaced.txt.j2"
OFFICE_WARNINGS = 20
# When filing the mail taken failed: it is on record, and the next run files it.
UNFILED = "%d mail taken stay in the mailbox's folder until the next run files them: %s"
# What a source raises when it cannot be read this time (a TimeoutError, such as a task's
# time limit, is an OSError); anything else a pull raises is a bug of ours.
# The HTTP source turns every httpx error into SourceUnavailable; a folder raises OSError.
SOURCE_FAILURES: tuple[type[Exception], ...] = (SourceError, OSError)


@dataclass
class Unavailable:
    unit: str
    source: str
    error: str


@dataclass(frozen=True)
class Broken:
    """A source whose pull raised what no source should: a bug of ours, not the unit's."""

    unit: str
    source: str
    error: Exception


@dataclass
class CollectionResult:
    """What one collection run took in, and which units could not be reached."""

    as_of: date
    program: str
    submissions: list[SubmissionSummary] = field(default_factory=list)
    unavailable: list[Unavailable] = field(default_factory=list)
    waiting: list[dict[str, str]] = field(default_factory=list)
    not_taken: list[NotTaken] = field(default_factory=list)
    # sources and payloads a bug of ours failed on: unit, source, file, error, outcome
    errors: list[dict[str, str]] = field(default_factory=list)
    # units whose sources a bug left unread, or whose payload it left unrecorded
    unread: list[str] = field(default_factory=list)
    # the office's mailbox: one line per mail taken, and why it could not be read, if so
    mail: list[str] = field(default_factory=list)
    mailbox_error: str | None = None
    # the units whose mail the mailbox holds: all of the program's, when it has one
    mail_units: list[str] = field(default_factory=list)

    def excused(self) -> frozenset[str]:
        """The units this run cannot judge: their source was down, or a bug of ours kept
        what they sent from the record; they are not flagged on this run's evidence. Any
        unit may have answered by mail: a mailbox that could not be read spares them all."""
        down = self.mail_units if self.mailbox_error is not None else []
        return frozenset([item.unit for item in self.unavailable] + self.unread + down)

    @property
    def outcome(self) -> str:
        """What the run records: ``ok``, or which of our faults it met."""
        kinds = {
            "mail" if error["source"] == "mail" else "source" if not error["file"] else "intake"
            for error in self.errors
        }
        return ", ".join(f"{kind} errors" for kind in sorted(kinds, reverse=True)) or "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "program": self.program,
            "submissions": [summary.as_dict() for summary in self.submissions],
            "unavailable": [asdict(item) for item in self.unavailable],
            "waiting": self.waiting,
            "not_taken": [{"path": item.path, "reason": item.reason} for item in self.not_taken],
            "errors": self.errors,
            "unread": self.unread,
            "mail": self.mail,
            "mailbox_error": self.mailbox_error,
        }

    def lines(self) -> list[str]:
        """One line per unit that sent something or could not be reached, for the log."""
        lines = [
            f"{s.unit}: {s.status} {s.file} (imported {s.imported}, updated {s.updated}, "
            f"ignored {s.ignored}, rejected {s.rejected})"
            for s in self.submissions
        ]
        lines += [f"{u.unit}: unavailable ({u.source}): {u.error}" for u in self.unavailable]
        lines += [
            f"{w['unit']}: left for the next run: {w['file']} ({w['reason']})" for w in self.waiting
        ]
        lines += [f"not taken: {item.path}: {item.reason}" for item in self.not_taken]
        lines += self.mail
        if self.mailbox_error is not None:
            lines.append(f"mailbox: unavailable: {self.mailbox_error}")
        return lines + self.error_lines()

    def error_lines(self) -> list[str]:
        """One line per fault of ours: a payload intake failed on, or a source whose pull
        raised what no source should."""
        return [
            f"mail {e['file']}: taking it failed ({e['error']}); {e['outcome']}"
            if e["source"] == "mail"
            else f"{e['unit']}: intake failed on {e['file']} ({e['error']}); {e['outcome']}"
            if e["file"]
            else f"{e['unit']}: pulling its {e['source']} source failed ({e['error']}); "
            f"{e['outcome']}"
            for e in self.errors
        ]


def open_sources(
    *,
    engine: Engine,
    program: str,
    inbox: Path,
    environ: Mapping[str, str],
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Source]:
    """Every source of every unit of the program, in the ledger's order."""
    with db.session(engine) as session:
        record = store.get_program(session=session, code=program)
        units = session.exec(
            select(Unit).where(Unit.program_id == record.id).order_by(Unit.position)
        ).all()
        declared = [(unit.code, _SOURCE_SPECS.validate_python(unit.sources)) for unit in units]
    return [
        source
        for code, specs in declared
        for source in sources_of(
            program,
            code,
            specs,
            inbox=inbox,
            environ=environ,
            attempts=attempts,
            sleep=sleep,
        )
    ]


def open_mailbox(
    *,
    engine: Engine,
    program: str,
    environ: Mapping[str, str],
    clock: Callable[[], float] = time.monotonic,
) -> MailboxSource | None:
    """The office's mailbox of the program, if its program file declares one."""
    with db.session(engine) as session:
        declared = store.get_program(session=session, code=program).mailbox
    if not declared:
        return None
    spec = MailboxSpec.model_validate(declared)
    return MailboxSource(program, spec, environ=environ, clock=clock)


def take_mailbox(
    result: CollectionResult,
    *,
    engine: Engine,
    program: str,
    pull: MailPull | None,
    error: Exception | None,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> list[int]:
    """Take what the mailbox gave into ``result`` (or record why it could not be read);
    return the uids to file once the run is done with them."""
    with db.session(engine) as session:
        record = store.get_program(session=session, code=program)
        result.mail_units = list(
            session.exec(select(Unit.code).where(Unit.program_id == record.id))
        )
    if pull is None:
        result.mailbox_error = str(error) or type(error).__name__
        return []
    taken = replies.take_mail(
        engine=engine,
        program=program,
        pull=pull,
        as_of=as_of,
        now=now,
        home=home,
        templates=templates,
    )
    result.submissions += taken.submissions
    result.mail += [outcome.line() for outcome in taken.mail]
    result.errors += taken.errors
    if pull.more:
        result.mail.append("mailbox: more mail than one run takes; the rest comes next run")
    return taken.filed


def survey(*, engine: Engine, program: str, inbox: Path) -> list[NotTaken]:
    """What lies in the program's inbox where no run will take it, left in place.

    Files beside the unit folders, in unknown or miscased folders, in sub-folders of a
    unit folder, links, hard links and special files; read-only, so ``status`` uses it too.
    """
    with db.session(engine) as session:
        record = store.get_program(session=session, code=program)
        units = {
            unit.code: _reads_inbox(unit.sources)
            for unit in session.exec(select(Unit).where(Unit.program_id == record.id)).all()
        }
    found = survey_inbox(inbox, program, units)
    for code, reads in units.items():
        if reads:
            folder = FolderSource(code, inbox_folder(inbox, program, code), root=inbox)
            found += folder.scan()[1]
    return _unique(found)


def survey_root(*, inbox: Path, programs: Iterable[str]) -> list[NotTaken]:
    """What lies in the inbox outside every loaded program's folder, for ``status``."""
    return survey_inbox_root(inbox, programs)


def _reads_inbox(declared: list[Any]) -> bool:
    specs = _SOURCE_SPECS.validate_python(declared)
    return not specs or any(isinstance(spec, FolderSourceSpec) for spec in specs)


def _unique(items: Iterable[NotTaken]) -> list[NotTaken]:
    return list({item.path: item for item in items}.values())


def pull_folders(
    sources: Iterable[Source],
    *,
    settle_seconds: float,
    sleep: Callable[[float], None],
    now: datetime,
) -> list[Pull]:
    """Pull every folder source; where a file is younger than ``settle_seconds`` at ``now``,
    wait once, for all of them, until it is that old, so a half-copied file shows by its
    size or time changing (``inbox.settle_wait``). Files that landed before never wait."""
    folders = [source for source in sources if isinstance(source, FolderSource)]
    snapshots = [folder.snapshot() for folder in folders]
    wait = settle_wait(snapshots, settle_seconds, now)
    if wait > 0:
        sleep(wait)
    return [folder.pull(snapshot) for folder, snapshot in zip(folders, snapshots, strict=True)]


def down(source: Source, error: Exception) -> Pull:
    """The pull of a source that raised one of ``SOURCE_FAILURES``: its unit is unavailable."""
    return Pull(source.unit, source.kind, error=str(error) or type(error).__name__)


def take(
    *,
    engine: Engine,
    program: str,
    pulls: Iterable[Pull],
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
    not_taken: Iterable[NotTaken] = (),
    inbox_wait: timedelta = INBOX_WAIT,
    broken: Iterable[Broken] = (),
    reader: ReaderProcess | None = None,
) -> CollectionResult:
    """Take in what was pulled, each payload in its own transaction; record the ``broken``
    pulls as errors of the run. With a ``reader`` the payloads are read in its process,
    ahead of their turn.

    A pulled file that does not read as a whole file and was written less than
    ``inbox_wait`` before ``now`` is left for the next run. An inbox file leaves the inbox
    only once its payload is stored and archived, and only if it is still the file read.
    ``not_taken`` (from :func:`survey`) is reported, and the office is warned once of each
    file it should have moved.
    """
    result = CollectionResult(as_of=as_of, program=program)
    for item in broken:
        log.error(
            "pulling the %s source of unit %s failed", item.source, item.unit, exc_info=item.error
        )
        outcome = "not read: a fault of pilot-tracker (traceback in the log); tried next run"
        result.errors.append(
            {
                "unit": item.unit,
                "source": item.source,
                "file": "",
                "error": type(item.error).__name__,
                "outcome": outcome,
            }
        )
        result.unread.append(item.unit)
    swept = sweep_temporaries(home / "archive", before=now - TEMPORARY_AGE)
    if swept:
        log.info("removed %d archive temporaries left by an interrupted run", len(swept))
    found = list(not_taken)
    ready: list[tuple[Pull, Any]] = []
    for pull in pulls:
        found += pull.not_taken
        result.waiting += [
            {"unit": pull.unit, "file": name, "reason": reason}
            for name, reason in pull.waiting.items()
        ]
        if pull.error is not None:
            result.unavailable.append(Unavailable(pull.unit, pull.source, pull.error))
            continue
        for pulled in pull.pulled:
            if pulled.unfinished and _young(pulled.modified, now, inbox_wait):
                result.waiting.append(
                    {
                        "unit": pull.unit,
                        "file": pulled.payload.name,
                        "reason": f"may still be being copied: {pulled.unfinished}",
                    }
                )
                continue
            ready.append((pull, pulled))
    ledger = _Ledger.read(engine, program) if ready else None
    reading = reader.reading([pulled.payload for _, pulled in ready]) if reader else None
    taken_in = functools.partial(
        take_payload, codes=ledger.codes if ledger else None, reader=reader_of(reading)
    )
    with _ArchiveAhead(home) as archive:
        for index, (pull, pulled) in enumerate(ready):
            archive.settle(pulled.payload)
            next_ones = ready[index + 1 : index + 1 + ARCHIVE_AHEAD]
            archive.ahead([later.payload for _, later in next_ones])
            try:
                summary = _in_transaction(
                    taken_in,
                    engine,
                    program,
                    pull.unit,
                    pulled.payload,
                    as_of,
                    now,
                    home,
                    templates,
                    ledger=ledger,
                )
            except Exception as error:  # a bug: intake records what a unit sent wrong itself
                failed = _failed_intake(
                    engine, program, pull, pulled.payload, error, as_of, now, home, templates
                )
                result.errors.append(failed.error)
                if failed.summary is None:
                    result.unread.append(pull.unit)
                    continue
                summary = failed.summary
            result.submissions.append(summary)
            # Stored and archived whole (or, refused by its size, recorded as such): the
            # file leaves the inbox, unless another file has taken its name meanwhile.
            kept = pulled.inbox_file.remove() if pulled.inbox_file is not None else None
            if kept is not None:
                waiting = {"unit": pull.unit, "file": pulled.payload.name, "reason": kept}
                result.waiting.append(waiting)
    result.not_taken = _unique(found)
    if templates is not None:
        _warn_office(engine, program, result.not_taken, now, templates)
    return result


@dataclass
class _Ledger:
    """A program's record and its units', read once for a run's payloads: intake reads
    their fields and never changes them (detached from the session that read them); and
    the codes the payloads are checked against, read as intake first needs them."""

    program: Program
    units: dict[str, Unit]
    codes: Codes = field(default_factory=Codes)

    @classmethod
    def read(cls, engine: Engine, program: str) -> _Ledger:
        with db.session(engine) as session:
            record = store.get_program(session=session, code=program)
            units = session.exec(select(Unit).where(Unit.program_id == record.id)).all()
            session.expunge_all()  # loaded as they are, not expired when the block commits
        return cls(record, {unit.code: unit for unit in units})


class _ArchiveAhead:
    """Writes the archive copies of the next payloads (each file, its fsync and its
    folder's) in a thread while the one before them is taken in, so that the disk's waits
    overlap the work: intake's own ``archive_payload`` then finds the copy whole and writes
    nothing. A payload is taken in only once its copy ahead is done, so the order stays
    what intake promises: archived, then recorded, then out of the inbox."""

    def __init__(self, home: Path):
        self.home = home
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-ahead")
        self.pending: dict[int, Future[tuple[str, str]]] = {}

    def ahead(self, payloads: Iterable[Payload]) -> None:
        """Archive these payloads in turn, those not already on their way."""
        for payload in payloads:
            if id(payload) not in self.pending:
                self.pending[id(payload)] = self.pool.submit(_archive, self.home, payload)

    def settle(self, payload: Payload) -> None:
        future = self.pending.pop(id(payload), None)
        if future is not None:
            with contextlib.suppress(Exception):  # intake meets it again, and says what
                future.result()

    def __enter__(self) -> _ArchiveAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _archive(home: Path, payload: Payload) -> tuple[str, str]:
    return archive_payload(home, payload.data, payload.sha256)


def _in_transaction(
    intake: Callable[..., SubmissionSummary],
    engine: Engine,
    program: str,
    unit: str,
    payload: Payload,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
    ledger: _Ledger | None = None,
) -> SubmissionSummary:
    """One payload through ``intake`` (taken in, or recorded as failed) in its own
    transaction; the program and unit as ``ledger`` read them at the run's start, or read
    in it."""
    with db.session(engine) as session:
        if ledger is not None:
            record, member = ledger.program, ledger.units[unit]
        else:
            record, member = session.exec(
                select(Program, Unit)
                .join(Unit, Unit.program_id == Program.id)
                .where(Program.code == program, Unit.code == unit)
            ).one()
        return intake(
            session=session,
            program=record,
            unit=member,
            payload=payload,
            as_of=as_of,
            now=now,
            home=home,
            templates=templates,
        )


def _young(modified: datetime | None, now: datetime, wait: timedelta) -> bool:
    """Written within ``wait`` of ``now`` (either way: a clock a little ahead counts)."""
    return modified is not None and abs(now - modified) < wait


def _warn_office(
    engine: Engine,
    program: str,
    items: list[NotTaken],
    now: datetime,
    templates: outbox.Templates,
) -> None:
    """One message to the office per misplaced file, once (the dedup key names the file);
    at most ``OFFICE_WARNINGS`` new ones a run, so a flood reaches the office over days."""
    misplaced = [item for item in items if item.notice]
    if not misplaced:
        return
    with db.session(engine) as session:
        record: Program = store.get_program(session=session, code=program)
        warned = 0
        for item in misplaced:
            key = hashlib.sha256(f"{item.path}\0{item.stamp}".encode()).hexdigest()[:32]
            subject, body = templates.render(MISPLACED_TEMPLATE, program=record, item=item)
            queued = outbox.enqueue(
                session=session,
                program_id=record.id,
                dedup_key=f"misplaced:{program}:{key}",
                target="role:office",
                subject=subject,
                body=body,
                now=now,
            )
            warned += queued is not None
            if warned >= OFFICE_WARNINGS:
                break


@dataclass
class _Failed:
    error: dict[str, str]
    summary: SubmissionSummary | None


def _failed_intake(
    engine: Engine,
    program: str,
    pull: Pull,
    payload: Payload,
    error: Exception,
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> _Failed:
    """Intake raised: a bug of ours, not the unit's content. Record the payload as rejected
    (archived; the liaison is told the office will look at it), so the unit stays subject to
    its flags; the traceback goes to the log only. If even that fails, the file stays for
    the next run and the unit is not judged on this run (``unread``), though not unavailable."""
    name = display_name(payload.name)
    log.error("intake of %s for unit %s failed", name, pull.unit, exc_info=error)
    failure = {"unit": pull.unit, "source": pull.source, "file": name}
    failure["error"] = type(error).__name__
    try:
        summary = _in_transaction(
            record_failure, engine, program, pull.unit, payload, as_of, now, home, templates
        )
    except Exception:
        log.exception("recording the failed intake of %s for unit %s failed", name, pull.unit)
        failure["outcome"] = "not recorded; the file is left for the next run"
        return _Failed(failure, None)
    failure["outcome"] = f"archived as {summary.sha256[:12]} and recorded as rejected"
    return _Failed(failure, summary)


def collect(
    *,
    engine: Engine,
    program: str,
    as_of: date,
    now: datetime,
    home: Path,
    environ: Mapping[str, str],
    templates: outbox.Templates | None,
    settle_seconds: float = 1.0,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    inbox_wait: timedelta = INBOX_WAIT,
    reader: ReaderProcess | None = None,
) -> CollectionResult:
    """Pull every source of the program once and take in what came (read by ``reader``'s
    process when given)."""
    sources = open_sources(
        engine=engine,
        program=program,
        inbox=home / "inbox",
        environ=environ,
        attempts=attempts,
        sleep=sleep,
    )
    pulls = pull_folders(sources, settle_seconds=settle_seconds, sleep=sleep, now=now)
    broken: list[Broken] = []
    for source in sources:
        if isinstance(source, FolderSource):
            continue
        try:
            pulls.append(source.pull())
        except SOURCE_FAILURES as error:
            pulls.append(down(source, error))
        except Exception as error:  # a bug of ours: the run's error, not the unit's
            broken.append(Broken(source.unit, source.kind, error))
    result = take(
        engine=engine,
        program=program,
        pulls=pulls,
        as_of=as_of,
        now=now,
        home=home,
        templates=templates,
        not_taken=survey(engine=engine, program=program, inbox=home / "inbox"),
        inbox_wait=inbox_wait,
        broken=broken,
        reader=reader,
    )
    mailbox = open_mailbox(engine=engine, program=program, environ=environ)
    if mailbox is not None:
        pull, error = pull_mail(mailbox, engine=engine, program=program, attempts=attempts)
        filed = take_mailbox(
            result,
            engine=engine,
            program=program,
            pull=pull,
            error=error,
            as_of=as_of,
            now=now,
            home=home,
            templates=templates,
        )
        if pull is not None:
            file_mail(mailbox, filed, pull.uidvalidity)
    return result


def pull_mail(
    mailbox: MailboxSource, *, engine: Engine, program: str, attempts: int = 1
) -> tuple[MailPull | None, Exception | None]:
    """The mailbox's new mail, or why it could not be read (after ``attempts`` tries)."""
    known = replies.known_messages(engine=engine, program=program)
    error: Exception | None = None
    for _ in range(max(1, attempts)):
        try:
            return mailbox.pull(known), None
        except SourceRefused as refused:  # the set-up must change; trying again cannot help
            return None, refused
        except SOURCE_FAILURES as failure:
            error = failure
    return None, error


def file_mail(mailbox: MailboxSource, uids: list[int], uidvalidity: int) -> None:
    """Move the mail taken to the processed folder; if that fails, it stays where it is and
    the next run finds it on record and files it then."""
    if not uids:
        return
    try:
        mailbox.file(uids, uidvalidity)
    except SOURCE_FAILURES as error:
        log.warning(UNFILED, len(uids), error)
