"""JSON views of instances, tasks, events and campaigns: the shapes the API returns.

Built from projection rows (the same dicts the projections store), so a command's answer and a
later GET show the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from workflow_core.catalog.model import ProcessDefinition
from workflow_core.domain.events import StoredEvent
from workflow_core.store.serialization import to_row


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_view(row: Mapping[Any, Any], definition: ProcessDefinition | None) -> dict[str, Any]:
    name = None
    if definition is not None:
        try:
            node = definition.node(row["node_key"])
            name = {"zh": node.name.zh, "en": node.name.en}
        except KeyError:
            name = None
    return {
        "task_id": row["task_id"],
        "instance_id": row["instance_id"],
        "node_key": row["node_key"],
        "node_name": name,
        "department_id": row["department_id"],
        "step": row["step"],
        "status": row["status"],
        "assignees": list(row["assignees"]),
        "sla_hours": row["sla_hours"],
        "created_at": iso(row["created_at"]),
        "viewed_at": iso(row["viewed_at"]),
        "decided_at": iso(row["decided_at"]),
        "decided_by": row["decided_by"],
        "reminders": row["reminders"],
    }


def instance_view(
    row: Mapping[Any, Any],
    task_rows: Sequence[Mapping[Any, Any]],
    definition: ProcessDefinition | None,
) -> dict[str, Any]:
    return {
        "instance_id": row["instance_id"],
        "process_key": row["process_key"],
        "process_version": row["process_version"],
        "process_name": (
            {"zh": definition.name.zh, "en": definition.name.en} if definition else None
        ),
        "applicant_id": row["applicant_id"],
        "campaign_id": row["campaign_id"],
        "supersedes": row["supersedes"],
        "status": row["status"],
        "outcome": row["outcome"],
        "returns": row["returns"],
        "form": row["form"],
        "submitted_at": iso(row["submitted_at"]),
        "updated_at": iso(row["updated_at"]),
        "closed_at": iso(row["closed_at"]),
        "version": row["version"],
        "tasks": [task_view(t, definition) for t in sorted(task_rows, key=_task_order)],
    }


def _task_order(row: Mapping[Any, Any]) -> tuple[int, int]:
    # Task ids end in -t<n>: sort numerically so t10 follows t9.
    suffix = str(row["task_id"]).rsplit("-t", 1)[-1]
    return (int(row["step"]), int(suffix) if suffix.isdigit() else 0)


def event_view(stored: StoredEvent) -> dict[str, Any]:
    row = to_row(
        stored.event,
        stream_id=stored.stream_id,
        stream_version=stored.stream_version,
        stream_type="",
        process_key=stored.process_key,
        process_version=stored.process_version,
        recorded_at=stored.recorded_at,
    )
    return {
        "event_id": stored.event_id,
        "stream_id": stored.stream_id,
        "stream_version": stored.stream_version,
        "event_type": row["event_type"],
        "occurred_at": iso(row["occurred_at"]),
        "recorded_at": iso(row["recorded_at"]),
        "process_key": row["process_key"],
        "process_version": row["process_version"],
        "node_key": row["node_key"],
        "task_id": row["task_id"],
        "actor_id": row["actor_id"],
        "actor_role": row["actor_role"],
        "department_id": row["department_id"],
        "payload": row["payload"],
    }


def campaign_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "campaign_id": row["campaign_id"],
        "process_key": row["process_key"],
        "title": row["title"],
        "holiday": row["holiday"],
        "opens_at": iso(row["opens_at"]),
        "deadline": iso(row["deadline"]),
        "audience": list(row["audience"]),
        "reminders": row["reminders"],
        "version": row["version"],
    }
