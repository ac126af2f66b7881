"""Run the checks that are due, remember how far each has passed, and say whether to stop.

A check is *due* when its frame holds something it has not passed yet: events after the check's
`validated_through`, or a table that changed since it last passed. A check that is not due
still holds (it passed on exactly this data), so its result is repeated without validating. A
failed check does not move: the next evaluation reads the same rows again, and keeps failing
until the rows are corrected — a blocking failure cannot be skipped by the traffic after it.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Final

import duckdb

from pipelines.quality.checks import CHECKS, FRAMES, Check, Frame
from pipelines.quality.touched import TOUCHED_EVENTS, touched_events
from pipelines.quality.validate import validate_batches, validate_frame
from warehouse.quality import (
    CheckResult,
    CheckState,
    RunInfo,
    advance,
    check_states,
    ensure_quality,
    latest_failures,
    record_results,
    register_checks,
)

if TYPE_CHECKING:
    import pandas as pd

# Rows of a frame validated as one pandas frame at most (GX on 1 M rows of the events frame:
# ~0.1 GiB of pandas beside DuckDB's capped memory); a bigger frame is validated in batches.
BATCH_ROWS: Final = 1_000_000
_STAGED: Final = "_quality_staged_frame"


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation of some checks found."""

    results: tuple[CheckResult, ...]  # evaluated now
    holding: tuple[str, ...]  # not due: passed on this very data before
    checks: tuple[Check, ...] = field(repr=False)
    seconds: float = 0.0
    # Per frame read: (rows, seconds to read it, seconds to validate it).
    frames: dict[str, tuple[int, float, float]] = field(default_factory=dict)

    @property
    def blocking_failures(self) -> tuple[CheckResult, ...]:
        severity = {c.name: c.severity for c in self.checks}
        return tuple(r for r in self.results if not r.success and severity[r.check_name] == "error")

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        severity = {c.name: c.severity for c in self.checks}
        return tuple(r for r in self.results if not r.success and severity[r.check_name] == "warn")

    @property
    def blocked(self) -> bool:
        return bool(self.blocking_failures)


def evaluate(
    conn: duckdb.DuckDBPyConnection,
    checks: Sequence[Check],
    run: RunInfo,
    *,
    full: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> Evaluation:
    """Validate the due `checks` against the working database as of `run.events_cursor`, store
    the results and advance the checks that passed. `full` re-reads everything. A frame that
    may hold more than `batch_rows` rows is validated in batches of about that many."""
    started = time.perf_counter()
    register_checks(conn, (check.info for check in CHECKS))
    states = check_states(conn)
    versions = _input_versions(conn)
    # A check whose latest result failed is evaluated again even on data it once passed: the
    # rows it failed on may have been removed since, and the report must say so.
    failed = latest_failures(conn)
    results: list[CheckResult] = []
    holding: list[str] = []
    passed: dict[str, CheckState] = {}
    frames: dict[str, tuple[int, float, float]] = {}
    by_name = {check.name: check for check in checks}
    # The frames over the touched streams' events read them from one table (see `touched`).
    with touched_events(conn) as prepare_touched:
        for frame_name, group in _by_frame(checks).items():
            frame = FRAMES[frame_name]
            version = max((versions.get(table, 0) for table in frame.inputs), default=0)
            known = [states.get(check.name) for check in group]
            fresh = full or any(
                s is None or s.inputs_version != version or s.fingerprint != check.fingerprint
                for s, check in zip(known, group, strict=True)
            )
            retry = any(check.name in failed for check in group)
            if frame.kind == "table":
                if not fresh and not retry:
                    holding.extend(check.name for check in group)
                    continue
                after = 0
            else:
                after = 0 if fresh else min(s.validated_through for s in known if s is not None)
                if after >= run.events_cursor and not retry:
                    holding.extend(check.name for check in group)
                    continue
            conn.execute("set variable quality_after = ?::bigint", [after])
            began = time.perf_counter()
            if TOUCHED_EVENTS in frame.sql:
                prepare_touched(after)
            scope = "incremental" if frame.kind == "events" and after > 0 else "full"
            # A live pass's few thousand rows are read whole: staging them first would add queries
            # to every pass. Event ids only grow, so the cursor's distance bounds the new events.
            if frame.batch_by and (
                frame.kind == "table" or after == 0 or run.events_cursor - after > batch_rows
            ):
                outcome, count, read = _validate_staged(conn, frame, group, scope, batch_rows)
            else:
                outcome, count, read = _validate_whole(conn, frame, group, scope)
            frames[frame_name] = (count, read, time.perf_counter() - began - read)
            results.extend(outcome)
            for result in outcome:
                fingerprint = by_name[result.check_name].fingerprint
                if result.success:
                    passed[result.check_name] = CheckState(run.events_cursor, version, fingerprint)
                elif frame.kind == "events" and (first := _first_failing_event(result, after)):
                    # Everything before the first failing event passed: the next evaluation starts
                    # there, so a lasting warning (an applicant the directory learns of tonight)
                    # re-reads minutes of traffic, not the whole log, on every pass.
                    passed[result.check_name] = CheckState(first - 1, version, fingerprint)
    checked = {check.name: check.info for check in checks}
    record_results(conn, run, checked, results)
    advance(conn, passed, run.evaluated_at)
    return Evaluation(
        results=tuple(results),
        holding=tuple(holding),
        checks=tuple(checks),
        seconds=time.perf_counter() - started,
        frames=frames,
    )


def failing_blocking_event_checks(
    conn: duckdb.DuckDBPyConnection, checks: Sequence[Check]
) -> tuple[list[str], int]:
    """The blocking checks over the events whose latest result failed, and the events cursor
    every blocking events check has passed (the models never read past it)."""
    ensure_quality(conn)
    names = [c.name for c in checks if c.severity == "error" and FRAMES[c.frame].kind == "events"]
    if not names:
        return [], 0
    failed = latest_failures(conn)
    failing = [name for name in names if name in failed]
    states = check_states(conn)
    through = min((states[n].validated_through if n in states else 0 for n in names), default=0)
    return sorted(failing), through


def _validate_whole(
    conn: duckdb.DuckDBPyConnection, frame: Frame, group: Sequence[Check], scope: str
) -> tuple[list[CheckResult], int, float]:
    """The checks' results on the frame read as one pandas frame, its rows, seconds reading."""
    began = time.perf_counter()
    rows = _pandas(conn, frame.sql)
    read = time.perf_counter() - began
    if rows.empty and frame.kind == "events":
        # Nothing new of this kind (no submission in this pass, say): every row-level
        # expectation holds on no rows; GX would take ~30 ms to say so.
        return [_vacuous(check.name, scope) for check in group], 0, read
    return validate_frame(frame.name, group, rows, scope=scope), len(rows), read


def _validate_staged(
    conn: duckdb.DuckDBPyConnection,
    frame: Frame,
    group: Sequence[Check],
    scope: str,
    batch_rows: int,
) -> tuple[list[CheckResult], int, float]:
    """The checks' results on the frame validated in batches of about `batch_rows` rows, its
    rows, seconds reading.

    The frame's query runs once, into a temporary table (DuckDB keeps it under its memory
    limit, spilling the rest); each batch is then read from there and dropped once validated.
    A pandas frame of the whole of a big frame cost more than its own size: the conversion
    holds DuckDB's materialised result beside it (5.1 GiB for the 11 M events' 1 GiB frame)."""
    began = time.perf_counter()
    conn.execute(f"create or replace temp table {_STAGED} as\n{frame.sql}")
    try:
        (count,) = conn.execute(f"select count(*) from {_STAGED}").fetchone() or (0,)
        if count == 0 and frame.kind == "events":
            return [_vacuous(check.name, scope) for check in group], 0, time.perf_counter() - began
        batches = max(1, math.ceil(count / batch_rows))
        filters = _batch_filters(conn, frame, batches)
        reading = [time.perf_counter() - began]

        def read_batches() -> Iterator[pd.DataFrame]:
            order = f" order by {frame.order_by}" if frame.order_by else ""
            for where, parameters in filters:
                started = time.perf_counter()
                rows = _pandas(conn, f"select * from {_STAGED} {where}{order}", parameters)
                reading[0] += time.perf_counter() - started
                if batches > 1 and rows.empty:
                    continue
                yield rows
                del rows

        outcome = validate_batches(frame.name, group, read_batches(), scope=scope)
        return outcome, int(count), reading[0]
    finally:
        conn.execute(f"drop table if exists {_STAGED}")


def _pandas(
    conn: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[object] = ()
) -> pd.DataFrame:
    """The rows of `sql` as a pandas frame, through Arrow: the frame DuckDB's `df()` makes (the
    same dtypes and values), 5-10× sooner, since `df()` hands strings over as Python objects
    that pandas then copies into its Arrow-backed strings. Where the two conversions differ,
    this one follows `df()`: dates as times, decimals as floats, and integers and flags with
    NULLs as pandas' nullable types. (A frame of no rows keeps its strings' dtype, where `df()`
    leaves them objects.)"""
    import pandas as pd
    import pyarrow as pa

    with warnings.catch_warnings():
        # DuckDB suggests `conn.sql(...)` to spare a copy of the rows (0.03 s a million), but
        # that refuses to run while an earlier `execute` on the connection is unfetched.
        warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning)
        table = conn.execute(sql, list(parameters)).to_arrow_table()
    as_df = pa.schema(
        field.with_type(pa.timestamp("us"))
        if pa.types.is_date(field.type)
        else field.with_type(pa.float64())
        if pa.types.is_decimal(field.type)
        else field
        for field in table.schema
    )
    if as_df != table.schema:
        table = table.cast(as_df)
    frame = table.to_pandas()
    nullable = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    for name, column in zip(table.column_names, table.columns, strict=True):
        if column.null_count and column.type in nullable:
            frame[name] = column.to_pandas(types_mapper=nullable.get)
    return frame


def _batch_filters(
    conn: duckdb.DuckDBPyConnection, frame: Frame, batches: int
) -> list[tuple[str, list[object]]]:
    """The `where` (and its parameters) of each of `batches` batches of the staged frame. Rows
    that one check compares (equal `batch_by` values) share a batch. A frame ordered by its one
    `batch_by` column is cut into ranges of it, where a value changes: the staged rows stand in
    that order, so each batch reads its own row groups (a batch of the year's events: 0.31 s,
    where picking its rows by a hash read every row group: 0.73 s). Any other frame is cut by a
    hash of its `batch_by`."""
    if batches == 1:
        return [("", [])]
    if frame.batch_by != (frame.order_by,):
        on = f"hash({', '.join(frame.batch_by)}) % {batches}"
        return [(f"where {on} = ?", [batch]) for batch in range(batches)]
    column = frame.order_by
    fractions = ", ".join(f"{k}/{batches}" for k in range(1, batches))
    (cuts,) = conn.execute(
        f"select quantile_disc({column}, [{fractions}]) from {_STAGED}"
    ).fetchone() or (None,)
    bounds = sorted(set(cuts or ()))
    if not bounds:  # every value NULL
        return [("", [])]
    filters: list[tuple[str, list[object]]] = [(f"where {column} < ?", [bounds[0]])]
    filters += [
        (f"where {column} >= ? and {column} < ?", [low, high]) for low, high in pairwise(bounds)
    ]
    # The last batch also takes the NULLs, which no comparison holds for.
    filters.append((f"where {column} >= ? or {column} is null", [bounds[-1]]))
    return filters


def _vacuous(name: str, scope: str) -> CheckResult:
    return CheckResult(
        check_name=name,
        success=True,
        element_count=0,
        unexpected_count=0,
        unexpected_percent=None,
        scope="incremental" if scope == "incremental" else "full",
    )


def _first_failing_event(result: CheckResult, after: int) -> int | None:
    """The earliest new event among the failing rows (the frames are ordered by event id, and
    GX samples the first failing rows), or None when the sample names no new event."""
    ids = [
        event_id
        for row in result.sample
        if isinstance(event_id := row.get("event_id"), int) and event_id > after
    ]
    return min(ids) if ids else None


def _by_frame(checks: Sequence[Check]) -> dict[str, list[Check]]:
    groups: dict[str, list[Check]] = {}
    for check in checks:
        groups.setdefault(check.frame, []).append(check)
    return groups


def _input_versions(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The change counter of every source table and model (see `warehouse.modeling`)."""
    versions: dict[str, int] = {}
    present = {
        str(name)
        for (name,) in conn.execute(
            "select table_name from duckdb_tables() where schema_name = 'main'"
            " and database_name = current_database()"
        ).fetchall()
    }
    if "_source_state" in present:
        for name, version in conn.execute("select source, version from _source_state").fetchall():
            versions[str(name)] = int(version)
    if "_model_state" in present:
        for name, version in conn.execute(
            "select model, coalesce(changed_version, built_version, 0) from _model_state"
        ).fetchall():
            versions[str(name)] = int(version)
    return versions
