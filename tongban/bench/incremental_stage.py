"""incremental: 10 k new events on the bench warehouse, loaded, modelled, checked and
published by the update job within 3 s.

Each run sends traffic through the production API (clients submitting and approving, as in
the api stage) until the store holds at least 10,000 new events, stops it, and runs the job
the sensor launches on new events, `live_update` (the new events loaded, every model but
leadership's whole-history marts, the checks, the publication), warm in this process as the
daemon runs it (`warm_job`); the figure is that job's time. Then 10,000 more events, and the
`warehouse_update` job, which also rebuilds those marts (the 10-minute `periodic_refresh`)
and Great Expectations' Data Docs: reported beside it. In the same run, the first job's new
events are extracted and appended alone to a copy of the warehouse's raw events
(`raw_load`): what any loader pays before a model runs.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Final

from pipelines.jobs import LIVE_UPDATE, WAREHOUSE_UPDATE
from tongban.bench.api_load import Submission, plan_submissions, run_load
from tongban.bench.harness import BenchContext, tongban_command
from tongban.bench.processes import free_port, serving
from tongban.bench.raw_load import load_raw_events
from tongban.bench.results import StageResult, ratio, spread
from tongban.bench.university import ensure_warehouse, event_count, events_db
from tongban.bench.warm_job import run_job
from tongban.settings import Settings
from tongban.simulator.live import load_roster
from tongban.wiring import catalog_for
from warehouse.paths import WarehousePaths
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.store.db import make_engine

TARGET_SECONDS: Final = 3.0
NEW_EVENTS: Final = 10_000
WARM_EVENTS: Final = 1_000
CLIENTS: Final = 8
WINDOW_S: Final = 2.0


def submissions(context: BenchContext, count: int) -> list[Submission]:
    settings = Settings.from_env(context.env())
    business = make_engine(settings.business_db_url)
    try:
        directory = MemoryDirectory.load(business)
    finally:
        business.dispose()
    now = datetime.now(UTC)
    rng = random.Random(f"bench-incremental:{context.size}:{time.time_ns()}")
    return plan_submissions(
        load_roster(directory, now), directory, catalog_for(settings), rng, count, now
    )


@contextlib.contextmanager
def hall_api(context: BenchContext) -> Iterator[str]:
    """The production API over the bench university's store, for the whole stage: it idles
    while a job runs, so a job sees exactly the traffic sent before it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = tongban_command("api", "--host", "127.0.0.1", "--port", str(port))
    log = context.logs / context.size / "incremental-api.log"
    with serving("tongban api", command, context.env(), log, url, "/healthz"):
        yield url


def add_traffic(context: BenchContext, url: str, planned: list[Submission], events: int) -> int:
    """Send traffic through the API until the store has `events` more; how many it got."""
    store = events_db(context.home)
    before = event_count(store)
    while event_count(store) - before < events:
        run_load(
            url,
            planned,
            clients=CLIENTS,
            warmup_s=0.0,
            duration_s=WINDOW_S,
            key_prefix=f"bench-incremental-{time.time_ns()}",
        )
    return event_count(store) - before


def run(context: BenchContext, new_events: int = NEW_EVENTS) -> StageResult:
    ensure_warehouse(context)
    # Whatever arrived since the last build is loaded first, so each run sees only its own;
    # then one live pass over fresh traffic, unmeasured, so that this process is as warm as the
    # daemon: Dagster, the definitions and Great Expectations imported, every check's suite
    # built (a check builds it the first time it validates new rows, not while it holds).
    run_job(context.env(), WAREHOUSE_UPDATE)
    planned = submissions(context, 2_000)
    with hall_api(context) as url:
        add_traffic(context, url, planned, min(WARM_EVENTS, new_events))
        run_job(context.env(), LIVE_UPDATE)
        return _measure(context, url, planned, new_events)


def _measure(
    context: BenchContext, url: str, planned: list[Submission], new_events: int
) -> StageResult:
    runs = context.times(small=1, demo=3, large=3)
    work = WarehousePaths(context.home / "warehouse").work_db
    scratch = context.root / "incremental"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    copy = scratch / "raw.duckdb"
    shutil.copyfile(work, copy)
    jobs: list[float] = []
    updates: list[float] = []
    added: list[float] = []
    floors: list[float] = []
    assets: dict[str, list[float]] = {}
    try:
        for number in range(1, runs + 1):
            cursor = event_count(events_db(context.home))
            added.append(add_traffic(context, url, planned, new_events))
            job_run = run_job(context.env(), LIVE_UPDATE)
            jobs.append(job_run.seconds)
            for name, seconds in job_run.assets.items():
                assets.setdefault(name, []).append(seconds)
            floor = load_raw_events(events_db(context.home), copy, after=cursor)
            floors.append(floor.seconds)
            cursor = event_count(events_db(context.home))
            add_traffic(context, url, planned, new_events)
            updates.append(run_job(context.env(), WAREHOUSE_UPDATE).seconds)
            # The copy follows the store, so the next run appends after the same cursor.
            load_raw_events(events_db(context.home), copy, after=cursor)
            context.say(
                f"  run {number}/{runs}: {int(added[-1]):,} new events, live_update"
                f" {jobs[-1]:.2f} s (extract + append alone {floor.seconds:.2f} s);"
                f" warehouse_update {updates[-1]:.2f} s"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    job = spread(jobs, 2)
    floor_s = spread(floors, 2)
    total = event_count(events_db(context.home))
    return StageResult(
        stage="incremental",
        figure=f"{job['median']:.2f} s live_update for {int(spread(added, 0)['median']):,}"
        f" new events on {total / 1e6:.2f} M (warehouse_update"
        f" {spread(updates, 2)['median']:.2f} s)",
        target="≤ 3 s job time",
        meets_target=job["median"] <= TARGET_SECONDS,
        peer=f"extract + append alone {floor_s['median']:.2f} s:"
        f" job {ratio(job['median'], floor_s['median'])}×",
        figures={
            "job": LIVE_UPDATE,
            "job_seconds": job,
            "warehouse_update_seconds": spread(updates, 2),
            "new_events": spread(added, 0),
            "events_in_store": total,
            "assets_seconds": {name: spread(values, 2) for name, values in assets.items()},
            "extract_append_seconds": floor_s,
            "ratio_to_extract_append": ratio(job["median"], floor_s["median"]),
            "runs": runs,
        },
        targets={"job_seconds": TARGET_SECONDS, "new_events": NEW_EVENTS},
    )
