"""receipt readings: what was read from each shared file, by file and by sha256

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_readings",
        sa.Column("file_id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("merchant", sa.String(length=100), nullable=True),
        sa.Column("issue_date", sa.String(length=10), nullable=True),
        sa.Column("total", sa.String(length=40), nullable=True),
        sa.Column("tax", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("problem", sa.String(length=300), nullable=True),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("file_id"),
    )
    op.create_index("ix_receipt_readings_sha256", "receipt_readings", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_receipt_readings_sha256", table_name="receipt_readings")
    op.drop_table("receipt_readings")
