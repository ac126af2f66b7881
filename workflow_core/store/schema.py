"""The event store's tables: the append-only `events` log and the projections the API reads.

`events` is the one source of truth. `instances`, `tasks`, `inbox` and `campaigns` are
projections, rebuilt from the events at will; `idempotency_keys` remembers each command's first
answer; `log_imports` remembers each imported event log (`tongban import-log`). Alembic
migrations (`workflow_core/store/migrations`) create exactly these tables, and a test compares the
migrated database with this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; `timestamptz` on PostgreSQL, ISO text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times are stored in UTC")
        value = value.astimezone(UTC)
        # SQLite keeps text: a fixed naive-UTC form sorts and compares correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> Any:
    return JSON().with_variant(JSONB(), "postgresql")


EventId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("event_id", EventId, primary_key=True, autoincrement=True),
    Column("stream_id", String(64), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("stream_type", String(16), nullable=False),  # instance | campaign
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("process_key", String(64)),
    Column("process_version", Integer),
    Column("node_key", String(64)),
    Column("task_id", String(80)),
    Column("actor_id", String(64), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("department_id", String(64)),
    Column("schema_version", Integer, nullable=False),
    Column("payload", _json(), nullable=False),
    UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    Index("ix_events_process_occurred", "process_key", "occurred_at"),
)

instances = Table(
    "instances",
    metadata,
    Column("instance_id", String(64), primary_key=True),
    Column("process_key", String(64), nullable=False),
    Column("process_version", Integer, nullable=False),
    Column("applicant_id", String(64), nullable=False),
    Column("campaign_id", String(64)),
    Column("supersedes", String(64)),
    Column("status", String(16), nullable=False),
    Column("outcome", String(16)),
    Column("step", Integer, nullable=False),
    Column("returns", Integer, nullable=False),
    Column("form", _json(), nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    Index("ix_instances_applicant", "applicant_id", "submitted_at"),
    Index("ix_instances_campaign_applicant", "campaign_id", "applicant_id"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(80), primary_key=True),
    Column("instance_id", String(64), nullable=False),
    Column("node_key", String(64), nullable=False),
    Column("department_id", String(64), nullable=False),
    Column("step", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("assignees", _json(), nullable=False),
    Column("sla_hours", Float, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("viewed_at", UtcDateTime),
    Column("decided_at", UtcDateTime),
    Column("decided_by", String(64)),
    Column("reminders", Integer, nullable=False),
    Column("last_reminded_at", UtcDateTime),
    Index("ix_tasks_instance", "instance_id"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("task_id", String(80), primary_key=True),
    Column("instance_id", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_inbox_task", "task_id"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("process_key", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("holiday", String(32), nullable=False),
    Column("opens_at", UtcDateTime, nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("audience", _json(), nullable=False),
    Column("reminders", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("actor_id", String(64), primary_key=True),
    Column("idempotency_key", String(128), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", _json(), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# One row per imported event log: `import_key` is "<process_key>:<sha256 of the file>". A process
# key belongs to one log; the same log under another key is another process.
log_imports = Table(
    "log_imports",
    metadata,
    Column("import_key", String(128), primary_key=True),
    Column("process_key", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("cases", Integer, nullable=False),
    Column("events", Integer, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Index("ix_log_imports_process_key", "process_key", unique=True),
)

PROJECTION_TABLES = (instances, tasks, inbox, campaigns)
