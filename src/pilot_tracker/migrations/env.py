"""Alembic environment: runs on the connection pilot-tracker hands it."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import pilot_tracker.models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through pilot_tracker.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
