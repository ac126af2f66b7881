"""Shared fixtures: a small generated university with 150 simulated days, built into a real
DuckDB warehouse and published, for the scope, read-API and dashboards tests.

A plugin of the root `tests/conftest.py` (`pytest_plugins`), so that every test directory shares
the one session-scoped build instead of making its own.

The build here calls the same pieces the Dagster assets call (extract → raw → models →
publish) without Dagster, so these tests exercise the warehouse alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import create_engine

from pipelines.business.assets import calendar_departments, calendar_range
from pipelines.extract import catalog_frames, iter_event_batches, read_business_tables
from warehouse.academic_calendar import calendar_frames
from warehouse.modeling import load_models, published_models, run_models
from warehouse.paths import WarehousePaths
from warehouse.publication import publish
from warehouse.raw import append_events, events_cursor, replace_table
from warehouse.reader import Warehouse
from workflow_core.catalog.loader import default_catalog

SIMULATED_END = date(2026, 10, 31)  # the simulated history ends here: 国庆 and 中秋 inside
AS_OF = datetime(2026, 11, 2, 2, 0)  # naive UTC: 10:00 on a Monday in Asia/Shanghai


@dataclass(frozen=True)
class BuiltUniversity:
    home: Path
    paths: WarehousePaths
    business_url: str
    as_of: datetime


TONGBAN = str(Path(sys.executable).with_name("tongban"))


def _cli(home: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_HOME"] = str(home)
    subprocess.run(
        [TONGBAN, *args],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )


def build_warehouse(home: Path, root: Path, as_of: datetime) -> WarehousePaths:
    """Load the events and business data of `home` into a warehouse under `root` and publish."""
    paths = WarehousePaths(root)
    paths.build_dir.mkdir(parents=True, exist_ok=True)
    events = create_engine(f"sqlite:///{home / 'events.db'}")
    business = create_engine(f"sqlite:///{home / 'business.db'}")
    conn = duckdb.connect(str(paths.work_db))
    try:
        for batch in iter_event_batches(events, events_cursor(conn)):
            append_events(conn, batch, events_cursor(conn))
        frames = {**read_business_tables(business), **catalog_frames(default_catalog())}
        for name, frame in frames.items():
            replace_table(conn, name, frame)
        first, last = calendar_range(conn, as_of)
        for name, frame in calendar_frames(first, last, calendar_departments(conn)).items():
            replace_table(conn, name, frame)
        run_models(conn, as_of=as_of)
        publish(
            conn,
            published_models(load_models()),
            paths,
            as_of=as_of,
            events_cursor=events_cursor(conn),
        )
    finally:
        conn.close()
        events.dispose()
        business.dispose()
    return paths


@pytest.fixture(scope="session")
def small_university(tmp_path_factory: pytest.TempPathFactory) -> BuiltUniversity:
    home = tmp_path_factory.mktemp("small-university")
    _cli(home, "init", "--size", "small")
    _cli(
        home, "simulate", "--size", "small", "--days", "150", "--end", str(SIMULATED_END), "--once"
    )
    paths = build_warehouse(home, home / "warehouse", AS_OF)
    return BuiltUniversity(home, paths, f"sqlite:///{home / 'business.db'}", AS_OF)


@pytest.fixture
def warehouse(small_university: BuiltUniversity) -> Iterator[Warehouse]:
    reader = Warehouse(small_university.paths)
    try:
        yield reader
    finally:
        reader.close()
