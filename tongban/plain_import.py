"""`tongban import-log` of a plain XES log: the rows `xes_frame` reads, written by the importer.

The plain reader makes, as columns, the very rows the importer makes of the log event by event
(`xes_frame`); here they are bound as the store's driver binds them and handed, with each case's
`instances` row, to `loader.write_import`: the same transaction, the same checks, the same rows.
A log the plain reader gives back goes the importer's whole way (`loader.import_log`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Engine

from tongban.xes_frame import PlainLog
from workflow_core.domain.events import CaseImported
from workflow_core.importing.loader import (
    BATCH,
    EVENT_COLUMNS,
    ImportChunk,
    ImportSummary,
    Progress,
    import_key_of,
    imported_instance,
    write_import,
)
from workflow_core.store.projections import instance_row

# How the SQLite store binds a time (`UtcDateTime`): naive UTC text, microseconds.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S%.6f"


def write_plain(
    engine: Engine,
    source: str,
    sha256: str,
    plain: PlainLog,
    process_key: str,
    *,
    now: datetime,
    progress: Progress | None = None,
) -> ImportSummary:
    """Write a plain log's rows and its cases' instance rows in one transaction."""
    summary = ImportSummary(
        process_key=process_key,
        import_key=import_key_of(process_key, sha256),
        source=source,
        sha256=sha256,
        cases=plain.cases,
        events=plain.log_events,
        activities=plain.activities,
        skipped_empty_cases=plain.skipped_empty_cases,
    )

    def chunks(sqlite: bool) -> Iterator[ImportChunk]:
        rows = _driver_rows(plain.events, sqlite)
        first = pl.col("event_type") == CaseImported.TYPE
        for start in range(0, rows.height, BATCH):
            part = rows.slice(start, BATCH)
            log_events = part.height - part.select(first.sum()).item()
            # Column by column into Python, zipped into tuples: `iter_rows` converted value by
            # value, several times slower.
            values = zip(*(part.get_column(name).to_list() for name in part.columns), strict=True)
            yield ImportChunk(list(values), [], log_events)
        yield ImportChunk([], _instance_rows(plain.events), 0)

    return write_import(engine, summary, chunks, now=now, progress=progress)


def _driver_rows(events: pl.DataFrame, sqlite: bool) -> pl.DataFrame:
    """The rows' values as `rows.driver_values` binds them (`EVENT_COLUMNS`, no id)."""
    times = pl.col("occurred_at", "recorded_at")
    bound = times.dt.strftime(_SQLITE_TIME) if sqlite else times.dt.replace_time_zone("UTC")
    return events.sort("event_id").with_columns(bound).select(EVENT_COLUMNS)


def _instance_rows(events: pl.DataFrame) -> list[dict[str, object]]:
    """Each case's `instances` row, as `loader.imported_state` folds it: its `case_imported`
    attributes as the form, its activities' first and last times, in case order."""
    first = pl.col("event_type") == CaseImported.TYPE
    cases = events.group_by("stream_id", maintain_order=True).agg(
        payload=pl.col("payload").filter(first).first(),
        count=(~first).sum(),
        submitted_at=pl.col("occurred_at").filter(~first).min(),
        closed_at=pl.col("occurred_at").filter(~first).max(),
    )
    process_key = events.get_column("process_key")[0]
    return [
        instance_row(
            imported_instance(
                stream_id,
                process_key,
                json.loads(payload)["attributes"],
                count,
                submitted_at.replace(tzinfo=UTC),
                closed_at.replace(tzinfo=UTC),
            )
        )
        for stream_id, payload, count, submitted_at, closed_at in cases.iter_rows()
    ]
