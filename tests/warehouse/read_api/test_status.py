"""The status line's read: the published snapshot's number and "as of", and the count of
data-quality checks whose latest result failed — honestly "not checked" while no results exist."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from tests.warehouse.conftest import AS_OF, BuiltUniversity
from warehouse.read_api.status import QUALITY_RESULTS_TABLE, data_status, reader_name
from warehouse.reader import Warehouse
from warehouse.scope import NotInScopeError, Scope, resolve_scope

ON = AS_OF.date()


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
    # The data-quality results are not published yet: zero failing, and said to be unchecked.
    assert status.checks_run is False
    assert status.failing_checks == 0
    assert name and "<" not in name


def test_no_status_without_a_role(warehouse: Warehouse) -> None:
    with warehouse.cursor() as cursor, pytest.raises(NotInScopeError):
        data_status(cursor, Scope(user_id="nobody", on=ON))


def test_a_check_fails_when_its_latest_result_failed() -> None:
    conn = duckdb.connect(":memory:")
    conn.execute(
        "create table _snapshot as select 7 as number,"
        " timestamp '2026-11-02 02:00' as as_of, timestamp '2026-11-02 02:01' as published_at"
    )
    conn.execute(
        f"create table {QUALITY_RESULTS_TABLE} (asset varchar, check_name varchar,"
        " checked_at timestamp, success boolean)"
    )
    scope = Scope(user_id="u1", on=ON, university=True)
    empty = data_status(conn, scope)
    assert (empty.snapshot_number, empty.checks_run, empty.failing_checks) == (7, False, 0)
    conn.executemany(
        f"insert into {QUALITY_RESULTS_TABLE} values (?, ?, ?, ?)",
        [
            # failed, then fixed: passing now
            ("events", "unique_event_id", datetime(2026, 11, 1, 2), False),
            ("events", "unique_event_id", datetime(2026, 11, 2, 2), True),
            # passed, then broke: failing now
            ("events", "no_time_backwards", datetime(2026, 11, 1, 2), True),
            ("events", "no_time_backwards", datetime(2026, 11, 2, 2), False),
            # the same check name on another asset is another check
            ("fct_tasks", "no_time_backwards", datetime(2026, 11, 2, 2), False),
            ("roster", "known_classes", datetime(2026, 11, 2, 2), True),
        ],
    )
    status = data_status(conn, scope)
    assert status.checks_run is True
    assert status.failing_checks == 2
    assert status.as_of == datetime(2026, 11, 2, 2, 0)
    conn.close()
