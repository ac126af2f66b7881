"""Reference figures from PM4Py for `tongban report process` (a dev-only script).

PM4Py is NOT a dependency of the project (AGPL, heavy): run this in a throwaway venv outside the
repository, e.g.

    uv venv ../pm4py-env && uv pip install --python ../pm4py-env/bin/python pm4py
    ../pm4py-env/bin/python bench/pm4py_reference.py \
        ../shared/data/real_logs/receipt.csv > tests/warehouse/fixtures/pm4py_receipt.json

(run it from a directory that is not inside `pm4py`'s own package folder.)

It prints the report's JSON shape for a CSV (columns `case:concept:name`, `concept:name`,
`time:timestamp`; mixed UTC offsets are parsed to UTC) or a XES log (`pm4py.read_xes`):
cases, events, case durations (`pm4py.get_all_case_durations`: last minus first event, seconds;
median/mean/p90 by linear interpolation, as DuckDB's `quantile_cont`), activity counts and the
directly-follows graph (`pm4py.discover_dfg` for the counts, `pm4py.discover_performance_dfg`
for the median and mean seconds). PM4Py orders each case by timestamp with a stable sort, so
events with equal timestamps keep their order in the file (our `sequence`).

With `--timings` the JSON also holds `timings_s`: the seconds of each step (read, case durations,
activity counts, the two DFGs) and their total, so that `tongban bench` (stage `report`, which
runs this script in its own PM4Py environment) can tell PM4Py's start-up from its work.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")  # pm4py's parsing progress bar floods stderr

import numpy as np
import pandas as pd
import pm4py

CASE, ACTIVITY, TIMESTAMP = "case:concept:name", "concept:name", "time:timestamp"


def read_log(path: Path) -> pd.DataFrame:
    if path.name.lower().endswith(".csv"):
        frame = pd.read_csv(path, dtype={CASE: str, ACTIVITY: str})
        frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True, format="ISO8601")
        return pm4py.format_dataframe(
            frame, case_id=CASE, activity_key=ACTIVITY, timestamp_key=TIMESTAMP
        )
    frame = pm4py.read_xes(str(path))
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True)
    return frame


class Stopwatch:
    """Seconds per named step, in the order they ran."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = round(now - self._last, 4)
        self._last = now


def summary(frame: pd.DataFrame, watch: Stopwatch) -> dict[str, Any]:
    durations = np.array(pm4py.get_all_case_durations(frame), dtype=float)
    watch.lap("case_durations")
    counts = frame[ACTIVITY].value_counts()
    activity_counts = {
        str(name): int(count)
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    }
    watch.lap("activity_counts")
    frequency, _, _ = pm4py.discover_dfg(frame)
    watch.lap("dfg")
    performance, _, _ = pm4py.discover_performance_dfg(frame)
    watch.lap("performance_dfg")
    edges = [
        {
            "from": str(a),
            "to": str(b),
            "count": int(count),
            "median_s": float(performance[(a, b)]["median"]),
            "mean_s": float(performance[(a, b)]["mean"]),
        }
        for (a, b), count in frequency.items()
    ]
    edges.sort(key=lambda edge: (-edge["count"], edge["from"], edge["to"]))
    return {
        "cases": int(frame[CASE].nunique()),
        "events": len(frame),
        "case_duration_s": {
            "min": float(durations.min()),
            "median": float(np.quantile(durations, 0.5)),
            "mean": float(durations.mean()),
            "p90": float(np.quantile(durations, 0.9)),
            "max": float(durations.max()),
        },
        "activity_counts": activity_counts,
        "dfg": edges,
    }


def main(argv: list[str]) -> None:
    args = argv[1:]
    timings = "--timings" in args
    if timings:
        args.remove("--timings")
    if len(args) != 1:
        sys.exit("usage: pm4py_reference.py [--timings] LOG (.csv | .xes | .xes.gz)")
    path = Path(args[0])
    started = time.perf_counter()
    watch = Stopwatch()
    frame = read_log(path)
    watch.lap("read")
    result = {"source": path.name, "pm4py": pm4py.__version__, **summary(frame, watch)}
    total = time.perf_counter() - started
    if timings:
        result["timings_s"] = {**watch.steps, "total": round(total, 4)}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"{path.name}: {total:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
