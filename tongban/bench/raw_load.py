"""The floor under a build: the raw events moved from the SQLite store into DuckDB, alone.

A driver cursor per batch (the cheapest way out of SQLite from Python), a Polars frame, and
DuckDB's `INSERT … SELECT` from it; the two halves are timed apart, since the second is the
peer the issue names and the first is what every loader pays before it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import polars as pl

from warehouse.raw import RAW_EVENTS_COLUMNS, RAW_EVENTS_SCHEMA

BATCH: Final = 200_000
_COLUMNS: Final = ", ".join(RAW_EVENTS_COLUMNS)
_TEXT_SCHEMA: Final = {
    name: (pl.String if kind == pl.Datetime("us") else kind)
    for name, kind in RAW_EVENTS_SCHEMA.items()
}
_CAST: Final = ", ".join(
    f"{name}::timestamp" if kind == pl.Datetime("us") else name
    for name, kind in RAW_EVENTS_SCHEMA.items()
)


@dataclass(frozen=True)
class RawLoad:
    events: int
    extract_s: float
    insert_s: float

    @property
    def seconds(self) -> float:
        return self.extract_s + self.insert_s


def load_raw_events(store: Path, target: Path, after: int = 0) -> RawLoad:
    """Append the store's events after `after` to `target`'s `raw_events` (made when missing)."""
    extract_s = insert_s = 0.0
    events = 0
    source = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    sink = duckdb.connect(str(target))
    try:
        columns = ", ".join(f"{name} {kind}" for name, kind in RAW_EVENTS_COLUMNS.items())
        sink.execute(f"create table if not exists raw_events ({columns})")
        cursor = after
        while True:
            started = time.perf_counter()
            rows = source.execute(
                f"select {_COLUMNS} from events where event_id > ? order by event_id limit ?",
                (cursor, BATCH),
            ).fetchall()
            if not rows:
                break
            frame = pl.DataFrame(rows, schema=_TEXT_SCHEMA, orient="row")
            extracted = time.perf_counter()
            sink.register("batch", frame)
            sink.execute(f"insert into raw_events select {_CAST} from batch")
            sink.unregister("batch")
            insert_s += time.perf_counter() - extracted
            extract_s += extracted - started
            events += len(rows)
            cursor = int(rows[-1][0])
            if len(rows) < BATCH:
                break
        started = time.perf_counter()
        sink.execute("checkpoint")
        insert_s += time.perf_counter() - started
    finally:
        source.close()
        sink.close()
    return RawLoad(events, extract_s, insert_s)
