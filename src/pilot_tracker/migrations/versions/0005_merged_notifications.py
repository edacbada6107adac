"""notifications folded into a digest are marked merged

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 17:20:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notification_status"), type_="check")
        batch_op.create_check_constraint(
            "status", "status IN ('pending', 'sent', 'failed', 'merged')"
        )


def downgrade() -> None:
    op.execute("UPDATE notification SET status = 'sent' WHERE status = 'merged'")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notification_status"), type_="check")
        batch_op.create_check_constraint("status", "status IN ('pending', 'sent', 'failed')")
