"""The status line every dashboard page shows: which snapshot it reads ("数据截至 T") and how many
upstream data-quality checks fail, plus the reader's own name for the page header.

Data-quality results land in `QUALITY_RESULTS_TABLE` (the data-quality issue writes it): one row
per check result with at least `asset`, `check_name`, `checked_at` (naive UTC) and `success`.
A check fails when its latest result is not a success. Until that table is published, no check
has run: `checks_run` is False and the count is 0 — an honest "not checked", never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import duckdb

from warehouse.publication import SNAPSHOT_TABLE
from warehouse.scope import Scope

QUALITY_RESULTS_TABLE: Final = "fct_quality_results"


@dataclass(frozen=True)
class DataStatus:
    """What the reader's numbers rest on: one published snapshot and its quality checks."""

    snapshot_number: int
    as_of: datetime  # naive UTC: the build's "now", what the figures are current to
    published_at: datetime  # naive UTC
    checks_run: bool  # False until data-quality results are published
    failing_checks: int


def data_status(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> DataStatus:
    """The snapshot `cursor` reads and the number of checks whose latest result failed."""
    scope.require()
    row = cursor.execute(f"select number, as_of, published_at from {SNAPSHOT_TABLE}").fetchone()
    if row is None:
        raise LookupError(f"the snapshot has no {SNAPSHOT_TABLE} row: not a published snapshot")
    number, as_of, published_at = row
    checks_run, failing = _failing_checks(cursor)
    return DataStatus(
        snapshot_number=int(number),
        as_of=as_of,
        published_at=published_at,
        checks_run=checks_run,
        failing_checks=failing,
    )


def reader_name(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> str | None:
    """The signed-in reader's own name (their own record, so no scope beyond being a reader)."""
    row = cursor.execute(
        "select person_name from dim_people where person_id = ? limit 1", [scope.user_id]
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _failing_checks(cursor: duckdb.DuckDBPyConnection) -> tuple[bool, int]:
    present = cursor.execute(
        "select count(*) from duckdb_tables() where database_name = current_database()"
        " and schema_name = 'main' and table_name = ?"
        " union all select count(*) from duckdb_views() where database_name = current_database()"
        " and schema_name = 'main' and view_name = ?",
        [QUALITY_RESULTS_TABLE, QUALITY_RESULTS_TABLE],
    ).fetchall()
    if not any(int(count) for (count,) in present):
        return False, 0
    row = cursor.execute(
        f"""
        with latest as (
            select asset, check_name, arg_max(success, checked_at) as success
            from {QUALITY_RESULTS_TABLE}
            group by all
        )
        select count(*), count(*) filter (where not coalesce(success, false)) from latest
        """
    ).fetchone()
    if row is None or int(row[0]) == 0:
        return False, 0
    return True, int(row[1])
