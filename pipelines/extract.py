"""The sources as Polars frames: the event store's feed, the business systems, the catalog.

The event store is read through its driver (one `select` per batch, ordered by `event_id`),
because building SQLAlchemy rows for millions of events costs more than the query; a SQLite
store with more than a batch to read (a rebuild, a catch-up) is read by a child process through
ADBC (`pipelines.feed_process`). Times come out as naive UTC, the payload as JSON text: the
warehouse parses it in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import polars as pl
from sqlalchemy import Date, Engine, Integer, SmallInteger, Table, select

from pipelines.feed_process import stream_events, typed
from warehouse.raw import RAW_EVENTS_SCHEMA
from workflow_core.catalog.loader import Catalog
from workflow_core.directory.schema import BUSINESS_TABLES

EVENT_BATCH: Final = 200_000


_SQLITE_EVENTS: Final = (
    "select event_id, stream_id, stream_version, stream_type, occurred_at, recorded_at,"
    " event_type, process_key, process_version, node_key, task_id, actor_id, actor_role,"
    " department_id, schema_version, payload from events"
    " where event_id > ? order by event_id limit ?"
)
_POSTGRESQL_EVENTS: Final = (
    "select event_id, stream_id, stream_version, stream_type,"
    " occurred_at at time zone 'UTC', recorded_at at time zone 'UTC',"
    " event_type, process_key, process_version, node_key, task_id, actor_id, actor_role,"
    " department_id, schema_version, payload::text from events"
    " where event_id > %s order by event_id limit %s"
)


def high_water_mark(engine: Engine) -> int:
    """The largest `event_id` in the event store (0 when it is empty)."""
    with engine.connect() as conn:
        value = conn.exec_driver_sql("select max(event_id) from events").scalar()
    return int(value or 0)


def read_events(engine: Engine, after: int, limit: int = EVENT_BATCH) -> pl.DataFrame:
    """Up to `limit` events with `event_id > after`, in id order, as a raw_events frame.

    The store makes its feed gap-safe (appends are serialised, so ids become visible in order):
    reading by id after a cursor never skips an event that commits later.
    """
    sqlite = engine.dialect.name == "sqlite"
    sql = _SQLITE_EVENTS if sqlite else _POSTGRESQL_EVENTS
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(sql, (after, limit)).fetchall()
    if not sqlite:
        # psycopg hands `timestamptz at time zone 'UTC'` over as naive UTC datetimes.
        return pl.DataFrame([tuple(row) for row in rows], schema=RAW_EVENTS_SCHEMA, orient="row")
    return typed(
        pl.DataFrame(
            [tuple(row) for row in rows],
            schema={
                name: (pl.String if kind == pl.Datetime("us") else kind)
                for name, kind in RAW_EVENTS_SCHEMA.items()
            },
            orient="row",
        )
    )


def _sqlite_file(engine: Engine) -> Path | None:
    """The store's file, for a SQLite store kept in one (None: PostgreSQL, or in memory)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    return None if database.startswith("file:") else Path(database)


def iter_event_batches(
    engine: Engine, after: int, batch: int = EVENT_BATCH
) -> Iterator[pl.DataFrame]:
    """Successive batches after `after` until the store has nothing newer."""
    store = _sqlite_file(engine)
    if store is not None and high_water_mark(engine) - after > batch:
        yield from stream_events(store, after, batch)
        return
    cursor = after
    while True:
        frame = read_events(engine, cursor, batch)
        if frame.is_empty():
            return
        yield frame
        cursor = int(frame["event_id"][-1])
        if frame.height < batch:
            return


def _polars_type(table: Table, column: str) -> Any:
    kind = table.c[column].type
    if isinstance(kind, Date):
        return pl.Date
    if isinstance(kind, (Integer, SmallInteger)):
        return pl.Int64
    return pl.String


def read_business_tables(engine: Engine) -> dict[str, pl.DataFrame]:
    """Every business-systems table, whole, as `raw_business__<table>` frames."""
    frames: dict[str, pl.DataFrame] = {}
    with engine.connect() as conn:
        for table in BUSINESS_TABLES:
            schema = {column.name: _polars_type(table, column.name) for column in table.columns}
            rows = conn.execute(select(table)).fetchall()
            frames[f"raw_business__{table.name}"] = pl.DataFrame(
                [tuple(row) for row in rows], schema=schema, orient="row"
            )
    return frames


def catalog_frames(catalog: Catalog) -> dict[str, pl.DataFrame]:
    """The process catalog as two tables: processes and their nodes, in step order."""
    processes: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    for definition in catalog:
        processes.append(
            {
                "process_key": definition.key,
                "process_version": definition.version,
                "name_zh": definition.name.zh,
                "name_en": definition.name.en,
                "category": definition.category,
                "owner_department": definition.owner_department,
                "audience": ",".join(sorted(definition.audience)),
                "is_campaign": definition.campaign_based,
                "steps": len(definition.steps),
            }
        )
        for position, step in enumerate(definition.steps):
            for node in step.nodes:
                nodes.append(
                    {
                        "process_key": definition.key,
                        "process_version": definition.version,
                        "step": position,
                        "is_parallel": len(step.nodes) > 1,
                        "node_key": node.key,
                        "name_zh": node.name.zh,
                        "name_en": node.name.en,
                        "assignee_kind": node.assignee.kind.value,
                        "department": node.assignee.department,
                        "sla_hours": float(node.sla_hours),
                        "is_conditional": node.condition is not None,
                    }
                )
    process_schema = {
        "process_key": pl.String,
        "process_version": pl.Int64,
        "name_zh": pl.String,
        "name_en": pl.String,
        "category": pl.String,
        "owner_department": pl.String,
        "audience": pl.String,
        "is_campaign": pl.Boolean,
        "steps": pl.Int64,
    }
    node_schema = {
        "process_key": pl.String,
        "process_version": pl.Int64,
        "step": pl.Int64,
        "is_parallel": pl.Boolean,
        "node_key": pl.String,
        "name_zh": pl.String,
        "name_en": pl.String,
        "assignee_kind": pl.String,
        "department": pl.String,
        "sla_hours": pl.Float64,
        "is_conditional": pl.Boolean,
    }
    return {
        "raw_catalog__processes": pl.DataFrame(processes, schema=process_schema),
        "raw_catalog__nodes": pl.DataFrame(nodes, schema=node_schema),
    }


__all__ = [
    "EVENT_BATCH",
    "catalog_frames",
    "high_water_mark",
    "iter_event_batches",
    "read_business_tables",
    "read_events",
]
