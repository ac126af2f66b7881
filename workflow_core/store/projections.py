"""Projections: the read tables the API serves (`instances`, `tasks`, `inbox`, `campaigns`).

Rows are a pure function of the folded state, so the live path (update after each command) and
the rebuild path (fold every stream from the log) write the same rows by construction; a test
proves it over long random command sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Table, delete

from workflow_core.domain.events import CAMPAIGN_EVENT_TYPES
from workflow_core.domain.evolve import evolve, evolve_campaign
from workflow_core.domain.state import CampaignState, InstanceState, TaskState, TaskStatus
from workflow_core.store.db import driver_executemany
from workflow_core.store.event_store import driver_binder, iter_all, json_text
from workflow_core.store.schema import PROJECTION_TABLES, campaigns, inbox, instances, tasks


def instance_row(state: InstanceState) -> dict[str, Any]:
    return {
        "instance_id": state.instance_id,
        "process_key": state.process_key,
        "process_version": state.process_version,
        "applicant_id": state.applicant_id,
        "campaign_id": state.campaign_id,
        "supersedes": state.supersedes,
        "status": state.status.value,
        "outcome": state.outcome,
        "step": state.step,
        "returns": state.returns,
        "form": state.form,
        "submitted_at": state.submitted_at,
        "updated_at": state.updated_at,
        "closed_at": state.closed_at,
        "version": state.version,
    }


def task_row(instance_id: str, task: TaskState) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "instance_id": instance_id,
        "node_key": task.node_key,
        "department_id": task.department_id,
        "step": task.step,
        "status": task.status.value,
        "assignees": list(task.assignees),
        "sla_hours": task.sla_hours,
        "created_at": task.created_at,
        "viewed_at": task.viewed_at,
        "decided_at": task.decided_at,
        "decided_by": task.decided_by,
        "reminders": task.reminders,
        "last_reminded_at": task.last_reminded_at,
    }


def inbox_rows(instance_id: str, task: TaskState) -> list[dict[str, Any]]:
    if task.status is not TaskStatus.OPEN:
        return []
    return [
        {
            "user_id": user,
            "task_id": task.task_id,
            "instance_id": instance_id,
            "created_at": task.created_at,
        }
        for user in task.assignees
    ]


# The rows above as the driver takes them, for the batched writer: in the order of the table's
# columns (as `_driver_statement` lists them), times bound by `to_time` (`time_binder`), JSON as
# text. A test holds each to `driver_binder` of its row.
_INSTANCE_COLUMNS = (
    "instance_id",
    "process_key",
    "process_version",
    "applicant_id",
    "campaign_id",
    "supersedes",
    "status",
    "outcome",
    "step",
    "returns",
    "form",
    "submitted_at",
    "updated_at",
    "closed_at",
    "version",
)
_TASK_COLUMNS = (
    "task_id",
    "instance_id",
    "node_key",
    "department_id",
    "step",
    "status",
    "assignees",
    "sla_hours",
    "created_at",
    "viewed_at",
    "decided_at",
    "decided_by",
    "reminders",
    "last_reminded_at",
)
_INBOX_COLUMNS = ("user_id", "task_id", "instance_id", "created_at")
assert tuple(c.name for c in instances.columns) == _INSTANCE_COLUMNS
assert tuple(c.name for c in tasks.columns) == _TASK_COLUMNS
assert tuple(c.name for c in inbox.columns) == _INBOX_COLUMNS


def instance_values(state: InstanceState, to_time: Callable[[Any], Any]) -> tuple[Any, ...]:
    """`instance_row(state)` bound for the driver."""
    return (
        state.instance_id,
        state.process_key,
        state.process_version,
        state.applicant_id,
        state.campaign_id,
        state.supersedes,
        state.status.value,
        state.outcome,
        state.step,
        state.returns,
        json_text(state.form),
        to_time(state.submitted_at),
        to_time(state.updated_at),
        to_time(state.closed_at),
        state.version,
    )


def task_values(
    instance_id: str, task: TaskState, to_time: Callable[[Any], Any]
) -> tuple[Any, ...]:
    """`task_row(instance_id, task)` bound for the driver."""
    return (
        task.task_id,
        instance_id,
        task.node_key,
        task.department_id,
        task.step,
        task.status.value,
        json_text(list(task.assignees)),
        task.sla_hours,
        to_time(task.created_at),
        to_time(task.viewed_at),
        to_time(task.decided_at),
        task.decided_by,
        task.reminders,
        to_time(task.last_reminded_at),
    )


def inbox_values(
    instance_id: str, task: TaskState, to_time: Callable[[Any], Any]
) -> list[tuple[Any, ...]]:
    """`inbox_rows(instance_id, task)` bound for the driver."""
    if task.status is not TaskStatus.OPEN:
        return []
    created_at = to_time(task.created_at)
    return [(user, task.task_id, instance_id, created_at) for user in task.assignees]


def campaign_row(state: CampaignState) -> dict[str, Any]:
    return {
        "campaign_id": state.campaign_id,
        "process_key": state.process_key,
        "title": state.title,
        "holiday": state.holiday,
        "opens_at": state.opens_at,
        "deadline": state.deadline,
        "audience": list(state.audience),
        "reminders": state.reminders,
        "version": state.version,
    }


def project_instance(conn: Connection, before: InstanceState, after: InstanceState) -> None:
    """Bring the projections of one instance from `before` to `after` (live path)."""
    upsert_rows(conn, instances, [instance_row(after)], ["instance_id"])
    old = {t.task_id: t for t in before.tasks}
    changed = [t for t in after.tasks if old.get(t.task_id) != t]
    if not changed:
        return
    upsert_rows(conn, tasks, [task_row(after.instance_id, t) for t in changed], ["task_id"])
    stale = [
        (user, t.task_id)
        for t in changed
        if (prev := old.get(t.task_id)) is not None
        for user in prev.assignees
        if t.status is not TaskStatus.OPEN or user not in t.assignees
    ]
    if stale:
        delete_rows(conn, inbox, ("user_id", "task_id"), stale)
    fresh = [
        row
        for t in changed
        for row in inbox_rows(after.instance_id, t)
        if (prev := old.get(t.task_id)) is None
        or prev.status is not TaskStatus.OPEN
        or row["user_id"] not in prev.assignees
    ]
    if fresh:
        insert_rows(conn, inbox, fresh)


def project_campaign(conn: Connection, state: CampaignState) -> None:
    upsert_rows(conn, campaigns, [campaign_row(state)], ["campaign_id"])


def rebuild(conn: Connection, batch: int = 5_000) -> dict[str, int]:
    """Empty every projection and fold the whole log into it again; returns row counts."""
    for table in PROJECTION_TABLES:
        conn.execute(delete(table))
    instance_states: dict[str, InstanceState] = {}
    campaign_states: dict[str, CampaignState] = {}
    for stored in iter_all(conn):
        sid = stored.stream_id
        if stored.event.TYPE in CAMPAIGN_EVENT_TYPES:
            camp = campaign_states.get(sid) or CampaignState(campaign_id=sid)
            campaign_states[sid] = evolve_campaign(camp, stored.event)
        else:
            inst = instance_states.get(sid) or InstanceState(instance_id=sid)
            instance_states[sid] = evolve(inst, stored.event)
    counts = {"instances": 0, "tasks": 0, "inbox": 0, "campaigns": 0}
    counts["instances"] = _insert_batches(
        conn, instances, (instance_row(s) for s in instance_states.values()), batch
    )
    counts["tasks"] = _insert_batches(
        conn,
        tasks,
        (task_row(s.instance_id, t) for s in instance_states.values() for t in s.tasks),
        batch,
    )
    counts["inbox"] = _insert_batches(
        conn,
        inbox,
        (
            r
            for s in instance_states.values()
            for t in s.tasks
            for r in inbox_rows(s.instance_id, t)
        ),
        batch,
    )
    counts["campaigns"] = _insert_batches(
        conn, campaigns, (campaign_row(s) for s in campaign_states.values()), batch
    )
    return counts


def _insert_batches(
    conn: Connection, table: Table, rows: Iterable[dict[str, Any]], batch: int
) -> int:
    """Insert complete rows of `table` in chunks, through the driver as `upsert_rows` does."""
    statement, columns = _driver_statement(conn.dialect, table, None)
    bind = driver_binder(conn.dialect.name, table, columns)
    total = 0
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(bind(row))
        if len(chunk) >= batch:
            driver_executemany(conn, statement, chunk)
            total += len(chunk)
            chunk = []
    if chunk:
        driver_executemany(conn, statement, chunk)
        total += len(chunk)
    return total


def upsert_rows(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert or replace projection rows by their key columns (one statement, built once).

    Every row names every column of `table` (the `*_row` functions above make them so). The
    rows go to the driver as one executemany (psycopg pipelines it): Core's per-value bind
    processing and its handling of each parameter set cost several times the upsert itself on
    SQLite (30,000 rows took 1.2 s, now 0.5 s) and a fifth of it on PostgreSQL.
    """
    if not rows:
        return
    driver_executemany(conn, *bound_rows(conn.dialect, table, rows, tuple(keys)))


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows naming every column of `table`, through the driver as `upsert_rows` does
    (a command's inbox rows and idempotency answer: Core's insert cost several times the
    statement)."""
    if not rows:
        return
    driver_executemany(conn, *bound_rows(conn.dialect, table, rows, None))


def bound_rows(
    dialect: Dialect,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: tuple[str, ...] | None,
    to_time: Callable[[datetime | None], Any] | None = None,
) -> tuple[str, list[tuple[Any, ...]]]:
    """The driver statement and parameters of `upsert_rows` (with `keys`) or `insert_rows`
    (without), for a writer that binds before it opens its transaction; `to_time` as in
    `driver_binder`."""
    statement, columns = _driver_statement(dialect, table, keys)
    bind = driver_binder(dialect.name, table, columns, to_time)
    return statement, [bind(row) for row in rows]


def delete_rows(
    conn: Connection, table: Table, keys: tuple[str, ...], values: Sequence[tuple[Any, ...]]
) -> None:
    """Delete the rows of `table` whose `keys` columns equal one of `values` (text or integer
    keys, which bind as they are), as one executemany of a statement built once: building
    Core's `tuple_(…).in_(…)` on every command cost more than running it."""
    if not values:
        return
    cache_key = (conn.dialect.name, table.name, keys)
    statement = _DELETES.get(cache_key)
    if statement is None:
        mark = "?" if conn.dialect.name == "sqlite" else "%s"
        quote = conn.dialect.identifier_preparer.quote
        matches = " and ".join(f"{quote(key)} = {mark}" for key in keys)
        statement = _DELETES[cache_key] = f"delete from {quote(table.name)} where {matches}"
    driver_executemany(conn, statement, [tuple(v) for v in values])


_DELETES: dict[tuple[str, str, tuple[str, ...]], str] = {}


def driver_statement(dialect: Dialect, table: Table, keys: tuple[str, ...] | None) -> str:
    """The driver SQL of `upsert_rows` (with `keys`) or `insert_rows` (without) for `table`,
    whose marks take every column in the table's order."""
    return _driver_statement(dialect, table, keys)[0]


def _driver_statement(
    dialect: Dialect, table: Table, keys: tuple[str, ...] | None
) -> tuple[str, tuple[str, ...]]:
    """INSERT of every column of `table` as driver SQL with positional marks (SQLite's `?`,
    psycopg's `%s`), ON CONFLICT (keys) DO UPDATE of the other columns when `keys` are given;
    and the columns in the order of its marks.

    Built once per dialect and table: building the Core statement on every command (its
    `excluded` columns above all) cost more than running it.
    """
    cache_key = (dialect.name, table.name, keys)
    built = _STATEMENTS.get(cache_key)
    if built is not None:
        return built
    if dialect.name not in ("sqlite", "postgresql"):  # pragma: no cover - see make_engine
        raise RuntimeError(f"unsupported dialect {dialect.name}")
    mark = "?" if dialect.name == "sqlite" else "%s"
    quote = dialect.identifier_preparer.quote
    columns = tuple(column.name for column in table.columns)
    statement = (
        f"insert into {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"values ({', '.join(mark for _ in columns)})"
    )
    if keys is not None:
        updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in keys)
        statement += f" on conflict ({', '.join(quote(k) for k in keys)}) do update set {updates}"
    built = _STATEMENTS[cache_key] = (statement, columns)
    return built


_STATEMENTS: dict[tuple[str, str, tuple[str, ...] | None], tuple[str, tuple[str, ...]]] = {}
