"""One asset per SQL model of the warehouse (staging → intermediate → marts), generated.

The models are discovered from `warehouse/models/`; an asset's key is the model's name, its
group its layer, its dependencies the models and raw tables its SQL reads.
"""

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Final

import dagster as dg
import duckdb

from pipelines.events.load import load_new_events
from pipelines.extract import high_water_mark
from pipelines.jobs import AS_OF_TAG, LIVE_UPDATE, REFRESH_TAG, as_of_from_tag, is_full, run_as_of
from pipelines.publication.assets import PUBLISHED_WAREHOUSE, publication_spec, publish_snapshot
from pipelines.quality.asset_checks import (
    check_evaluations,
    check_results,
    evaluate_and_report,
    log_evaluation,
    maybe_build_docs,
    record_events_load,
    report,
    run_info,
    selected_checks,
    specs_for,
)
from pipelines.quality.checks import CHECKS, RAW_EVENTS, Check
from pipelines.quality.gate import Evaluation, evaluate
from pipelines.resources import EventStore, LiveUpdate, WarehouseResource
from warehouse.modeling import Model, ensure_state, missing_models, run_model
from warehouse.paths import WarehousePaths
from warehouse.raw import events_cursor

RAW_SOURCES: Final = (
    ("raw_business__", "raw_business"),
    ("raw_catalog__", "raw_catalog"),
    ("raw_calendar__", "raw_calendar"),
)


def set_as_of(conn: duckdb.DuckDBPyConnection, as_of: datetime) -> None:
    """Make `as_of` (naive UTC) the build's "now" for the SQL models (`getvariable('as_of')`)."""
    ensure_state(conn)
    conn.execute("set variable as_of = ?::timestamp", [as_of.replace(tzinfo=None)])


def source_asset_of(table: str, models: set[str]) -> str | None:
    """The asset that produces `table`: a model, or the raw asset that loads it (None: unknown)."""
    if table in models or table == "raw_events":
        return table
    for prefix, asset in RAW_SOURCES:
        if table.startswith(prefix):
            return asset
    return None


def follow_as_of(context: dg.AssetExecutionContext) -> datetime:
    """A later pass's "now": the run's fixed `tongban/as_of`, else the clock (naive UTC)."""
    tag = context.run.tags.get(AS_OF_TAG)
    return as_of_from_tag(tag) if tag else datetime.now(UTC).replace(tzinfo=None)


def _description(model: Model) -> str:
    lines = [line[2:].strip() for line in model.sql.splitlines() if line.startswith("--")]
    prose = [line for line in lines if ":" not in line.split(" ", 1)[0]]
    return prose[0] if prose else f"The {model.layer} model {model.name}."


def _blocked_message(evaluation: Evaluation) -> str:
    names = ", ".join(r.check_name for r in evaluation.blocking_failures)
    return f"blocking data-quality checks failed ({names}): nothing more is published"


def model_spec(model: Model, names: set[str]) -> dg.AssetSpec:
    deps = sorted({a for d in model.depends_on if (a := source_asset_of(d, names)) is not None})
    return dg.AssetSpec(
        key=model.name,
        group_name=model.layer,
        deps=deps,
        description=_description(model),
        kinds={"duckdb", "sql"},
        metadata={"materialized": model.materialized, "publish": model.publish},
        tags={REFRESH_TAG: "periodic"} if model.periodic else {},
        skippable=True,
    )


def model_assets(models: Sequence[Model]) -> list[dg.AssetsDefinition]:
    """Every model as its own asset, and the publication after them, run in one step (a step
    costs ~0.2 s of Dagster's own bookkeeping, ~10 s over 50 models: too slow for the live
    page's 10 s). A model an update left unchanged records no materialization (~50 ms each)."""
    if not models:
        return []
    names = {model.name for model in models}

    @dg.multi_asset(
        name="warehouse_models",
        specs=[*(model_spec(model, names) for model in models), publication_spec(models)],
        check_specs=specs_for(names),
        can_subset=True,
    )
    def warehouse_models(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        event_store: EventStore,
        live: LiveUpdate,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:  # type: ignore[type-arg]
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        full = is_full(context)
        checks = selected_checks(context, names)
        try:
            yield from _step(context, warehouse, event_store, live, selected, full, checks)
        finally:
            # After the work lock is released: nothing depends on the docs.
            warehouse.release()
            maybe_build_docs(context, warehouse.gx_dir)

    def _step(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        event_store: EventStore,
        live: LiveUpdate,
        selected: set[str],
        full: bool,
        checks: Sequence[Check],
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:  # type: ignore[type-arg]
        with warehouse.connect() as conn:
            # A model left out of this job (a periodic mart) but never built yet is built now:
            # the snapshot must hold every published table, even on a new warehouse.
            extra = set() if full else missing_models(conn, models)
            chosen = [model for model in models if model.name in selected | extra]
            as_of = run_as_of(context)
            for key, metadata in _update(context, conn, chosen, selected, full, as_of):
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            evaluation, published = _check_and_publish(
                context, conn, warehouse.paths, checks, selected, full, as_of
            )
            if published is not None:
                yield dg.MaterializeResult(asset_key=PUBLISHED_WAREHOUSE, metadata=published)
            if evaluation is not None:
                yield from check_results(evaluation, checks)
            if evaluation is not None and evaluation.blocked:
                return  # Dagster fails the step on the blocking results just yielded
            if context.job_name == LIVE_UPDATE and live.follow_seconds > 0:
                _follow(context, conn, warehouse.paths, chosen, selected, event_store, live)

    def _update(
        context: dg.AssetExecutionContext,
        conn: duckdb.DuckDBPyConnection,
        chosen: Sequence[Model],
        selected: set[str],
        full: bool,
        as_of: datetime,
    ) -> Iterator[tuple[str, dict[str, object]]]:
        set_as_of(conn, as_of)
        for model in chosen:
            run = run_model(conn, model, full=full)
            if run.mode == "unchanged":
                continue
            if model.name not in selected:
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=model.name,
                        metadata={"dagster/row_count": run.rows, "mode": run.mode},
                    )
                )
                continue
            yield (
                model.name,
                {
                    "dagster/row_count": run.rows,
                    "changed": run.changed,
                    "mode": run.mode,
                    "seconds": round(run.seconds, 3),
                },
            )

    def _check_and_publish(
        context: dg.AssetExecutionContext,
        conn: duckdb.DuckDBPyConnection,
        paths: WarehousePaths,
        checks: Sequence[Check],
        selected: set[str],
        full: bool,
        as_of: datetime,
    ) -> tuple[Evaluation | None, dict[str, object] | None]:
        """Check the marts; publish a snapshot unless a blocking check failed (the last good
        snapshot then stays published). The report is published either way."""
        run = run_info(context, conn)
        evaluation = evaluate(conn, checks, run, full=full) if checks else None
        if evaluation is not None:
            log_evaluation(context, evaluation)
        blocked = evaluation is not None and evaluation.blocked
        published: dict[str, object] | None = None
        if PUBLISHED_WAREHOUSE in selected and not blocked:
            result = publish_snapshot(context, conn, models, paths, as_of, forward=not full)
            published = dict(result.metadata or {})
        if evaluation is not None or published is not None:
            number = published.get("snapshot") if published else None
            report(
                conn,
                paths,
                run,
                evaluation,
                "blocked" if blocked else ("published" if published else "checked"),
                snapshot_number=number if isinstance(number, int) else None,
            )
        if evaluation is not None:
            for failure in evaluation.blocking_failures:
                context.log.error(f"not published: {failure.check_name} failed")
        return evaluation, published

    def _follow(
        context: dg.AssetExecutionContext,
        conn: duckdb.DuckDBPyConnection,
        paths: WarehousePaths,
        chosen: Sequence[Model],
        selected: set[str],
        event_store: EventStore,
        live: LiveUpdate,
    ) -> None:
        """Load, check, rebuild and publish again whenever the store has new events, until it
        has been quiet for `idle_seconds` or `follow_seconds` have passed. Each pass is recorded
        as materializations and check evaluations (a step yields one result per asset); a
        blocking failure ends the run as failed, the last good snapshot published."""
        started = last_events = time.monotonic()
        passes = 0
        event_checks = [c for c in CHECKS if c.asset == RAW_EVENTS]
        mart_checks = selected_checks(context, names)
        with event_store.engine() as engine:
            while (now := time.monotonic()) - started < live.follow_seconds:
                if high_water_mark(engine) <= events_cursor(conn):
                    if now - last_events >= live.idle_seconds:
                        break
                    time.sleep(live.poll_seconds)
                    continue
                last_events = now
                passes += 1
                began = time.perf_counter()
                load = load_new_events(conn, engine, event_store.batch_size)
                record_events_load(conn, load.loaded)
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key="raw_events",
                        metadata={
                            "new_events": load.loaded,
                            "cursor": load.cursor,
                            "seconds": round(time.perf_counter() - began, 3),
                        },
                    )
                )
                gate = evaluate_and_report(
                    context, conn, paths, event_checks, publish_unless_blocked=False
                )
                for event in check_evaluations(gate):
                    context.log_event(event)
                if gate.blocked:
                    raise dg.Failure(_blocked_message(gate))
                as_of = follow_as_of(context)
                for key, metadata in _update(context, conn, chosen, selected, False, as_of):
                    context.log_event(dg.AssetMaterialization(asset_key=key, metadata=metadata))
                evaluation, published = _check_and_publish(
                    context, conn, paths, mart_checks, selected, False, as_of
                )
                if published is not None:
                    context.log_event(
                        dg.AssetMaterialization(asset_key=PUBLISHED_WAREHOUSE, metadata=published)
                    )
                if evaluation is not None:
                    for event in check_evaluations(evaluation):
                        context.log_event(event)
                    if evaluation.blocked:
                        raise dg.Failure(_blocked_message(evaluation))
        context.log.info(
            f"followed the event store for {time.monotonic() - started:.0f} s: {passes} more passes"
        )

    return [warehouse_models]
