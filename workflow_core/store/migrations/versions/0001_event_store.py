"""The event store: append-only events (refused UPDATE/DELETE by triggers) and projections.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from workflow_core.store.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """create trigger events_refuse_update before update on events
       begin select raise(abort, 'events are append-only: UPDATE refused'); end""",
    """create trigger events_refuse_delete before delete on events
       begin select raise(abort, 'events are append-only: DELETE refused'); end""",
)

POSTGRES_TRIGGERS = (
    """create function events_refuse_change() returns trigger language plpgsql as $$
       begin raise exception 'events are append-only: % refused', tg_op; end $$""",
    """create trigger events_refuse_update_delete before update or delete on events
       for each row execute function events_refuse_change()""",
    """create trigger events_refuse_truncate before truncate on events
       for each statement execute function events_refuse_change()""",
)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("stream_id", sa.String(64), nullable=False),
        sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("stream_type", sa.String(16), nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("process_key", sa.String(64)),
        sa.Column("process_version", sa.Integer),
        sa.Column("node_key", sa.String(64)),
        sa.Column("task_id", sa.String(80)),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("department_id", sa.String(64)),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    )
    op.create_index("ix_events_process_occurred", "events", ["process_key", "occurred_at"])
    op.create_table(
        "instances",
        sa.Column("instance_id", sa.String(64), primary_key=True),
        sa.Column("process_key", sa.String(64), nullable=False),
        sa.Column("process_version", sa.Integer, nullable=False),
        sa.Column("applicant_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64)),
        sa.Column("supersedes", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("returns", sa.Integer, nullable=False),
        sa.Column("form", _json(), nullable=False),
        sa.Column("submitted_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("closed_at", UtcDateTime),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_instances_applicant", "instances", ["applicant_id", "submitted_at"])
    op.create_index("ix_instances_campaign_applicant", "instances", ["campaign_id", "applicant_id"])
    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(80), primary_key=True),
        sa.Column("instance_id", sa.String(64), nullable=False),
        sa.Column("node_key", sa.String(64), nullable=False),
        sa.Column("department_id", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignees", _json(), nullable=False),
        sa.Column("sla_hours", sa.Float, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("viewed_at", UtcDateTime),
        sa.Column("decided_at", UtcDateTime),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("reminders", sa.Integer, nullable=False),
        sa.Column("last_reminded_at", UtcDateTime),
    )
    op.create_index("ix_tasks_instance", "tasks", ["instance_id"])
    op.create_table(
        "inbox",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("task_id", sa.String(80), primary_key=True),
        sa.Column("instance_id", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_inbox_task", "inbox", ["task_id"])
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("process_key", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("holiday", sa.String(32), nullable=False),
        sa.Column("opens_at", UtcDateTime, nullable=False),
        sa.Column("deadline", UtcDateTime, nullable=False),
        sa.Column("audience", _json(), nullable=False),
        sa.Column("reminders", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("actor_id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", _json(), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("idempotency_keys", "campaigns", "inbox", "tasks", "instances", "events"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("drop function if exists events_refuse_change()")
