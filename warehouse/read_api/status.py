"""The status line every dashboard page shows: which snapshot it reads ("数据截至 T"), how many
upstream data-quality checks fail and whether a blocking one holds publication back, plus the
reader's own name for the page header.

The checks' results are not in the warehouse snapshot: a build that a blocking check stops
publishes no snapshot, so the pipelines publish a quality report of its own
(`WarehousePaths.quality`, `warehouse.quality.publish_report`). `data_status` takes a cursor on
the snapshot and one on the report (None while no report is published). A check fails when its
latest result failed, whatever its severity; it blocks when that result's severity is `error`.
Without a report, or before any check has a result, `checks_run` is False and the counts are 0
— an honest "not checked", never a pass. Every reader sees the counts; the details are for data
staff (`warehouse.read_api.quality`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from warehouse.publication import SNAPSHOT_TABLE
from warehouse.quality import QUALITY_CHECKS, QUALITY_RESULTS
from warehouse.scope import Scope


@dataclass(frozen=True)
class DataStatus:
    """What the reader's numbers rest on: one published snapshot and its quality checks."""

    snapshot_number: int
    as_of: datetime  # naive UTC: the build's "now", what the figures are current to
    published_at: datetime  # naive UTC
    checks_run: bool  # False until a quality report with results is published
    failing_checks: int  # checks whose latest result failed (warn or error)
    blocking_failures: int = 0  # of those, checks of severity error: publication stops
    quality_report: int | None = None  # the quality report's own snapshot number

    @property
    def publication_blocked(self) -> bool:
        return self.blocking_failures > 0


def data_status(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    quality: duckdb.DuckDBPyConnection | None = None,
) -> DataStatus:
    """The snapshot `cursor` reads and, from the quality report `quality` reads, the number of
    checks whose latest result failed."""
    scope.require()
    row = cursor.execute(f"select number, as_of, published_at from {SNAPSHOT_TABLE}").fetchone()
    if row is None:
        raise LookupError(f"the snapshot has no {SNAPSHOT_TABLE} row: not a published snapshot")
    number, as_of, published_at = row
    report, checks_run, failing, blocking = None, False, 0, 0
    if quality is not None:
        report, checks_run, failing, blocking = _checks(quality)
    return DataStatus(
        snapshot_number=int(number),
        as_of=as_of,
        published_at=published_at,
        checks_run=checks_run,
        failing_checks=failing,
        blocking_failures=blocking,
        quality_report=report,
    )


def reader_name(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> str | None:
    """The signed-in reader's own name (their own record, so no scope beyond being a reader)."""
    row = cursor.execute(
        "select person_name from dim_people where person_id = ? limit 1", [scope.user_id]
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _checks(quality: duckdb.DuckDBPyConnection) -> tuple[int | None, bool, int, int]:
    """(report number, any result, failing checks, blocking failures) of a quality report."""
    described = quality.execute(f"select number from {SNAPSHOT_TABLE}").fetchall()
    report = int(described[0][0]) if described else None
    row = quality.execute(
        f"""
        with latest as (
            select check_name, severity, success from {QUALITY_RESULTS}
            qualify row_number() over (
                partition by check_name order by evaluated_at desc, run_id desc
            ) = 1
        ),
        final as (
            select latest.success, coalesce(latest.severity, checks.severity) as severity
            from {QUALITY_CHECKS} as checks
            join latest using (check_name)
        )
        select
            count(*),
            count(*) filter (where not success),
            count(*) filter (where not success and severity = 'error')
        from final
        """
    ).fetchall()
    if not row or int(row[0][0]) == 0:
        return report, False, 0, 0
    return report, True, int(row[0][1]), int(row[0][2])
