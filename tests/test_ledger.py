"""The ledger: loading creates, reloading changes nothing, edits update in place, and
nothing that holds history is removed; YAML → database → XLSX/YAML → database round-trips."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from pilot_tracker import db
from pilot_tracker.errors import NotFoundError, ProgramFileError
from pilot_tracker.ledger import store
from pilot_tracker.ledger.program_file import ProgramSpec, read_program_file, validate_program
from pilot_tracker.models import Program, StatusReport, Submission, Task, Unit

from .conftest import EXAMPLES
from .test_program_file import SMALL

NOW = datetime(2021, 1, 4, 1, 0, tzinfo=UTC)


def load(engine: sa.Engine, spec: ProgramSpec, *, dry_run: bool = False) -> store.LoadResult:
    with db.session(engine) as session:
        return store.load_program(
            session=session,
            spec=spec,
            source_name="demo.yaml",
            source_sha256="0" * 64,
            now=NOW,
            dry_run=dry_run,
        )


def stored(engine: sa.Engine, code: str) -> ProgramSpec:
    with db.session(engine) as session:
        return store.read_program(session=session, code=code)


def small(**changes: Any) -> ProgramSpec:
    document = copy.deepcopy(SMALL)
    document.update(changes)
    return validate_program(document, "demo.yaml")


def table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in ("program", "unit", "contact", "task", "task_co_unit", "milestone")
        }


def test_loading_creates_the_program(engine: sa.Engine) -> None:
    result = load(engine, small())
    assert result.created and not result.unchanged
    assert result.counts == {"units": 3, "task_lists": 2, "tasks": 2, "indicators": 1}
    assert stored(engine, "demo") == small()


def test_loading_the_same_program_twice_changes_nothing(engine: sa.Engine) -> None:
    load(engine, small())
    before = table_counts(engine)
    with engine.connect() as connection:
        updated = connection.execute(sa.text("SELECT updated_at FROM program")).scalar_one()
    result = load(engine, small())
    assert result.unchanged
    assert result.as_dict()["outcome"] == "unchanged"
    assert table_counts(engine) == before
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT updated_at FROM program")).scalar_one() == updated


def test_an_edited_program_updates_in_place(engine: sa.Engine) -> None:
    load(engine, small())
    with db.session(engine) as session:
        task_id = session.exec(select(Task.id).where(Task.code == "T-01")).one()
    document = copy.deepcopy(SMALL)
    document["name"] = "演示县试点（修订）"
    document["units"].append({"code": "czj", "name": "县财政局"})
    document["tasks"][0]["title"] = "建立并运行青年工作联席会议制度"
    document["tasks"][0]["co_units"] = ["jyj", "czj"]
    del document["tasks"][1]
    result = load(engine, validate_program(document, "demo.yaml"))

    assert result.header_changed == ["name"]
    assert result.sections["units"].added == ["czj"]
    assert result.sections["tasks"].changed == ["T-01"]
    assert result.sections["tasks"].removed == ["T-02"]
    after = stored(engine, "demo")
    assert after == validate_program(document, "demo.yaml")
    with db.session(engine) as session:
        # Updated in place: the task keeps its identity, so its history stays attached.
        assert session.exec(select(Task.id).where(Task.code == "T-01")).one() == task_id


def revision(engine: sa.Engine) -> str:
    with db.session(engine) as session:
        return session.exec(select(Program.revision)).one()


def test_a_ledger_read_is_kept_until_it_is_loaded_again(engine: sa.Engine) -> None:
    load(engine, small())
    first = revision(engine)
    assert len(first) == 32 and int(first, 16) >= 0
    read = stored(engine, "demo")
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert stored(engine, "demo") is read  # kept: the program's own row is all it reads
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "FROM program" in selects[0]

    load(engine, small())  # unchanged: the same revision, the same ledger
    assert revision(engine) == first and stored(engine, "demo") is read

    document = copy.deepcopy(SMALL)
    document["tasks"][0]["title"] = "建立并运行青年工作联席会议制度"
    load(engine, validate_program(document, "demo.yaml"))  # the same ``now``, a new revision
    assert revision(engine) != first
    again = stored(engine, "demo")
    assert again.tasks[0].title == "建立并运行青年工作联席会议制度"
    assert again == validate_program(document, "demo.yaml")


def test_a_program_loaded_before_revisions_is_read_from_its_tables(engine: sa.Engine) -> None:
    load(engine, small())
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE program SET revision = ''"))
    one, two = stored(engine, "demo"), stored(engine, "demo")
    assert one == two == small() and one is not two


def test_a_dry_run_writes_nothing(engine: sa.Engine) -> None:
    result = load(engine, small(), dry_run=True)
    assert result.created and result.dry_run
    assert table_counts(engine)["program"] == 0


def test_removing_a_unit_or_task_with_history_is_refused(engine: sa.Engine) -> None:
    load(engine, small())
    with db.session(engine) as session:
        program = session.exec(select(Program)).one()
        unit = session.exec(select(Unit).where(Unit.code == "rsj")).one()
        task = session.exec(select(Task).where(Task.code == "T-02")).one()
        submission = Submission(
            program_id=program.id,
            unit_id=unit.id,
            source="folder",
            sha256="a" * 64,
            archive_path="archive/aa/" + "a" * 64,
            received_at=NOW,
            status="imported",
            imported=1,
        )
        session.add(submission)
        session.flush()
        session.add(
            StatusReport(
                submission_id=submission.id,
                task_id=task.id,
                unit_id=unit.id,
                period="2021-03",
                status="in_progress",
                percent=30,
                reported_on=date(2021, 3, 20),
            )
        )
    document = copy.deepcopy(SMALL)
    document["units"] = document["units"][:2]
    document["tasks"] = document["tasks"][:1]
    document["indicators"] = []
    with pytest.raises(ProgramFileError) as caught:
        load(engine, validate_program(document, "demo.yaml"))
    messages = [str(problem) for problem in caught.value.problems]
    assert any(
        'unit "rsj" is no longer in the file' in m and "1 status reports" in m for m in messages
    )
    assert any('task "T-02" is no longer in the file' in m for m in messages)
    assert stored(engine, "demo") == small()


def test_an_unknown_program_says_what_is_loaded(engine: sa.Engine) -> None:
    load(engine, small())
    with pytest.raises(NotFoundError, match='no program "nope"; loaded programs: demo'):
        stored(engine, "nope")


def test_list_programs(engine: sa.Engine) -> None:
    load(engine, small())
    with db.session(engine) as session:
        assert store.list_programs(session=session) == [
            {
                "code": "demo",
                "name": "演示县试点",
                "level": "provincial",
                "start": "2021-01-01",
                "end": "2021-12-31",
                "units": 3,
                "tasks": 2,
                "indicators": 1,
            }
        ]


@pytest.mark.parametrize("example", ["xiangshan", "yinzhou"])
@pytest.mark.parametrize("form", ["ledger.xlsx", "program.yaml"])
def test_round_trip_through_the_database_and_back(
    engine: sa.Engine, tmp_path: Path, example: str, form: str
) -> None:
    original = read_program_file(EXAMPLES / f"{example}.yaml")
    assert load(engine, original).created
    exported = tmp_path / form
    store.write_program_source(stored(engine, example), exported)

    again, _ = store.read_program_source(exported)
    assert again == original
    assert load(engine, again).unchanged


def test_an_unsupported_file_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "program.json"
    path.write_text("{}")
    with pytest.raises(ProgramFileError) as caught:
        store.read_program_source(path)
    assert 'unsupported file type ".json"' in str(caught.value.problems[0])
