"""The sensor's run follows the event store: events that arrive while it runs are loaded and
published by further passes of the same run, which ends by itself once the store is quiet —
and what it publishes equals a clean full build."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.extract import high_water_mark
from pipelines.jobs import LIVE_UPDATE, PERIODIC_REFRESH
from pipelines.recovery import PID_TAG
from pipelines.resources import EventStore, LiveUpdate
from tests.pipelines.conftest import published_tables, resources_for, run_job, same_row
from warehouse.paths import WarehousePaths
from warehouse.reader import NoSnapshotError, Warehouse
from workflow_core.store.db import make_engine

LATE_EVENTS = 300
ARRIVALS = 3


def store_without_its_last_events(source: Path, target: Path, late: int) -> tuple[int, int]:
    """A copy of the store holding all but its last `late` events; (cut, mark)."""
    shutil.copy(source, target)
    with sqlite3.connect(target) as conn:
        mark = int(conn.execute("select max(event_id) from events").fetchone()[0])
        cut = mark - late
        # The store refuses deletes; this copy stands for the store as it was earlier.
        conn.execute("drop trigger events_refuse_delete")
        conn.execute("delete from events where event_id > ?", [cut])
    return cut, mark


def arrive(source: Path, target: Path, cut: int, mark: int, root: Path) -> None:
    """Once the first pass has published, append the held-back events in a few commits."""
    with Warehouse(WarehousePaths(root)) as warehouse:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                warehouse.snapshot()
                break
            except NoSnapshotError:
                time.sleep(0.2)
    step = (mark - cut + ARRIVALS - 1) // ARRIVALS
    with sqlite3.connect(target) as conn:
        conn.execute("attach ? as source", [str(source)])
        for start in range(cut, mark, step):
            conn.execute(
                "insert into events select * from source.events"
                " where event_id > ? and event_id <= ?",
                [start, min(start + step, mark)],
            )
            conn.commit()
            time.sleep(1.0)


def test_the_live_run_publishes_events_that_arrive_while_it_runs(
    source_home: Path, tmp_path: Path, full_build: dict[str, Any]
) -> None:
    store = tmp_path / "events.db"
    cut, mark = store_without_its_last_events(source_home / "events.db", store, LATE_EVENTS)
    root = tmp_path / "wh"
    resources = {
        **resources_for(source_home, root),
        "event_store": EventStore(url=f"sqlite:///{store}"),
        "live": LiveUpdate(follow_seconds=240, idle_seconds=3, poll_seconds=0.1),
    }
    feeder = threading.Thread(
        target=arrive, args=(source_home / "events.db", store, cut, mark, root), daemon=True
    )
    feeder.start()
    started = time.monotonic()
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_job(LIVE_UPDATE, resources, instance)
        elapsed = time.monotonic() - started
        feeder.join(timeout=10)
        assert result.success
        # The run names the process that executed it (pipelines.recovery).
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.tags.get(PID_TAG) == str(os.getpid())
        # The live run builds the periodic marts once, on this new warehouse, and leaves them
        # to their schedule after: their refresh brings them to the last event too.
        assert run_job(PERIODIC_REFRESH, resources, instance).success

    engine = make_engine(f"sqlite:///{store}")
    assert high_water_mark(engine) == mark
    engine.dispose()
    publications = [
        e.event_specific_data.materialization.metadata  # type: ignore[union-attr]
        for e in result.all_events
        if e.is_step_materialization
        and e.asset_key is not None
        and e.asset_key.to_user_string() == "published_warehouse"
    ]
    cursors = [int(p["events_cursor"].value) for p in publications]  # type: ignore[arg-type]
    # The first pass saw the store up to the cut; later passes the arrivals, to the last one.
    assert cursors[0] == cut and cursors[-1] == mark
    assert len(cursors) >= 2 and cursors == sorted(cursors)
    # Quiet for idle_seconds after the last arrival: the run ended long before its limit.
    assert elapsed < 200
    assert published_tables(root)["mart_turnaround__nodes"], "the periodic marts were built"

    built = published_tables(root)
    expected = full_build["tables"]
    assert sorted(built) == sorted(expected)
    for table, rows in expected.items():
        assert len(built[table]) == len(rows), table
        assert all(same_row(a, b) for a, b in zip(built[table], rows, strict=True)), table
