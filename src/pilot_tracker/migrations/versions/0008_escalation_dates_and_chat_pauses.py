"""no escalation closes, or is raised, before it opened; chat addresses that asked us
to slow down are paused until a time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00

Rows that already break the rule (written by replaying an earlier day before it was
refused) are repaired, not dropped: the raise date moves up to the open date, the close
date to the later of the two, and the outcome keeps the date that was there, so the change
can be seen and undone by hand.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHECKS = {
    "raised_after_opened": "raised_on IS NULL OR raised_on >= opened_on",
    "closed_after_opened": "closed_on IS NULL OR closed_on >= opened_on",
    "closed_after_raised": "closed_on IS NULL OR raised_on IS NULL OR closed_on >= raised_on",
}


def _repair() -> None:
    connection = op.get_bind()
    escalation = sa.table(
        "escalation",
        sa.column("id", sa.Integer()),
        sa.column("opened_on", sa.Date()),
        sa.column("raised_on", sa.Date()),
        sa.column("closed_on", sa.Date()),
        sa.column("outcome", sa.Text()),
    )
    broken = connection.execute(
        sa.select(escalation).where(
            sa.or_(
                escalation.c.raised_on < escalation.c.opened_on,
                escalation.c.closed_on < escalation.c.opened_on,
                escalation.c.closed_on < escalation.c.raised_on,
            )
        )
    ).all()
    for row in broken:
        raised = max(row.raised_on, row.opened_on) if row.raised_on else None
        values = {"raised_on": raised}
        if row.closed_on is not None and row.closed_on < (raised or row.opened_on):
            closed = raised or row.opened_on
            values["closed_on"] = closed
            values["outcome"] = (
                f"{row.outcome}（数据修复：原关闭日期{row.closed_on.isoformat()}早于开启日期，"
                f"已改为{closed.isoformat()}）"
            )
        connection.execute(sa.update(escalation).where(escalation.c.id == row.id).values(**values))


def upgrade() -> None:
    _repair()
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(name, condition)
    op.create_table(
        "chat_pause",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_chat_pause")),
    )


def downgrade() -> None:
    op.drop_table("chat_pause")
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(op.f(f"ck_escalation_{name}"), type_="check")
