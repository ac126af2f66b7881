"""Quality reports for tests: the checks and results the pipelines would record, written and
published with `warehouse.quality` into real DuckDB files.

`QualityWork(path)` is a working database holding four checks over two sources and a mart;
`evaluate(...)` records one run (every check passes but those named in `failing`, with their
sample rows) and how it ended; `publish(paths, now)` publishes the report under
`paths.quality`. `warning_then_blocked(paths, work_db)` builds the usual story: a clean run, a
run that published with a warning, and a run that a blocking check stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import duckdb

from warehouse.paths import WarehousePaths
from warehouse.publication import Snapshot
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

EVENTS_UNIQUE: Final = "events_event_id_unique"
DECISION_AFTER_TASK: Final = "integrity_decision_after_task_created"
MEMBERSHIP_OVERLAP: Final = "business_membership_no_overlap"
RATE_IN_RANGE: Final = "mart_registration_rate_in_range"

CHECKS: Final = (
    CheckInfo(
        EVENTS_UNIQUE,
        "raw_events",
        "events",
        "error",
        "expect_column_values_to_be_unique",
        "事件编号唯一",
        "Event ids are unique",
        "all",
        ("event_id",),
    ),
    CheckInfo(
        DECISION_AFTER_TASK,
        "raw_events",
        "integrity",
        "error",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "审批决定晚于任务创建",
        "A decision comes after its task was created",
        "native",
        ("instance_id", "task_id", "occurred_at"),
    ),
    CheckInfo(
        MEMBERSHIP_OVERLAP,
        "raw_business",
        "business",
        "warn",
        "expect_compound_columns_to_be_unique",
        "同一学生的班级归属时段不重叠",
        "A student's class memberships do not overlap",
        "all",
        ("student_id", "class_id", "valid_from"),
    ),
    CheckInfo(
        RATE_IN_RANGE,
        "mart_registration__progress",
        "marts",
        "warn",
        "expect_column_values_to_be_between",
        "登记率在 0 与 1 之间",
        "Registration rates lie between 0 and 1",
        "all",
        ("campaign_id", "class_id"),
    ),
)
BY_NAME: Final = {check.name: check for check in CHECKS}
ELEMENTS: Final = {
    EVENTS_UNIQUE: 120_000,
    DECISION_AFTER_TASK: 30_000,
    MEMBERSHIP_OVERLAP: 2_400,
    RATE_IN_RANGE: 96,
}

# The keys and offending values of the failing rows in `warning_then_blocked`.
OVERLAPS: Final = (
    {"student_id": "S20250017", "class_id": "C2025-CS-01", "valid_from": "2025-09-01",
     "overlaps_class_id": "C2025-CS-02", "overlaps_from": "2025-08-20"},
    {"student_id": "S20250233", "class_id": "C2025-EE-03", "valid_from": "2026-02-24",
     "overlaps_class_id": "C2025-EE-01", "overlaps_from": "2025-09-01"},
)  # fmt: skip
EARLY_DECISIONS: Final = (
    {"instance_id": "I-000812", "task_id": "T-002417", "occurred_at": "2026-11-01 01:58:00",
     "task_created_at": "2026-11-01 02:03:00"},
)  # fmt: skip


class QualityWork:
    """A working database with the quality tables and `CHECKS` registered."""

    def __init__(self, path: Path) -> None:
        self.conn = duckdb.connect(str(path))
        register_checks(self.conn, CHECKS)
        self.cursor = 0

    def evaluate(
        self,
        run_id: str,
        at: datetime,
        outcome: Outcome,
        *,
        failing: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
        snapshot_number: int | None = None,
        new_events: int = 1_000,
    ) -> None:
        """One run at `at` (naive UTC): every check passes but those in `failing`."""
        failing = failing or {}
        self.cursor += new_events
        run = RunInfo(run_id, "refresh_warehouse", at, self.cursor)
        results = [
            CheckResult(
                check_name=check.name,
                success=check.name not in failing,
                element_count=ELEMENTS[check.name],
                unexpected_count=len(failing.get(check.name, ())),
                observed_value={"unexpected": len(failing.get(check.name, ()))},
                unexpected_percent=100.0 * len(failing.get(check.name, ())) / ELEMENTS[check.name],
                sample=list(failing.get(check.name, ())),
            )
            for check in CHECKS
        ]
        record_results(self.conn, run, BY_NAME, results)
        blocking = sum(1 for name in failing if BY_NAME[name].severity == "error")
        record_run(
            self.conn,
            run,
            outcome,
            blocking_failures=blocking,
            warnings=len(failing) - blocking,
            snapshot_number=snapshot_number,
        )
        record_load(self.conn, "events", at, newest_at=at - timedelta(minutes=3), rows=self.cursor)
        record_load(self.conn, "business", at - timedelta(hours=5), rows=2_400)
        if snapshot_number is not None:  # as the pipelines do: when the last snapshot was made
            record_load(self.conn, "snapshot", at, detail=str(snapshot_number))

    def publish(self, paths: WarehousePaths, now: datetime) -> Snapshot:
        return publish_report(self.conn, paths, now, self.cursor)

    def close(self) -> None:
        self.conn.close()


def warning_then_blocked(
    paths: WarehousePaths, work_db: Path, at: datetime, *, blocked: bool = True
) -> Snapshot:
    """Publish the report of three runs ending at `at`: `run-1` clean and published,
    `run-2` published with a warning (`OVERLAPS`), `run-3` (with `blocked`) stopped by
    `EARLY_DECISIONS` while the warning persists."""
    work = QualityWork(work_db)
    try:
        work.evaluate("run-1", at - timedelta(hours=2), "published", snapshot_number=1)
        work.evaluate(
            "run-2",
            at - timedelta(hours=1),
            "published",
            failing={MEMBERSHIP_OVERLAP: OVERLAPS},
            snapshot_number=2,
        )
        if blocked:
            work.evaluate(
                "run-3",
                at,
                "blocked",
                failing={MEMBERSHIP_OVERLAP: OVERLAPS, DECISION_AFTER_TASK: EARLY_DECISIONS},
            )
        return work.publish(paths, at)
    finally:
        work.close()
