"""The quality history and the published report: one row per check per run, runs that stay
blocked, pruning that keeps each check's latest result, and a report readers can open."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from warehouse import quality
from warehouse.paths import WarehousePaths
from warehouse.reader import Warehouse

CHECK = quality.CheckInfo(
    name="events_event_id_unique",
    asset="raw_events",
    suite="events",
    severity="error",
    expectation="expect_column_values_to_be_unique",
    description_zh="事件编号不重复",
    description_en="No event_id is loaded twice",
    applies_to="all",
    keys=("event_id", "stream_id"),
)
WARN = quality.CheckInfo(
    name="integrity_applicant_known",
    asset="raw_events",
    suite="integrity",
    severity="warn",
    expectation="expect_column_values_to_be_in_set",
    description_zh="申请人存在",
    description_en="Every applicant is known",
    applies_to="native",
    keys=("event_id", "instance_id"),
)
CHECKS = {CHECK.name: CHECK, WARN.name: WARN}
T0 = datetime(2026, 11, 29, 8, 0)


@pytest.fixture
def conn(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    made = duckdb.connect(str(tmp_path / "work.duckdb"))
    quality.register_checks(made, CHECKS.values())
    return made


def _run(run_id: str, at: datetime = T0) -> quality.RunInfo:
    return quality.RunInfo(run_id=run_id, job_name="live_update", evaluated_at=at, events_cursor=9)


def test_a_run_keeps_one_row_per_check_and_counts_its_passes(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    run = _run("r1")
    failure = quality.CheckResult(
        CHECK.name, False, 10, 2, sample=[{"event_id": 5, "stream_id": "s"}] * 30
    )
    quality.record_results(conn, run, CHECKS, [failure])
    quality.record_results(conn, run, CHECKS, [quality.CheckResult(CHECK.name, True, 12, 0)])
    rows = conn.execute(
        "select success, evaluations, element_count from _quality_history"
    ).fetchall()
    assert rows == [(True, 2, 12)]
    quality.record_results(conn, _run("r2"), CHECKS, [failure])
    sample = conn.execute("select sample from _quality_history where run_id = 'r2'").fetchall()[0][
        0
    ]
    assert len(json.loads(sample)) == quality.SAMPLE_ROWS


def test_results_for_an_unregistered_check_are_refused(conn: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="unregistered"):
        quality.record_results(
            conn, _run("r1"), CHECKS, [quality.CheckResult("no_such_check", True, 1, 0)]
        )
    assert conn.execute("select count(*) from _quality_history").fetchall() == [(0,)]


def test_a_blocked_run_stays_blocked_when_a_later_step_checks_clean(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    run = _run("r1")
    quality.record_run(conn, run, "blocked", blocking_failures=2, warnings=0)
    quality.record_run(conn, run, "checked", blocking_failures=0, warnings=1)
    assert conn.execute(
        "select outcome, blocking_failures, warnings from _quality_runs"
    ).fetchall() == [("blocked", 2, 1)]


def test_pruning_keeps_each_checks_latest_result(conn: duckdb.DuckDBPyConnection) -> None:
    old = T0 - timedelta(days=200)
    quality.record_results(
        conn, _run("old-1", old), CHECKS, [quality.CheckResult(CHECK.name, True, 1, 0)]
    )
    quality.record_results(
        conn,
        _run("old-2", old + timedelta(days=1)),
        CHECKS,
        [quality.CheckResult(CHECK.name, True, 1, 0)],
    )
    quality.record_results(
        conn, _run("new", T0), CHECKS, [quality.CheckResult(WARN.name, True, 1, 0)]
    )
    assert quality.prune(conn, T0) == 1
    kept = conn.execute("select run_id from _quality_history order by run_id").fetchall()
    assert kept == [("new",), ("old-2",)]


def test_registering_other_checks_replaces_the_catalog(conn: duckdb.DuckDBPyConnection) -> None:
    quality.register_checks(conn, [WARN])
    assert conn.execute("select check_name from quality_checks").fetchall() == [(WARN.name,)]
    with pytest.raises(ValueError, match="repeat"):
        quality.register_checks(conn, [WARN, WARN])


def test_the_published_report_is_readable_and_bounded(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    for n in range(quality.RESULTS_PER_CHECK + 5):
        quality.record_results(
            conn,
            _run(f"r{n:04d}", T0 + timedelta(minutes=n)),
            CHECKS,
            [quality.CheckResult(CHECK.name, n % 2 == 0, 10, n % 2)],
        )
    # The history keeps every run; the report and the checks' own bookkeeping the latest 200.
    assert conn.execute("select count(*) from _quality_history").fetchall() == [
        (quality.RESULTS_PER_CHECK + 5,)
    ]
    assert quality.latest_failures(conn) == set()  # the last run, r0204, passed
    quality.record_run(conn, _run("r0001"), "blocked", blocking_failures=1, warnings=0)
    quality.record_load(conn, "business", T0, rows=42)
    paths = WarehousePaths(tmp_path / "wh")
    snapshot = quality.publish_report(conn, paths, T0, 9)
    assert snapshot.path.parent == paths.quality.published_dir
    assert not paths.current.exists(), "the report must not move the warehouse's CURRENT"
    with Warehouse(paths.quality) as report, report.cursor() as cur:
        assert cur.execute("select count(*) from quality_results").fetchall() == [
            (quality.RESULTS_PER_CHECK,)
        ]
        assert cur.execute("select min(run_id) from quality_results").fetchall() == [("r0005",)]
        assert cur.execute("select outcome from quality_runs").fetchall() == [("blocked",)]
        assert cur.execute("select source, row_count from quality_freshness").fetchall() == [
            ("business", 42)
        ]
