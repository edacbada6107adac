"""a submission's size, and how much of it the archive holds (whole, or the first MB)

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Submissions taken before this revision were archived whole; their size is unknown.
    op.add_column("submission", sa.Column("size", sa.BigInteger(), nullable=True))
    op.add_column(
        "submission",
        sa.Column("archived", sa.String(length=10), nullable=False, server_default="whole"),
    )


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("archived")
        batch.drop_column("size")
