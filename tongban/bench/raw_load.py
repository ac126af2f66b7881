"""The floor under a build: the raw events moved from the SQLite store into DuckDB, alone.

The build's own reader (`pipelines.extract.iter_event_batches`: more than a batch behind, a
child process reading through ADBC into Arrow, the cheapest way out of SQLite from Python; else
the driver's cursor, which has no process to start) and DuckDB's `INSERT … SELECT` from each
batch; the two halves are timed apart, since the second is the peer the issue names and the
first is what every loader pays before it (the time spent waiting for the next batch: the child
reads it while the last one is inserted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb

from pipelines.extract import iter_event_batches
from warehouse.raw import RAW_EVENTS_COLUMNS
from workflow_core.store.db import make_engine

BATCH: Final = 200_000


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
    source = make_engine(f"sqlite:///{store}", pool_size=1, write_lock_at_begin=False)
    sink = duckdb.connect(str(target))
    try:
        columns = ", ".join(f"{name} {kind}" for name, kind in RAW_EVENTS_COLUMNS.items())
        sink.execute(f"create table if not exists raw_events ({columns})")
        started = time.perf_counter()
        for batch in iter_event_batches(source, after, BATCH):
            extracted = time.perf_counter()
            extract_s += extracted - started
            sink.register("batch", batch)
            sink.execute("insert into raw_events select * from batch")
            sink.unregister("batch")
            events += batch.height
            started = time.perf_counter()
            insert_s += started - extracted
        extract_s += time.perf_counter() - started  # the end of the stream
        started = time.perf_counter()
        sink.execute("checkpoint")
        insert_s += time.perf_counter() - started
    finally:
        sink.close()
        source.dispose()
    return RawLoad(events, extract_s, insert_s)
