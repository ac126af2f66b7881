"""The data-quality checks as Dagster asset checks: their specs, and their evaluation inside the
step that produced the data (so a blocking failure stops the rest of the run), with the report
published after each evaluation; Great Expectations' Data Docs at the end of a run that is not
the live update.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import dagster as dg
import duckdb

from pipelines.jobs import LIVE_UPDATE
from pipelines.quality.checks import CHECKS, CHECKS_BY_NAME, Check
from pipelines.quality.docs import build_docs
from pipelines.quality.gate import Evaluation, evaluate
from warehouse.paths import WarehousePaths
from warehouse.quality import (
    CheckResult,
    RunInfo,
    prune,
    publish_report,
    record_load,
    record_run,
    utc_now,
)
from warehouse.raw import events_cursor

# The run that pruned last (runs go one at a time): a long-lived daemon keeps one id, not all.
_pruned: list[str] = []


def specs_for(assets: Iterable[str]) -> list[dg.AssetCheckSpec]:
    """The check specs of `assets`; an `error` check blocks what depends on its asset."""
    wanted = set(assets)
    return [
        dg.AssetCheckSpec(
            name=check.name,
            asset=check.asset,
            description=f"{check.description_zh} — {check.description_en}",
            blocking=check.severity == "error",
        )
        for check in CHECKS
        if check.asset in wanted
    ]


def selected_checks(context: dg.AssetExecutionContext, assets: Iterable[str]) -> list[Check]:
    """The checks of `assets` that this run selected."""
    wanted = set(assets)
    keys = context.selected_asset_check_keys
    return [
        check
        for check in CHECKS
        if check.asset in wanted and dg.AssetCheckKey(dg.AssetKey(check.asset), check.name) in keys
    ]


def run_info(context: dg.AssetExecutionContext, conn: duckdb.DuckDBPyConnection) -> RunInfo:
    return RunInfo(
        run_id=context.run.run_id,
        job_name=context.job_name or "",
        evaluated_at=utc_now(),
        events_cursor=events_cursor(conn),
    )


def evaluate_and_report(
    context: dg.AssetExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    paths: WarehousePaths,
    checks: Sequence[Check],
    *,
    full: bool = False,
    publish_unless_blocked: bool = True,
) -> Evaluation:
    """Evaluate `checks`, record the run and publish the report (when blocked, always: the
    pages must show it; otherwise unless the caller publishes it a moment later itself)."""
    run = run_info(context, conn)
    evaluation = evaluate(conn, checks, run, full=full)
    log_evaluation(context, evaluation)
    if evaluation.blocked or publish_unless_blocked:
        outcome: Literal["blocked", "checked"] = "blocked" if evaluation.blocked else "checked"
        report(conn, paths, run, evaluation, outcome)
    for failure in evaluation.blocking_failures:
        context.log.error(_describe(failure))
    for warning in evaluation.warnings:
        context.log.warning(_describe(warning))
    return evaluation


def log_evaluation(context: dg.AssetExecutionContext, evaluation: Evaluation) -> None:
    frames = ", ".join(
        f"{name} {rows:,} rows {read:.2f}+{checked:.2f} s"
        for name, (rows, read, checked) in evaluation.frames.items()
    )
    context.log.info(
        f"{len(evaluation.results)} checks evaluated, {len(evaluation.holding)} holding,"
        f" in {evaluation.seconds:.2f} s" + (f" ({frames})" if frames else "")
    )


def report(
    conn: duckdb.DuckDBPyConnection,
    paths: WarehousePaths,
    run: RunInfo,
    evaluation: Evaluation | None,
    outcome: Literal["published", "blocked", "checked"],
    snapshot_number: int | None = None,
) -> None:
    """Record the run's outcome and publish the report."""
    record_run(
        conn,
        run,
        outcome,
        blocking_failures=len(evaluation.blocking_failures) if evaluation else 0,
        warnings=len(evaluation.warnings) if evaluation else 0,
        snapshot_number=snapshot_number,
    )
    if snapshot_number is not None:
        record_load(conn, "snapshot", run.evaluated_at, rows=None, detail=str(snapshot_number))
    if run.run_id not in _pruned:
        # Once a run: a run following the event store reports every few seconds.
        prune(conn, run.evaluated_at)
        _pruned[:] = [run.run_id]
    publish_report(conn, paths, run.evaluated_at, run.events_cursor)


def record_events_load(conn: duckdb.DuckDBPyConnection, loaded: int) -> None:
    """Freshness of the events: when loaded, and the newest event's own time."""
    rows = conn.execute(
        "select event_id, recorded_at from raw_events order by event_id desc limit 1"
    ).fetchall()
    cursor, newest = rows[0] if rows else (None, None)
    record_load(
        conn,
        "events",
        utc_now(),
        newest_at=newest,
        rows=loaded,
        detail=None if cursor is None else str(cursor),
    )


def maybe_build_docs(
    context: dg.AssetExecutionContext, directory: str | Path | None
) -> Path | None:
    """Build Data Docs into `directory` (the warehouse resource's `gx_dir`; None: no docs) from
    this run's validations, unless the run is the live update (its passes come every few
    seconds, a build costs about one). Never raises: nothing depends on the docs."""
    if directory is None:
        return None
    if context.job_name == LIVE_UPDATE:
        context.log.debug("Data Docs are not built by the live update")
        return None
    return build_docs(Path(directory), log=context.log)


def check_results(evaluation: Evaluation, checks: Sequence[Check]) -> list[dg.AssetCheckResult]:
    """One result per check in `checks`: evaluated now, or still holding on the same data."""
    found = {r.check_name: r for r in evaluation.results}
    results = []
    for check in checks:
        result = found.get(check.name)
        if result is None:
            if check.name not in evaluation.holding:
                raise RuntimeError(f"check {check.name} was neither evaluated nor holding")
            results.append(
                dg.AssetCheckResult(
                    asset_key=check.asset,
                    check_name=check.name,
                    passed=True,
                    severity=_severity(check),
                    metadata={"evaluated": False, "note": "nothing new since it last passed"},
                )
            )
            continue
        results.append(
            dg.AssetCheckResult(
                asset_key=check.asset,
                check_name=check.name,
                passed=result.success,
                severity=_severity(check),
                metadata=_metadata(result),
            )
        )
    return results


def check_evaluations(evaluation: Evaluation) -> list[dg.AssetCheckEvaluation]:
    """The checks evaluated now, as events a later pass of a step logs."""
    return [
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(CHECKS_BY_NAME[r.check_name].asset),
            check_name=r.check_name,
            passed=r.success,
            severity=_severity(CHECKS_BY_NAME[r.check_name]),
            metadata=_metadata(r),
        )
        for r in evaluation.results
    ]


def _metadata(result: CheckResult) -> dict[str, object]:
    return {
        "evaluated": True,
        "scope": result.scope,
        "element_count": result.element_count,
        "unexpected_count": result.unexpected_count,
        "observed_value": dg.MetadataValue.json(_jsonable(result.observed_value)),
        "sample": dg.MetadataValue.json([dict(row) for row in result.sample]),
    }


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, dict | list):
        return value
    return {"value": value}


def _severity(check: Check) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if check.severity == "error" else dg.AssetCheckSeverity.WARN


def _describe(result: CheckResult) -> str:
    check = CHECKS_BY_NAME[result.check_name]
    keys = "; ".join(
        ", ".join(f"{k}={row.get(k)}" for k in check.info.keys if k in row)
        for row in list(result.sample)[:5]
    )
    return (
        f"{check.severity} check {check.name} failed on {check.asset}: "
        f"{result.unexpected_count:,} of {result.element_count:,} rows ({check.description_en})"
        + (f"; e.g. {keys}" if keys else "")
    )
