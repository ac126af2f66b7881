"""New traffic through the real API is loaded, modelled and published by the warm update jobs;
the floor appends the same events alone to a copy of the raw events."""

from __future__ import annotations

from tongban.bench import incremental_stage
from tongban.bench.harness import BenchContext
from tongban.bench.university import event_count, events_db
from warehouse.paths import WarehousePaths
from warehouse.reader import Warehouse


def test_new_events_reach_the_published_warehouse(bench_context: BenchContext) -> None:
    before = event_count(events_db(bench_context.home))
    result = incremental_stage.run(bench_context, new_events=300)
    figures = result.figures
    assert figures["new_events"]["median"] >= 300
    assert figures["job"] == "live_update"
    assert figures["job_seconds"]["median"] > 0
    assert figures["warehouse_update_seconds"]["median"] > 0
    assert figures["extract_append_seconds"]["median"] > 0
    assert {"raw_events", "published_warehouse"} <= figures["assets_seconds"].keys()
    # Both rounds of traffic landed in the store, and the last job published all of it.
    after = event_count(events_db(bench_context.home))
    assert after == figures["events_in_store"] >= before + 600
    reader = Warehouse(WarehousePaths(bench_context.home / "warehouse"))
    try:
        assert reader.snapshot().events_cursor == after
    finally:
        reader.close()
    assert result.meets_target == (figures["job_seconds"]["median"] <= 3.0)
