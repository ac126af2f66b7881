"""simulate: `tongban simulate --size large` writes a year of the hall, ≥ 10 M events in ≤ 5 min.

Each run simulates into a fresh store against the bench university's directory; the last
run's store becomes the bench university's history, which the later stages read.
"""

from __future__ import annotations

import shutil
from typing import Final

from tongban.bench.harness import BenchContext
from tongban.bench.results import StageResult, spread
from tongban.bench.university import ensure_directory, event_count, events_db, run_tongban

TARGET_EVENTS: Final = 10_000_000
TARGET_SECONDS: Final = 300.0
# The size-free form of the target, which is what a smaller university is held to.
TARGET_RATE: Final = TARGET_EVENTS / TARGET_SECONDS


def run(context: BenchContext) -> StageResult:
    ensure_directory(context)
    runs = context.times(small=1, demo=3, large=3)
    scratch = context.root / "simulate"
    seconds: list[float] = []
    events: list[int] = []
    peaks: list[float] = []
    for number in range(1, runs + 1):
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        store = events_db(scratch)
        urls = {
            "TONGBAN_DB_URL": f"sqlite:///{store}",
            "TONGBAN_BUSINESS_DB_URL": f"sqlite:///{context.home / 'business.db'}",
        }
        # The directory exists already: `init` only creates the empty event store.
        run_tongban(context, "init", "--size", context.size, home=scratch, **urls)
        measured = run_tongban(context, "simulate", "--size", context.size, home=scratch, **urls)
        seconds.append(measured.seconds)
        events.append(event_count(store))
        peaks.append(measured.peak_rss_bytes / 2**20)
        context.say(
            f"  run {number}/{runs}: {events[-1]:,} events in {seconds[-1]:.1f} s"
            f" ({events[-1] / seconds[-1]:,.0f} events/s)"
        )
    # The newest history replaces the bench university's: the warehouse built from the old one
    # no longer matches it.
    for stale in ("events.db", "events.db-wal", "events.db-shm"):
        (context.home / stale).unlink(missing_ok=True)
    shutil.rmtree(context.home / "warehouse", ignore_errors=True)
    shutil.rmtree(context.home / "dagster", ignore_errors=True)
    store.replace(events_db(context.home))
    shutil.rmtree(scratch, ignore_errors=True)

    rates = [e / s for e, s in zip(events, seconds, strict=True)]
    median_seconds = spread(seconds, 1)["median"]
    median_events = int(spread(events, 0)["median"])
    rate = spread(rates, 0)
    meets = rate["median"] >= TARGET_RATE
    notes = []
    if context.size == "large":
        meets = meets and median_events >= TARGET_EVENTS and median_seconds <= TARGET_SECONDS
    else:
        notes.append(
            f"a {context.size} university writes fewer than 10 M events: held to the target's"
            f" rate, {TARGET_RATE:,.0f} events/s"
        )
    return StageResult(
        stage="simulate",
        figure=f"{median_events / 1e6:.2f} M events in {median_seconds:.0f} s"
        f" ({rate['median']:,.0f} events/s)",
        target="≥ 10 M events in ≤ 300 s",
        meets_target=meets,
        figures={
            "seconds": spread(seconds, 1),
            "events": spread(events, 0),
            "events_per_s": rate,
            "peak_rss_mib": spread(peaks, 0),
            "runs": runs,
        },
        targets={"events": TARGET_EVENTS, "seconds": TARGET_SECONDS, "events_per_s": TARGET_RATE},
        notes=notes,
    )
