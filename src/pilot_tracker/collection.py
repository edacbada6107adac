"""A collection run: every source of every unit of a program pulled once, every payload
taken in. One unit's broken source never stops the others; a source that is down marks
its unit unavailable (not lagging), and its files stay where they are for the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import select

from pilot_tracker import db, ledger, outbox
from pilot_tracker.intake import (
    Payload,
    SubmissionSummary,
    display_name,
    record_failure,
    take_payload,
)
from pilot_tracker.models import Unit
from pilot_tracker.program_file import SourceSpec
from pilot_tracker.sources import FolderSource, Pull, Source, sources_of

log = logging.getLogger(__name__)
_SOURCE_SPECS = TypeAdapter(list[SourceSpec])


@dataclass
class Unavailable:
    unit: str
    source: str
    error: str


@dataclass
class CollectionResult:
    """What one collection run took in, and which units could not be reached."""

    as_of: date
    program: str
    submissions: list[SubmissionSummary] = field(default_factory=list)
    unavailable: list[Unavailable] = field(default_factory=list)
    waiting: list[dict[str, str]] = field(default_factory=list)
    # payloads intake failed on (a bug, not the unit's doing): unit, source, file, error
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "program": self.program,
            "submissions": [summary.as_dict() for summary in self.submissions],
            "unavailable": [asdict(item) for item in self.unavailable],
            "waiting": self.waiting,
            "errors": self.errors,
        }

    def lines(self) -> list[str]:
        """One line per unit that sent something or could not be reached, for the log."""
        lines = [
            f"{s.unit}: {s.status} {s.file} (imported {s.imported}, updated {s.updated}, "
            f"ignored {s.ignored}, rejected {s.rejected})"
            for s in self.submissions
        ]
        lines += [f"{u.unit}: unavailable ({u.source}): {u.error}" for u in self.unavailable]
        lines += [f"{w['unit']}: left for the next run: {w['file']}" for w in self.waiting]
        lines += [
            f"{e['unit']}: intake failed on {e['file']} ({e['error']}); {e['outcome']}"
            for e in self.errors
        ]
        return lines


def open_sources(
    *,
    engine: Engine,
    program: str,
    inbox: Path,
    environ: Mapping[str, str],
    settle_seconds: float = 0.0,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Source]:
    """Every source of every unit of the program, in the ledger's order."""
    with db.session(engine) as session:
        record = ledger.get_program(session=session, code=program)
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
            settle_seconds=settle_seconds,
            attempts=attempts,
            sleep=sleep,
        )
    ]


def pull_folders(
    sources: Iterable[Source], *, settle_seconds: float, sleep: Callable[[float], None]
) -> list[Pull]:
    """Pull every folder source, waiting once for all of them so half-copied files show."""
    folders = [source for source in sources if isinstance(source, FolderSource)]
    snapshots = [folder.snapshot() for folder in folders]
    if settle_seconds and any(snapshots):
        sleep(settle_seconds)
    return [folder.pull(snapshot) for folder, snapshot in zip(folders, snapshots, strict=True)]


def take(
    *,
    engine: Engine,
    program: str,
    pulls: Iterable[Pull],
    as_of: date,
    now: datetime,
    home: Path,
    templates: outbox.Templates | None,
) -> CollectionResult:
    """Take in what was pulled, each payload in its own transaction."""
    result = CollectionResult(as_of=as_of, program=program)
    for pull in pulls:
        result.waiting += [{"unit": pull.unit, "file": name} for name in pull.waiting]
        if pull.error is not None:
            result.unavailable.append(Unavailable(pull.unit, pull.source, pull.error))
            continue
        for pulled in pull.pulled:
            try:
                with db.session(engine) as session:
                    record = ledger.get_program(session=session, code=program)
                    unit = session.exec(
                        select(Unit).where(Unit.program_id == record.id, Unit.code == pull.unit)
                    ).one()
                    summary = take_payload(
                        session=session,
                        program=record,
                        unit=unit,
                        payload=pulled.payload,
                        as_of=as_of,
                        now=now,
                        home=home,
                        templates=templates,
                    )
            except Exception as error:  # one payload must not stop the others
                failed = _failed_intake(
                    engine, program, pull, pulled.payload, error, as_of, now, home, templates
                )
                result.errors.append(failed.error)
                if failed.summary is None:
                    result.unavailable.append(
                        Unavailable(
                            pull.unit, pull.source, f"intake failed: {type(error).__name__}"
                        )
                    )
                    continue
                summary = failed.summary
            result.submissions.append(summary)
            if pulled.inbox_file is not None:
                # Stored and archived: the file leaves the inbox.
                pulled.inbox_file.unlink(missing_ok=True)
    return result


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
    the next run and the unit counts as unavailable for this one."""
    name = display_name(payload.name)
    log.error("intake of %s for unit %s failed", name, pull.unit, exc_info=error)
    failure = {"unit": pull.unit, "source": pull.source, "file": name}
    failure["error"] = type(error).__name__
    try:
        with db.session(engine) as session:
            record = ledger.get_program(session=session, code=program)
            unit = session.exec(
                select(Unit).where(Unit.program_id == record.id, Unit.code == pull.unit)
            ).one()
            summary = record_failure(
                session=session,
                program=record,
                unit=unit,
                payload=payload,
                as_of=as_of,
                now=now,
                home=home,
                templates=templates,
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
) -> CollectionResult:
    """Pull every source of the program once and take in what came."""
    sources = open_sources(
        engine=engine,
        program=program,
        inbox=home / "inbox",
        environ=environ,
        settle_seconds=settle_seconds,
        attempts=attempts,
        sleep=sleep,
    )
    pulls = pull_folders(sources, settle_seconds=settle_seconds, sleep=sleep)
    pulls += [source.pull() for source in sources if not isinstance(source, FolderSource)]
    return take(
        engine=engine,
        program=program,
        pulls=pulls,
        as_of=as_of,
        now=now,
        home=home,
        templates=templates,
    )
