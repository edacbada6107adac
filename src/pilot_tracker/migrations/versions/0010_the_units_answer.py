"""the units answer through their personal links: link versions, acknowledgements of
notices, extension requests, and how a statement's answer arrived

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "unit", sa.Column("link_version", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "reconciliation",
        sa.Column("via", sa.String(length=10), nullable=False, server_default="cli"),
    )
    op.create_table(
        "acknowledgement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "level IN ('reminder', 'urge', 'interview')", name=op.f("ck_acknowledgement_level")
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation.id"],
            name=op.f("fk_acknowledgement_escalation_id_escalation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgement")),
        sa.UniqueConstraint(
            "escalation_id", "level", name=op.f("uq_acknowledgement_escalation_id_level")
        ),
    )
    op.create_index(op.f("ix_acknowledgement_escalation_id"), "acknowledgement", ["escalation_id"])
    op.create_table(
        "extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous_due", sa.Date(), nullable=False),
        sa.Column("proposed_due", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name=op.f("ck_extension_status")
        ),
        sa.CheckConstraint("via IN ('cli', 'portal')", name=op.f("ck_extension_via")),
        sa.CheckConstraint("proposed_due > previous_due", name=op.f("ck_extension_later")),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_extension_program_id_program")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_extension_unit_id_unit")),
        sa.ForeignKeyConstraint(["task_id"], ["task.id"], name=op.f("fk_extension_task_id_task")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension")),
    )
    for column in ("program_id", "unit_id", "task_id"):
        op.create_index(op.f(f"ix_extension_{column}"), "extension", [column])


def downgrade() -> None:
    for column in ("program_id", "unit_id", "task_id"):
        op.drop_index(op.f(f"ix_extension_{column}"), table_name="extension")
    op.drop_table("extension")
    op.drop_index(op.f("ix_acknowledgement_escalation_id"), table_name="acknowledgement")
    op.drop_table("acknowledgement")
    with op.batch_alter_table("reconciliation") as batch:
        batch.drop_column("via")
    with op.batch_alter_table("unit") as batch:
        batch.drop_column("link_version")
