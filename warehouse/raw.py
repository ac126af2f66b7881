"""The raw layer of the private working database: exact copies of what the sources hold.

`raw_events` mirrors the event store's `events` table (times as naive UTC `timestamp`, the
payload as JSON text); it only ever grows, and its largest `event_id` is the loader's cursor, so
a batch and its cursor commit together. `raw_business__<table>` are snapshots of the business
systems' tables, replaced whole on each refresh; `raw_catalog__*` describe the process catalog.
"""

from __future__ import annotations

from typing import Final

import duckdb
import polars as pl

RAW_EVENTS_COLUMNS: Final[dict[str, str]] = {
    "event_id": "bigint not null",
    "stream_id": "varchar not null",
    "stream_version": "integer not null",
    "stream_type": "varchar not null",
    "occurred_at": "timestamp not null",
    "recorded_at": "timestamp not null",
    "event_type": "varchar not null",
    "process_key": "varchar",
    "process_version": "integer",
    "node_key": "varchar",
    "task_id": "varchar",
    "actor_id": "varchar not null",
    "actor_role": "varchar not null",
    "department_id": "varchar",
    "schema_version": "integer not null",
    "payload": "json not null",
}


# The same columns as Polars types: what a batch handed to `append_events` looks like.
RAW_EVENTS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "event_id": pl.Int64(),
    "stream_id": pl.String(),
    "stream_version": pl.Int32(),
    "stream_type": pl.String(),
    "occurred_at": pl.Datetime("us"),
    "recorded_at": pl.Datetime("us"),
    "event_type": pl.String(),
    "process_key": pl.String(),
    "process_version": pl.Int32(),
    "node_key": pl.String(),
    "task_id": pl.String(),
    "actor_id": pl.String(),
    "actor_role": pl.String(),
    "department_id": pl.String(),
    "schema_version": pl.Int32(),
    "payload": pl.String(),
}


def ensure_versions(conn: duckdb.DuckDBPyConnection) -> None:
    """The change counter shared by sources and models (see `warehouse.modeling`), and the
    counter's identity: a new one whenever the counter starts over (a new working database, or
    one copied table by table, which loses its sequence), so that a version number plus the
    identity never names two different states of a table."""
    present = conn.execute(
        "select count(*) from duckdb_sequences()"
        " where database_name = current_database() and sequence_name = '_versions'"
    ).fetchall()[0][0]
    if not present:
        conn.execute("create sequence if not exists _versions start 1")
        conn.execute("create or replace table _versions_identity as select uuid()::varchar as id")
    conn.execute(
        "create table if not exists _source_state (source varchar primary key, version bigint)"
    )


def versions_identity(conn: duckdb.DuckDBPyConnection) -> str:
    """The identity of this working database's change counter (see `ensure_versions`)."""
    ensure_versions(conn)
    # A counter from before identities gets one now.
    conn.execute("create table if not exists _versions_identity as select uuid()::varchar as id")
    return str(conn.execute("select id from _versions_identity").fetchall()[0][0])


def mark_changed(conn: duckdb.DuckDBPyConnection, source: str) -> None:
    """Record that raw table `source` changed (inside the caller's transaction)."""
    ensure_versions(conn)
    # Delete and insert rather than upsert: a working database copied table by table keeps the
    # rows but not the key an upsert needs.
    conn.execute("delete from _source_state where source = ?", [source])
    conn.execute("insert into _source_state values (?, nextval('_versions'))", [source])


def ensure_raw_events(conn: duckdb.DuckDBPyConnection) -> None:
    columns = ",\n    ".join(f"{name} {kind}" for name, kind in RAW_EVENTS_COLUMNS.items())
    conn.execute(f"create table if not exists raw_events (\n    {columns}\n)")


def events_cursor(conn: duckdb.DuckDBPyConnection) -> int:
    """The largest `event_id` loaded so far (0 for an empty warehouse)."""
    ensure_raw_events(conn)
    rows = conn.execute("select coalesce(max(event_id), 0) from raw_events").fetchall()
    return int(rows[0][0])


def append_events(conn: duckdb.DuckDBPyConnection, batch: pl.DataFrame, after: int) -> int:
    """Append a batch read after cursor `after`; refuses a batch that does not follow on.

    The check and the insert run in one transaction: a rerun after a crash finds the cursor it
    left and neither duplicates nor skips an event.
    """
    if batch.is_empty():
        return 0
    expected = list(RAW_EVENTS_COLUMNS)
    if batch.columns != expected:
        raise ValueError(f"event batch columns {batch.columns} differ from raw_events {expected}")
    first = int(batch["event_id"].min())  # type: ignore[arg-type]
    if first <= after:
        raise ValueError(f"event batch starts at event_id {first}, not after the cursor {after}")
    frame = batch.rechunk()
    conn.begin()
    try:
        current = events_cursor(conn)
        if current != after:
            raise ValueError(
                f"raw_events moved from cursor {after} to {current} while a batch was read"
            )
        conn.register("event_batch", frame)
        conn.execute("insert into raw_events select * from event_batch")
        conn.unregister("event_batch")
        mark_changed(conn, "raw_events")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return frame.height


def replace_table(conn: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> int:
    """Replace raw table `name` with `frame` in one transaction (a snapshot of a source)."""
    conn.begin()
    try:
        conn.register("source_frame", frame.rechunk())
        conn.execute(f"create or replace table {name} as select * from source_frame")
        conn.unregister("source_frame")
        mark_changed(conn, name)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return frame.height


def drop_events_after(conn: duckdb.DuckDBPyConnection, cursor: int) -> int:
    """Delete the events after `cursor`, in one transaction with the change mark; the count."""
    ensure_raw_events(conn)
    conn.begin()
    try:
        rows = conn.execute("delete from raw_events where event_id > ?", [cursor]).fetchall()
        dropped = int(rows[0][0]) if rows else 0
        if dropped:
            mark_changed(conn, "raw_events")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return dropped
