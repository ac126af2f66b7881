"""Events to rows and back: envelope columns, a versioned JSON payload, and upcasters.

Stored payloads carry `schema_version`. When an event's shape changes, bump
`SCHEMA_VERSION`, and add an upcaster from the old version to the next in `UPCASTERS`; old
rows stay as they were written (the log is append-only) and are upcast on read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from workflow_core.domain.events import (
    EVENT_TYPES,
    Activity,
    CampaignOpened,
    Event,
    StoredEvent,
    TaskEvent,
)

SCHEMA_VERSION = 1
# An event's row as the drivers take it: the `events` table's columns but the id, in the table's
# order (the store's bulk writer and the log importer build their tuples so; each checks it).
EVENT_ROW_COLUMNS = (
    "stream_id",
    "stream_version",
    "stream_type",
    "occurred_at",
    "recorded_at",
    "event_type",
    "process_key",
    "process_version",
    "node_key",
    "task_id",
    "actor_id",
    "actor_role",
    "department_id",
    "schema_version",
    "payload",
)

# Fields that live in the envelope columns rather than in the payload.
_ENVELOPE = {"occurred_at", "actor_id", "actor_role"}
_TASK_COLUMNS = {"task": "task_id", "node": "node_key", "department": "department_id"}
# An imported activity's group (org:group) is the envelope's department.
_ACTIVITY_COLUMNS = {"group": "department_id"}
_DATETIME_FIELDS = {"opens_at", "deadline"}
_TUPLE_FIELDS = {"assignees", "audience", "student_ids"}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# (event_type, stored schema_version) -> function producing the payload of version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def to_row(
    event: Event,
    *,
    stream_id: str,
    stream_version: int,
    stream_type: str,
    process_key: str | None,
    process_version: int | None,
    recorded_at: datetime,
) -> dict[str, Any]:
    payload = payload_of(event)
    if isinstance(event, CampaignOpened):
        process_key = event.process_key
    return {
        "stream_id": stream_id,
        "stream_version": stream_version,
        "stream_type": stream_type,
        "occurred_at": event.occurred_at,
        "recorded_at": recorded_at,
        "event_type": event.TYPE,
        "process_key": process_key,
        "process_version": process_version,
        "node_key": event.node_key,
        "task_id": event.task_id,
        "actor_id": event.actor_id,
        "actor_role": event.actor_role,
        "department_id": event.department_id,
        "schema_version": SCHEMA_VERSION,
        "payload": payload,
    }


def payload_of(event: Event) -> dict[str, Any]:
    """The event's `payload` column before JSON: its fields but the envelope's, times as ISO
    text, tuples as lists."""
    payload: dict[str, Any] = {}
    values = event.__dict__  # a frozen dataclass without slots keeps its fields here
    for name in _payload_fields(type(event)):
        value = values[name]
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        payload[name] = value
    return payload


def _payload_fields(cls: type[Event]) -> tuple[str, ...]:
    """The fields of `cls` that go into the payload, in declaration order; worked out once per
    class (`dataclasses.fields` and the envelope checks on every event were a third of
    `to_row`)."""
    names = _PAYLOAD_FIELDS.get(cls)
    if names is None:
        names = _PAYLOAD_FIELDS[cls] = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if not (
                f.name in _ENVELOPE
                or (issubclass(cls, TaskEvent) and f.name in _TASK_COLUMNS)
                or (issubclass(cls, Activity) and f.name in _ACTIVITY_COLUMNS)
            )
        )
    return names


_PAYLOAD_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def from_row(row: Mapping[Any, Any]) -> StoredEvent:
    event_type = row["event_type"]
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        raise ValueError(f"event {row['event_id']}: unknown event type {event_type!r}")
    payload = upcast(event_type, int(row["schema_version"]), dict(row["payload"]))
    kwargs: dict[str, Any] = {
        "occurred_at": row["occurred_at"],
        "actor_id": row["actor_id"],
        "actor_role": row["actor_role"],
    }
    if issubclass(cls, TaskEvent):
        for name, column in _TASK_COLUMNS.items():
            kwargs[name] = row[column]
    elif cls is Activity:
        for name, column in _ACTIVITY_COLUMNS.items():
            kwargs[name] = row[column]
    for name, value in payload.items():
        if name in _DATETIME_FIELDS and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif name in _TUPLE_FIELDS and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return StoredEvent(
        event_id=int(row["event_id"]),
        stream_id=row["stream_id"],
        stream_version=int(row["stream_version"]),
        recorded_at=row["recorded_at"],
        process_key=row["process_key"],
        process_version=row["process_version"],
        event=cls(**kwargs),
    )


def upcast(event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"{event_type} payload has schema version {version}, newer than this code "
            f"({SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        step = UPCASTERS.get((event_type, version))
        if step is not None:
            payload = step(payload)
        version += 1
    return payload
