"""program calendar overrides; where each notification has been delivered

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 16:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivered_to", sa.JSON(), nullable=False, server_default="[]")
        )
    # Defaults only fill the rows that were there; new rows get theirs from the application.
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.alter_column("calendar", server_default=None)
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("delivered_to", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("delivered_to")
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.drop_column("calendar")
