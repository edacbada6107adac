"""The ledger (台账): programs, their units, task lists, tasks and indicators, in the database.

``load_program`` writes a validated ``ProgramSpec`` in one transaction and says what it
changed; ``read_program`` turns the stored ledger back into a ``ProgramSpec``, which is
what ``program show``, the ledger workbook and the submission templates are made from.

The program file's models (pydantic, YAML) are imported by the functions that read or
write a program whole, so that ``program list`` starts without them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, literal, union_all
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session, select

from pilot_tracker.errors import LedgerError, NotFoundError, Problem, ProgramFileError
from pilot_tracker.models import (
    Contact,
    Escalation,
    Flag,
    Indicator,
    IndicatorReading,
    Milestone,
    Program,
    StatusReport,
    Submission,
    Task,
    TaskCoUnit,
    TaskList,
    Unit,
)

if TYPE_CHECKING:
    from pilot_tracker.ledger.program_file import ProgramSpec

YAML_SUFFIXES = {".yaml", ".yml"}
WORKBOOK_SUFFIXES = {".xlsx"}
SECTION_KEYS = {"units": "code", "task_lists": "kind", "tasks": "code", "indicators": "code"}


@dataclass
class SectionChanges:
    """Codes added, changed and removed in one section of a program."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class LoadResult:
    """What loading a program file did (or, on a dry run, would do)."""

    program: str
    created: bool
    dry_run: bool
    header_changed: list[str]
    sections: dict[str, SectionChanges]
    counts: dict[str, int]

    @property
    def unchanged(self) -> bool:
        return not self.created and not self.header_changed and not any(self.sections.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "outcome": "created" if self.created else "unchanged" if self.unchanged else "updated",
            "dry_run": self.dry_run,
            "program_fields_changed": self.header_changed,
            "changes": {
                name: {"added": c.added, "changed": c.changed, "removed": c.removed}
                for name, c in self.sections.items()
            },
            "counts": self.counts,
        }


# --- reading ------------------------------------------------------------------------------


def list_programs(*, session: Session) -> list[dict[str, Any]]:
    """Every program with the size of its ledger, by code."""
    programs = session.exec(select(Program).order_by(Program.code)).all()
    rows = []
    for program in programs:
        rows.append(
            {
                "code": program.code,
                "name": program.name,
                "level": program.level,
                "start": program.start_date.isoformat(),
                "end": program.end_date.isoformat(),
                "units": _count(session, Unit, program.id),
                "tasks": _count(session, Task, program.id),
                "indicators": _count(session, Indicator, program.id),
            }
        )
    return rows


def get_program(*, session: Session, code: str) -> Program:
    """The program with this code, or a ``NotFoundError`` that says what exists."""
    program = session.exec(select(Program).where(Program.code == code)).first()
    if program is None:
        raise no_program(session=session, code=code)
    return program


def no_program(*, session: Session, code: str) -> NotFoundError:
    """The error for a program code not loaded, naming those that are."""
    known = session.exec(select(Program.code).order_by(Program.code)).all()
    hint = f"loaded programs: {', '.join(known)}" if known else "no program is loaded yet"
    return NotFoundError(
        f'no program "{code}"; {hint} (load one with `pilot-tracker program load FILE`)'
    )


# The ledgers read, by revision: a run over a province reads each program's ledger several
# times, and a ledger changes only when it is loaded again, under a new revision. A
# ``ProgramSpec`` is frozen, so one can be handed to every reader.
_READ: dict[str, ProgramSpec] = {}
_READ_KEPT = 512
_READ_LOCK = threading.Lock()  # a flow's programs may be read in threads of one process


def read_program(*, session: Session, code: str) -> ProgramSpec:
    """The stored ledger of a program, as a ``ProgramSpec``, in the order it was loaded.

    Kept under the program's revision, which every load that changes the ledger renews:
    the next read of the same revision, in any session, is a lookup."""
    return ledger_of(session=session, program=get_program(session=session, code=code))


def ledger_of(*, session: Session, program: Program) -> ProgramSpec:
    """``read_program`` of a program record already read."""
    return _kept(_READ, program, lambda: _read_ledger(session, program))


def _kept(cache: dict[str, Any], program: Program, read: Callable[[], Any]) -> Any:
    """What ``read`` gives for ``program``, kept in ``cache`` under its revision (at most
    ``_READ_KEPT`` revisions, the oldest dropped first)."""
    kept = cache.get(program.revision) if program.revision else None
    if kept is not None:
        return kept
    value = read()
    if program.revision:
        with _READ_LOCK:
            while len(cache) >= _READ_KEPT:
                cache.pop(next(iter(cache)))
            cache[program.revision] = value
    return value


@dataclass(frozen=True)
class LedgerIds:
    """The row ids of a program's units, tasks and indicators, by code."""

    units: dict[str, int]
    tasks: dict[str, int]
    indicators: dict[str, int]

    @cached_property
    def unit_codes(self) -> dict[int, str]:
        """The units' codes by id."""
        return {unit_id: code for code, unit_id in self.units.items()}

    @cached_property
    def task_codes(self) -> dict[int, str]:
        """The tasks' codes by id."""
        return {task_id: code for code, task_id in self.tasks.items()}

    @cached_property
    def indicator_codes(self) -> dict[int, str]:
        """The indicators' codes by id."""
        return {indicator_id: code for code, indicator_id in self.indicators.items()}


_IDS: dict[str, LedgerIds] = {}


def ids_of(*, session: Session, program: Program) -> LedgerIds:
    """The ids of the program's units, tasks and indicators by code, read in one query and
    kept under the program's revision, as its ledger is."""
    return _kept(_IDS, program, lambda: _read_ids(session, program))  # type: ignore[no-any-return]


def _read_ids(session: Session, program: Program) -> LedgerIds:
    found: dict[str, dict[str, int]] = {"unit": {}, "task": {}, "indicator": {}}
    tables = {"unit": Unit, "task": Task, "indicator": Indicator}
    union = union_all(
        *(
            sa_select(literal(kind), model.code, model.id).where(model.program_id == program.id)
            for kind, model in tables.items()
        )
    )
    for kind, code, row_id in session.connection().execute(union):
        found[kind][code] = row_id
    return LedgerIds(found["unit"], found["task"], found["indicator"])


def _read_ledger(session: Session, program: Program) -> ProgramSpec:
    from pilot_tracker.ledger.program_file import (
        ContactSpec,
        IndicatorSpec,
        MilestoneSpec,
        ProgramSpec,
        ReportingSpec,
        TaskListSpec,
        TaskSpec,
        UnitSpec,
        ValueYear,
    )

    units = session.exec(
        _columns(Unit).where(Unit.program_id == program.id).order_by(Unit.position)
    ).all()
    unit_codes = {unit.id: unit.code for unit in units}
    contacts = _group(
        session.exec(
            _columns(Contact)
            .join(Unit, Contact.unit_id == Unit.id)
            .where(Unit.program_id == program.id)
            .order_by(Contact.role)
        ).all(),
        "unit_id",
    )
    task_lists = session.exec(
        _columns(TaskList).where(TaskList.program_id == program.id).order_by(TaskList.position)
    ).all()
    list_kinds = {task_list.id: task_list.kind for task_list in task_lists}
    tasks = session.exec(
        _columns(Task).where(Task.program_id == program.id).order_by(Task.position)
    ).all()
    in_program = select(Task.id).where(Task.program_id == program.id)
    co_units = _group(
        session.exec(
            _columns(TaskCoUnit)
            .where(TaskCoUnit.task_id.in_(in_program))  # type: ignore[union-attr]
            .order_by(TaskCoUnit.position)
        ).all(),
        "task_id",
    )
    milestones = _group(
        session.exec(
            _columns(Milestone)
            .where(Milestone.task_id.in_(in_program))  # type: ignore[union-attr]
            .order_by(Milestone.planned_on)
        ).all(),
        "task_id",
    )
    indicators = session.exec(
        _columns(Indicator).where(Indicator.program_id == program.id).order_by(Indicator.position)
    ).all()

    return ProgramSpec(
        code=program.code,
        name=program.name,
        level=program.level,
        start=program.start_date,
        end=program.end_date,
        timezone=program.timezone,
        reporting=ReportingSpec(cadence=program.cadence, deadline=program.deadline_day),
        rules=program.rules,
        calendar=program.calendar,
        evaluation=program.evaluation,
        mailbox=program.mailbox,
        documents=program.documents,
        units=[
            UnitSpec(
                code=unit.code,
                name=unit.name,
                sources=unit.sources,
                mail_from=unit.mail_from,
                contacts=[
                    ContactSpec(
                        role=c.role, name=c.name, title=c.title, phone=c.phone, email=c.email
                    )
                    for c in contacts.get(unit.id, [])
                ],
            )
            for unit in units
        ],
        task_lists=[TaskListSpec(kind=tl.kind, name=tl.name) for tl in task_lists],
        tasks=[
            TaskSpec(
                code=task.code,
                title=task.title,
                list_kind=list_kinds[task.task_list_id],
                lead_unit=unit_codes[task.lead_unit_id],
                co_units=[unit_codes[link.unit_id] for link in co_units.get(task.id, [])],
                start=task.start_date,
                due=task.due_date,
                milestones=[
                    MilestoneSpec(planned_on=m.planned_on, percent=m.planned_percent)
                    for m in milestones.get(task.id, [])
                ],
                weight=task.weight,
                deliverable=task.deliverable,
                has=task.has,
            )
            for task in tasks
        ],
        indicators=[
            IndicatorSpec(
                code=indicator.code,
                name=indicator.name,
                level=indicator.level,
                measure=indicator.measure,
                baseline=ValueYear(value=indicator.baseline_value, year=indicator.baseline_year),
                target=ValueYear(value=indicator.target_value, year=indicator.target_year),
                direction=indicator.direction,
                owner=unit_codes[indicator.owner_unit_id],
            )
            for indicator in indicators
        ],
    )


def read_program_source(path: Path) -> tuple[ProgramSpec, str]:
    """A program from a program file (.yaml) or a ledger workbook (.xlsx), and its sha256."""
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        from pilot_tracker.ledger.program_file import read_program_file

        spec = read_program_file(path)
    elif suffix in WORKBOOK_SUFFIXES:
        from pilot_tracker.ledger import workbook  # imported here: it loads openpyxl

        spec = workbook.read_ledger_workbook(path)
    else:
        reason = (
            f'unsupported file type "{path.suffix}"; '
            "load a program file (.yaml) or a ledger workbook (.xlsx)"
        )
        raise ProgramFileError(path.name, [Problem("", reason)])
    return spec, hashlib.sha256(path.read_bytes()).hexdigest()


# Files from which a second process reads along: it takes about 0.4 s to start, and a
# program file about 20 ms to read and validate.
READ_ALONG_FROM = 24
READ_ALONG_DEADLINE = 300.0  # seconds a file may take the helper before it is read here


def read_program_sources(
    paths: Sequence[Path], *, along_from: int = READ_ALONG_FROM
) -> Iterator[tuple[ProgramSpec, str] | ProgramFileError]:
    """``read_program_source`` of each path, in order, as each is asked for: the program
    and its sha256, or the ``ProgramFileError`` that refuses the file.

    From ``along_from`` files, a helper process reads them from the last while this one
    reads from the first (and does what it does with each), until they meet: each file is
    read once, by one of the two (a file the helper has not begun is taken back). A file
    the helper could not read, or not in time, and every file once the helper is lost, is
    read here, so that its error is raised here, as without a helper. Close the iterator
    (or exhaust it) to stop the helper."""
    if len(paths) < along_from:
        yield from (_read_or_refusal(path) for path in paths)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from pilot_tracker.ledger.program_file import read_along  # all the helper imports

    # spawn: a fresh interpreter, whatever threads this process runs
    helper = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        along = [
            helper.submit(read_along, str(path)) if path.suffix.lower() in YAML_SUFFIXES else None
            for path in reversed(paths)
        ][::-1]
        for path, future in zip(paths, along, strict=True):
            if future is None or future.cancel():
                yield _read_or_refusal(path)
                continue
            try:
                outcome = future.result(timeout=READ_ALONG_DEADLINE)
            except Exception:  # the helper lost or late: this file is read here
                outcome = None
            yield outcome if outcome is not None else _read_or_refusal(path)
    finally:
        helper.shutdown(wait=False, cancel_futures=True)


def _read_or_refusal(path: Path) -> tuple[ProgramSpec, str] | ProgramFileError:
    try:
        return read_program_source(path)
    except ProgramFileError as error:
        return error


def write_program_source(spec: ProgramSpec, path: Path) -> None:
    """Write a program as a ledger workbook (.xlsx) or a program file (.yaml)."""
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        from pilot_tracker.ledger import workbook  # imported here: it loads openpyxl

        workbook.write_ledger_workbook(spec, path)
    elif suffix in YAML_SUFFIXES:
        from pilot_tracker.ledger.program_file import write_program_file

        write_program_file(spec, path)
    else:
        raise LedgerError(
            f'cannot write "{path.name}": name a .xlsx (ledger workbook) or .yaml file'
        )


# --- writing ------------------------------------------------------------------------------


def load_program(
    *,
    session: Session,
    spec: ProgramSpec,
    source_name: str,
    source_sha256: str,
    now: datetime,
    dry_run: bool = False,
) -> LoadResult:
    """Create or update a program from ``spec`` in the session's transaction.

    Loading the same spec twice writes nothing. Removing a unit, task or indicator that
    already has records (reports, readings, flags) is refused, since those would be lost.
    """
    program = session.exec(select(Program).where(Program.code == spec.code)).first()
    stored = read_program(session=session, code=spec.code) if program else None
    result = LoadResult(
        program=spec.code,
        created=program is None,
        dry_run=dry_run,
        header_changed=_header_changes(stored, spec),
        sections={name: _section_changes(stored, spec, name) for name in SECTION_KEYS},
        counts={name: len(getattr(spec, name)) for name in SECTION_KEYS},
    )
    if program is not None:
        _refuse_lossy_removals(session, program, result, source_name)
    if dry_run or result.unchanged:
        return result

    if program is None:
        program = Program(code=spec.code, loaded_at=now)  # type: ignore[call-arg]
    _apply_header(program, spec, source_name, source_sha256, now)
    session.add(program)
    session.flush()
    _write_ledger(session, program, spec, result)
    return result


def _header_changes(stored: ProgramSpec | None, spec: ProgramSpec) -> list[str]:
    from pilot_tracker.ledger.program_file import ProgramHeader

    if stored is None:
        return []
    changed = [
        name for name in ProgramHeader.model_fields if getattr(stored, name) != getattr(spec, name)
    ]
    for section, key in SECTION_KEYS.items():
        before = [getattr(item, key) for item in getattr(stored, section)]
        after = [getattr(item, key) for item in getattr(spec, section)]
        kept = set(before) & set(after)
        if [code for code in before if code in kept] != [code for code in after if code in kept]:
            changed.append(f"order of {section}")
    return changed


def _section_changes(stored: ProgramSpec | None, spec: ProgramSpec, name: str) -> SectionChanges:
    key = SECTION_KEYS[name]
    new = {str(getattr(item, key)): item for item in getattr(spec, name)}
    old = {str(getattr(item, key)): item for item in getattr(stored, name)} if stored else {}
    return SectionChanges(
        added=[code for code in new if code not in old],
        changed=[code for code in new if code in old and old[code] != new[code]],
        removed=[code for code in old if code not in new],
    )


# What the records of each section hang on: the rows that a removal would lose.
HISTORY: dict[str, tuple[Any, str, list[tuple[Any, Any, str]]]] = {
    "units": (
        Unit,
        "unit",
        [
            (Submission, Submission.unit_id, "submissions"),
            (StatusReport, StatusReport.unit_id, "status reports"),
            (Flag, Flag.unit_id, "flags"),
            (Escalation, Escalation.unit_id, "escalations"),
        ],
    ),
    "tasks": (
        Task,
        "task",
        [
            (StatusReport, StatusReport.task_id, "status reports"),
            (Flag, Flag.task_id, "flags"),
        ],
    ),
    "indicators": (
        Indicator,
        "indicator",
        [
            (IndicatorReading, IndicatorReading.indicator_id, "readings"),
            (Flag, Flag.indicator_id, "flags"),
        ],
    ),
}


def _refuse_lossy_removals(
    session: Session, program: Program, result: LoadResult, source: str
) -> None:
    problems: list[Problem] = []
    for section, (model, noun, records) in HISTORY.items():
        removed = result.sections[section].removed
        if not removed:
            continue
        rows = session.exec(
            select(model).where(model.program_id == program.id, model.code.in_(removed))
        ).all()
        for row in rows:
            held = _held(
                session, [(kind, column == row.id, name) for kind, column, name in records]
            )
            if held:
                problems.append(
                    Problem(f'{section} "{row.code}"', _lossy(f'{noun} "{row.code}"', held))
                )
    if problems:
        raise ProgramFileError(source, problems)


def _held(session: Session, checks: Iterable[tuple[type, Any, str]]) -> list[str]:
    held = []
    for model, condition, noun in checks:
        count = session.exec(select(func.count()).select_from(model).where(condition)).one()
        if count:
            held.append(f"{count} {noun}")
    return held


def _lossy(what: str, held: list[str]) -> str:
    return (
        f"{what} is no longer in the file, but the ledger holds {', '.join(held)} for it; "
        "keep it in the file so that history is not lost"
    )


def _apply_header(
    program: Program, spec: ProgramSpec, source_name: str, source_sha256: str, now: datetime
) -> None:
    program.name = spec.name
    program.level = spec.level.value
    program.start_date = spec.start
    program.end_date = spec.end
    program.timezone = spec.timezone
    program.cadence = spec.reporting.cadence.value
    program.deadline_day = spec.reporting.deadline
    program.rules = spec.rules.model_dump(mode="json", exclude_defaults=True)
    program.calendar = spec.calendar.model_dump(mode="json", exclude_defaults=True)
    program.evaluation = spec.evaluation.model_dump(mode="json", exclude_defaults=True)
    program.mailbox = spec.mailbox.model_dump(mode="json") if spec.mailbox else None
    program.documents = spec.documents.model_dump(mode="json") if spec.documents else None
    program.source_name = source_name[:255]
    program.source_sha256 = source_sha256
    program.updated_at = now
    program.revision = secrets.token_hex(16)


def _write_ledger(
    session: Session, program: Program, spec: ProgramSpec, result: LoadResult
) -> None:
    """Write what changed, a table at a time: inserts and updates in one statement each
    (a province's hundred programs load in seconds, not in ten thousand round trips)."""
    assert program.id is not None
    units = _upsert(
        session,
        Unit,
        program.id,
        "code",
        [
            (
                unit.code,
                {
                    "name": unit.name,
                    "sources": [source.model_dump(mode="json") for source in unit.sources],
                    "mail_from": list(unit.mail_from),
                    "position": position,
                },
            )
            for position, unit in enumerate(spec.units)
        ],
    )
    contacted = set(result.sections["units"].changed + result.sections["units"].added)
    _replace(
        session,
        Contact,
        Contact.unit_id,
        [units[code] for code in contacted],
        [
            {
                "unit_id": units[unit.code],
                "role": contact.role.value,
                "name": contact.name,
                "title": contact.title,
                "phone": contact.phone,
                "email": contact.email,
            }
            for unit in spec.units
            if unit.code in contacted
            for contact in unit.contacts
        ],
    )
    lists = _upsert(
        session,
        TaskList,
        program.id,
        "kind",
        [
            (task_list.kind.value, {"name": task_list.name, "position": position})
            for position, task_list in enumerate(spec.task_lists)
        ],
    )
    tasks = _upsert(
        session,
        Task,
        program.id,
        "code",
        [
            (
                task.code,
                {
                    "title": task.title,
                    "task_list_id": lists[task.list_kind.value],
                    "lead_unit_id": units[task.lead_unit],
                    "start_date": task.start,
                    "due_date": task.due,
                    "weight": task.weight,
                    "deliverable": task.deliverable,
                    "has": task.has,
                    "position": position,
                },
            )
            for position, task in enumerate(spec.tasks)
        ],
    )
    rewritten = [
        task
        for task in spec.tasks
        if task.code in result.sections["tasks"].changed + result.sections["tasks"].added
    ]
    _replace(
        session,
        TaskCoUnit,
        TaskCoUnit.task_id,
        [tasks[task.code] for task in rewritten],
        [
            {"task_id": tasks[task.code], "unit_id": units[co_unit], "position": position}
            for task in rewritten
            for position, co_unit in enumerate(task.co_units)
        ],
    )
    _replace(
        session,
        Milestone,
        Milestone.task_id,
        [tasks[task.code] for task in rewritten],
        [
            {
                "task_id": tasks[task.code],
                "planned_on": milestone.planned_on,
                "planned_percent": milestone.percent,
            }
            for task in rewritten
            for milestone in task.milestones
        ],
    )
    _upsert(
        session,
        Indicator,
        program.id,
        "code",
        [
            (
                indicator.code,
                {
                    "name": indicator.name,
                    "level": indicator.level.value,
                    "measure": indicator.measure,
                    "baseline_value": indicator.baseline.value,
                    "baseline_year": indicator.baseline.year,
                    "target_value": indicator.target.value,
                    "target_year": indicator.target.year,
                    "direction": indicator.direction.value,
                    "owner_unit_id": units[indicator.owner],
                    "position": position,
                },
            )
            for position, indicator in enumerate(spec.indicators)
        ],
    )
    # Remove what the file no longer holds, dependants first.
    for model, section in ((Indicator, "indicators"), (Task, "tasks")):
        _remove(session, model, program.id, "code", result.sections[section].removed)
    _remove(session, TaskList, program.id, "kind", result.sections["task_lists"].removed)
    _remove(session, Unit, program.id, "code", result.sections["units"].removed)
    session.flush()


def _upsert(
    session: Session,
    model: Any,
    program_id: int,
    key: str,
    rows: Sequence[tuple[str, dict[str, Any]]],
) -> dict[str, int]:
    """Insert or update rows by key, the new ones in one statement, the changed ones in
    another; return the id of every row of the program by key."""
    names = [name for name in rows[0][1]] if rows else []
    columns = [model.id, getattr(model, key), *(getattr(model, name) for name in names)]
    existing = {
        row[1]: row
        for row in session.execute(select(*columns).where(model.program_id == program_id))
    }
    added: list[dict[str, Any]] = []
    changed: list[tuple[int, dict[str, Any]]] = []
    for code, values in rows:
        row = existing.get(code)
        if row is None:
            added.append({"program_id": program_id, key: code, **values})
            continue
        update = {
            name: value for name, value in values.items() if row[2 + names.index(name)] != value
        }
        if update:
            changed.append((row[0], update))
    ids = {code: row[0] for code, row in existing.items()}
    if added:
        # Core, no ORM bookkeeping for rows only inserted; and no RETURNING in parameter
        # order, which SQLite can give only a row per statement: one INSERT of them all,
        # then the program's ids by key in one SELECT.
        table = model.__table__
        session.execute(insert(table), added)
        ids = dict(
            session.execute(
                select(table.c[key], table.c.id).where(table.c.program_id == program_id)
            ).all()
        )
    for id_, update in changed:  # few: a reload changes what an office edited
        session.execute(sa_update(model).where(model.id == id_).values(**update))
    return ids


def _replace(
    session: Session, model: Any, owner: Any, owners: list[int], rows: list[dict[str, Any]]
) -> None:
    """The rows of ``model`` that belong to ``owners`` (by the ``owner`` column), replaced
    by ``rows``."""
    if owners:
        session.execute(delete(model).where(owner.in_(owners)))
    if rows:
        session.execute(insert(model.__table__), rows)


def _remove(session: Session, model: Any, program_id: int, key: str, codes: list[str]) -> None:
    if codes:
        session.execute(
            delete(model).where(model.program_id == program_id, getattr(model, key).in_(codes))
        )


def _count(session: Session, model: Any, program_id: int | None) -> int:
    return session.exec(
        select(func.count()).select_from(model).where(model.program_id == program_id)
    ).one()


def _columns(model: Any) -> Any:
    """A select of a table's columns: rows that read like the model's objects, without
    building them (a program's ledger is some 300 of them, read on every flag)."""
    return select(*model.__table__.columns)


def _group(rows: Iterable[Any], key: str) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = {}
    for row in rows:
        grouped.setdefault(getattr(row, key), []).append(row)
    return grouped
