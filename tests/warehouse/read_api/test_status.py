"""The status line's read: the published snapshot's number and "as of", and from the quality
report published beside it the count of checks whose latest result failed and of those that block
publication — honestly "not checked" while no results exist."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.conftest import AS_OF, BuiltUniversity
from tests.warehouse.quality_report import DECISION_AFTER_TASK as DECISION
from tests.warehouse.quality_report import EVENTS_UNIQUE, QualityWork
from tests.warehouse.quality_report import RATE_IN_RANGE as RATE
from warehouse.paths import WarehousePaths
from warehouse.read_api.status import data_status, reader_name
from warehouse.reader import Warehouse
from warehouse.scope import NotInScopeError, Scope, resolve_scope

ON = AS_OF.date()
AT = AS_OF


def leadership(university: BuiltUniversity, cursor: duckdb.DuckDBPyConnection) -> Scope:
    row = cursor.execute(
        "select person_id from dim_role_grants where role = 'leadership'"
        " and valid_from <= ? and (valid_to is null or valid_to > ?) order by person_id limit 1",
        [ON, ON],
    ).fetchone()
    assert row is not None
    return resolve_scope(cursor, str(row[0]), ON)


def test_the_published_snapshot_is_described_and_no_check_has_run_yet(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    with warehouse.cursor() as cursor:
        scope = leadership(small_university, cursor)
        status = data_status(cursor, scope)
        name = reader_name(cursor, scope)
    snapshot = warehouse.snapshot()
    assert status.snapshot_number == snapshot.number
    assert status.as_of == AS_OF == snapshot.as_of
    assert status.published_at == snapshot.published_at
    # No quality report is published yet: zero failing, and said to be unchecked.
    assert status.checks_run is False
    assert (status.failing_checks, status.blocking_failures, status.quality_report) == (0, 0, None)
    assert name and "<" not in name


def test_no_status_without_a_role(warehouse: Warehouse) -> None:
    with warehouse.cursor() as cursor, pytest.raises(NotInScopeError):
        data_status(cursor, Scope(user_id="nobody", on=ON))


def test_a_check_fails_when_its_latest_result_failed(
    small_university: BuiltUniversity, warehouse: Warehouse, tmp_path: Path
) -> None:
    paths = WarehousePaths(tmp_path)
    work = QualityWork(tmp_path / "work.duckdb")
    # Registered, not yet evaluated: a published report that says nothing is still "not checked".
    work.publish(paths, AT)
    with Warehouse(paths.quality) as report, warehouse.cursor() as cursor:
        scope = leadership(small_university, cursor)
        with report.cursor() as quality:
            empty = data_status(cursor, scope, quality)
        assert (empty.checks_run, empty.failing_checks, empty.quality_report) == (False, 0, 1)

        # failed, then fixed: passing now; passed, then broke: failing now (a warning).
        work.evaluate("run-1", AT, "published", failing={EVENTS_UNIQUE: [{"event_id": 7}]})
        work.evaluate("run-2", AT + timedelta(hours=1), "published", failing={RATE: [{}]})
        work.publish(paths, AT + timedelta(hours=1))
        with report.cursor() as quality:
            warned = data_status(cursor, scope, quality)
        assert (warned.checks_run, warned.failing_checks, warned.blocking_failures) == (True, 1, 0)
        assert not warned.publication_blocked and warned.quality_report == 2

        # A blocking check fails beside the warning: both fail, one blocks publication.
        work.evaluate(
            "run-3", AT + timedelta(hours=2), "blocked", failing={RATE: [{}], DECISION: [{}]}
        )
        work.publish(paths, AT + timedelta(hours=2))
        work.close()
        with report.cursor() as quality:
            blocked = data_status(cursor, scope, quality)
        snapshot = warehouse.snapshot()
    assert (blocked.failing_checks, blocked.blocking_failures) == (2, 1)
    assert blocked.publication_blocked and blocked.quality_report == 3
    # The warehouse's own snapshot is what the figures rest on, whatever the report says.
    assert (blocked.snapshot_number, blocked.as_of) == (snapshot.number, AT)
