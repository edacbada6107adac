"""mail in: the office's mailbox on the program, the addresses units mail from, the mail
read and the files found in it, and mail headers on outbox messages

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("program", sa.Column("mailbox", sa.JSON(), nullable=True))
    with op.batch_alter_table("unit") as batch:
        batch.add_column(sa.Column("mail_from", sa.JSON(), nullable=True))
    op.execute("UPDATE unit SET mail_from = '[]'")
    with op.batch_alter_table("unit") as batch:
        batch.alter_column("mail_from", existing_type=sa.JSON(), nullable=False)
    op.add_column(
        "contact", sa.Column("email", sa.String(length=254), nullable=False, server_default="")
    )
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("headers", sa.JSON(), nullable=True))
    op.execute("UPDATE notification SET headers = '{}'")
    with op.batch_alter_table("notification") as batch:
        batch.alter_column("headers", existing_type=sa.JSON(), nullable=False)
    op.create_table(
        "mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_path", sa.String(length=500), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("archived", sa.String(length=10), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('taken', 'held', 'ignored', 'refused')", name=op.f("ck_mail_status")
        ),
        sa.CheckConstraint("archived IN ('whole', 'head')", name=op.f("ck_mail_archived")),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_mail_program_id_program")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_mail_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail")),
        sa.UniqueConstraint(
            "program_id", "message_key", name=op.f("uq_mail_program_id_message_key")
        ),
    )
    op.create_index(op.f("ix_mail_program_id"), "mail", ["program_id"])
    op.create_index(op.f("ix_mail_unit_id"), "mail", ["unit_id"])
    op.create_table(
        "mailpart",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_path", sa.String(length=500), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('submitted', 'held', 'quoted', 'skipped')",
            name=op.f("ck_mailpart_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["mail.id"], name=op.f("fk_mailpart_mail_id_mail"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_mailpart_unit_id_unit")),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_mailpart_submission_id_submission"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailpart")),
    )
    op.create_index(op.f("ix_mailpart_mail_id"), "mailpart", ["mail_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mailpart_mail_id"), table_name="mailpart")
    op.drop_table("mailpart")
    op.drop_index(op.f("ix_mail_unit_id"), table_name="mail")
    op.drop_index(op.f("ix_mail_program_id"), table_name="mail")
    op.drop_table("mail")
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("headers")
    op.drop_column("contact", "email")
    with op.batch_alter_table("unit") as batch:
        batch.drop_column("mail_from")
    op.drop_column("program", "mailbox")
