"""The warehouse_update job on 20 simulated days builds every model and publishes a snapshot
that CURRENT names; a second run loads no event twice and publishes the next snapshot."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from pipelines.jobs import WAREHOUSE_UPDATE
from tests.pipelines.conftest import resources_for, run_job
from warehouse.modeling import load_models, published_models
from warehouse.paths import WarehousePaths
from warehouse.publication import current_snapshot_path


def materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        found[materialization.asset_key.to_user_string()] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return found


def test_update_builds_every_model_and_publishes(
    source_home: Path, tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    resources = resources_for(source_home, tmp_path / "wh")
    first = run_job(WAREHOUSE_UPDATE, resources, instance)
    assert first.success
    done = materialized(first)
    models = load_models()
    assert {model.name for model in models} <= set(done)
    events = done["raw_events"]
    assert events["new_events"] == events["dagster/row_count"] == events["cursor"]
    assert int(events["new_events"]) > 1_000  # type: ignore[call-overload]
    snapshot = done["published_warehouse"]
    assert snapshot["snapshot"] == 1 and snapshot["events_cursor"] == events["cursor"]
    path = current_snapshot_path(WarehousePaths(tmp_path / "wh"))
    assert path is not None and path.name == "wh-000001.duckdb"
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = {
            row[0] for row in conn.execute("select table_name from _snapshot_tables").fetchall()
        }
    assert tables == set(published_models(models))

    second = run_job(WAREHOUSE_UPDATE, resources, instance)
    assert second.success
    again = materialized(second)
    assert again["raw_events"]["new_events"] == 0
    assert again["raw_events"]["dagster/row_count"] == events["dagster/row_count"]
    assert again["raw_business"]["reloaded"] is False
    assert again["published_warehouse"]["snapshot"] == 2
