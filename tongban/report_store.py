"""`tongban report process KEY --from-store`: the report computed from the event store directly.

Reads every event of the streams that belong to KEY (a stream's events all count, as the
warehouse's `int_process__steps` takes a stream's process from any of its events) through the
driver, as the pipelines' extract does, and hands them to `warehouse.process_direct`, which runs
the warehouse's own process models over them in memory. No build, no publication, no Dagster.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import polars as pl
from sqlalchemy import Engine

from warehouse.process_direct import direct_report
from warehouse.process_report import UnknownProcessError
from warehouse.raw import RAW_EVENTS_SCHEMA

_COLUMNS: Final = ", ".join(RAW_EVENTS_SCHEMA)
_SQLITE: Final = (
    f"select {_COLUMNS} from events"
    " where stream_id in (select stream_id from events where process_key = ?)"
)
_PG_COLUMNS: Final = {
    "occurred_at": "occurred_at at time zone 'UTC'",
    "recorded_at": "recorded_at at time zone 'UTC'",
    "payload": "payload::text",
}
_POSTGRESQL: Final = (
    f"select {', '.join(_PG_COLUMNS.get(name, name) for name in RAW_EVENTS_SCHEMA)} from events"
    " where stream_id in (select stream_id from events where process_key = %s)"
)
# The times as text first: SQLite keeps a fixed naive-UTC form (workflow_core.store.schema).
_TEXT_TIMES: Final = {
    name: (pl.String() if name in ("occurred_at", "recorded_at") else kind)
    for name, kind in RAW_EVENTS_SCHEMA.items()
}


def read_process_events(engine: Engine, process_key: str) -> pl.DataFrame:
    """Every event of the streams of `process_key`, as a `raw_events` frame."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(_SQLITE if sqlite else _POSTGRESQL, (process_key,)).fetchall()
    frame = pl.DataFrame([tuple(row) for row in rows], schema=_TEXT_TIMES, orient="row")
    if sqlite:
        return frame.with_columns(
            pl.col("occurred_at", "recorded_at").str.to_datetime(
                "%Y-%m-%d %H:%M:%S%.f", time_unit="us"
            )
        )
    return frame.with_columns(pl.col("occurred_at", "recorded_at").str.to_datetime(time_unit="us"))


def store_processes(engine: Engine) -> list[str]:
    """The process keys the store's events name (an unknown key's error lists them)."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "select distinct process_key from events where process_key is not null"
            " order by process_key"
        ).fetchall()
    return [str(row[0]) for row in rows]


def store_report(db_url: str, process_key: str) -> dict[str, Any]:
    """The report of `process_key` from the event store at `db_url` (see the module)."""
    from workflow_core.store.db import make_engine

    engine = make_engine(db_url, write_lock_at_begin=False)
    try:
        events = read_process_events(engine, process_key)
        try:
            return direct_report(events, process_key, as_of=datetime.now(UTC))
        except UnknownProcessError:
            raise UnknownProcessError(process_key, store_processes(engine)) from None
    finally:
        engine.dispose()
