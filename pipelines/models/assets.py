"""One asset per SQL model of the warehouse (staging → intermediate → marts), generated.

The models are discovered from `warehouse/models/`; an asset's key is the model's name, its
group its layer, its dependencies the models and raw tables its SQL reads.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Final

import dagster as dg
import duckdb

from pipelines.jobs import REFRESH_TAG, is_full, run_as_of
from pipelines.publication.assets import PUBLISHED_WAREHOUSE, publication_spec, publish_snapshot
from pipelines.resources import WarehouseResource
from warehouse.modeling import Model, ensure_state, run_model

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


def _description(model: Model) -> str:
    lines = [line[2:].strip() for line in model.sql.splitlines() if line.startswith("--")]
    prose = [line for line in lines if ":" not in line.split(" ", 1)[0]]
    return prose[0] if prose else f"The {model.layer} model {model.name}."


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
    by_name = {model.name: model for model in models}

    @dg.multi_asset(
        name="warehouse_models",
        specs=[*(model_spec(model, names) for model in models), publication_spec(models)],
        can_subset=True,
    )
    def warehouse_models(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        full = is_full(context)
        as_of = run_as_of(context)
        with warehouse.connect() as conn:
            set_as_of(conn, as_of)
            for name in (name for name in by_name if name in selected):
                run = run_model(conn, by_name[name], full=full)
                if run.mode == "unchanged":
                    continue
                yield dg.MaterializeResult(
                    asset_key=name,
                    metadata={
                        "dagster/row_count": run.rows,
                        "changed": run.changed,
                        "mode": run.mode,
                        "seconds": round(run.seconds, 3),
                    },
                )
            if PUBLISHED_WAREHOUSE in selected:
                yield publish_snapshot(context, conn, models, warehouse.paths, as_of)

    return [warehouse_models]
