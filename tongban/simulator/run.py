"""Run a stretch of simulated history: every service lane and the campaign lane, in parallel.

The lanes are independent (see `history` and `campaigns`), so they are shared out between
worker processes, each with its own connections, directory and batched writer; within a process
the lanes advance day by day together, so the log stays roughly in time order. The same seed
gives the same streams whatever the number of workers; only the global `event_id` order and
`recorded_at` differ. With one worker everything runs in the calling process.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import queue
import time as wallclock
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, event

from tongban.settings import Settings
from tongban.simulator.campaigns import PROCESS_KEY, CampaignLane, Rosters
from tongban.simulator.history import Applicants, LaneResult, ServiceLane
from tongban.simulator.volumes import REGISTRATIONS_PER_STUDENT_YEAR, VolumeModel, students_of
from tongban.university.generator import PROFILES
from tongban.wiring import catalog_for
from workflow_core.catalog.loader import Catalog
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.errors import WorkflowError
from workflow_core.store.batch import BatchWriter
from workflow_core.store.db import make_engine

CAMPAIGN_LANE = "campaigns"
PARTIAL = "the other workers' batches may be in the store: start over with `tongban init --force`"
# Rough events per request, to share the lanes out evenly (measured on a demo year): a request
# takes a submission and its end, and nearly three more for every node it may visit (created,
# viewed, decided, now and then a return); a registration takes two.
EVENTS_PER_REQUEST = 2.0
EVENTS_PER_NODE = 2.8
EVENTS_PER_REGISTRATION = 2.0
MAX_LANE_SHARE = 1 / 8
# Events a worker collects before it writes them. An instance in flight is written again in
# every batch it changed in (its row, its changed tasks), and each commit checkpoints the
# store: 100,000 rather than the writer's default 20,000 ran a demo month 9 % faster, for some
# 120 MB more memory a worker.
BATCH_EVENTS = 100_000
# SQLite's page cache of a worker's connections, in KiB (SQLite's default: 2 MiB). A batch's
# events land all over the (stream_id, stream_version) index and the projections: with 2 MiB
# nearly every row missed the cache (a page read, a page written back); with 256 MiB inserting
# 100,000 rows into a 1.5 GB store took a third less CPU. Pages are allocated as used.
CACHE_KIB = 262_144
# Growth in live objects (net of those freed) after which the day's end runs the collector; a
# collection walks about that many objects, some 50 ms.
COLLECT_AFTER_OBJECTS = 500_000


class Lane(Protocol):
    name: str
    result: LaneResult

    def start(self) -> None: ...
    def run_day(self, day: date) -> None: ...
    def finish(self) -> None: ...


@dataclass
class SimulationResult:
    first_day: date
    days: int
    seed: int
    workers: int
    events: int = 0
    seconds: float = 0.0
    lanes: LaneResult = field(default_factory=LaneResult)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def lane_weights(catalog: Catalog) -> dict[str, float]:
    """Each service's (and the campaigns') expected events a year at demo size."""
    volumes = VolumeModel.for_size("demo")
    weights: dict[str, float] = {}
    for key in sorted(catalog.keys()):
        definition = catalog.get(key)
        if definition.campaign_based:
            continue
        nodes = sum(len(step.nodes) for step in definition.steps)
        per_request = EVENTS_PER_REQUEST + EVENTS_PER_NODE * nodes
        weights[key] = volumes.totals.get(key, 0.0) * per_request
    if PROCESS_KEY in catalog:
        registrations = students_of(PROFILES["demo"]) * REGISTRATIONS_PER_STUDENT_YEAR
        weights[CAMPAIGN_LANE] = registrations * EVENTS_PER_REGISTRATION
    return weights


def lane_names(catalog: Catalog) -> list[str]:
    """Every service but the campaign one, then the campaigns.

    A service heavier than `MAX_LANE_SHARE` of the whole is cut into parts (`key/part/parts`),
    each with a share of its volume, so that no lane keeps one worker busy after the others are
    done. The cut depends on the catalog alone, never on the number of workers: a seed gives
    the same streams whatever runs them.
    """
    weights = lane_weights(catalog)
    ceiling = sum(weights.values()) * MAX_LANE_SHARE
    names: list[str] = []
    for name, weight in weights.items():
        parts = math.ceil(weight / ceiling) if name != CAMPAIGN_LANE else 1
        if parts <= 1:
            names.append(name)
        else:
            names.extend(f"{name}/{part}/{parts}" for part in range(1, parts + 1))
    return names


def lane_part(name: str) -> tuple[str, int, int]:
    """A lane's service (or `campaigns`), and which part of how many it is."""
    key, _, cut = name.partition("/")
    part, _, parts = cut.partition("/")
    return key, int(part or 1), int(parts or 1)


def share_lanes(names: Sequence[str], catalog: Catalog, workers: int) -> list[list[str]]:
    """Lanes per worker, heaviest first onto the least loaded worker."""
    weights = lane_weights(catalog)

    def weight(name: str) -> float:
        key, _part, parts = lane_part(name)
        return weights.get(key, 0.0) / parts

    shares: list[list[str]] = [[] for _ in range(max(1, workers))]
    loads = [0.0] * len(shares)
    for name in sorted(names, key=lambda n: (-weight(n), n)):
        least = loads.index(min(loads))
        shares[least].append(name)
        loads[least] += weight(name)
    return [s for s in shares if s]


def simulate_lanes(
    engine: Engine,
    catalog: Catalog,
    directory: MemoryDirectory,
    business: Engine,
    *,
    names: Sequence[str],
    size: str,
    first_day: date,
    days: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
    batch_events: int = BATCH_EVENTS,
) -> tuple[LaneResult, int]:
    """Run `names` lanes in this process; (what they did, events written). `progress` gets the
    number of lane-days finished since its last call."""
    writer = BatchWriter(engine, catalog, directory, batch_events=batch_events)
    volumes = VolumeModel.for_size(size)
    applicants = Applicants.of(directory)
    last_day = first_day + timedelta(days=days - 1)
    lanes: list[Lane] = []
    for name in names:
        if name == CAMPAIGN_LANE:
            rosters = Rosters.load(directory, business)
            lanes.append(CampaignLane(writer, catalog, rosters, first_day, last_day, seed=seed))
        else:
            key, part, parts = lane_part(name)
            lane = ServiceLane(
                key,
                writer,
                catalog,
                directory,
                applicants,
                volumes,
                seed=seed,
                part=part,
                parts=parts,
            )
            lanes.append(lane)
    for lane in lanes:
        lane.start()
    with _collected_day_by_day() as day_done:
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            for lane in lanes:
                lane.run_day(day)
            day_done()
            if progress is not None:
                progress(len(lanes))
    total = LaneResult()
    for lane in lanes:
        lane.finish()
        total.add(lane.result)
    writer.flush()
    return total, writer.events_written


@contextmanager
def _collected_day_by_day() -> Iterator[Callable[[], None]]:
    """Python's cycle collector run between simulated days instead of whenever it likes.

    A run holds hundreds of thousands of objects for a while (instances in flight, pending
    events, the people's plans), and the collector, triggered every 700 allocations, walked them
    again and again: a fifth of a run's time. Almost nothing the run makes is cyclic (some
    hundred objects in a month of the demo university), and reference counting frees the rest.
    So automatic collection is off for the run; at the end of a day on which the objects alive
    have grown by `COLLECT_AFTER_OBJECTS` since the last collection, the young generations are
    collected once and whatever survives is frozen, out of every later collection's way (what a
    frozen object holds is still freed by reference counting when it is dropped). The
    collector's previous setting comes back afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()

    def day_done() -> None:
        if gc.get_count()[0] >= COLLECT_AFTER_OBJECTS:
            gc.collect(1)
            gc.freeze()

    try:
        yield day_done
    finally:
        if enabled:
            gc.enable()


def simulate(
    settings: Settings,
    *,
    size: str,
    first_day: date,
    days: int,
    seed: int,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate `days` days from `first_day` into the configured event store.

    `progress(done, total)` counts lane-days. Workers default to the machine's cores.
    """
    catalog = catalog_for(settings)
    names = lane_names(catalog)
    count = workers if workers is not None else (os.cpu_count() or 1)
    shares = share_lanes(names, catalog, count)
    result = SimulationResult(first_day=first_day, days=days, seed=seed, workers=len(shares))
    total = len(names) * days
    started = wallclock.perf_counter()
    if len(shares) == 1:
        done = 0

        def step(lanes: int) -> None:
            nonlocal done
            done += lanes
            if progress is not None:
                progress(done, total)

        lanes, events = _run_share(settings, shares[0], size, first_day, days, seed, step)
        result.lanes.add(lanes)
        result.events = events
    else:
        _run_workers(settings, shares, size, first_day, days, seed, total, progress, result)
    result.seconds = wallclock.perf_counter() - started
    return result


def with_page_cache(engine: Engine, kib: int) -> Engine:
    """`engine`, its SQLite connections given a page cache of `kib` (other databases as they
    are)."""
    if engine.dialect.name != "sqlite":
        return engine

    def _cache(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(f"pragma cache_size=-{int(kib)}")
        cursor.close()

    event.listen(engine, "connect", _cache)
    engine.dispose()  # the connection that checked the store was made without it
    return engine


def _run_share(
    settings: Settings,
    names: Sequence[str],
    size: str,
    first_day: date,
    days: int,
    seed: int,
    progress: Callable[[int], None] | None,
) -> tuple[LaneResult, int]:
    engine = with_page_cache(make_engine(settings.db_url), CACHE_KIB)
    business = make_engine(settings.business_db_url, write_lock_at_begin=False)
    # The directory does not change during a run: one snapshot in memory answers the millions of
    # look-ups without a query each.
    directory = MemoryDirectory.load(business)
    # Its million long-lived objects would be walked by every full collection, about a fifth of
    # the run: moved out of the collector's sight, they cost nothing more.
    gc.freeze()
    try:
        return simulate_lanes(
            engine,
            catalog_for(settings),
            directory,
            business,
            names=names,
            size=size,
            first_day=first_day,
            days=days,
            seed=seed,
            progress=progress,
        )
    finally:
        business.dispose()
        engine.dispose()


def _worker(
    settings: Settings,
    names: Sequence[str],
    size: str,
    first_day: date,
    days: int,
    seed: int,
    messages: multiprocessing.Queue[tuple[str, object]],
) -> None:
    try:
        lanes, events = _run_share(
            settings,
            names,
            size,
            first_day,
            days,
            seed,
            lambda n: messages.put(("progress", n)),
        )
    except WorkflowError as exc:  # a refusal, e.g. the seed's ids are taken: one line will do
        messages.put(("refused", exc.message))
        return
    except BaseException as exc:  # a bug: the parent reports it and stops the others
        messages.put(("error", f"{type(exc).__name__}: {exc}"))
        raise
    messages.put(("done", (lanes, events)))


def _run_workers(
    settings: Settings,
    shares: list[list[str]],
    size: str,
    first_day: date,
    days: int,
    seed: int,
    total: int,
    progress: Callable[[int, int], None] | None,
    result: SimulationResult,
) -> None:
    # spawn, not fork: a forked child would inherit the parent's open database connections.
    context = multiprocessing.get_context("spawn")
    messages: multiprocessing.Queue[tuple[str, object]] = context.Queue()
    processes = [
        context.Process(
            target=_worker,
            args=(settings, share, size, first_day, days, seed, messages),
            name=f"simulate-{index}",
        )
        for index, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    done = finished = 0
    try:
        while finished < len(processes):
            try:
                kind, payload = messages.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"simulation worker {dead[0].name} died") from None
                continue
            if kind == "progress":
                done += int(payload)  # type: ignore[call-overload]
                if progress is not None:
                    progress(done, total)
            elif kind == "refused":
                raise WorkflowError(f"{payload}; {PARTIAL}")
            elif kind == "error":
                raise RuntimeError(f"a simulation worker failed: {payload}; {PARTIAL}")
            else:
                lanes, events = payload  # type: ignore[misc]
                result.lanes.add(lanes)
                result.events += events
                finished += 1
    finally:
        for process in processes:
            if process.is_alive() and finished < len(processes):
                process.terminate()
            process.join()
