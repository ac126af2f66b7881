"""The data-quality report as data staff read it: a clean run, a run published with a warning and
a run a blocking check stopped, written and published with `warehouse.quality` into real DuckDB
files — latest status per check, per-asset counts, trends, failing rows, runs, publication and
freshness; everybody else is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.warehouse.quality_report import (
    CHECKS,
    DECISION_AFTER_TASK,
    EARLY_DECISIONS,
    EVENTS_UNIQUE,
    MEMBERSHIP_OVERLAP,
    OVERLAPS,
    RATE_IN_RANGE,
    QualityWork,
    warning_then_blocked,
)
from warehouse.paths import WarehousePaths
from warehouse.quality import CheckInfo, register_checks
from warehouse.read_api import quality
from warehouse.reader import Warehouse
from warehouse.scope import NotInScopeError, Scope

AT = datetime(2026, 11, 2, 2, 0)  # naive UTC
ON = AT.date()
DATA_STAFF = Scope("T0900001", ON, frozenset({"data_staff"}), university=True)


@pytest.fixture
def report(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    paths = WarehousePaths(tmp_path)
    warning_then_blocked(paths, tmp_path / "work.duckdb", AT)
    with Warehouse(paths.quality) as reader, reader.cursor() as cursor:
        yield cursor


def test_each_check_shows_the_status_of_its_latest_result(
    report: duckdb.DuckDBPyConnection,
) -> None:
    status = quality.check_status(report, DATA_STAFF)
    assert dict(zip(status["check_name"], status["status"], strict=True)) == {
        EVENTS_UNIQUE: "pass",
        DECISION_AFTER_TASK: "fail",  # severity error: blocks publication
        MEMBERSHIP_OVERLAP: "warn",  # severity warn: published and shown
        RATE_IN_RANGE: "pass",
    }
    # Sources first, then the models built from them.
    assert status["layer"].to_list() == ["source", "source", "source", "model"]
    assert status["asset"].to_list()[-1] == "mart_registration__progress"
    failing = status.filter(pl.col("check_name") == DECISION_AFTER_TASK).row(0, named=True)
    assert failing["run_id"] == "run-3" and failing["evaluated_at"] == AT
    assert failing["unexpected_count"] == len(EARLY_DECISIONS) == failing["sample_rows"]
    assert failing["element_count"] == 30_000
    assert failing["key_columns"] == ["instance_id", "task_id", "occurred_at"]
    assert failing["description_zh"] == "审批决定晚于任务创建"


def test_a_check_without_results_has_not_run_and_a_dropped_check_is_gone(
    tmp_path: Path,
) -> None:
    paths = WarehousePaths(tmp_path)
    work = QualityWork(tmp_path / "work.duckdb")
    work.evaluate("run-1", AT, "published", snapshot_number=1)
    added = CheckInfo(
        "events_occurred_at_not_null", "raw_events", "events", "error",
        "expect_column_values_to_not_be_null", "发生时间不为空", "occurred_at is set", "all",
        ("event_id",),
    )  # fmt: skip
    kept = [check for check in CHECKS if check.name != RATE_IN_RANGE]
    register_checks(work.conn, [*kept, added])
    work.publish(paths, AT)
    work.close()
    with Warehouse(paths.quality) as reader, reader.cursor() as cursor:
        status = quality.check_status(cursor, DATA_STAFF)
        summary = quality.asset_summary(cursor, DATA_STAFF)
    shown = dict(zip(status["check_name"], status["status"], strict=True))
    assert shown["events_occurred_at_not_null"] == "not_run"
    assert RATE_IN_RANGE not in shown  # its old results stay in the history, not in the status
    events = summary.filter(pl.col("asset") == "raw_events").row(0, named=True)
    assert (events["checks"], events["pass"], events["not_run"]) == (3, 2, 1)


def test_per_asset_counts_add_up_to_the_checks(report: duckdb.DuckDBPyConnection) -> None:
    summary = quality.asset_summary(report, DATA_STAFF)
    rows = {row["asset"]: row for row in summary.iter_rows(named=True)}
    assert list(rows) == ["raw_business", "raw_events", "mart_registration__progress"]
    assert (rows["raw_events"]["pass"], rows["raw_events"]["fail"]) == (1, 1)
    assert rows["raw_events"]["suites"] == ["events", "integrity"]
    assert rows["raw_events"]["status"] == "fail"
    assert (rows["raw_business"]["warn"], rows["raw_business"]["status"]) == (1, "warn")
    assert rows["mart_registration__progress"]["status"] == "pass"
    assert sum(summary["checks"]) == len(CHECKS)
    assert all(row["last_evaluated_at"] == AT for row in rows.values())


def test_the_trend_follows_one_check_over_the_runs(report: duckdb.DuckDBPyConnection) -> None:
    trend = quality.trend(report, DATA_STAFF, MEMBERSHIP_OVERLAP)
    assert trend["run_id"].to_list() == ["run-1", "run-2", "run-3"]
    assert trend["evaluated_at"].to_list() == [AT - timedelta(hours=2), AT - timedelta(hours=1), AT]
    assert trend["success"].to_list() == [True, False, False]
    assert trend["status"].to_list() == ["pass", "warn", "warn"]
    assert trend["unexpected_count"].to_list() == [0, 2, 2]
    assert trend["element_count"].to_list() == [2_400] * 3
    blocking = quality.trend(report, DATA_STAFF, DECISION_AFTER_TASK)
    assert blocking["status"].to_list() == ["pass", "pass", "fail"]
    with pytest.raises(LookupError, match="no_such_check"):
        quality.trend(report, DATA_STAFF, "no_such_check")


def test_the_failing_rows_come_back_with_their_keys_first(
    report: duckdb.DuckDBPyConnection,
) -> None:
    sample = quality.failing_sample(report, DATA_STAFF, MEMBERSHIP_OVERLAP)
    assert (sample.run_id, sample.evaluated_at, sample.success) == ("run-3", AT, False)
    assert sample.status == "warn"  # published and shown, not blocking
    assert sample.keys == ("student_id", "class_id", "valid_from")
    assert sample.rows.columns[:3] == list(sample.keys)
    assert sample.rows.to_dicts() == [dict(row) for row in OVERLAPS]
    assert sample.observed_value == {"unexpected": 2}
    # An earlier result of the same check, asked for by its run: it passed, no rows.
    clean = quality.failing_sample(report, DATA_STAFF, MEMBERSHIP_OVERLAP, run_id="run-1")
    assert clean.success and clean.status == "pass" and clean.rows.is_empty()
    blocking = quality.failing_sample(report, DATA_STAFF, DECISION_AFTER_TASK)
    assert blocking.status == "fail" and blocking.rows.height == len(EARLY_DECISIONS)
    assert clean.rows.columns == list(sample.keys)
    with pytest.raises(LookupError):
        quality.failing_sample(report, DATA_STAFF, MEMBERSHIP_OVERLAP, run_id="run-404")
    with pytest.raises(LookupError):
        quality.failing_sample(report, DATA_STAFF, "' or 1=1 --")


def test_samples_keep_their_types_and_never_drop_a_value() -> None:
    frame = quality.sample_frame(
        [
            {"instance_id": "I-1", "seconds": 5, "payload": {"a": 1}},
            {"instance_id": "I-2", "seconds": 2.5, "payload": "x"},
            "not an object",
        ],
        ["task_id", "instance_id"],
    )
    assert frame.columns == ["task_id", "instance_id", "seconds", "payload", "value"]
    assert frame["seconds"].dtype == pl.Float64 and frame["seconds"].to_list() == [5, 2.5, None]
    assert frame["payload"].to_list() == ['{"a": 1}', "x", None]
    assert frame["value"].to_list() == [None, None, "not an object"]
    assert frame["task_id"].null_count() == 3


def test_runs_and_publication_say_what_was_blocked_and_since_when(
    report: duckdb.DuckDBPyConnection,
) -> None:
    runs = quality.runs(report, DATA_STAFF)
    assert runs["run_id"].to_list() == ["run-3", "run-2", "run-1"]
    assert runs["outcome"].to_list() == ["blocked", "published", "published"]
    assert runs["snapshot_number"].to_list() == [None, 2, 1]
    assert runs["blocking_failures"].to_list() == [1, 0, 0]
    assert runs["warnings"].to_list() == [1, 1, 0]
    assert quality.runs(report, DATA_STAFF, limit=1).height == 1
    state = quality.publication(report, DATA_STAFF)
    assert state.blocked and state.blocked_runs == 1 and state.since == AT
    assert state.blocking_checks == (DECISION_AFTER_TASK,)
    assert (state.last_snapshot, state.last_published_at) == (2, AT - timedelta(hours=1))


def test_publication_stays_blocked_across_runs_until_one_publishes(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    work = QualityWork(tmp_path / "work.duckdb")
    failing = {DECISION_AFTER_TASK: EARLY_DECISIONS}
    work.evaluate("run-1", AT, "published", snapshot_number=7)
    work.evaluate("run-2", AT + timedelta(minutes=5), "blocked", failing=failing)
    work.evaluate("run-3", AT + timedelta(minutes=10), "checked", failing=failing)
    work.evaluate("run-4", AT + timedelta(minutes=15), "blocked", failing=failing)
    work.publish(paths, AT + timedelta(minutes=15))
    with Warehouse(paths.quality) as reader:
        with reader.cursor() as cursor:
            state = quality.publication(cursor, DATA_STAFF)
        assert state.blocked and state.blocked_runs == 2
        assert state.since == AT + timedelta(minutes=5) and state.last_snapshot == 7
        work.evaluate("run-5", AT + timedelta(minutes=20), "published", snapshot_number=8)
        work.publish(paths, AT + timedelta(minutes=20))
        work.close()
        with reader.cursor() as cursor:
            fixed = quality.publication(cursor, DATA_STAFF)
    assert not fixed.blocked and fixed.since is None and fixed.blocking_checks == ()
    assert fixed.last_snapshot == 8


def test_freshness_ages_every_source_at_the_given_moment(
    report: duckdb.DuckDBPyConnection,
) -> None:
    now = AT + timedelta(hours=1)
    fresh = {row["source"]: row for row in quality.freshness(report, DATA_STAFF, now).to_dicts()}
    assert set(fresh) == {"events", "business", "snapshot"}
    assert fresh["snapshot"]["detail"] == "2" and fresh["snapshot"]["loaded_age_s"] == 2 * 3600
    assert fresh["events"]["loaded_age_s"] == 3600
    assert fresh["events"]["newest_age_s"] == 3600 + 180  # the newest event is 3 min older
    assert fresh["business"]["loaded_age_s"] == 6 * 3600
    assert fresh["business"]["newest_age_s"] is None


@pytest.mark.parametrize(
    "scope",
    [
        Scope("T0100001", ON, frozenset({"leadership"}), university=True),
        Scope("S2025001", ON, frozenset({"class_monitor"}), frozenset({"c1"}), personal_data=True),
        Scope("T0200001", ON, frozenset({"department_approver"}), unit_ids=frozenset({"it"})),
        Scope("S2025002", ON),
    ],
    ids=["leadership", "monitor", "approver", "nobody"],
)
def test_only_data_staff_may_read_the_report(
    report: duckdb.DuckDBPyConnection, scope: Scope
) -> None:
    calls = [
        lambda: quality.check_status(report, scope),
        lambda: quality.asset_summary(report, scope),
        lambda: quality.trend(report, scope, MEMBERSHIP_OVERLAP),
        lambda: quality.failing_sample(report, scope, MEMBERSHIP_OVERLAP),
        lambda: quality.runs(report, scope),
        lambda: quality.publication(report, scope),
        lambda: quality.freshness(report, scope, AT),
    ]
    for call in calls:
        with pytest.raises(NotInScopeError, match=scope.user_id):
            call()
