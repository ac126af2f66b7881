"""The events of the streams that gained events since a check's mark, read once for the frames
that need them: the versions, order, tasks and instances frames each joined the whole log with
the new events' streams (0.2-0.8 s a frame on a year of the large university), where one read
serves all four.

`quality_touched_events` holds them: a temp table of those streams' events, or, for the mark 0
(a first, full evaluation: every stream is touched), a view over every event, nothing copied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

import duckdb

TOUCHED_EVENTS: Final = "quality_touched_events"
# What the frames read of them (the payload, the largest column, is not among them).
COLUMNS: Final = (
    "event_id",
    "stream_id",
    "stream_version",
    "stream_type",
    "event_type",
    "occurred_at",
    "task_id",
    "process_key",
    "process_version",
    "node_key",
)


@contextmanager
def touched_events(conn: duckdb.DuckDBPyConnection) -> Iterator[Callable[[int], None]]:
    """A `prepare(after)` that makes `quality_touched_events` hold the events of the streams
    with events after `after` (made again only when `after` changes); dropped at the end."""
    made: list[int] = []
    columns = ", ".join(COLUMNS)

    def drop() -> None:
        if made:
            kind = "view" if made[0] == 0 else "table"
            conn.execute(f"drop {kind} if exists {TOUCHED_EVENTS}")
            made.clear()

    def prepare(after: int) -> None:
        if made == [after]:
            return
        drop()
        if after == 0:
            conn.execute(f"create temp view {TOUCHED_EVENTS} as select {columns} from raw_events")
        else:
            # Matched on the stream column alone, then fetched by row id (see
            # warehouse.modeling's affected_events).
            conn.execute(
                f"create temp table {TOUCHED_EVENTS} as select {columns} from raw_events"
                " where rowid in (select rowid from raw_events semi join"
                " (select distinct stream_id from raw_events where event_id > $after)"
                " using (stream_id))",
                {"after": after},
            )
        made.append(after)

    try:
        yield prepare
    finally:
        drop()
