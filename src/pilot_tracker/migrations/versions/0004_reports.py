"""reports: the six-"has" of a task, evaluation weights, quarterly confirmations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("has", sa.String(length=20), nullable=True))
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evaluation", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.alter_column("evaluation", server_default=None)
    op.create_table(
        "reconciliation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('confirmed', 'disputed')", name=op.f("ck_reconciliation_status")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_reconciliation_program_id_program")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_reconciliation_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation")),
    )
    with op.batch_alter_table("reconciliation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_program_id"), ["program_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reconciliation_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_table("reconciliation")
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.drop_column("evaluation")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_column("has")
