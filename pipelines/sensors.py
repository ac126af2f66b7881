"""The live path: a new event in the store starts a warehouse update within seconds."""

from typing import Final

import dagster as dg

from pipelines.extract import high_water_mark
from pipelines.jobs import WAREHOUSE_TAG, live_update
from pipelines.recovery import fail_orphaned_runs
from pipelines.resources import EventStore

IN_PROGRESS: Final = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
# A run that has not started yet will load every event that arrives before it does: one such
# run is enough. A run already executing may have read its events: the next one queues behind
# it (the coordinator admits one warehouse run at a time) instead of waiting for another tick.
WAITING: Final = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


def warehouse_run_in_progress(
    instance: dg.DagsterInstance, statuses: list[dg.DagsterRunStatus] = IN_PROGRESS
) -> str | None:
    """The id of a warehouse run in one of `statuses` (default: queued or running), if any."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=statuses, tags={WAREHOUSE_TAG: "true"}), limit=1
    )
    return records[0].dagster_run.run_id if records else None


@dg.sensor(
    job=live_update,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def new_events_sensor(
    context: dg.SensorEvaluationContext, event_store: EventStore
) -> dg.SensorResult | dg.SkipReason:
    """Requests a live update when the event store's high-water mark passes the cursor."""
    for orphan in fail_orphaned_runs(context.instance):
        context.log.warning(f"run {orphan} was left unfinished by a stopped process: failed")
    seen = int(context.cursor) if context.cursor else 0
    with event_store.engine() as engine:
        mark = high_water_mark(engine)
    if mark <= seen:
        return dg.SkipReason(f"no new events (high-water mark {mark:,})")
    running = warehouse_run_in_progress(context.instance, WAITING)
    if running:
        return dg.SkipReason(
            f"events up to {mark:,} will be loaded by warehouse run {running}, not started yet"
        )
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"events-{mark}", tags={"tongban/events": str(mark)})],
        cursor=str(mark),
    )
