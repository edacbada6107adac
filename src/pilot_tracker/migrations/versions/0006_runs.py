"""runs: a lock per program, and a record of each flow run

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=40), nullable=False),
        sa.Column("flow", sa.String(length=60), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_lock")),
        sa.UniqueConstraint("program", name=op.f("uq_run_lock_program")),
    )
    op.create_table(
        "run_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=40), nullable=False),
        sa.Column("flow", sa.String(length=60), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_record")),
    )
    with op.batch_alter_table("run_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_record_program"), ["program"], unique=False)


def downgrade() -> None:
    op.drop_table("run_record")
    op.drop_table("run_lock")
