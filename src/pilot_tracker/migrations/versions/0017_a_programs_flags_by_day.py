"""a program's flags by day: one index on (program_id, as_of) in place of the one on
program_id, so the latest day flagged and a day's flags are found without reading the
program's whole history of flags

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 21:30:00
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_flag_program_id_as_of", "flag", ["program_id", "as_of"])
    op.drop_index("ix_flag_program_id", table_name="flag")


def downgrade() -> None:
    op.create_index("ix_flag_program_id", "flag", ["program_id"])
    op.drop_index("ix_flag_program_id_as_of", table_name="flag")
