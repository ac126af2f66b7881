"""A run's DuckDB connection is capped at the configured memory and spills beside the work
database, so a build of millions of events cannot take the machine's memory."""

from __future__ import annotations

from pathlib import Path

from pipelines.environment import resources
from pipelines.resources import DEFAULT_MEMORY_LIMIT, WarehouseResource


def _limit(resource: WarehouseResource) -> tuple[str, str]:
    with resource.connect() as conn:
        row = conn.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def test_the_work_connection_is_capped_and_spills_in_the_build_directory(tmp_path: Path) -> None:
    limit, spill = _limit(WarehouseResource(root=str(tmp_path / "wh"), memory_limit="300MB"))
    assert limit == "286.1 MiB"  # DuckDB reports 300 MB in MiB
    assert Path(spill) == tmp_path / "wh" / "build" / "spill"


def test_the_environment_sets_the_cap(tmp_path: Path) -> None:
    env = {"TONGBAN_HOME": str(tmp_path), "TONGBAN_WAREHOUSE_MEMORY": "1GB"}
    configured = resources(env)["warehouse"]
    assert configured.memory_limit == "1GB"
    assert _limit(configured)[0] == "953.6 MiB"
    assert resources({"TONGBAN_HOME": str(tmp_path)})["warehouse"].memory_limit == (
        DEFAULT_MEMORY_LIMIT
    )
