"""The event store's feed, copied into the warehouse after its cursor, and checked."""

import time
from collections.abc import Iterator

import dagster as dg

from pipelines.events.load import load_new_events
from pipelines.quality.asset_checks import (
    check_results,
    evaluate_and_report,
    maybe_build_docs,
    record_events_load,
    selected_checks,
    specs_for,
)
from pipelines.quality.checks import CHECKS, RAW_EVENTS
from pipelines.quality.gate import failing_blocking_event_checks
from pipelines.resources import EventStore, WarehouseResource
from warehouse.raw import drop_events_after


@dg.asset(group_name="events", kinds={"duckdb"}, check_specs=specs_for([RAW_EVENTS]))
def raw_events(
    context: dg.AssetExecutionContext, event_store: EventStore, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:  # type: ignore[type-arg]
    """Every workflow event (申请, 审批, 登记), appended after the last one loaded."""
    started = time.perf_counter()
    checks = selected_checks(context, [RAW_EVENTS])
    with warehouse.connect() as conn, event_store.engine() as engine:
        failing, passed_through = failing_blocking_event_checks(conn, CHECKS)
        if failing:
            # The events after the last clean check never reached the models: take them again
            # from the store, which may have been corrected since.
            dropped = drop_events_after(conn, passed_through)
            context.log.warning(
                f"blocking checks {', '.join(failing)} failed last time: the {dropped:,} events"
                f" after {passed_through:,} are taken from the event store again"
            )
        load = load_new_events(conn, engine, event_store.batch_size, event_store.max_batches)
        rows = int(conn.execute("select count(*) from raw_events").fetchall()[0][0])
        record_events_load(conn, load.loaded)
        context.log.info(
            f"raw_events: {load.loaded:,} new events after {load.first:,}, cursor {load.cursor:,}"
        )
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "new_events": load.loaded,
                "cursor": load.cursor,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        if checks:
            evaluation = evaluate_and_report(context, conn, warehouse.paths, checks)
            if evaluation.blocked:
                # The models' step will not run: the docs show what stopped the run now.
                maybe_build_docs(context, warehouse.gx_dir)
            yield from check_results(evaluation, checks)
