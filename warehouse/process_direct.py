"""The process report computed from one process's events, without a build or a publication.

`tongban report process KEY --from-store` reads the events of KEY's streams from the event store,
`tongban report log FILE` makes the rows an import of FILE would write, and either hands them
here as a `raw_events` frame. A private in-memory DuckDB reads the frame where it is, and the
very SQL models the warehouse builds run over them (`stg_events__all`, `int_process__steps`,
`int_process__cases`, `mart_process__summary`, `mart_process__activities`, `mart_process__dfg`),
so the figures are the published warehouse's by construction, and `process_report` shapes them.

Staging is narrowed to what those models and the checks read: `stg_events__all` is made from the
staging model's own expressions for those columns only (its other two dozen JSON extractions took
2 of the 3 seconds of BPIC 2012's models); if the models ever read a column the narrowed table
lacks, the whole staging model runs instead.

The pipelines' Great Expectations checks do not run here (they take seconds to start and look at
the whole store). What these figures rest on is checked instead, in SQL over the same rows, and a
failure refuses the report (`ProcessInputError`) naming the check, how many events fail it and
the first of them: no two events hold one version of a stream; every event happened after 1990
and no later than the store recorded it (5 minutes of clock skew allowed); every activity of an
imported case has its name and its position in the file, and no position appears twice in a
case; time never runs backwards within an instance of the hall's own processes. The checks on
the business systems, the catalog and the rest of the workflow log (decisions, tasks, terminal
events, applicants) are left to the build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import duckdb
import polars as pl

from warehouse.modeling import EVENTS_MODEL, ModelError, load_models, run_models
from warehouse.process_report import UnknownProcessError, process_report
from warehouse.raw import RAW_EVENTS_COLUMNS

PROCESS_MODELS: Final = (
    "stg_events__all",
    "int_process__steps",
    "int_process__cases",
    "mart_process__summary",
    "mart_process__activities",
    "mart_process__dfg",
)
# The staged columns the process models and the input checks read.
STAGED_COLUMNS: Final = (
    "event_id",
    "stream_id",
    "stream_version",
    "stream_type",
    "occurred_at",
    "recorded_at",
    "event_type",
    "process_key",
    "node_key",
    "activity",
    "sequence",
)
CLOCK_SKEW: Final = "5 minutes"  # as the build's `events_occurred_not_after_recorded`
EARLIEST: Final = "1990-01-01"  # as the build's `events_occurred_after_1990`


@dataclass(frozen=True)
class InputCheck:
    """A condition every event the report reads must meet: `failing` selects the events that do
    not, as (stream_id, stream_version) from `stg_events__all`."""

    name: str
    description: str
    failing: str


INPUT_CHECKS: Final = (
    InputCheck(
        "stream_version_unique",
        "two events hold one version of a stream",
        "select stream_id, stream_version from stg_events__all"
        " qualify count(*) over (partition by stream_id, stream_version) > 1",
    ),
    InputCheck(
        "occurred_after_1990",
        "an event happened before 1990",
        f"select stream_id, stream_version from stg_events__all where occurred_at < '{EARLIEST}'",
    ),
    InputCheck(
        "occurred_not_after_recorded",
        f"an event happened after the store recorded it (beyond {CLOCK_SKEW} of clock skew)",
        "select stream_id, stream_version from stg_events__all"
        f" where occurred_at > recorded_at + interval '{CLOCK_SKEW}'",
    ),
    InputCheck(
        "imported_activity_named",
        "an activity of an imported case has no activity name or no position in the file",
        "select stream_id, stream_version from stg_events__all"
        " where stream_type = 'imported' and event_type = 'activity'"
        " and (coalesce(trim(activity), '') = '' or sequence is null)",
    ),
    InputCheck(
        "imported_position_unique",
        "two activities of an imported case hold one position in the file",
        "select stream_id, stream_version from stg_events__all"
        " where stream_type = 'imported' and event_type = 'activity' and sequence is not null"
        " qualify count(*) over (partition by stream_id, sequence) > 1",
    ),
    InputCheck(
        "native_time_not_backwards",
        "time runs backwards within an instance",
        "select stream_id, stream_version from stg_events__all where stream_type = 'instance'"
        " qualify occurred_at < lag(occurred_at)"
        " over (partition by stream_id order by stream_version)",
    ),
)


class ProcessInputError(ValueError):
    """The events of a process fail a check the report relies on; names the check, the count
    and the first failing event."""

    def __init__(self, process_key: str, check: InputCheck, count: int, first: str) -> None:
        super().__init__(
            f"process {process_key!r}: {count:,} event(s) fail a check the report relies on —"
            f" {check.description} (first: {first}); nothing reported. `tongban build` runs"
            " every data-quality check and `tongban quality` shows the failing rows"
        )
        self.process_key = process_key
        self.check = check
        self.count = count


_SELECTED = re.compile(r"(?:(?P<expr>.+?)\s+as\s+)?(?P<name>[a-z_][a-z0-9_]*)", re.IGNORECASE)
# Where the model's `final` CTE reads from: its last line.
_FINAL_SOURCE = re.compile(r"^\s*from (?P<source>[a-z_][a-z0-9_]*)\s*\n\)", re.MULTILINE)


def narrow_staging_sql(columns: tuple[str, ...]) -> str | None:
    """`stg_events__all` keeping only `columns`, each computed by the staging model's own
    expression over its own CTEs (the events past `getvariable('model_hwm')`, as the model
    reads them); None when the model's `final` select is not one item a line naming them all
    (then the whole model must run)."""
    model = next(m for m in load_models() if m.name == EVENTS_MODEL)
    head, found_final, tail = model.sql.partition("final as (")
    source = _FINAL_SOURCE.search(tail)
    if not found_final or source is None:
        return None
    expressions: dict[str, str] = {}
    for line in tail[: source.start()].splitlines():
        item = line.split("--", 1)[0].strip().rstrip(",").strip()
        match = _SELECTED.fullmatch(item) if item else None
        if match:
            expressions[match["name"]] = match["expr"] or match["name"]
    if not set(columns) <= expressions.keys():
        return None
    selected = ",\n        ".join(
        name if expressions[name] == name else f"{expressions[name]} as {name}" for name in columns
    )
    return (
        f"{head}final as (\n    select\n        {selected}\n    from {source['source']}\n)\n\n"
        "select * from final"
    )


def check_inputs(conn: duckdb.DuckDBPyConnection, process_key: str) -> None:
    """Raise ProcessInputError for the first input check that some event fails."""
    for check in INPUT_CHECKS:
        rows = conn.execute(
            f"select count(*), min(stream_id || ' version ' || stream_version)"
            f" from ({check.failing})"
        ).fetchall()
        count, first = rows[0]
        if count:
            raise ProcessInputError(process_key, check, int(count), str(first))


class _ArrowStream:
    """A frame as an Arrow C stream only: DuckDB scans it without pyarrow, once per read."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self.frame.__arrow_c_stream__(requested_schema)


def direct_report(events: pl.DataFrame, process_key: str, *, as_of: datetime) -> dict[str, Any]:
    """The report of `process_key` from its streams' events (a `raw_events` frame, any order);
    UnknownProcessError (naming no known process: the caller knows its source) without any."""
    if events.is_empty():
        raise UnknownProcessError(process_key, [])
    if events.columns != list(RAW_EVENTS_COLUMNS):
        raise ValueError(f"event columns {events.columns} differ from raw_events'")
    conn = duckdb.connect(":memory:")
    try:
        # The frame itself stands for raw_events (copying it into a table cost 0.4 s of 2),
        # read through the Arrow stream interface: registering the frame itself made DuckDB
        # import pyarrow to convert it, 0.35 s of a report's start.
        conn.register("raw_events", _ArrowStream(events))
        narrow = narrow_staging_sql(STAGED_COLUMNS)
        if narrow is not None:
            conn.execute("set variable model_hwm = 0::bigint")
            conn.execute(f"create table {EVENTS_MODEL} as\n{narrow}")
        else:
            run_models(conn, as_of=as_of, select=PROCESS_MODELS[:1])
        # The staged events are checked before anything is built from them.
        check_inputs(conn, process_key)
        try:
            run_models(conn, as_of=as_of, select=PROCESS_MODELS[1:])
        except ModelError:
            if narrow is None:
                raise
            # A process model reads a staged column the narrowed table lacks: stage it whole.
            run_models(conn, as_of=as_of, select=PROCESS_MODELS, full=True)
        return process_report(conn, process_key)
    finally:
        conn.close()
