"""a city's work bulletin (工作简报): its settings, the register of its issues, and the
district offices' accounts of their practice (经验做法)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("city") as batch:
        batch.add_column(sa.Column("bulletin", sa.JSON(), nullable=True))
    op.create_table(
        "bulletin_issue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("paths", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.JSON(), nullable=False),
        sa.Column("generated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"],
            ["city.id"],
            name=op.f("fk_bulletin_issue_city_id_city"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletin_issue")),
        sa.UniqueConstraint("city_id", "period", name=op.f("uq_bulletin_issue_city_id_period")),
        sa.UniqueConstraint("city_id", "total", name=op.f("uq_bulletin_issue_city_id_total")),
        sa.UniqueConstraint(
            "city_id", "year", "number", name=op.f("uq_bulletin_issue_city_id_year_number")
        ),
    )
    with op.batch_alter_table("bulletin_issue") as batch:
        batch.create_index(batch.f("ix_bulletin_issue_city_id"), ["city_id"], unique=False)
    op.create_table(
        "practice_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["program.id"],
            name=op.f("fk_practice_account_program_id_program"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_account")),
        sa.UniqueConstraint(
            "program_id", "period", name=op.f("uq_practice_account_program_id_period")
        ),
    )
    with op.batch_alter_table("practice_account") as batch:
        batch.create_index(batch.f("ix_practice_account_program_id"), ["program_id"], unique=False)


def downgrade() -> None:
    op.drop_table("practice_account")
    op.drop_table("bulletin_issue")
    with op.batch_alter_table("city") as batch:
        batch.drop_column("bulletin")
