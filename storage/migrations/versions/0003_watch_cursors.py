"""watch cursors

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-20 23:14:04.073810
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("watch_cursors")
