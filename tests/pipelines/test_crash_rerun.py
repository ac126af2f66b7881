"""A run that dies half-way through the models publishes nothing; the rerun finishes the job and
publishes exactly what a clean full build does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.jobs import WAREHOUSE_UPDATE
from tests.pipelines.conftest import assert_same_tables, published_tables, resources_for, run_job
from warehouse.modeling import Model, ModelRun, load_models, run_model
from warehouse.paths import WarehousePaths


class PowerCut(RuntimeError):
    pass


def test_a_crash_mid_run_then_a_rerun_equals_a_clean_build(
    source_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full_build: dict[str, Any]
) -> None:
    real = run_model
    survive = len(load_models()) // 2
    ran: list[str] = []

    def dies_half_way(conn: Any, model: Model, *, full: bool) -> ModelRun:
        if len(ran) == survive:
            raise PowerCut(f"the power went out before {model.name}")
        ran.append(model.name)
        return real(conn, model, full=full)

    resources = resources_for(source_home, tmp_path / "wh")
    monkeypatch.setattr("pipelines.models.assets.run_model", dies_half_way)
    crashed = run_job(WAREHOUSE_UPDATE, resources)
    assert not crashed.success
    [failure] = crashed.get_step_failure_events()
    assert failure.step_key == "warehouse_models"
    assert not WarehousePaths(tmp_path / "wh").current.exists()  # nothing was published

    monkeypatch.setattr("pipelines.models.assets.run_model", real)
    rerun = run_job(WAREHOUSE_UPDATE, resources)
    assert rerun.success
    assert_same_tables(published_tables(tmp_path / "wh"), full_build["tables"])
