"""Process report without a build: the warehouse's figures from raw events; bad events refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from tests.warehouse.test_process_report import AS_OF, HAND_MADE, PROCESS_MODELS, event, frame
from warehouse import process_direct
from warehouse.modeling import run_models
from warehouse.process_direct import PROCESS_MODELS as DIRECT_MODELS
from warehouse.process_direct import (
    STAGED_COLUMNS,
    ProcessInputError,
    direct_report,
    narrow_staging_sql,
)
from warehouse.process_report import UnknownProcessError, process_report
from warehouse.raw import RAW_EVENTS_SCHEMA, append_events, ensure_raw_events


def built_report(rows: list[dict[str, Any]], process_key: str, db: Path) -> dict[str, Any]:
    """The report as a warehouse build makes it: raw_events in a file, the models run."""
    conn = duckdb.connect(str(db))
    ensure_raw_events(conn)
    append_events(conn, frame(rows), 0)
    run_models(conn, as_of=AS_OF, select=PROCESS_MODELS)
    try:
        return process_report(conn.cursor(), process_key)
    finally:
        conn.close()


def test_the_direct_path_runs_the_warehouse_models() -> None:
    assert DIRECT_MODELS == PROCESS_MODELS


@pytest.mark.parametrize("process_key", ["enrollment_certificate", "tiny_log"])
def test_figures_equal_the_built_warehouses(process_key: str, tmp_path: Path) -> None:
    # Shuffled: the store's rows may come in any order, the figures may not change.
    shuffled = frame(HAND_MADE).sample(fraction=1.0, shuffle=True, seed=7)
    direct = direct_report(shuffled, process_key, as_of=AS_OF)
    assert direct == built_report(HAND_MADE, process_key, tmp_path / "work.duckdb")


def test_no_events_is_an_unknown_process() -> None:
    empty = pl.DataFrame(schema=RAW_EVENTS_SCHEMA)
    with pytest.raises(UnknownProcessError, match="unknown process 'nothing'"):
        direct_report(empty, "nothing", as_of=AS_OF)


def test_a_process_with_campaign_streams_only_is_unknown() -> None:
    campaign = [e for e in HAND_MADE if e["stream_type"] == "campaign"]
    with pytest.raises(UnknownProcessError, match="unknown process 'enrollment_certificate'"):
        direct_report(frame(campaign), "enrollment_certificate", as_of=AS_OF)


def imported(
    event_id: int, version: int, seconds: float, payload: dict[str, Any]
) -> dict[str, Any]:
    return event(
        event_id,
        "imp",
        version,
        seconds,
        "activity",
        stream_type="imported",
        process_key="tiny_log",
        payload=payload,
    )


def refused(rows: list[dict[str, Any]], process_key: str, match: str) -> ProcessInputError:
    with pytest.raises(ProcessInputError, match=match) as raised:
        direct_report(frame(rows), process_key, as_of=AS_OF)
    assert "nothing reported" in str(raised.value)
    return raised.value


def test_an_activity_without_its_name_is_refused() -> None:
    rows = [*HAND_MADE, imported(16, 5, 40, {"sequence": 3})]
    error = refused(
        rows, "tiny_log", r"1 event\(s\) .* has no activity name .* \(first: imp version 5\)"
    )
    assert error.check.name == "imported_activity_named"


def test_two_activities_at_one_position_are_refused() -> None:
    rows = [*HAND_MADE, imported(16, 5, 40, {"activity": "decide", "sequence": 2})]
    refused(rows, "tiny_log", r"2 event\(s\) .* hold one position in the file")


def test_two_events_of_one_stream_version_are_refused() -> None:
    rows = [*HAND_MADE, event(16, "a", 5, 400, "completed")]
    refused(rows, "enrollment_certificate", r"two events hold one version of a stream")


def test_an_event_before_1990_is_refused() -> None:
    rows = [*HAND_MADE, event(16, "c", 2, 0, "withdrawn")]
    rows[-1] = {**rows[-1], "occurred_at": rows[-1]["occurred_at"].replace(year=1989)}
    refused(rows, "enrollment_certificate", r"an event happened before 1990 \(first: c version 2\)")


def test_an_event_after_it_was_recorded_is_refused() -> None:
    late = event(16, "c", 2, 2600, "withdrawn")
    late["recorded_at"] = late["occurred_at"].replace(hour=0)
    refused([*HAND_MADE, late], "enrollment_certificate", r"after the store recorded it")


def test_time_running_backwards_in_an_instance_is_refused() -> None:
    rows = [*HAND_MADE, event(16, "c", 2, 1900, "withdrawn")]  # c was submitted at 2000
    refused(rows, "enrollment_certificate", r"time runs backwards within an instance")


def test_narrowed_staging_is_the_staging_models_columns(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    ensure_raw_events(conn)
    append_events(conn, frame(HAND_MADE), 0)
    run_models(conn, as_of=AS_OF, select=PROCESS_MODELS[:1])
    narrow = narrow_staging_sql(STAGED_COLUMNS)
    assert narrow is not None
    columns = ", ".join(STAGED_COLUMNS)
    whole = conn.execute(f"select {columns} from stg_events__all order by event_id").fetchall()
    narrowed = conn.execute(f"select * from ({narrow}) order by event_id").fetchall()
    conn.close()
    assert narrowed == whole
    assert any(row[STAGED_COLUMNS.index("activity")] == "check" for row in narrowed)


def test_a_column_staging_does_not_name_cannot_be_narrowed() -> None:
    assert narrow_staging_sql((*STAGED_COLUMNS, "no_such_column")) is None


def test_a_model_reading_an_unstaged_column_gets_the_whole_staging(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # int_process__steps reads node_key: narrowed without it, the models fail, then run whole.
    without = tuple(name for name in STAGED_COLUMNS if name != "node_key")
    monkeypatch.setattr(process_direct, "STAGED_COLUMNS", without)
    direct = direct_report(frame(HAND_MADE), "enrollment_certificate", as_of=AS_OF)
    assert direct == built_report(HAND_MADE, "enrollment_certificate", tmp_path / "work.duckdb")


def test_the_report_reads_the_frame_without_loading_pyarrow() -> None:
    """A report's start-up: DuckDB reads the frame through the Arrow stream interface, where
    registering the frame itself imported pyarrow (0.35 s of `tongban report log`)."""
    script = (
        "import sys\n"
        "from tests.warehouse.test_process_report import AS_OF, HAND_MADE, frame\n"
        "from warehouse.process_direct import direct_report\n"
        "report = direct_report(frame(HAND_MADE), 'enrollment_certificate', as_of=AS_OF)\n"
        "assert report['cases'] > 0, report\n"
        "print('pyarrow' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.strip() == "False"
