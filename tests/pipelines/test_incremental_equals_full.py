"""Many small updates build what one full rebuild builds: the history loaded a few hundred
events per run, each run publishing, ends with every published table equal to a clean full
build at the same as_of."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.extract import high_water_mark
from pipelines.jobs import WAREHOUSE_UPDATE
from tests.pipelines.conftest import assert_same_tables, published_tables, resources_for, run_job
from workflow_core.store.db import make_engine

INCREMENTS = 4


def test_small_increments_equal_one_full_build(
    source_home: Path, tmp_path: Path, full_build: dict[str, Any]
) -> None:
    engine = make_engine(f"sqlite:///{source_home / 'events.db'}")
    mark = high_water_mark(engine)
    engine.dispose()
    batch = math.ceil(mark / INCREMENTS)
    resources = resources_for(source_home, tmp_path / "wh", batch_size=batch, max_batches=1)
    cursors: list[int] = []
    with dg.DagsterInstance.ephemeral() as instance:
        while not cursors or cursors[-1] < mark:
            result = run_job(WAREHOUSE_UPDATE, resources, instance)
            assert result.success
            [events] = [
                e.event_specific_data.materialization.metadata  # type: ignore[union-attr]
                for e in result.get_asset_materialization_events()
                if e.asset_key and e.asset_key.to_user_string() == "raw_events"
            ]
            cursors.append(int(events["cursor"].value))  # type: ignore[arg-type]
            assert len(cursors) <= INCREMENTS + 1
    assert len(cursors) == INCREMENTS and cursors == sorted(set(cursors))
    assert_same_tables(published_tables(tmp_path / "wh"), full_build["tables"])
