"""Report stage: figures unlike PM4Py's are named; the paths, ratios and the floor summed up."""

from __future__ import annotations

import copy
import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tongban.bench import report_stage
from tongban.bench.processes import BenchError
from tongban.bench.report_stage import Run, compare_figures


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


def run_of(log_s: float, pm4py_s: float, *, stored: dict[str, Any] | None = None) -> Run:
    """A repeat as `measure` makes it, with made-up seconds and the reference report."""
    return Run(
        log_report_s=log_s,
        import_s=2.0,
        store_report_s=1.0,
        build_s=10.0,
        report_s=0.5,
        pm4py_s=pm4py_s,
        ours={"process_key": "bpic2012", **reference()},
        theirs={"pm4py": "2.7.23.11", **reference()},
        stored=stored if stored is not None else reference(),
        built=reference(),
        floor={"decompress_s": 0.1, "expat_s": 1.0, "lxml_s": 3.0, "process_s": 4.2},
        profile={"import_parse_s": 1.0, "import_write_s": 0.8, "cli_startup_s": 0.4},
        checks=43,
    )


def test_the_file_report_is_held_to_the_target_and_the_other_paths_are_figures() -> None:
    runs = [run_of(2.0, 10.0), run_of(1.5, 9.0), run_of(2.5, 11.0)]
    result = report_stage.summarise(runs, Path("bpic2012.xes.gz"), None)
    figures = result.figures
    assert figures["ours_s"]["end_to_end"]["median"] == 2.0
    assert figures["store_path_s"]["end_to_end"]["median"] == 3.0  # import + from the store
    assert figures["build_path_s"]["end_to_end"]["median"] == 12.5  # import + build + report
    assert (figures["ratio_end_to_end"], figures["ratio_store_path"]) == (5.0, 3.333)
    assert figures["ratio_build_path"] == 0.8
    assert result.meets_target and figures["same_figures"] and result.notes == []
    # The floor: the cheapest full parse of each repeat, and what it leaves of 5×'s budget.
    assert figures["floor_s"]["parse"]["median"] == 1.0
    assert figures["floor_s"]["lxml"]["median"] == 3.0
    assert (figures["ratio_floor"], figures["budget_s"]) == (10.0, 2.0)
    assert figures["floor_share_of_budget"] == 0.5
    document = result.document("small")
    assert document["stage"] == "report" and document["targets"]["ratio_min"] == 5.0


def test_a_slow_run_explains_itself_with_the_floor() -> None:
    result = report_stage.summarise([run_of(4.0, 10.0)], Path("bpic2012.xes.gz"), None)
    assert not result.meets_target
    assert result.figures["ratio_end_to_end"] == 2.5
    notes = "\n".join(result.notes)
    assert "ours must take ≤ 2.0 s end to end for 5×; it took 4.0 s" in notes
    assert "parsing the file alone takes 1.0 s (50% of that budget" in notes
    assert "report --from-store 1.0 s: 3.0 s (3.33×)" in notes


def test_a_differing_report_from_the_store_fails_the_target() -> None:
    stored = reference()
    stored["events"] = 8
    result = report_stage.summarise([run_of(1.0, 10.0, stored=stored)], Path("x.xes.gz"), None)
    assert not result.meets_target
    assert result.figures["differences"] == ["from the store: events: ours 8, PM4Py 9"]


def test_the_floor_script_reads_a_small_log(tmp_path: Path) -> None:
    path = tmp_path / "tiny.xes.gz"
    xes = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<log xmlns="http://www.xes-standard.org/">\n'
        '<trace><string key="concept:name" value="1"/><event>'
        '<string key="concept:name" value="a"/></event></trace>\n</log>\n'
    )
    path.write_bytes(gzip.compress(xes.encode()))
    done = subprocess.run(
        [sys.executable, "-I", str(report_stage.FLOOR_SCRIPT), str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = json.loads(done.stdout)
    assert found["xml_bytes"] == len(xes.encode()) and found["lines"] == 5
    assert found["decompress_s"] >= 0 and found["expat_s"] >= 0
    if found["lxml_s"] is not None:  # lxml is PM4Py's, absent from the project's environment
        assert (found["events"], found["attributes"]) == (1, 1)
