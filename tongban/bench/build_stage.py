"""build: the warehouse built from nothing over the whole history, ≤ 60 s and ≤ 4 GB.

Each run removes the warehouse (raw layer, models, check state, snapshots) and runs
`tongban build`, which loads every event and the business systems, builds every model, checks
them and publishes. Beside it, in the same run, the raw events alone are moved into DuckDB
(`raw_load`): the floor no build can go under.
"""

from __future__ import annotations

import re
import shutil
from typing import Final

from tongban.bench.harness import BenchContext
from tongban.bench.raw_load import load_raw_events
from tongban.bench.results import StageResult, ratio, spread
from tongban.bench.university import ensure_history, events_db, run_tongban

TARGET_SECONDS: Final = 60.0
TARGET_RSS_BYTES: Final = 4 * 2**30
_FINISHED: Final = re.compile(r"finished in ([0-9.]+) s")
_ASSET: Final = re.compile(r"^(\S+)\s+([0-9,]+) rows\s+([0-9.]+) s", re.MULTILINE)


def job_seconds(output: str) -> float:
    """The job's own time, as `tongban build` prints it (without the process start-up)."""
    found = _FINISHED.findall(output)
    if not found:
        raise ValueError("`tongban build` printed no 'finished in' line")
    return float(found[-1])


def asset_seconds(output: str) -> dict[str, float]:
    return {name: float(seconds) for name, _, seconds in _ASSET.findall(output)}


def run(context: BenchContext) -> StageResult:
    events = ensure_history(context)
    runs = context.times(small=1, demo=3, large=3)
    warehouse = context.home / "warehouse"
    scratch = context.root / "raw-load"
    jobs: list[float] = []
    walls: list[float] = []
    peaks: list[float] = []
    floors: list[float] = []
    extracts: list[float] = []
    inserts: list[float] = []
    assets: dict[str, list[float]] = {}
    for number in range(1, runs + 1):
        shutil.rmtree(warehouse, ignore_errors=True)
        measured = run_tongban(context, "build")
        jobs.append(job_seconds(measured.output))
        walls.append(measured.seconds)
        peaks.append(measured.peak_rss_bytes / 2**30)
        for name, seconds in asset_seconds(measured.output).items():
            assets.setdefault(name, []).append(seconds)
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        floor = load_raw_events(events_db(context.home), scratch / "raw.duckdb")
        shutil.rmtree(scratch, ignore_errors=True)
        floors.append(floor.seconds)
        extracts.append(floor.extract_s)
        inserts.append(floor.insert_s)
        context.say(
            f"  run {number}/{runs}: job {jobs[-1]:.1f} s (process {walls[-1]:.1f} s),"
            f" peak {peaks[-1]:.2f} GiB; raw events alone {floor.seconds:.1f} s"
            f" (extract {floor.extract_s:.1f} + insert {floor.insert_s:.1f})"
        )
    job = spread(jobs, 1)
    peak = spread(peaks, 2)
    insert = spread(inserts, 1)
    floor_s = spread(floors, 1)
    meets = job["median"] <= TARGET_SECONDS and peak["max"] * 2**30 <= TARGET_RSS_BYTES
    return StageResult(
        stage="build",
        figure=f"{job['median']:.1f} s job, peak {peak['max']:.2f} GiB"
        f" ({events / 1e6:.2f} M events)",
        target="≤ 60 s, peak RSS ≤ 4 GiB",
        meets_target=meets,
        peer=f"raw events alone {floor_s['median']:.1f} s (DuckDB insert"
        f" {insert['median']:.1f} s): build {ratio(job['median'], floor_s['median'])}×"
        f" / {ratio(job['median'], insert['median'])}×",
        figures={
            "events": events,
            "job_seconds": job,
            "process_seconds": spread(walls, 1),
            "peak_rss_gib": peak,
            "assets_seconds": {name: spread(values, 2) for name, values in assets.items()},
            "raw_load_seconds": floor_s,
            "raw_extract_seconds": spread(extracts, 1),
            "raw_insert_seconds": insert,
            "ratio_to_raw_load": ratio(job["median"], floor_s["median"]),
            "ratio_to_raw_insert": ratio(job["median"], insert["median"]),
            "runs": runs,
        },
        targets={"job_seconds": TARGET_SECONDS, "peak_rss_bytes": TARGET_RSS_BYTES},
    )
