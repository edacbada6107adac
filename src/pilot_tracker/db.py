"""The database: engines for SQLite and PostgreSQL, schema migrations, sessions.

Alembic is imported only to migrate: checking that a database is at the current schema
reads the revision Alembic stored and the migration files' own ``revision`` lines, so a
command that only reads starts without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session

from pilot_tracker.errors import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A migration file's own identity, as Alembic reads it: revision = "0009", down_revision = ...
_REVISION_LINE = re.compile(
    r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(?:['\"]([^'\"]+)['\"]|None)\s*$", re.MULTILINE
)


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def make_engine(url: str, *, create: bool = True, reads_only: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys.

    A SQLite file's folder must exist: a mistyped URL is an error, not a new empty
    database somewhere. With ``create`` false the file itself must exist too, so that a
    command that only reads never leaves an empty database behind.

    With ``reads_only``, a SQLite transaction begins deferred: it takes no write lock, so
    a writer in another process never waits for it (in WAL it reads the last commit).
    Nothing may be written through such an engine: a deferred transaction that writes
    can fail at once with "database is locked".
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"database URL {redact(url)} is not valid; use sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST:PORT/NAME"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(parsed)
        if path is not None and not create and not path.is_file():
            raise _no_database(path)
        if path is not None and not path.parent.is_dir():
            raise DatabaseError(
                f"no folder {path.parent} for the database {redact(url)}; create the folder, "
                "or set PILOT_TRACKER_DATABASE_URL to a file in a folder that exists"
            )
        return _sqlite_engine(parsed, immediate=not reads_only)
    return sa.create_engine(parsed, pool_pre_ping=True)


def sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or a URI filename."""
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return None
    if not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _no_database(path: Path) -> DatabaseError:
    return DatabaseError(f"no database at {path}; run `pilot-tracker init`")


def _sqlite_engine(url: sa.URL, immediate: bool = True) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so
        # that DDL in migrations is transactional too (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Take the write lock at the start: a deferred transaction that later wants to
        # write can fail at once with "database is locked", whatever the busy timeout,
        # when another process writes too (the scheduler and a CLI command, say).
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config  # imported here: only a migration needs Alembic

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The newest schema revision this version of pilot-tracker knows: the one revision
    of the migration files that no other file revises.

    Read from the files' ``revision`` and ``down_revision`` lines rather than through
    Alembic, which takes longer to import than a read-only command takes to run; a test
    checks that Alembic finds the same head.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found = dict(
            match.group(1, 2) for match in _REVISION_LINE.finditer(path.read_text("utf-8"))
        )
        if not found.get("revision"):
            raise DatabaseError(f"the migration {path.name} names no revision")
        revisions.add(found["revision"])
        if found.get("down_revision"):
            revised.add(found["down_revision"])
    heads = revisions - revised
    if len(heads) != 1:
        raise DatabaseError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None when it was never initialised."""
    with _connect(engine) as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        stored = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(stored) > 1:
        raise DatabaseError(
            f"the database {redact(str(engine.url))} is at {len(stored)} schema revisions at "
            "once; it was migrated by something other than pilot-tracker"
        )
    return stored[0][0] if stored else None


def migrate(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision`` (the newest by default); return (before, after).

    Idempotent, and transactional on both SQLite and PostgreSQL.
    """
    before = current_revision(engine)
    with _connect(engine) as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table by copying it and dropping the old one; with foreign
            # keys on, that drop would cascade into the rows that point at it. The pragma
            # only works outside a transaction, so it is set on the driver's connection.
            _driver(connection).execute("PRAGMA foreign_keys=OFF")
        try:
            from alembic import command  # imported here: only a migration needs Alembic

            with connection.begin():
                command.upgrade(_alembic_config(connection), revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise DatabaseError(
                            f"the migration left {len(broken)} rows pointing at nothing; "
                            "nothing was changed"
                        )
        finally:
            if sqlite:
                _driver(connection).execute("PRAGMA foreign_keys=ON")
    return before, current_revision(engine)


def _driver(connection: sa.Connection) -> Any:
    """The DB-API connection under a SQLAlchemy connection."""
    return connection.connection.dbapi_connection


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a database that is not initialised or not up to date."""
    path = sqlite_file(engine.url)
    if path is not None and not path.is_file():
        raise _no_database(path)  # before connecting, which would create it empty
    revision = current_revision(engine)
    if revision is None:
        raise DatabaseError(
            f"the database {redact(str(engine.url))} is not initialised; run `pilot-tracker init`"
        )
    if revision != head_revision():
        raise DatabaseError(
            f"the database {redact(str(engine.url))} is at schema revision {revision}, "
            f"this version needs {head_revision()}; run `pilot-tracker init` to migrate it"
        )


@contextmanager
def _connect(engine: Engine) -> Iterator[sa.Connection]:
    try:
        connection = engine.connect()
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        where = redact(str(engine.url))
        raise DatabaseError(f"cannot open the database {where}: {reason}") from None
    with connection:
        yield connection


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits when the block ends, and rolls back on error.
    Long work inside that writes nothing for a while may end the transaction early
    (``release``); the next statement begins another."""
    with Session(engine) as db_session:
        try:
            yield db_session
        except BaseException:
            db_session.rollback()
            raise
        db_session.commit()


def release(session: Session) -> None:
    """Commit what ``session`` did so far, keeping the objects it loaded as they are, so
    that it holds no lock until it next touches the database: a report printed for
    seconds after its figures were read keeps no other writer waiting (a SQLite database
    has one writer at a time; each transaction here takes the write lock as it begins)."""
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def stored_moment(moment: datetime) -> datetime:
    """A timestamp as it was stored, in UTC: SQLite gives it back without its zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_moment(moment: datetime, zone: str) -> datetime:
    """A stored timestamp in a program's time zone, as a page or a report shows it."""
    return stored_moment(moment).astimezone(ZoneInfo(zone))
