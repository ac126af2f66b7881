"""The new-events sensor over a real event store: a run request keyed by the high-water mark
when events arrive, a skip when nothing is new, and a skip while a warehouse run is queued or
running (two runs never open the work database at once); a tick also fails a run whose
executing process is gone."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._daemon.types import DaemonHeartbeat

from pipelines.extract import high_water_mark
from pipelines.jobs import LIVE_UPDATE, WAREHOUSE_TAG
from pipelines.recovery import HOST_TAG, PID_TAG
from pipelines.resources import EventStore
from pipelines.sensors import new_events_sensor
from workflow_core.store.db import make_engine


def evaluate(
    home: Path, instance: dg.DagsterInstance, cursor: str | None
) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"event_store": EventStore(url=f"sqlite:///{home / 'events.db'}")},
    )
    result = new_events_sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def test_new_events_request_one_update_keyed_by_the_high_water_mark(
    source_home: Path, instance: dg.DagsterInstance
) -> None:
    engine = make_engine(f"sqlite:///{source_home / 'events.db'}")
    mark = high_water_mark(engine)
    engine.dispose()
    assert mark > 0

    first = evaluate(source_home, instance, None)
    assert isinstance(first, dg.SensorResult)
    assert first.cursor == str(mark)
    [request] = first.run_requests or []
    assert request.run_key == f"events-{mark}"

    behind = evaluate(source_home, instance, str(mark - 10))
    assert isinstance(behind, dg.SensorResult) and behind.cursor == str(mark)

    caught_up = evaluate(source_home, instance, str(mark))
    assert isinstance(caught_up, dg.SkipReason)
    assert "no new events" in (caught_up.skip_message or "")


def test_a_waiting_run_holds_the_request_back_a_running_one_does_not(
    source_home: Path, instance: dg.DagsterInstance
) -> None:
    # A daemon is alive: the runs below are its own, not orphans.
    instance.add_daemon_heartbeat(
        DaemonHeartbeat(timestamp=time.time(), daemon_type="SENSOR", daemon_id="d", errors=[])
    )
    waiting = dg.DagsterRun(
        job_name=LIVE_UPDATE,
        run_id="0123abcd-0000-0000-0000-000000000000",
        tags={WAREHOUSE_TAG: "true"},
        status=dg.DagsterRunStatus.NOT_STARTED,
    )
    instance.add_run(waiting)
    held = evaluate(source_home, instance, "0")
    assert isinstance(held, dg.SkipReason)
    assert waiting.run_id in (held.skip_message or "")
    instance.report_run_failed(waiting)

    # A started run may have read its events already: the next run queues behind it.
    running = dg.DagsterRun(
        job_name=LIVE_UPDATE,
        run_id="0123abcd-0000-0000-0000-000000000001",
        tags={WAREHOUSE_TAG: "true"},
        status=dg.DagsterRunStatus.STARTED,
    )
    instance.add_run(running)
    assert isinstance(evaluate(source_home, instance, "0"), dg.SensorResult)


def test_a_run_left_started_by_a_killed_daemon_is_failed_by_the_next_tick(
    source_home: Path, instance: dg.DagsterInstance
) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    orphan = dg.DagsterRun(
        job_name=LIVE_UPDATE,
        run_id="0123abcd-0000-0000-0000-000000000002",
        tags={WAREHOUSE_TAG: "true", PID_TAG: str(child.pid), HOST_TAG: socket.gethostname()},
        status=dg.DagsterRunStatus.STARTED,
    )
    instance.add_run(orphan)
    result = evaluate(source_home, instance, "0")
    assert isinstance(result, dg.SensorResult)
    failed = instance.get_run_by_id(orphan.run_id)
    assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
