"""Process report: real logs agree with PM4Py; a hand-made native log matches figures by hand."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine

from pipelines.extract import iter_event_batches
from tests.workflow_core.importing.conftest import real_log
from tongban.cli import main
from warehouse.modeling import run_models
from warehouse.process_report import UnknownProcessError, process_report
from warehouse.raw import RAW_EVENTS_SCHEMA, append_events, ensure_raw_events, events_cursor

FIXTURES = Path(__file__).parent / "fixtures"
AS_OF = datetime(2026, 3, 2, 2, 0)
PROCESS_MODELS = (
    "stg_events__all",
    "int_process__steps",
    "int_process__cases",
    "mart_process__summary",
    "mart_process__activities",
    "mart_process__dfg",
)
T0 = datetime(2026, 3, 2, 1, 0)


def import_log(home: Path, log: Path, process_key: str) -> None:
    """`tongban import-log` into the event store under `home` (TONGBAN_HOME)."""
    env: dict[str, str | None] = {n: None for n in os.environ if n.startswith("TONGBAN_")}
    env["TONGBAN_HOME"] = str(home)
    result = CliRunner().invoke(
        main, ["import-log", str(log), "--process-key", process_key], env=env
    )
    assert result.exit_code == 0, result.output


def build_warehouse(home: Path, db: Path) -> duckdb.DuckDBPyConnection:
    """Load the event store under `home` into raw_events of `db` and run the process models."""
    conn = duckdb.connect(str(db))
    ensure_raw_events(conn)
    engine = create_engine(f"sqlite:///{home / 'events.db'}")
    for frame in iter_event_batches(engine, events_cursor(conn)):
        append_events(conn, frame, events_cursor(conn))
    engine.dispose()
    run_models(conn, as_of=AS_OF, select=PROCESS_MODELS)
    return conn


def assert_agrees(ours: dict[str, Any], reference: dict[str, Any]) -> None:
    """Counts and orderings exactly, seconds to 1e-6 relative."""

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)

    assert (ours["cases"], ours["events"]) == (reference["cases"], reference["events"])
    assert ours["case_duration_s"].keys() == reference["case_duration_s"].keys()
    for name, value in reference["case_duration_s"].items():
        assert close(ours["case_duration_s"][name], value), name
    assert list(ours["activity_counts"].items()) == list(reference["activity_counts"].items())
    assert [(e["from"], e["to"], e["count"]) for e in ours["dfg"]] == [
        (e["from"], e["to"], e["count"]) for e in reference["dfg"]
    ]
    for mine, theirs in zip(ours["dfg"], reference["dfg"], strict=True):
        assert close(mine["median_s"], theirs["median_s"]), mine
        assert close(mine["mean_s"], theirs["mean_s"]), mine


@pytest.fixture(scope="module")
def receipt_warehouse(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[duckdb.DuckDBPyConnection]:
    log = real_log("receipt.csv")
    home = tmp_path_factory.mktemp("receipt")
    import_log(home, log, "receipt")
    conn = build_warehouse(home, home / "work.duckdb")
    yield conn
    conn.close()


def test_receipt_agrees_with_pm4py(receipt_warehouse: duckdb.DuckDBPyConnection) -> None:
    reference = json.loads((FIXTURES / "pm4py_receipt.json").read_text(encoding="utf-8"))
    ours = process_report(receipt_warehouse.cursor(), "receipt")
    assert ours["process_key"] == "receipt"
    assert (ours["cases"], ours["events"]) == (1_434, 8_577)
    assert_agrees(ours, reference)


def test_an_unknown_process_names_the_known_ones(
    receipt_warehouse: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(UnknownProcessError) as raised:
        process_report(receipt_warehouse.cursor(), "no_such_process")
    assert "'no_such_process'" in str(raised.value)
    assert "known: receipt" in str(raised.value)
    assert raised.value.known == ["receipt"]


@pytest.mark.skipif(
    os.environ.get("TONGBAN_SLOW_TESTS") != "1",
    reason="BPIC 2012 (262,200 events: import and build) takes a minute: set TONGBAN_SLOW_TESTS=1",
)
def test_bpic2012_agrees_with_pm4py(tmp_path: Path) -> None:
    log = real_log("bpic2012.xes.gz")
    import_log(tmp_path, log, "bpic2012")
    conn = build_warehouse(tmp_path, tmp_path / "work.duckdb")
    reference = json.loads((FIXTURES / "pm4py_bpic2012.json").read_text(encoding="utf-8"))
    ours = process_report(conn.cursor(), "bpic2012")
    conn.close()
    assert (ours["cases"], ours["events"]) == (13_087, 262_200)
    assert_agrees(ours, reference)


# --- a hand-made log, written directly as raw_events rows ------------------------------------


def event(
    event_id: int,
    stream_id: str,
    version: int,
    seconds: float,
    event_type: str,
    *,
    node_key: str | None = None,
    stream_type: str = "instance",
    process_key: str = "enrollment_certificate",
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    at = T0 + timedelta(seconds=seconds)
    return {
        "event_id": event_id,
        "stream_id": stream_id,
        "stream_version": version,
        "stream_type": stream_type,
        "occurred_at": at,
        "recorded_at": at,
        "event_type": event_type,
        "process_key": process_key,
        "process_version": 1,
        "node_key": node_key,
        "task_id": None,
        "actor_id": "u1",
        "actor_role": "applicant",
        "department_id": None,
        "schema_version": 1,
        "payload": json.dumps(payload or {}),
    }


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RAW_EVENTS_SCHEMA)


CR = "counsellor_review"
HAND_MADE = [
    # Case A lasts 360 s. Its first two events share a time, and so do its last two: the stream
    # version orders them (by name they would swap).
    event(1, "a", 1, 0, "submitted"),
    event(2, "a", 2, 0, "task_created", node_key=CR),
    event(3, "a", 3, 60, "task_viewed", node_key=CR),
    event(4, "a", 4, 360, "approved", node_key=CR),
    event(5, "a", 5, 360, "completed"),
    # Case B lasts 500 s.
    event(6, "b", 1, 1000, "submitted"),
    event(7, "b", 2, 1100, "task_created", node_key=CR),
    event(8, "b", 3, 1400, "rejected", node_key=CR),
    event(9, "b", 4, 1500, "completed"),
    # Case C has one event: it lasts 0 s.
    event(10, "c", 1, 2000, "submitted"),
    # A campaign stream of the same key is no case.
    event(11, "camp", 1, 50, "campaign_opened", stream_type="campaign"),
    # An imported case: `case_imported` is not counted; equal times keep the file's sequence.
    event(12, "imp", 1, 9000, "case_imported", stream_type="imported", process_key="tiny_log"),
    *(
        event(
            13 + sequence,
            "imp",
            2 + sequence,
            seconds,
            "activity",
            stream_type="imported",
            process_key="tiny_log",
            payload={"activity": name, "sequence": sequence},
        )
        for sequence, (name, seconds) in enumerate([("register", 0), ("check", 0), ("decide", 30)])
    ),
]


@pytest.fixture
def hand_made(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    ensure_raw_events(conn)
    append_events(conn, frame(HAND_MADE), 0)
    run_models(conn, as_of=AS_OF, select=PROCESS_MODELS)
    yield conn
    conn.close()


def test_a_native_process_by_hand(hand_made: duckdb.DuckDBPyConnection) -> None:
    report = process_report(hand_made.cursor(), "enrollment_certificate")
    assert report == {
        "process_key": "enrollment_certificate",
        "cases": 3,
        "events": 10,
        "case_duration_s": {
            "min": 0.0,
            "median": 360.0,
            "mean": pytest.approx(860 / 3),
            # sorted 0, 360, 500: position 0.9 × 2 = 1.8 → 360 + 0.8 × 140
            "p90": pytest.approx(472.0),
            "max": 500.0,
        },
        "activity_counts": {
            "submitted": 3,
            "completed": 2,
            f"{CR}:task_created": 2,
            f"{CR}:approved": 1,
            f"{CR}:rejected": 1,
            f"{CR}:task_viewed": 1,
        },
        "dfg": [
            {"from": "submitted", "to": f"{CR}:task_created", "count": 2, "median_s": 50.0,
             "mean_s": 50.0},
            {"from": f"{CR}:approved", "to": "completed", "count": 1, "median_s": 0.0,
             "mean_s": 0.0},
            {"from": f"{CR}:rejected", "to": "completed", "count": 1, "median_s": 100.0,
             "mean_s": 100.0},
            {"from": f"{CR}:task_created", "to": f"{CR}:rejected", "count": 1,
             "median_s": 300.0, "mean_s": 300.0},
            {"from": f"{CR}:task_created", "to": f"{CR}:task_viewed", "count": 1,
             "median_s": 60.0, "mean_s": 60.0},
            {"from": f"{CR}:task_viewed", "to": f"{CR}:approved", "count": 1,
             "median_s": 300.0, "mean_s": 300.0},
        ],
    }  # fmt: skip
    assert all(type(value) is float for value in report["case_duration_s"].values())


def test_an_imported_case_keeps_the_file_order_for_equal_times(
    hand_made: duckdb.DuckDBPyConnection,
) -> None:
    report = process_report(hand_made.cursor(), "tiny_log")
    assert (report["cases"], report["events"]) == (1, 3)
    assert report["case_duration_s"]["max"] == 30.0
    assert [(e["from"], e["to"], e["median_s"]) for e in report["dfg"]] == [
        ("check", "decide", 30.0),
        ("register", "check", 0.0),
    ]


def test_new_events_update_only_their_case_incrementally(
    hand_made: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    later = [event(16, "c", 2, 2600, "withdrawn")]
    append_events(hand_made, frame(later), 15)
    runs = run_models(hand_made, as_of=AS_OF, select=PROCESS_MODELS)
    steps = next(run for run in runs if run.model == "int_process__steps")
    assert (steps.mode, steps.changed) == ("incremental", 2)  # case C's two events
    report = process_report(hand_made.cursor(), "enrollment_certificate")
    assert report["case_duration_s"]["max"] == 600.0
    assert report["events"] == 11
    full = duckdb.connect(str(tmp_path / "full.duckdb"))
    ensure_raw_events(full)
    append_events(full, frame(HAND_MADE + later), 0)
    run_models(full, as_of=AS_OF, select=PROCESS_MODELS)
    assert process_report(full.cursor(), "enrollment_certificate") == report
    full.close()
