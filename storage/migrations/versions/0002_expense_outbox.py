"""expense outbox, receipts, reference cache, base currency

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20 22:59:59.044352
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_cache",
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("refreshed_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", "kind"),
    )
    op.create_table(
        "expenses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("submitted_by", sa.String(length=32), nullable=False),
        sa.Column("submission_key", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.String(length=40), nullable=False),
        sa.Column("merchant", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("sync_batch_id", sa.String(length=64), nullable=True),
        sa.Column("accounting_id", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.String(length=2000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_key"),
    )
    with op.batch_alter_table("expenses", schema=None) as batch_op:
        batch_op.create_index("expenses_by_state", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_expenses_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expenses_message_ts"), ["message_ts"], unique=False)
        batch_op.create_index(batch_op.f("ix_expenses_sync_batch_id"), ["sync_batch_id"], unique=False)

    op.create_table(
        "receipts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("expense_id", sa.String(length=36), nullable=False),
        sa.Column("slack_file_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("error_message", sa.String(length=1000), nullable=True),
        sa.Column("attachment_id", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expense_id"],
            ["expenses.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("expense_id", "slack_file_id", name="receipts_once_per_expense"),
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipts_expense_id"), ["expense_id"], unique=False)
        batch_op.create_index("receipts_by_state", ["state", "next_attempt_at"], unique=False)

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("base_currency", sa.String(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("base_currency")

    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index("receipts_by_state")
        batch_op.drop_index(batch_op.f("ix_receipts_expense_id"))

    op.drop_table("receipts")
    with op.batch_alter_table("expenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expenses_sync_batch_id"))
        batch_op.drop_index(batch_op.f("ix_expenses_message_ts"))
        batch_op.drop_index(batch_op.f("ix_expenses_company_id"))
        batch_op.drop_index("expenses_by_state")

    op.drop_table("expenses")
    op.drop_table("reference_cache")
