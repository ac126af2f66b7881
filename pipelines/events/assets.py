"""The event store's feed, copied into the warehouse after its cursor."""

import time

import dagster as dg

from pipelines.extract import iter_event_batches
from pipelines.resources import EventStore, WarehouseResource
from warehouse.raw import append_events, events_cursor


@dg.asset(group_name="events", kinds={"duckdb"})
def raw_events(
    context: dg.AssetExecutionContext, event_store: EventStore, warehouse: WarehouseResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Every workflow event (申请, 审批, 登记), appended after the last one loaded."""
    started = time.perf_counter()
    loaded = batches = 0
    with warehouse.connect() as conn, event_store.engine() as engine:
        first = cursor = events_cursor(conn)
        for batch in iter_event_batches(engine, cursor, event_store.batch_size):
            loaded += append_events(conn, batch, cursor)
            cursor = int(batch["event_id"][-1])
            batches += 1
            if event_store.max_batches is not None and batches >= event_store.max_batches:
                break
        rows = int(conn.execute("select count(*) from raw_events").fetchall()[0][0])
    context.log.info(f"raw_events: {loaded:,} new events after {first:,}, cursor {cursor:,}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "new_events": loaded,
            "cursor": cursor,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
