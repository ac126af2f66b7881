"""Corruptions injected into a small university's sources: the right check fails naming the
offending keys, a blocking one leaves the last snapshot published untouched, a warning
publishes, and once the bad rows are gone the next run is green."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tests.pipelines.conftest import resources_for, run_job
from warehouse.paths import WarehousePaths
from warehouse.publication import read_current_name
from warehouse.reader import Warehouse


@dataclass
class University:
    home: Path
    warehouse: Path

    @property
    def resources(self) -> dict[str, Any]:
        return resources_for(self.home, self.warehouse)

    def events(self) -> sqlite3.Connection:
        return sqlite3.connect(self.home / "events.db", isolation_level=None)

    def business(self) -> sqlite3.Connection:
        return sqlite3.connect(self.home / "business.db", isolation_level=None)


@pytest.fixture(scope="module")
def built(source_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clean warehouse of the small university, built and checked once."""
    root = tmp_path_factory.mktemp("quality") / "wh"
    result = run_job("warehouse_update", resources_for(source_home, root))
    assert result.success
    return root


@pytest.fixture
def university(source_home: Path, built: Path, tmp_path: Path) -> University:
    """A private copy of the sources and of the clean warehouse, to corrupt."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("events.db", "business.db"):
        shutil.copy(source_home / name, home / name)
    shutil.copytree(built, tmp_path / "wh")
    return University(home=home, warehouse=tmp_path / "wh")


def latest(root: Path) -> dict[str, dict[str, Any]]:
    """The latest result of every check in the published report."""
    with Warehouse(WarehousePaths(root).quality) as report, report.cursor() as cur:
        rows = cur.execute(
            """
            select check_name, severity, success, unexpected_count, sample, run_id
            from quality_results
            qualify row_number() over (partition by check_name order by evaluated_at desc) = 1
            """
        ).fetchall()
    return {
        name: {
            "severity": severity,
            "success": success,
            "unexpected": unexpected,
            "sample": json.loads(sample),
            "run_id": run_id,
        }
        for name, severity, success, unexpected, sample, run_id in rows
    }


def latest_run(root: Path) -> tuple[str, int, int | None]:
    with Warehouse(WarehousePaths(root).quality) as report, report.cursor() as cur:
        row = cur.execute(
            "select outcome, blocking_failures, snapshot_number from quality_runs"
            " order by evaluated_at desc limit 1"
        ).fetchall()[0]
    return str(row[0]), int(row[1]), row[2]


def failing(root: Path) -> set[str]:
    return {name for name, result in latest(root).items() if not result["success"]}


def snapshot_state(root: Path) -> tuple[str, str]:
    """The snapshot CURRENT names and a digest of its bytes."""
    paths = WarehousePaths(root)
    name = read_current_name(paths.current)
    assert name is not None
    return name, hashlib.sha256((paths.published_dir / name).read_bytes()).hexdigest()


def failed_checks(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        event.event_specific_data.check_name  # type: ignore[union-attr]
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
        and not event.event_specific_data.passed  # type: ignore[union-attr]
    }


def copy_event(conn: sqlite3.Connection, event_id: int, **changes: Any) -> int:
    """Append a copy of event `event_id` with `changes`, as a writer that bypasses the workflow
    service would (a broken importer); the new event's id."""
    columns = [row[1] for row in conn.execute("pragma table_info(events)")]
    row = dict(
        zip(
            columns,
            conn.execute("select * from events where event_id = ?", [event_id]).fetchone(),
            strict=True,
        )
    )
    row.update(changes)
    row["event_id"] = conn.execute("select max(event_id) + 1 from events").fetchone()[0]
    conn.execute(
        f"insert into events ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
        [row[c] for c in columns],
    )
    return int(row["event_id"])


def without_uniqueness(conn: sqlite3.Connection) -> None:
    """Make the store's events table one that does not enforce (stream_id, stream_version), as
    a month-partitioned PostgreSQL store cannot enforce it across partitions."""
    conn.execute("alter table events rename to events_enforced")
    conn.execute("create table events as select * from events_enforced")
    conn.execute("drop table events_enforced")


def test_a_clean_university_passes_every_check(built: Path) -> None:
    results = latest(built)
    assert results, "no check results were published"
    assert not {n for n, r in results.items() if not r["success"]}
    outcome, blocking, number = latest_run(built)
    assert (outcome, blocking) == ("published", 0)
    assert number is not None


def test_an_event_for_an_unknown_student_warns_and_publishes(university: University) -> None:
    before = snapshot_state(university.warehouse)
    with university.events() as conn:
        first = conn.execute(
            "select min(event_id) from events where event_type = 'submitted'"
        ).fetchone()[0]
        payload = json.loads(
            conn.execute("select payload from events where event_id = ?", [first]).fetchone()[0]
        )
        payload["applicant_id"] = "U209999999"
        copy_event(
            conn,
            first,
            stream_id="fault-unknown-applicant",
            stream_version=1,
            actor_id="U209999999",
            payload=json.dumps(payload),
        )

    result = run_job("warehouse_update", university.resources)

    assert result.success, "a warning must not stop the run"
    assert failed_checks(result) == {"integrity_applicant_known"}
    found = latest(university.warehouse)["integrity_applicant_known"]
    assert found["severity"] == "warn"
    assert found["unexpected"] == 1
    assert found["sample"][0]["instance_id"] == "fault-unknown-applicant"
    assert snapshot_state(university.warehouse)[0] != before[0], "a warning still publishes"
    assert latest_run(university.warehouse)[0] == "published"

    # The nightly refresh brings the new student into the directory: the warning clears.
    with university.business() as conn:
        conn.execute(
            "insert into students select 'U209999999', name, gender, kind, degree_level,"
            " entry_year, phone, home_province from students limit 1"
        )
        conn.execute(
            "insert into student_class_memberships (student_id, class_id, valid_from, valid_to)"
            " select 'U209999999', class_id, valid_from, valid_to from student_class_memberships"
            " where valid_to is null limit 1"
        )
    assert run_job("business_refresh", university.resources).success
    assert run_job("warehouse_update", university.resources).success
    assert not failing(university.warehouse)


def test_a_duplicated_stream_version_blocks_until_removed(university: University) -> None:
    before = snapshot_state(university.warehouse)
    with university.events() as conn:
        without_uniqueness(conn)
        victim = conn.execute(
            "select event_id, stream_id, stream_version from events"
            " where event_type = 'task_viewed' order by event_id limit 1"
        ).fetchone()
        duplicate = copy_event(conn, victim[0])

    result = run_job("warehouse_update", university.resources)

    assert not result.success, "a blocking check must fail the run"
    assert "events_stream_version_unique" in failed_checks(result)
    found = latest(university.warehouse)["events_stream_version_unique"]
    assert found["unexpected"] == 2
    assert {row["stream_id"] for row in found["sample"]} == {victim[1]}
    assert {row["event_id"] for row in found["sample"]} == {victim[0], duplicate}
    assert snapshot_state(university.warehouse) == before, "the last good snapshot stays"
    outcome, blocking, _ = latest_run(university.warehouse)
    assert outcome == "blocked" and blocking >= 1

    # Still blocked on the next run: the failure is not skipped by new traffic.
    assert not run_job("warehouse_update", university.resources).success
    assert snapshot_state(university.warehouse) == before

    with university.events() as conn:
        conn.execute("delete from events where event_id = ?", [duplicate])
    assert run_job("warehouse_update", university.resources).success
    assert not failing(university.warehouse)
    assert snapshot_state(university.warehouse)[0] != before[0]
    assert latest_run(university.warehouse)[0] == "published"


def test_an_approval_before_its_submission_blocks_until_removed(university: University) -> None:
    before = snapshot_state(university.warehouse)
    with university.events() as conn:
        task = conn.execute(
            """
            select created.event_id, created.stream_id, created.task_id, created.payload,
                   submitted.occurred_at
            from events as created
            join events as submitted
                on submitted.stream_id = created.stream_id
                and submitted.event_type = 'submitted'
            where created.event_type = 'task_created'
                and not exists (
                    select 1 from events as later
                    where later.stream_id = created.stream_id
                        and later.event_type in
                            ('approved', 'rejected', 'returned', 'completed', 'withdrawn')
                )
            order by created.event_id
            limit 1
            """
        ).fetchone()
        assert task is not None, "the small university has no open task"
        version = conn.execute(
            "select max(stream_version) + 1 from events where stream_id = ?", [task[1]]
        ).fetchone()[0]
        approval = copy_event(
            conn,
            task[0],
            event_type="approved",
            stream_version=version,
            actor_id=json.loads(task[3])["assignees"][0],
            actor_role="approver",
            occurred_at=conn.execute("select datetime(?, '-1 day')", [task[4]]).fetchone()[0],
            payload="{}",
        )

    result = run_job("warehouse_update", university.resources)

    assert not result.success
    assert "integrity_decision_after_task_created" in failed_checks(result)
    found = latest(university.warehouse)["integrity_decision_after_task_created"]
    assert [(row["instance_id"], row["task_id"]) for row in found["sample"]] == [(task[1], task[2])]
    assert (
        latest(university.warehouse)["integrity_time_not_backwards"]["sample"][0]["event_id"]
        == approval
    )
    assert snapshot_state(university.warehouse) == before

    # A database administrator removes the event the store refuses to delete itself.
    with university.events() as conn:
        conn.execute("drop trigger events_refuse_delete")
        conn.execute("delete from events where event_id = ?", [approval])
    assert run_job("warehouse_update", university.resources).success
    assert not failing(university.warehouse)


def test_a_class_without_a_college_blocks_until_fixed(university: University) -> None:
    before = snapshot_state(university.warehouse)
    with university.business() as conn:
        class_id, major_id = conn.execute(
            "select class_id, major_id from classes order by class_id limit 1"
        ).fetchone()
        conn.execute("update classes set major_id = 'NO-SUCH-MAJOR' where class_id = ?", [class_id])

    result = run_job("business_refresh", university.resources)

    assert not result.success
    assert "business_class_has_college" in failed_checks(result)
    found = latest(university.warehouse)["business_class_has_college"]
    assert [row["class_id"] for row in found["sample"]] == [class_id]
    assert snapshot_state(university.warehouse) == before
    assert not run_job("warehouse_update", university.resources).success, "still blocked"
    assert snapshot_state(university.warehouse) == before

    with university.business() as conn:
        conn.execute("update classes set major_id = ? where class_id = ?", [major_id, class_id])
    assert run_job("business_refresh", university.resources).success
    assert not failing(university.warehouse)
    assert snapshot_state(university.warehouse)[0] != before[0]


def test_a_student_in_two_classes_at_once_blocks_until_fixed(university: University) -> None:
    before = snapshot_state(university.warehouse)
    with university.business() as conn:
        student, current = conn.execute(
            "select student_id, class_id from student_class_memberships"
            " where valid_to is null order by student_id limit 1"
        ).fetchone()
        other = conn.execute(
            "select class_id from classes where class_id <> ? and closed_on is null limit 1",
            [current],
        ).fetchone()[0]
        conn.execute(
            "insert into student_class_memberships (student_id, class_id, valid_from, valid_to)"
            " values (?, ?, '2025-10-01', null)",
            [student, other],
        )

    result = run_job("business_refresh", university.resources)

    assert not result.success
    assert "business_membership_no_overlap" in failed_checks(result)
    found = latest(university.warehouse)["business_membership_no_overlap"]
    assert {row["student_id"] for row in found["sample"]} == {student}
    assert snapshot_state(university.warehouse) == before

    with university.business() as conn:
        conn.execute(
            "delete from student_class_memberships where student_id = ? and class_id = ?",
            [student, other],
        )
    assert run_job("business_refresh", university.resources).success
    assert not failing(university.warehouse)
