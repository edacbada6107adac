"""a program's ledger revision: a token that changes whenever its ledger is loaded, so a
process may keep the ledger it read and know when it is out of date

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("program") as batch:
        batch.add_column(
            sa.Column("revision", sa.String(length=32), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("program") as batch:
        batch.drop_column("revision")
