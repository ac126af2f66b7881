"""The published warehouse: the read models copied into a new immutable snapshot."""

import time
from collections.abc import Sequence

import dagster as dg

from pipelines.jobs import run_as_of
from pipelines.resources import WarehouseResource
from warehouse.modeling import Model, published_models
from warehouse.publication import publish
from warehouse.raw import events_cursor


def published_warehouse_asset(models: Sequence[Model]) -> dg.AssetsDefinition:
    tables = published_models(models)

    @dg.asset(group_name="publication", deps=list(tables), kinds={"duckdb"})
    def published_warehouse(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        """The snapshot the dashboards read (wh-<n>.duckdb), switched in by `CURRENT`."""
        started = time.perf_counter()
        if not tables:
            context.log.warning("no model is marked '-- publish: true': nothing published")
            return dg.MaterializeResult(metadata={"dagster/row_count": 0, "snapshot": None})
        with warehouse.connect() as conn:
            cursor = events_cursor(conn)
            snapshot = publish(
                conn, tables, warehouse.paths, as_of=run_as_of(context), events_cursor=cursor
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(snapshot.tables.values()),
                "snapshot": snapshot.number,
                "path": str(snapshot.path),
                "tables": dg.MetadataValue.json(dict(snapshot.tables)),
                "events_cursor": cursor,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    return published_warehouse
