"""Process reports computed without a build: from the event store, or from a log file.

`tongban report process KEY --from-store` reads every event of the streams that belong to KEY (a
stream's events all count, as the warehouse's `int_process__steps` takes a stream's process from
any of its events) through the driver, as the pipelines' extract does. `tongban report log FILE`
reads and validates the file with the importer's reader, and makes the very rows an import would
write, in memory. Either way `warehouse.process_direct` runs the warehouse's own process models
over those rows in memory. No build, no publication, no Dagster.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from tongban.xes_frame import read_events_frame
from warehouse.process_direct import direct_report
from warehouse.process_report import UnknownProcessError
from warehouse.raw import RAW_EVENTS_SCHEMA
from workflow_core.importing.csv_log import read_csv
from workflow_core.importing.model import LogBytes, LogColumns, ParsedLog, read_log_bytes
from workflow_core.importing.rows import EVENT_COLUMNS, log_values
from workflow_core.importing.xes import read_xes

if TYPE_CHECKING:  # a report of a file never loads SQLAlchemy
    from sqlalchemy import Engine

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
    if not sqlite:  # psycopg hands back the times as datetimes already (naive UTC)
        return pl.DataFrame([tuple(row) for row in rows], schema=RAW_EVENTS_SCHEMA, orient="row")
    frame = pl.DataFrame([tuple(row) for row in rows], schema=_TEXT_TIMES, orient="row")
    return _times(frame, sqlite)


def _times(frame: pl.DataFrame, sqlite: bool) -> pl.DataFrame:
    if sqlite:
        return frame.with_columns(
            pl.col("occurred_at", "recorded_at").str.to_datetime(
                "%Y-%m-%d %H:%M:%S%.f", time_unit="us"
            )
        )
    return frame.with_columns(pl.col("occurred_at", "recorded_at").str.to_datetime(time_unit="us"))


def log_events(log: ParsedLog, process_key: str, *, now: datetime) -> pl.DataFrame:
    """The rows an import of `log` would write to a SQLite store, numbered from 1, as a
    `raw_events` frame."""
    rows = list(log_values(log, process_key, now=now))
    schema = {name: _TEXT_TIMES[name] for name in EVENT_COLUMNS}
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    frame = frame.with_columns(pl.int_range(1, len(rows) + 1, dtype=pl.Int64).alias("event_id"))
    return _times(frame.select(list(RAW_EVENTS_SCHEMA)), sqlite=True)


def log_report(
    path: Path,
    process_key: str,
    log_format: str,
    columns: LogColumns | None = None,
    *,
    read: Future[LogBytes] | None = None,
) -> dict[str, Any]:
    """The report of the log at `path` (xes or csv), read and validated as `tongban import-log`
    reads it; LogImportError names what is wrong with the file. `read`: the file's bytes being
    read already (`read_log_bytes`), as the CLI starts it before loading this module."""
    columns = columns or LogColumns()
    now = datetime.now(UTC)
    events = None
    if log_format == "xes":
        stored = read.result() if read is not None else read_log_bytes(path)
        plain = read_events_frame(path.name, stored, process_key, columns, now=now)
        events = plain.events if plain is not None else None
    if events is None:
        log = read_xes(path, columns) if log_format == "xes" else read_csv(path, columns)
        events = log_events(log, process_key, now=now)
    return direct_report(events, process_key, as_of=now)


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
