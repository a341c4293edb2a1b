"""authorization links without an expiry (Codat's work until used)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 10:05:00.000000
"""

from __future__ import annotations

from alembic import op

import storage.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot alter a column in place, so Alembic copies the table there.
    with op.batch_alter_table("auth_links") as batch:
        batch.alter_column("expires_at", existing_type=storage.tables.UTCDateTime(timezone=True), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("auth_links") as batch:
        batch.alter_column("expires_at", existing_type=storage.tables.UTCDateTime(timezone=True), nullable=False)
