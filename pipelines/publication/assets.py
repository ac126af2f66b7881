"""The published warehouse: the read models copied into a new immutable snapshot.

It is the last asset of the models' step (`pipelines.models.assets`): publishing in the same
step lets an update skip recording the models it left unchanged without Dagster skipping the
publication that depends on them.
"""

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import dagster as dg
import duckdb

from warehouse.modeling import Model, change_tokens, published_models, published_partitions
from warehouse.paths import WarehousePaths
from warehouse.publication import publish
from warehouse.raw import events_cursor

PUBLISHED_WAREHOUSE: Final = "published_warehouse"


def publication_spec(models: Sequence[Model]) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=PUBLISHED_WAREHOUSE,
        group_name="publication",
        deps=list(published_models(models)),
        kinds={"duckdb"},
        description="The snapshot the dashboards read (wh-<n>.duckdb), switched in by `CURRENT`.",
        skippable=True,
    )


def publish_snapshot(
    context: dg.AssetExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    models: Sequence[Model],
    paths: WarehousePaths,
    as_of: datetime,
    *,
    forward: bool = True,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    started = time.perf_counter()
    tables = published_models(models)
    if not tables:
        context.log.warning("no model is marked '-- publish: true': nothing published")
        return dg.MaterializeResult(
            asset_key=PUBLISHED_WAREHOUSE, metadata={"dagster/row_count": 0, "snapshot": None}
        )
    cursor = events_cursor(conn)
    snapshot = publish(
        conn,
        tables,
        paths,
        as_of=as_of,
        events_cursor=cursor,
        partitions=published_partitions(models),
        forward=forward,
        tokens=change_tokens(conn, tables),
    )
    return dg.MaterializeResult(
        asset_key=PUBLISHED_WAREHOUSE,
        metadata={
            "dagster/row_count": sum(snapshot.tables.values()),
            "snapshot": snapshot.number,
            "path": str(snapshot.path),
            "tables": dg.MetadataValue.json(dict(snapshot.tables)),
            "events_cursor": cursor,
            # Rows rewritten in a copy of the previous snapshot (-1: written from scratch).
            "rewritten": -1 if snapshot.rewritten is None else sum(snapshot.rewritten.values()),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
