"""Data-quality (数据质量) reads for data staff (网信中心): "can these numbers be trusted today?"

Every function reads the quality report, which is published as snapshots of its own beside the
warehouse (`WarehousePaths.quality`, written by `warehouse.quality.publish_report`): open it
with `warehouse.reader.Warehouse(paths.quality)` and pass that reader's cursor, not the main
snapshot's. Only scopes holding the `data_staff` role may read the report in detail (failing
rows carry the keys of real records); every reader sees how many checks fail through
`warehouse.read_api.status`.

A check's status is that of its latest result: `pass`, `warn` (failed, severity `warn`:
published and shown), `fail` (failed, severity `error`: blocks publication) or `not_run`
(registered, never evaluated). Checks are those the report registers (`quality_checks`): a
renamed or dropped check no longer counts, though its old results stay in the history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import duckdb
import polars as pl

from warehouse.quality import QUALITY_CHECKS, QUALITY_FRESHNESS, QUALITY_RESULTS, QUALITY_RUNS
from warehouse.read_api.frames import query
from warehouse.scope import NotInScopeError, Scope

DATA_STAFF: Final = "data_staff"
PASS: Final = "pass"
WARN: Final = "warn"
FAIL: Final = "fail"
NOT_RUN: Final = "not_run"
STATUSES: Final = (FAIL, WARN, PASS, NOT_RUN)
RUNS_SHOWN: Final = 50

# The latest result of each check, newest run first on a tie (a run's row is its latest pass).
_LATEST: Final = f"""
    select * from {QUALITY_RESULTS}
    qualify row_number() over (
        partition by check_name order by evaluated_at desc, run_id desc
    ) = 1
"""
# A result's status under the severity it was evaluated with.
_STATUS: Final = """
    case
        when {r}.check_name is null then 'not_run'
        when {r}.success then 'pass'
        when coalesce({r}.severity, {c}.severity) = 'error' then 'fail'
        else 'warn'
    end
"""


def require_data_staff(scope: Scope) -> None:
    """Refuse anybody but data staff: the report names failing records."""
    scope.require()
    if DATA_STAFF not in scope.roles:
        raise NotInScopeError(f"the data-quality report is outside the scope of {scope.user_id}")


def check_status(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    """Every registered check with its latest result: status, when, how many rows failed.

    `layer` is `source` for the raw sources (`raw_*`) and `model` for the models and marts
    built from them; rows come sources first, then by asset and check.
    """
    require_data_staff(scope)
    status = _STATUS.format(r="latest", c="checks")
    return query(
        cursor,
        f"""
        with checks as (select * from {QUALITY_CHECKS}),
        latest as ({_LATEST}),
        final as (
            select
                case when checks.asset like 'raw\\_%' escape '\\' then 'source' else 'model' end
                    as layer,
                checks.asset, checks.suite, checks.check_name, checks.severity,
                {status} as status,
                checks.expectation, checks.description_zh, checks.description_en,
                checks.key_columns,
                latest.run_id, latest.job_name, latest.evaluated_at, latest.success,
                latest.element_count, latest.unexpected_count, latest.unexpected_percent,
                latest.observed_value, latest.scope as result_scope, latest.evaluations,
                coalesce(json_array_length(latest.sample), 0) as sample_rows
            from checks
            left join latest using (check_name)
        )
        select * from final
        order by layer = 'model', asset, check_name
        """,
    )


def asset_summary(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    """Per source or model: how many of its checks pass, warn, fail or have not run."""
    status = check_status(cursor, scope)
    return (
        status.group_by("layer", "asset", maintain_order=True)
        .agg(
            pl.col("suite").unique(maintain_order=True).sort().alias("suites"),
            pl.len().cast(pl.Int64).alias("checks"),
            *[
                (pl.col("status") == value).sum().cast(pl.Int64).alias(value)
                for value in (PASS, WARN, FAIL, NOT_RUN)
            ],
            pl.col("evaluated_at").max().alias("last_evaluated_at"),
        )
        .with_columns(
            pl.when(pl.col(FAIL) > 0)
            .then(pl.lit(FAIL))
            .when(pl.col(WARN) > 0)
            .then(pl.lit(WARN))
            .when(pl.col(PASS) > 0)
            .then(pl.lit(PASS))
            .otherwise(pl.lit(NOT_RUN))
            .alias("status")
        )
    )


def _check_exists(cursor: duckdb.DuckDBPyConnection, check_name: str) -> None:
    rows = cursor.execute(
        f"select count(*) from {QUALITY_CHECKS} where check_name = ?", [check_name]
    ).fetchall()
    if not rows[0][0]:
        raise LookupError(f"no data-quality check {check_name!r}")


def trend(cursor: duckdb.DuckDBPyConnection, scope: Scope, check_name: str) -> pl.DataFrame:
    """One check's results over the runs the report keeps, oldest first."""
    require_data_staff(scope)
    _check_exists(cursor, check_name)
    status = _STATUS.format(r="results", c="checks")
    return query(
        cursor,
        f"""
        select
            results.evaluated_at, results.run_id, results.job_name, results.success,
            {status} as status,
            results.unexpected_count, results.element_count, results.unexpected_percent,
            results.severity, results.scope as result_scope, results.evaluations
        from {QUALITY_RESULTS} as results
        join {QUALITY_CHECKS} as checks using (check_name)
        where check_name = ?
        order by results.evaluated_at, results.run_id
        """,
        [check_name],
    )


@dataclass(frozen=True)
class Sample:
    """The failing rows one result kept (at most `warehouse.quality.SAMPLE_ROWS`): `rows` has
    the check's key columns first (`keys`), then the offending values."""

    check_name: str
    run_id: str
    evaluated_at: datetime  # naive UTC
    success: bool
    status: str  # pass, warn or fail: the result under the severity it was evaluated with
    unexpected_count: int
    element_count: int
    observed_value: object  # parsed JSON, None when the check observed nothing
    keys: tuple[str, ...]
    rows: pl.DataFrame


def failing_sample(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, check_name: str, run_id: str | None = None
) -> Sample:
    """The failing rows of one result of `check_name`: run `run_id`'s, else the latest."""
    require_data_staff(scope)
    _check_exists(cursor, check_name)
    run_filter = "and run_id = ?" if run_id is not None else ""
    status_of = _STATUS.format(r="results", c="checks")
    rows = cursor.execute(
        f"""
        select results.run_id, results.evaluated_at, results.success, {status_of} as status,
            results.unexpected_count, results.element_count, results.observed_value,
            results.sample, checks.key_columns
        from {QUALITY_RESULTS} as results
        join {QUALITY_CHECKS} as checks using (check_name)
        where check_name = ? {run_filter}
        order by results.evaluated_at desc, results.run_id desc
        limit 1
        """,
        [check_name, *([run_id] if run_id is not None else [])],
    ).fetchall()
    if not rows:
        what = f"run {run_id!r}" if run_id is not None else "any run"
        raise LookupError(f"check {check_name!r} has no result from {what}")
    found_run, evaluated_at, success, status, unexpected, elements, observed, sample, keys = rows[0]
    key_columns = tuple(str(key) for key in keys or ())
    return Sample(
        check_name=check_name,
        run_id=str(found_run),
        evaluated_at=evaluated_at,
        success=bool(success),
        status=str(status),
        unexpected_count=int(unexpected),
        element_count=int(elements),
        observed_value=None if observed is None else json.loads(observed),
        keys=key_columns,
        rows=sample_frame(json.loads(sample) if sample else [], key_columns),
    )


def sample_frame(records: Sequence[object], keys: Sequence[str]) -> pl.DataFrame:
    """Failing-row records (JSON objects) as a frame: the key columns first, then the others in
    the order they first appear. A column keeps its JSON type when all its values share one;
    mixed or nested values become JSON text, so nothing is dropped."""
    rows = [record if isinstance(record, Mapping) else {"value": record} for record in records]
    names: list[str] = list(keys)
    for record in rows:
        names.extend(str(name) for name in record if str(name) not in names)
    columns: dict[str, pl.Series] = {}
    for name in names:
        values = [record.get(name) for record in rows]
        kinds = {type(value) for value in values if value is not None}
        if kinds <= {str} or kinds <= {bool} or kinds <= {int} or kinds <= {int, float}:
            dtype: type[pl.DataType] = (
                pl.Utf8
                if kinds <= {str}
                else pl.Boolean
                if kinds <= {bool}
                else pl.Int64
                if kinds <= {int}
                else pl.Float64
            )
            columns[name] = pl.Series(name, values, dtype=dtype)
        else:
            columns[name] = pl.Series(
                name,
                [
                    None
                    if value is None
                    else value
                    if isinstance(value, str)
                    else json.dumps(value, ensure_ascii=False, sort_keys=True)
                    for value in values
                ],
                dtype=pl.Utf8,
            )
    return pl.DataFrame(list(columns.values())) if columns else pl.DataFrame()


def runs(cursor: duckdb.DuckDBPyConnection, scope: Scope, limit: int = RUNS_SHOWN) -> pl.DataFrame:
    """The runs that evaluated checks, newest first: published (which snapshot) or blocked, and
    how many blocking failures and warnings each had."""
    require_data_staff(scope)
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    return query(
        cursor,
        f"""
        select run_id, job_name, started_at, evaluated_at, outcome, blocking_failures,
            warnings, snapshot_number, events_cursor
        from {QUALITY_RUNS}
        order by evaluated_at desc, run_id desc
        limit ?
        """,
        [limit],
    )


@dataclass(frozen=True)
class Publication:
    """Whether the warehouse is publishing. `blocked`: the latest run that decided (published or
    blocked) was blocked; `since`: when the first of the blocked runs since the last published
    one started; `blocking_checks`: the `error` checks whose latest result failed (a blocked
    run names them); `last_snapshot`: what the last published run published (the snapshot the
    pages still show)."""

    blocked: bool
    since: datetime | None
    blocked_runs: int
    blocking_checks: tuple[str, ...]
    last_snapshot: int | None
    last_published_at: datetime | None


def publication(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> Publication:
    """The state of publication, from the runs and the latest results."""
    require_data_staff(scope)
    decided = cursor.execute(
        f"""
        select outcome, started_at, evaluated_at, snapshot_number from {QUALITY_RUNS}
        where outcome in ('published', 'blocked')
        order by evaluated_at desc, run_id desc
        """
    ).fetchall()
    streak = []
    last_snapshot: int | None = None
    last_published_at: datetime | None = None
    for outcome, started_at, evaluated_at, number in decided:
        if outcome == "published":
            last_snapshot = None if number is None else int(number)
            last_published_at = evaluated_at
            break
        streak.append(started_at)
    failing = cursor.execute(
        f"""
        with latest as ({_LATEST})
        select check_name from {QUALITY_CHECKS} as checks
        join latest using (check_name)
        where not latest.success and coalesce(latest.severity, checks.severity) = 'error'
        order by check_name
        """
    ).fetchall()
    return Publication(
        blocked=bool(streak),
        since=min(streak) if streak else None,
        blocked_runs=len(streak),
        blocking_checks=tuple(str(name) for (name,) in failing),
        last_snapshot=last_snapshot,
        last_published_at=last_published_at,
    )


def freshness(cursor: duckdb.DuckDBPyConnection, scope: Scope, now: datetime) -> pl.DataFrame:
    """Per source: when the warehouse last took it in and how new its newest record is, with
    both ages in seconds at `now` (naive UTC)."""
    require_data_staff(scope)
    return query(
        cursor,
        f"""
        select source, loaded_at, newest_at, row_count, detail,
            epoch(cast(? as timestamp) - loaded_at) as loaded_age_s,
            epoch(cast(? as timestamp) - newest_at) as newest_age_s
        from {QUALITY_FRESHNESS}
        order by source
        """,
        [now, now],
    )
