"""Copy the event store's new events into the warehouse, after the warehouse's own cursor."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
from sqlalchemy import Engine

from pipelines.extract import iter_event_batches
from warehouse.raw import append_events, events_cursor


@dataclass(frozen=True)
class EventLoad:
    loaded: int  # events appended by this load
    first: int  # the cursor before it
    cursor: int  # the cursor after it


def load_new_events(
    conn: duckdb.DuckDBPyConnection,
    engine: Engine,
    batch_size: int,
    max_batches: int | None = None,
) -> EventLoad:
    """Append the store's events after the warehouse's cursor, a batch per transaction: a crash
    between batches keeps the batches already committed, and the next load continues after them.
    """
    first = cursor = events_cursor(conn)
    loaded = 0
    for batches, batch in enumerate(iter_event_batches(engine, cursor, batch_size), start=1):
        loaded += append_events(conn, batch, cursor)
        cursor = int(batch["event_id"][-1])
        if max_batches is not None and batches >= max_batches:
            break
    return EventLoad(loaded=loaded, first=first, cursor=cursor)
