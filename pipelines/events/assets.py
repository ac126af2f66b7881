"""The event store's feed, copied into the warehouse after its cursor."""

import time

import dagster as dg

from pipelines.events.load import load_new_events
from pipelines.resources import EventStore, WarehouseResource


@dg.asset(group_name="events", kinds={"duckdb"})
def raw_events(
    context: dg.AssetExecutionContext, event_store: EventStore, warehouse: WarehouseResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Every workflow event (申请, 审批, 登记), appended after the last one loaded."""
    started = time.perf_counter()
    with warehouse.connect() as conn, event_store.engine() as engine:
        load = load_new_events(conn, engine, event_store.batch_size, event_store.max_batches)
        rows = int(conn.execute("select count(*) from raw_events").fetchall()[0][0])
    context.log.info(
        f"raw_events: {load.loaded:,} new events after {load.first:,}, cursor {load.cursor:,}"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "new_events": load.loaded,
            "cursor": load.cursor,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
