"""The database: migrations on SQLite and PostgreSQL, and SQLite's connection settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from pilot_tracker import db
from pilot_tracker.errors import DatabaseError

TABLES = {
    "program",
    "unit",
    "contact",
    "task_list",
    "task",
    "task_co_unit",
    "milestone",
    "indicator",
    "submission",
    "status_report",
    "indicator_reading",
    "rejection",
    "flag",
    "escalation",
    "notification",
    "report",
}


def test_migrations_create_every_table_on_an_empty_database(database_url: str) -> None:
    engine = db.make_engine(database_url)
    assert db.current_revision(engine) is None
    before, after = db.migrate(engine)
    assert (before, after) == (None, db.head_revision())
    assert set(sa.inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_migrating_again_changes_nothing(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    assert db.migrate(engine) == (db.head_revision(), db.head_revision())
    engine.dispose()


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    alembic_head = ScriptDirectory.from_config(db._alembic_config()).get_current_head()
    assert db.head_revision() == alembic_head


def test_the_stored_revision_is_read_as_alembic_reads_it(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine, "0004")
    with engine.connect() as connection:
        alembic_sees = MigrationContext.configure(connection).get_current_revision()
    assert db.current_revision(engine) == alembic_sees == "0004"
    engine.dispose()


def test_the_migrations_match_the_models(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_an_uninitialised_database_is_refused_with_what_to_do(database_url: str) -> None:
    engine = db.make_engine(database_url)
    with pytest.raises(
        DatabaseError, match=r"(not initialised|no database at .*); run `pilot-tracker init`"
    ):
        db.ensure_current(engine)
    engine.dispose()


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "pilot-tracker.db"
    engine = db.make_engine(f"sqlite:///{path}")
    with pytest.raises(DatabaseError) as caught:
        db.ensure_current(engine)
    assert str(caught.value) == f"no database at {path}; run `pilot-tracker init`"
    assert not path.exists()
    engine.dispose()


def test_a_sqlite_url_in_a_missing_folder_is_refused_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "no" / "such" / "dir"
    with pytest.raises(DatabaseError) as caught:
        db.make_engine(f"sqlite:///{folder / 'x.db'}")
    assert str(caught.value) == (
        f"no folder {folder} for the database sqlite:///{folder / 'x.db'}; create the folder, "
        "or set PILOT_TRACKER_DATABASE_URL to a file in a folder that exists"
    )
    assert not (tmp_path / "no").exists()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(
    sqlite_engine: sa.Engine,
) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_a_read_through_a_reads_only_engine_keeps_no_writer_waiting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    writer = db.make_engine(url)
    with writer.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    reader = db.make_engine(url, reads_only=True)
    other = sa.create_engine(url, connect_args={"timeout": 0.1})  # waits 0.1 s, no more
    with reader.begin() as reading:
        assert reading.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
        # Another process writes while the read's transaction is open: it gets the lock.
        with other.begin() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            connection.exec_driver_sql("COMMIT")
    with writer.begin() as blocking, pytest.raises(sa.exc.OperationalError, match="locked"):
        blocking.exec_driver_sql("SELECT count(*) FROM t")  # a writing engine's read: locked
        with other.begin() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    for engine in (writer, reader, other):
        engine.dispose()


def test_foreign_keys_are_enforced(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO unit (program_id, code, name, position) VALUES (9999, 'x', 'x', 0)"
            )
        )


def test_an_unreachable_database_is_one_clear_error() -> None:
    engine = db.make_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(DatabaseError) as caught:
        db.current_revision(engine)
    message = str(caught.value)
    assert message.startswith("cannot open the database postgresql+psycopg://nobody:***@")
    assert "secret" not in message


def test_a_malformed_url_is_refused() -> None:
    with pytest.raises(DatabaseError, match="is not valid"):
        db.make_engine("not a url")


def test_upgrading_keeps_what_an_older_schema_holds(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO program (code, name, level, start_date, end_date, timezone, cadence,"
                " deadline_day, rules, source_name, source_sha256, loaded_at, updated_at) VALUES"
                " ('demo', '演示', 'provincial', '2021-01-01', '2021-12-31', 'Asia/Shanghai',"
                " 'monthly', 25, '{}', 'demo.yaml', '', '2021-01-01', '2021-01-01')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO unit (program_id, code, name, position)"
                " SELECT id, 'jyj', '县教育局', 0 FROM program"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO contact (unit_id, role, name, title, phone)"
                " SELECT id, 'liaison', '', '联络员', '' FROM unit"
            )
        )
    assert db.migrate(engine) == ("0001", db.head_revision())
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT code, sources FROM unit")).one()
        contacts = connection.execute(sa.text("SELECT title FROM contact")).scalars().all()
        program = connection.execute(sa.text("SELECT calendar FROM program")).one()
    # Rebuilding a table on SQLite must not cascade into the rows that point at it.
    assert row.code == "jyj" and row.sources in ("[]", [])
    assert contacts == ["联络员"]
    assert program.calendar in ("{}", {})
    engine.dispose()
