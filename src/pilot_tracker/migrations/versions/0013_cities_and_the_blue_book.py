"""cities over the pilots, their roll-up reports, and the annual blue book as a report kind

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "city",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("office", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_city")),
        sa.UniqueConstraint("code", name=op.f("uq_city_code")),
    )
    op.create_table(
        "city_program",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("program_code", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["city_id"], ["city.id"], name=op.f("fk_city_program_city_id_city"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_city_program")),
        sa.UniqueConstraint(
            "city_id", "program_code", name=op.f("uq_city_program_city_id_program_code")
        ),
    )
    with op.batch_alter_table("city_program") as batch:
        batch.create_index(batch.f("ix_city_program_city_id"), ["city_id"], unique=False)
    op.create_table(
        "city_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("paths", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.JSON(), nullable=False),
        sa.Column("generated_at", WHEN, nullable=False),
        sa.CheckConstraint("kind IN ('quarterly', 'half_year')", name=op.f("ck_city_report_kind")),
        sa.ForeignKeyConstraint(["city_id"], ["city.id"], name=op.f("fk_city_report_city_id_city")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_city_report")),
        sa.UniqueConstraint(
            "city_id", "kind", "period", name=op.f("uq_city_report_city_id_kind_period")
        ),
    )
    with op.batch_alter_table("city_report") as batch:
        batch.create_index(batch.f("ix_city_report_city_id"), ["city_id"], unique=False)
    with op.batch_alter_table("report") as batch:
        batch.drop_constraint(op.f("ck_report_kind"), type_="check")
        batch.create_check_constraint("kind", "kind IN ('quarterly', 'half_year', 'annual')")


def downgrade() -> None:
    op.execute("DELETE FROM report WHERE kind = 'annual'")
    with op.batch_alter_table("report") as batch:
        batch.drop_constraint(op.f("ck_report_kind"), type_="check")
        batch.create_check_constraint("kind", "kind IN ('quarterly', 'half_year')")
    op.drop_table("city_report")
    op.drop_table("city_program")
    op.drop_table("city")
