"""The warehouse's jobs and the run tags that steer them.

Every job that writes the warehouse carries `tongban/warehouse=true`: the sensor skips while one
is queued or running, and the queued run coordinator admits one at a time (`dagster.yaml`).
`tongban/full=true` rebuilds every model from scratch (raw tables stay); `tongban/as_of` fixes
the build's "now" (ISO, UTC), otherwise the run's start time is used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import dagster as dg

WAREHOUSE_TAG: Final = "tongban/warehouse"
# An update normally takes seconds; past this the daemon's run monitoring fails it, so a run
# whose worker was killed cannot hold the sensor back for long (dagster.yaml: run_monitoring).
MAX_RUNTIME_TAG: Final = "dagster/max_runtime"
UPDATE_MAX_RUNTIME: Final = "900"
# The sensor's run follows the event store for up to two minutes (resources.LiveUpdate).
LIVE_MAX_RUNTIME: Final = "600"
FULL_TAG: Final = "tongban/full"
AS_OF_TAG: Final = "tongban/as_of"

REFRESH_TAG: Final = "tongban/refresh"  # on model assets left out of the live update

WAREHOUSE_UPDATE: Final = "warehouse_update"
LIVE_UPDATE: Final = "live_update"
PERIODIC_REFRESH: Final = "periodic_refresh"
WAREHOUSE_FULL_REBUILD: Final = "warehouse_full_rebuild"
BUSINESS_REFRESH: Final = "business_refresh"

WAREHOUSE_ASSETS: Final = dg.AssetSelection.all()
PERIODIC_MODELS: Final = dg.AssetSelection.tag(REFRESH_TAG, "periodic")

warehouse_update = dg.define_asset_job(
    WAREHOUSE_UPDATE,
    selection=WAREHOUSE_ASSETS,
    description="Load the new events, bring every model up to date, publish a snapshot.",
    tags={WAREHOUSE_TAG: "true", MAX_RUNTIME_TAG: UPDATE_MAX_RUNTIME},
)

live_update = dg.define_asset_job(
    LIVE_UPDATE,
    selection=WAREHOUSE_ASSETS - PERIODIC_MODELS,
    description=(
        "The sensor's run: load the new events, bring every model but the heavy period marts up"
        " to date, publish a snapshot (the whereabouts page within seconds); then keep doing so"
        " as events arrive, until the store is quiet."
    ),
    tags={WAREHOUSE_TAG: "true", MAX_RUNTIME_TAG: LIVE_MAX_RUNTIME},
)

periodic_refresh = dg.define_asset_job(
    PERIODIC_REFRESH,
    selection=PERIODIC_MODELS | dg.AssetSelection.assets("published_warehouse"),
    description=(
        "Rebuild leadership's whole-history marts (turnaround per service, node and department,"
        " open tasks' ageing, hand-offs, critical paths, approver signals, process maps, slowest"
        " cases) and publish them; the live update leaves them to this schedule."
    ),
    tags={WAREHOUSE_TAG: "true"},
)

warehouse_full_rebuild = dg.define_asset_job(
    WAREHOUSE_FULL_REBUILD,
    selection=WAREHOUSE_ASSETS,
    description="Reload the sources, rebuild every model from scratch, publish a snapshot.",
    tags={WAREHOUSE_TAG: "true", FULL_TAG: "true"},
)

business_refresh = dg.define_asset_job(
    BUSINESS_REFRESH,
    selection=dg.AssetSelection.groups("business").downstream(),
    description="Reload the business systems, catalog and calendar; update what reads them.",
    tags={WAREHOUSE_TAG: "true"},
)

JOBS: Final = (
    warehouse_update,
    live_update,
    periodic_refresh,
    warehouse_full_rebuild,
    business_refresh,
)


def is_full(context: dg.AssetExecutionContext) -> bool:
    """Whether this run rebuilds the models from scratch."""
    return context.run.tags.get(FULL_TAG, "").lower() == "true"


def refreshes_sources(context: dg.AssetExecutionContext) -> bool:
    """Whether this run reloads the business snapshots (every job but the frequent update)."""
    return context.job_name not in (WAREHOUSE_UPDATE, LIVE_UPDATE) or is_full(context)


def run_as_of(context: dg.AssetExecutionContext) -> datetime:
    """The build's "now" as naive UTC: the `tongban/as_of` tag, else the run's start (a run
    queued behind another starts later than it was created: its snapshot must not look
    older than the one before it), else its creation."""
    tag = context.run.tags.get(AS_OF_TAG)
    if tag:
        return as_of_from_tag(tag)
    record = context.instance.get_run_record_by_id(context.run.run_id)
    if record is not None and record.start_time is not None:
        return datetime.fromtimestamp(record.start_time, UTC).replace(tzinfo=None)
    created = record.create_timestamp if record else datetime.now(UTC)
    return created.astimezone(UTC).replace(tzinfo=None)


def as_of_from_tag(tag: str) -> datetime:
    moment = datetime.fromisoformat(tag)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def as_of_tag(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")
