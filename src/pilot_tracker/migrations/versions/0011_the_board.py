"""the office's board: accounts, the programs each may see, sign-in sessions, the
throttle of failed sign-ins, interview records, and who closed or decided what

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "escalation",
        sa.Column("closed_by", sa.String(length=64), nullable=False, server_default=""),
    )
    op.add_column(
        "extension",
        sa.Column("decided_by", sa.String(length=64), nullable=False, server_default=""),
    )
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.CheckConstraint("role IN ('office', 'leader')", name=op.f("ck_account_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("name", name=op.f("uq_account_name")),
    )
    op.create_table(
        "account_program",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_account_program_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["program.id"],
            name=op.f("fk_account_program_program_id_program"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "program_id", name=op.f("pk_account_program")),
    )
    op.create_index(op.f("ix_account_program_program_id"), "account_program", ["program_id"])
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_login_session_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_login_session_token_sha256")),
    )
    op.create_index(op.f("ix_login_session_account_id"), "login_session", ["account_id"])
    op.create_table(
        "login_throttle",
        sa.Column("name_sha256", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", WHEN, nullable=False),
        sa.Column("locked_until", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("name_sha256", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "interview",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("attendees", sa.Text(), nullable=False),
        sa.Column("agreed", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation.id"],
            name=op.f("fk_interview_escalation_id_escalation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interview")),
    )
    op.create_index(op.f("ix_interview_escalation_id"), "interview", ["escalation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_interview_escalation_id"), table_name="interview")
    op.drop_table("interview")
    op.drop_table("login_throttle")
    op.drop_index(op.f("ix_login_session_account_id"), table_name="login_session")
    op.drop_table("login_session")
    op.drop_index(op.f("ix_account_program_program_id"), table_name="account_program")
    op.drop_table("account_program")
    op.drop_table("account")
    with op.batch_alter_table("extension") as batch:
        batch.drop_column("decided_by")
    with op.batch_alter_table("escalation") as batch:
        batch.drop_column("closed_by")
