"""A small university with 20 simulated days of history (the 元旦 campaign included), made once
per session by the real commands; each test builds its own warehouse from it."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from pipelines.definitions import build_definitions
from pipelines.jobs import AS_OF_TAG, as_of_tag
from pipelines.resources import (
    BusinessSystems,
    Catalog,
    EventStore,
    LiveUpdate,
    WarehouseResource,
)
from warehouse.paths import WarehousePaths
from warehouse.publication import SNAPSHOT_TABLE, SNAPSHOT_TABLES_TABLE, current_snapshot_path

TONGBAN = str(Path(sys.executable).with_name("tongban"))
# The simulated history ends the day before; open tasks age up to this moment.
AS_OF = datetime(2026, 1, 5, 2, 0)
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def tongban(args: list[str], home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "DAGSTER_"))}
    environ.update(TONGBAN_HOME=str(home), **extra)
    return subprocess.run(
        [TONGBAN, *args], env=environ, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="session")
def source_home(university_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TONGBAN_HOME with the business systems and an event store of 20 simulated days."""
    home = tmp_path_factory.mktemp("sources")
    shutil.copy(university_dir / "business.db", home / "business.db")
    init = tongban(["init", "--size", "small"], home)
    assert init.returncode == 0, init.stderr
    simulated = tongban(
        ["simulate", "--size", "small", "--days", "20", "--end", "2026-01-05", "--once"], home
    )
    assert simulated.returncode == 0, simulated.stderr
    return home


def resources_for(
    home: Path, warehouse: Path, *, batch_size: int | None = None, max_batches: int | None = None
) -> dict[str, Any]:
    store: dict[str, Any] = {"url": f"sqlite:///{home / 'events.db'}"}
    if batch_size is not None:
        store["batch_size"] = batch_size
    if max_batches is not None:
        store["max_batches"] = max_batches
    return {
        "event_store": EventStore(**store),
        "business_systems": BusinessSystems(url=f"sqlite:///{home / 'business.db'}"),
        "catalog": Catalog(directory=None),
        "warehouse": WarehouseResource(root=str(warehouse)),
        "live": LiveUpdate(follow_seconds=0),
    }


def run_job(
    name: str,
    resources: Mapping[str, Any],
    instance: dg.DagsterInstance | None = None,
    as_of: datetime = AS_OF,
) -> dg.ExecuteInProcessResult:
    defs = build_definitions(resources=resources)
    return defs.resolve_job_def(name).execute_in_process(
        run_config=QUIET,
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={AS_OF_TAG: as_of_tag(as_of)},
        raise_on_error=False,
    )


def published_tables(root: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the snapshot `CURRENT` names, rows sorted, beside its description."""
    snapshot = current_snapshot_path(WarehousePaths(root))
    assert snapshot is not None, f"nothing published under {root}"
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(snapshot), read_only=True) as conn:
        names = [
            str(row[0])
            for row in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        ]
        for table in names:
            if table in (SNAPSHOT_TABLE, SNAPSHOT_TABLES_TABLE):
                continue
            tables[table] = conn.execute(f"select * from {table} order by all").fetchall()
    return tables


def same_row(left: tuple[Any, ...], right: tuple[Any, ...]) -> bool:
    """Equal rows; doubles to 1e-9 relative (DuckDB's parallel sums vary in the last bits)."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        if isinstance(a, float) and isinstance(b, float):
            if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                return False
        elif a != b:
            return False
    return True


def assert_same_tables(
    built: dict[str, list[tuple[Any, ...]]], expected: dict[str, list[tuple[Any, ...]]]
) -> None:
    assert sorted(built) == sorted(expected)
    different = {
        name: (len(built[name]), len(expected[name]))
        for name in expected
        if len(built[name]) != len(expected[name])
        or not all(map(same_row, built[name], expected[name]))
    }
    assert not different, different


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as made:
        yield made


@pytest.fixture(scope="session")
def full_build(source_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The published tables of one clean full rebuild of the source history, at AS_OF."""
    root = tmp_path_factory.mktemp("full") / "wh"
    result = run_job("warehouse_full_rebuild", resources_for(source_home, root))
    assert result.success
    return {"root": root, "tables": published_tables(root)}
