"""The process-mining report of one process, read from the published marts.

`mart_process__summary`, `mart_process__activities` and `mart_process__dfg` hold the figures
(definitions in `models/intermediate/int_process__steps.sql`); this module only shapes them:
counts as ints, seconds as floats, activities by count (desc) then name, DFG edges by count
(desc) then from, then to.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb

DURATION_FIELDS: Final = ("min", "median", "mean", "p90", "max")


class UnknownProcessError(LookupError):
    """No process with this key in the warehouse; names the key and the known ones."""

    def __init__(self, process_key: str, known: list[str]) -> None:
        listed = ", ".join(known) if known else "none"
        super().__init__(f"unknown process {process_key!r} (known: {listed})")
        self.process_key = process_key
        self.known = known


def known_processes(cursor: duckdb.DuckDBPyConnection) -> list[str]:
    rows = cursor.execute(
        "select process_key from mart_process__summary order by process_key"
    ).fetchall()
    return [str(row[0]) for row in rows]


def process_report(cursor: duckdb.DuckDBPyConnection, process_key: str) -> dict[str, Any]:
    """Cases, events, case durations, activity counts and the DFG of `process_key`."""
    summary = cursor.execute(
        "select cases, events, duration_min_s, duration_median_s, duration_mean_s,"
        " duration_p90_s, duration_max_s"
        " from mart_process__summary where process_key = ?",
        [process_key],
    ).fetchone()
    if summary is None:
        raise UnknownProcessError(process_key, known_processes(cursor))
    cases, events, *durations = summary
    activities = cursor.execute(
        "select activity, events from mart_process__activities where process_key = ?"
        " order by events desc, activity",
        [process_key],
    ).fetchall()
    edges = cursor.execute(
        "select from_activity, to_activity, pairs, median_s, mean_s"
        " from mart_process__dfg where process_key = ?"
        " order by pairs desc, from_activity, to_activity",
        [process_key],
    ).fetchall()
    return {
        "process_key": process_key,
        "cases": int(cases),
        "events": int(events),
        "case_duration_s": {
            name: float(value) for name, value in zip(DURATION_FIELDS, durations, strict=True)
        },
        "activity_counts": {str(activity): int(count) for activity, count in activities},
        "dfg": [
            {
                "from": str(source),
                "to": str(target),
                "count": int(count),
                "median_s": float(median),
                "mean_s": float(mean),
            }
            for source, target, count, median, mean in edges
        ],
    }
