"""Warehouse runs left "started" by a process that is gone.

The daemon executes warehouse runs itself (`dagster.yaml`: SyncInMemoryRunLauncher) and
`tongban build` executes its run in its own process, so when either is killed (a demo stopped
with SIGKILL, a crash) its run stays STARTED in the run storage — and the queue, which admits
one warehouse run at a time, would hold every later run back until run monitoring's limit.
Such a run cannot be executing any more when its process is gone. A run records the process
executing it (`tongban/pid`, `tongban/host`) when its resources are set up; one that has not got
that far is judged by the daemon's heartbeat (none for a minute: no daemon, nothing executing).
An orphan is marked failed, with a message saying why — by `tongban build` before it runs and
by the sensor on every tick, so a restarted demo does not wait for run monitoring's limit.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Final

import dagster as dg

from pipelines.jobs import WAREHOUSE_TAG

PID_TAG: Final = "tongban/pid"  # the process executing the run
HOST_TAG: Final = "tongban/host"  # where that process runs: a pid means nothing elsewhere
DAEMON_SILENCE_SECONDS: Final = 60.0
UNFINISHED: Final = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def daemon_alive(
    instance: dg.DagsterInstance,
    now: float | None = None,
    silence: float = DAEMON_SILENCE_SECONDS,
) -> bool:
    """Whether some daemon of this instance sent a heartbeat within `silence` seconds."""
    moment = time.time() if now is None else now
    beats = instance.get_daemon_heartbeats()
    return any(moment - beat.timestamp < silence for beat in beats.values())


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def orphaned_runs(instance: dg.DagsterInstance, now: float | None = None) -> list[dg.DagsterRun]:
    """Unfinished warehouse runs whose executing process is gone."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=UNFINISHED, tags={WAREHOUSE_TAG: "true"})
    )
    daemon = None
    orphans = []
    for record in records:
        run = record.dagster_run
        pid = run.tags.get(PID_TAG)
        if run.tags.get(HOST_TAG, socket.gethostname()) != socket.gethostname():
            pid = None  # executing on another machine: only the heartbeat can tell
        if pid is not None:
            if not pid.isdigit() or not process_exists(int(pid)):
                orphans.append(run)
            continue
        if daemon is None:
            daemon = daemon_alive(instance, now)
        if not daemon:
            orphans.append(run)
    return orphans


def executor_tags() -> dict[str, str]:
    """The tags that name the process executing a run, from inside it."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def fail_orphaned_runs(instance: dg.DagsterInstance, now: float | None = None) -> list[str]:
    """Mark the orphaned warehouse runs failed; their ids."""
    failed = []
    for run in orphaned_runs(instance, now):
        instance.report_run_failed(
            run,
            message=(
                "the process executing this run is gone (the daemon stopped, or the build was"
                " killed): marked failed so that the next warehouse run can start"
            ),
        )
        failed.append(run.run_id)
    return failed
