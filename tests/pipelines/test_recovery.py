"""Warehouse runs left started by a killed daemon or build are marked failed — and only those:
a run whose build process lives, or any run while a daemon beats, is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dagster as dg
from dagster._daemon.types import DaemonHeartbeat

from pipelines.jobs import LIVE_UPDATE, WAREHOUSE_TAG, WAREHOUSE_UPDATE
from pipelines.recovery import PID_TAG, fail_orphaned_runs


def mark_started(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    instance.handle_run_event(
        run.run_id,
        dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value,
            job_name=run.job_name,
            message="started",
        ),
    )


def status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_build_whose_process_is_gone_is_failed_a_living_one_is_not(
    instance: dg.DagsterInstance,
) -> None:
    gone = dg.DagsterRun(
        job_name=WAREHOUSE_UPDATE, tags={WAREHOUSE_TAG: "true", PID_TAG: str(dead_pid())}
    )
    alive = dg.DagsterRun(
        job_name=WAREHOUSE_UPDATE, tags={WAREHOUSE_TAG: "true", PID_TAG: str(os.getpid())}
    )
    for run in (gone, alive):
        instance.add_run(run)
        mark_started(instance, run)
    # A daemon beating now does not protect a build: its own process says whether it runs.
    beat(instance, time.time())

    assert fail_orphaned_runs(instance) == [gone.run_id]
    assert status(instance, gone.run_id) == dg.DagsterRunStatus.FAILURE
    assert status(instance, alive.run_id) == dg.DagsterRunStatus.STARTED


def beat(instance: dg.DagsterInstance, moment: float) -> None:
    instance.add_daemon_heartbeat(
        DaemonHeartbeat(timestamp=moment, daemon_type="SENSOR", daemon_id="test", errors=[])
    )


def test_daemon_runs_are_failed_only_when_no_daemon_beats(instance: dg.DagsterInstance) -> None:
    run = dg.DagsterRun(job_name=LIVE_UPDATE, tags={WAREHOUSE_TAG: "true"})
    other = dg.DagsterRun(job_name="someone_elses_job")
    for each in (run, other):
        instance.add_run(each)
    for each in (run, other):
        mark_started(instance, each)

    beat(instance, time.time() - 5)
    assert fail_orphaned_runs(instance) == []
    assert status(instance, run.run_id) == dg.DagsterRunStatus.STARTED

    # The daemon stopped a while ago: what it was executing died with it.
    beat(instance, time.time() - 600)
    assert fail_orphaned_runs(instance) == [run.run_id]
    assert status(instance, run.run_id) == dg.DagsterRunStatus.FAILURE
    # Runs of other jobs are not the warehouse's to judge.
    assert status(instance, other.run_id) == dg.DagsterRunStatus.STARTED
    records = instance.all_logs(run.run_id)
    messages = [r.dagster_event.message for r in records if r.dagster_event]
    assert any("process executing this run is gone" in (m or "") for m in messages)
