"""unit sources: where each unit's submissions come from

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:17:55.829203
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Units loaded before this revision keep the default: their inbox folder.
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sources", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.alter_column("sources", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_column("sources")
