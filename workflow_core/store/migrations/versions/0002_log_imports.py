"""Imported event logs: one row per log, keyed by process key and the file's SHA-256.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workflow_core.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_imports",
        sa.Column("import_key", sa.String(128), primary_key=True),
        sa.Column("process_key", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("cases", sa.Integer, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("imported_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_log_imports_process_key", "log_imports", ["process_key"], unique=True)


def downgrade() -> None:
    op.drop_table("log_imports")
