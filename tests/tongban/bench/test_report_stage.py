"""Report stage: comparing our process report with PM4Py's names each figure that differs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tongban.bench import report_stage
from tongban.bench.processes import BenchError
from tongban.bench.report_stage import compare_figures


def reference() -> dict[str, Any]:
    """A report in the shape both sides print (`tongban report process --json`, PM4Py's)."""
    return {
        "cases": 3,
        "events": 9,
        "case_duration_s": {
            "min": 60.0,
            "median": 3_600.5,
            "mean": 4_000.25,
            "p90": 7_000.0,
            "max": 8_000.0,
        },
        "activity_counts": {"submit": 3, "review": 3, "decide": 3},
        "dfg": [
            {"from": "submit", "to": "review", "count": 3, "median_s": 120.0, "mean_s": 150.5},
            {"from": "review", "to": "decide", "count": 3, "median_s": 900.0, "mean_s": 950.25},
        ],
    }


def test_equal_reports_have_no_differences() -> None:
    ours = {"process_key": "hand_made", **reference()}  # keys only one side prints are ignored
    assert compare_figures(ours, {"pm4py": "2.7.23.11", **reference()}) == []


def test_edge_and_activity_order_is_not_a_figure() -> None:
    ours = reference()
    ours["dfg"].reverse()
    ours["activity_counts"] = dict(reversed(ours["activity_counts"].items()))
    assert compare_figures(ours, reference()) == []


def test_seconds_within_a_millisecond_are_the_same() -> None:
    ours = reference()
    ours["case_duration_s"]["mean"] += 0.0004
    ours["dfg"][0]["median_s"] -= 0.0009
    assert compare_figures(ours, reference()) == []


def test_a_changed_count_is_named() -> None:
    ours = reference()
    ours["events"] = 10
    ours["activity_counts"]["review"] = 4
    assert compare_figures(ours, reference()) == [
        "events: ours 10, PM4Py 9",
        "activity_counts['review']: ours 4, PM4Py 3",
    ]


def test_a_changed_median_is_named() -> None:
    ours = reference()
    ours["case_duration_s"]["median"] = 3_601.5
    ours["dfg"][1]["median_s"] = 901.0
    assert compare_figures(ours, reference()) == [
        "case_duration_s['median']: ours 3601.5, PM4Py 3600.5",
        "dfg review → decide median_s: ours 901.0, PM4Py 900.0",
    ]


def test_edges_and_activities_on_one_side_only_are_named() -> None:
    ours = reference()
    theirs = copy.deepcopy(ours)
    ours["dfg"].append(
        {"from": "decide", "to": "review", "count": 1, "median_s": 5.0, "mean_s": 5.0}
    )
    del ours["activity_counts"]["decide"]
    theirs["dfg"][0]["count"] = 2
    assert compare_figures(ours, theirs) == [
        "activity_counts['decide']: missing in ours, PM4Py 3",
        "dfg submit → review count: ours 3, PM4Py 2",
        "dfg decide → review: in ours (1), missing in PM4Py",
    ]


def test_a_missing_log_is_a_clear_bench_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "nowhere.xes.gz"
    monkeypatch.setenv(report_stage.LOG_ENV, str(absent))
    with pytest.raises(
        BenchError, match=r"nowhere\.xes\.gz is missing \(set by TONGBAN_BENCH_LOG\)"
    ):
        report_stage.bench_log()
