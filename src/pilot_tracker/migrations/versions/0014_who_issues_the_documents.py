"""who issues a program's and a city's Word documents (公文): the documents section

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("program", "city"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("documents", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("city", "program"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("documents")
