"""A stage's figures are summarised as median/min/max of its runs and written whole as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tongban.bench.results import StageResult, percentile, ratio, spread


def test_spread_keeps_every_run_and_their_median() -> None:
    assert spread([3.0, 1.0, 2.0, 10.0]) == {
        "median": 2.5,
        "min": 1.0,
        "max": 10.0,
        "runs": [3.0, 1.0, 2.0, 10.0],
    }


def test_spread_refuses_no_runs() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        spread([])


def test_percentile_is_a_measured_value_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 51)]  # 50 submissions: p95 is the 48th
    assert percentile(values, 0.95) == 48.0
    assert percentile(values, 0.5) == 25.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile(list(range(1, 101)), 0.99) == 99


def test_ratio_of_nothing_is_none() -> None:
    assert ratio(6.0, 2.0) == 3.0
    assert ratio(6.0, 0.0) is None


def test_written_document_names_target_machine_and_versions(tmp_path: Path) -> None:
    result = StageResult(
        stage="build",
        figure="50.0 s job",
        target="≤ 60 s",
        meets_target=True,
        figures={"job_seconds": spread([50.0, 49.0, 52.0])},
        targets={"job_seconds": 60.0},
        peer="raw events alone 10.0 s: 5.0×",
    )
    path = result.write(tmp_path / "results", "large")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert path.name == "build.json"
    assert document["meets_target"] is True
    assert document["size"] == "large"
    assert document["figures"]["job_seconds"]["median"] == 50.0
    assert document["machine"]["cpus"] >= 1
    assert document["machine"]["memory_bytes"] > 0
    assert {"python", "duckdb", "dagster", "dash"} <= document["versions"].keys()
    assert document["measured_at"].endswith("+00:00")
    assert not list(path.parent.glob("*.partial"))
