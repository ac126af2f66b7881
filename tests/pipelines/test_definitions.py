"""The definitions load without opening anything: every job resolves, every SQL model has an
asset in its layer's group, and each asset depends on the assets that load what it reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.environment import Environment
from pipelines.jobs import (
    BUSINESS_REFRESH,
    LIVE_UPDATE,
    PERIODIC_REFRESH,
    WAREHOUSE_FULL_REBUILD,
    WAREHOUSE_UPDATE,
)
from pipelines.models.assets import source_asset_of
from tongban.settings import Settings
from warehouse.modeling import load_models, published_models

ROOT = Path(__file__).resolve().parents[2]


def test_every_job_resolves_and_every_model_has_an_asset() -> None:
    for name in (WAREHOUSE_UPDATE, WAREHOUSE_FULL_REBUILD, BUSINESS_REFRESH, LIVE_UPDATE):
        assert defs.resolve_job_def(name).name == name
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    models = load_models()
    assert {model.name for model in models} <= keys
    assert {"raw_events", "raw_business", "raw_catalog", "raw_calendar"} <= keys
    names = {model.name for model in models}
    for model in models:
        node = graph.get(dg.AssetKey(model.name))
        assert node.group_name == model.layer
        parents = {key.to_user_string() for key in node.parent_keys}
        expected = {source_asset_of(dep, names) for dep in model.depends_on} - {None}
        assert parents == expected, model.name
    publication = graph.get(dg.AssetKey("published_warehouse"))
    assert {k.to_user_string() for k in publication.parent_keys} == set(published_models(models))
    assert defs.resolve_sensor_def("new_events_sensor").minimum_interval_seconds == 5
    nightly = defs.resolve_schedule_def("nightly_business_refresh")
    weekly = defs.resolve_schedule_def("weekly_full_rebuild")
    assert (nightly.cron_schedule, nightly.job_name) == ("0 2 * * *", BUSINESS_REFRESH)
    assert (weekly.cron_schedule, weekly.job_name) == ("0 3 * * 0", WAREHOUSE_FULL_REBUILD)
    assert nightly.execution_timezone == weekly.execution_timezone == "Asia/Shanghai"
    periodic = defs.resolve_schedule_def("periodic_turnaround_refresh")
    assert (periodic.cron_schedule, periodic.job_name) == ("*/10 * * * *", PERIODIC_REFRESH)
    assert defs.resolve_sensor_def("new_events_sensor").job_name == LIVE_UPDATE


def test_the_live_update_leaves_the_periodic_marts_to_their_schedule() -> None:
    models = load_models()
    periodic = {model.name for model in models if model.periodic}
    assert {"mart_turnaround__nodes", "mart_turnaround__departments"} <= periodic
    live = {
        key.to_user_string()
        for key in defs.resolve_job_def(LIVE_UPDATE).asset_layer.executable_asset_keys
    }
    refresh = {
        key.to_user_string()
        for key in defs.resolve_job_def(PERIODIC_REFRESH).asset_layer.executable_asset_keys
    }
    assert not periodic & live
    assert {"raw_events", "stg_events__all", "fct_registrations", "published_warehouse"} <= live
    assert refresh == periodic | {"published_warehouse"}


def test_raw_tables_map_to_the_asset_that_loads_them() -> None:
    assert source_asset_of("raw_events", set()) == "raw_events"
    assert source_asset_of("raw_business__students", set()) == "raw_business"
    assert source_asset_of("raw_catalog__nodes", set()) == "raw_catalog"
    assert source_asset_of("raw_calendar__days", set()) == "raw_calendar"
    assert source_asset_of("stg_events__all", {"stg_events__all"}) == "stg_events__all"
    assert source_asset_of("somewhere_else", set()) is None


def test_loading_the_definitions_opens_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    env["TONGBAN_HOME"] = str(home)
    loaded = subprocess.run(
        [sys.executable, "-c", "from pipelines.definitions import defs; print(len(defs.assets))"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert not home.exists()


def test_the_pipelines_and_the_shell_read_the_environment_alike(tmp_path: Path) -> None:
    for env in (
        {},
        {"TONGBAN_HOME": str(tmp_path)},
        {
            "TONGBAN_HOME": str(tmp_path),
            "TONGBAN_DB_URL": "postgresql://hall@db/events",
            "TONGBAN_BUSINESS_DB_URL": "sqlite:////srv/sis.db",
            "TONGBAN_CATALOG_DIR": str(tmp_path / "catalog"),
            "TONGBAN_WAREHOUSE_DIR": str(tmp_path / "wh"),
        },
    ):
        settings = Settings.from_env(env)
        found = Environment.from_env(env)
        assert (found.home, found.db_url, found.business_db_url) == (
            settings.home,
            settings.db_url,
            settings.business_db_url,
        )
        assert found.catalog_dir == settings.catalog_dir
        assert found.warehouse_dir == settings.warehouse_dir
