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


def summary(frame: pd.DataFrame) -> dict[str, Any]:
    durations = np.array(pm4py.get_all_case_durations(frame), dtype=float)
    counts = frame[ACTIVITY].value_counts()
    activity_counts = {
        str(name): int(count)
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    }
    frequency, _, _ = pm4py.discover_dfg(frame)
    performance, _, _ = pm4py.discover_performance_dfg(frame)
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
    if len(argv) != 2:
        sys.exit("usage: pm4py_reference.py LOG (.csv | .xes | .xes.gz)")
    path = Path(argv[1])
    started = time.perf_counter()
    result = {"source": path.name, "pm4py": pm4py.__version__, **summary(read_log(path))}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"{path.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
