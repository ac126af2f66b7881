"""tongban quality: text, JSON and exit status when all pass, one warns, one blocks, none yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from warehouse.paths import WarehousePaths
from warehouse.quality import (
    CheckInfo,
    CheckResult,
    Outcome,
    RunInfo,
    publish_report,
    record_load,
    record_results,
    record_run,
    register_checks,
)

TONGBAN = str(Path(sys.executable).with_name("tongban"))

# Naive UTC, as the pipelines record them: 10:00 and 10:30 in Asia/Shanghai.
FIRST_RUN = datetime(2026, 11, 2, 2, 0)
SECOND_RUN = datetime(2026, 11, 2, 2, 30)
EVENTS_LOADED = datetime(2026, 11, 2, 1, 59)
NEWEST_EVENT = datetime(2026, 11, 2, 1, 58, 30)

UNIQUE = CheckInfo(
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
APPLICANTS = CheckInfo(
    name="applicants_in_directory",
    asset="raw_events",
    suite="integrity",
    severity="warn",
    expectation="expect_column_values_to_be_in_set",
    description_zh="申请人在名册中",
    description_en="Every applicant is in the directory",
    applies_to="all",
    keys=("event_id", "instance_id"),
)
TURNAROUND = CheckInfo(
    name="turnaround_not_negative",
    asset="mart_turnaround__services",
    suite="marts",
    severity="error",
    expectation="expect_column_values_to_be_between",
    description_zh="办理时长不为负",
    description_en="No turnaround is negative",
    applies_to="all",
    keys=("process_key", "period_start"),
)
CHECKS = (UNIQUE, APPLICANTS, TURNAROUND)


def passed(check: CheckInfo) -> CheckResult:
    return CheckResult(check.name, success=True, element_count=120, unexpected_count=0)


def publish(
    home: Path,
    run: RunInfo,
    results: Sequence[CheckResult],
    outcome: Outcome,
    *,
    snapshot: int | None = None,
) -> None:
    """Record one run's results as the pipelines do, and publish the report."""
    paths = WarehousePaths(home / "warehouse")
    paths.build_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(paths.work_db))
    try:
        register_checks(conn, CHECKS)
        record_results(conn, run, {c.name: c for c in CHECKS}, results)
        severity = {c.name: c.severity for c in CHECKS}
        failed = [r for r in results if not r.success]
        record_run(
            conn,
            run,
            outcome,
            blocking_failures=sum(severity[r.check_name] == "error" for r in failed),
            warnings=sum(severity[r.check_name] == "warn" for r in failed),
            snapshot_number=snapshot,
        )
        record_load(conn, "events", EVENTS_LOADED, newest_at=NEWEST_EVENT, rows=120, detail="120")
        if snapshot is not None:
            record_load(conn, "snapshot", run.evaluated_at, detail=str(snapshot))
        publish_report(conn, paths, run.evaluated_at, run.events_cursor)
    finally:
        conn.close()


def tongban_quality(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    environ["TONGBAN_HOME"] = str(home)
    return subprocess.run(
        [TONGBAN, "quality", *args], env=environ, capture_output=True, text=True, timeout=120
    )


def as_json(home: Path) -> tuple[int, dict[str, Any]]:
    result = tongban_quality(home, "--json")
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout)


def line_of(text: str, check: str) -> str:
    [line] = [line for line in text.splitlines() if f" {check} " in line]
    return line


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("passing")
    run = RunInfo("run-1", "warehouse_update", FIRST_RUN, 120)
    publish(home, run, [passed(c) for c in CHECKS], "published", snapshot=7)
    return home


@pytest.fixture(scope="module")
def warning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("warning")
    sample = [
        {"event_id": n, "instance_id": f"i{n}", "applicant_id": f"s{n}"} for n in range(11, 16)
    ]
    results = [
        passed(UNIQUE),
        CheckResult(
            APPLICANTS.name,
            success=False,
            element_count=120,
            unexpected_count=5,
            unexpected_percent=5 / 120 * 100,
            sample=sample,
        ),
        passed(TURNAROUND),
    ]
    publish(
        home, RunInfo("run-1", "warehouse_update", FIRST_RUN, 120), results, "published", snapshot=7
    )
    return home


@pytest.fixture(scope="module")
def blocked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Snapshot 7 published at 10:00; at 10:30 an event_id loaded twice blocks the next one."""
    home = tmp_path_factory.mktemp("blocked")
    first = RunInfo("run-1", "warehouse_update", FIRST_RUN, 120)
    publish(home, first, [passed(c) for c in CHECKS], "published", snapshot=7)
    twice = [{"event_id": 121, "stream_id": "i9", "event_type": "approved"}] * 2
    failing = CheckResult(
        UNIQUE.name, success=False, element_count=30, unexpected_count=2, sample=twice
    )
    second = RunInfo("run-2", "live_update", SECOND_RUN, 150)
    publish(home, second, [failing, passed(APPLICANTS)], "blocked")
    return home


def test_all_passing_exits_0_and_says_what_is_published(passing: Path) -> None:
    result = tongban_quality(passing)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "3 checks: 0 failing blocking, 0 warnings; publication not blocked;"
        " snapshot #7 of 2026-11-02 10:00:00 published"
    )
    line = line_of(result.stdout, UNIQUE.name)
    assert line.split()[:4] == ["PASS", "error", UNIQUE.name, "raw_events"]
    assert "0 failing  2026-11-02 10:00:00" in line and "e.g." not in line
    assert "freshness:" in lines
    [events] = [line for line in lines if line.startswith("  events: ")]
    assert events.startswith("  events: loaded 2026-11-02 09:59:00 (")
    assert "newest 2026-11-02 09:58:30 (" in events and events.endswith(", 120 rows")

    code, status = as_json(passing)
    assert code == 0
    assert set(status) == {"report", "summary", "checks", "freshness"}
    assert status["summary"] == {
        "checks": 3,
        "failing_blocking": 0,
        "warnings": 0,
        "passing": 3,
        "not_run": 0,
        "publication_blocked": False,
        "blocked_since": None,
        "blocked_runs": 0,
        "blocking_checks": [],
        "published_snapshot": 7,
        "snapshot_published_at": "2026-11-02T10:00:00+08:00",
    }
    assert status["report"]["number"] == 1
    assert [c["status"] for c in status["checks"]] == ["pass", "pass", "pass"]
    first = status["checks"][0]
    assert set(first) == {
        "check",
        "asset",
        "suite",
        "severity",
        "status",
        "unexpected_count",
        "element_count",
        "evaluated_at",
        "run_id",
        "job_name",
        "failing_keys",
    }
    assert first["evaluated_at"] == "2026-11-02T10:00:00+08:00"
    assert [f["source"] for f in status["freshness"]] == ["events", "snapshot"]
    events_json = status["freshness"][0]
    assert events_json["loaded_at"] == "2026-11-02T09:59:00+08:00"
    assert events_json["newest_at"] == "2026-11-02T09:58:30+08:00"
    assert (events_json["rows"], events_json["detail"]) == (120, "120")
    assert events_json["loaded_age_s"] > 0


def test_a_warning_exits_0_and_names_three_failing_keys(warning: Path) -> None:
    result = tongban_quality(warning)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("3 checks: 0 failing blocking, 1 warnings;")
    line = line_of(result.stdout, APPLICANTS.name)
    assert line.split()[:4] == ["WARN", "warn", APPLICANTS.name, "raw_events"]
    assert line.endswith(
        "5 failing  2026-11-02 10:00:00"
        "  e.g. event_id=11, instance_id=i11; event_id=12, instance_id=i12;"
        " event_id=13, instance_id=i13"
    )
    # The warning is listed before the passing checks.
    assert result.stdout.splitlines()[3].startswith("WARN ")

    code, status = as_json(warning)
    assert code == 0
    assert (status["summary"]["warnings"], status["summary"]["failing_blocking"]) == (1, 0)
    assert status["summary"]["publication_blocked"] is False
    [warned] = [c for c in status["checks"] if c["status"] == "warn"]
    assert warned["check"] == APPLICANTS.name and warned["severity"] == "warn"
    assert warned["unexpected_count"] == 5 and warned["element_count"] == 120
    assert warned["failing_keys"] == [
        {"event_id": 11, "instance_id": "i11"},
        {"event_id": 12, "instance_id": "i12"},
        {"event_id": 13, "instance_id": "i13"},
    ]


def test_a_blocking_failure_exits_1_and_says_publication_is_blocked(blocked: Path) -> None:
    result = tongban_quality(blocked)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "3 checks: 1 failing blocking, 0 warnings;"
        " publication BLOCKED since 2026-11-02 10:30:00 (1 run);"
        " snapshot #7 of 2026-11-02 10:00:00 still published"
    )
    assert lines[3] == line_of(result.stdout, UNIQUE.name)
    assert lines[3].split()[:4] == ["FAIL", "error", UNIQUE.name, "raw_events"]
    assert lines[3].endswith(
        "2 failing  2026-11-02 10:30:00  e.g. event_id=121, stream_id=i9;"
        " event_id=121, stream_id=i9"
    )
    # A check the blocked run did not evaluate keeps its earlier result.
    assert "2026-11-02 10:00:00" in line_of(result.stdout, TURNAROUND.name)

    code, status = as_json(blocked)
    assert code == 1
    summary = status["summary"]
    assert (summary["failing_blocking"], summary["warnings"], summary["passing"]) == (1, 0, 2)
    assert summary["publication_blocked"] is True
    assert summary["blocked_since"] == "2026-11-02T10:30:00+08:00"
    assert summary["blocking_checks"] == [UNIQUE.name]
    assert summary["published_snapshot"] == 7
    failing = status["checks"][0]
    assert (failing["check"], failing["status"], failing["run_id"]) == (
        UNIQUE.name,
        "fail",
        "run-2",
    )
    assert failing["job_name"] == "live_update"
    assert failing["evaluated_at"] == "2026-11-02T10:30:00+08:00"
    assert failing["failing_keys"] == [{"event_id": 121, "stream_id": "i9"}] * 2
    assert status["report"]["number"] == 2


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_no_report_yet_exits_2_in_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = tongban_quality(tmp_path, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "tongban: no data-quality report yet: run `tongban build`"
    ]
