"""A report from the event store equals the report of the file it was imported from, per backend."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tongban.report_store import log_report, read_process_events, store_report
from warehouse.process_report import UnknownProcessError
from warehouse.raw import RAW_EVENTS_SCHEMA
from workflow_core.importing.csv_log import read_csv
from workflow_core.importing.loader import import_log

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
LOG = """case:concept:name,concept:name,time:timestamp,org:resource,org:group,amount
c1,register,2024-03-01T09:00:00.123456+08:00,r1,g1,5
c2,register,2024-03-01T09:30:00+08:00,r2,,
c1,check,2024-03-01T09:00:00.123456+08:00,r1,g1,
c1,decide,2024-03-01T10:00:00+08:00,,g1,
c2,decide,2024-03-02T10:00:00+08:00,r3,,
"""


@pytest.fixture
def tiny_log(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    path.write_text(LOG, encoding="utf-8")
    return path


def test_the_stores_report_is_the_files(
    store_engine: Engine, store_url: str, tiny_log: Path
) -> None:
    import_log(store_engine, read_csv(tiny_log), "tiny", now=NOW)
    stored = store_report(store_url, "tiny")
    assert stored == log_report(tiny_log, "tiny", "csv")
    assert (stored["cases"], stored["events"]) == (2, 5)
    assert stored["case_duration_s"]["max"] == 88_200.0  # c2: 09:30, a day and 30 minutes
    # Equal times keep the file's order: register, then check.
    assert [(e["from"], e["to"]) for e in stored["dfg"]][:1] == [("check", "decide")]
    assert {(e["from"], e["to"]) for e in stored["dfg"]} == {
        ("register", "check"),
        ("check", "decide"),
        ("register", "decide"),
    }


def test_the_stores_rows_are_raw_events_with_their_times(
    store_engine: Engine, tiny_log: Path
) -> None:
    import_log(store_engine, read_csv(tiny_log), "tiny", now=NOW)
    frame = read_process_events(store_engine, "tiny")
    assert frame.schema == RAW_EVENTS_SCHEMA
    assert frame.height == 2 + 5  # each case's case_imported, and its activities
    first = frame.sort("occurred_at")["occurred_at"][0]
    assert first == datetime(2024, 3, 1, 1, 0, 0, 123456)  # naive UTC, microseconds kept


def test_an_unknown_process_names_the_stores_processes(
    store_engine: Engine, store_url: str, tiny_log: Path
) -> None:
    import_log(store_engine, read_csv(tiny_log), "tiny", now=NOW)
    with pytest.raises(UnknownProcessError, match=r"unknown process 'other' \(known: tiny\)"):
        store_report(store_url, "other")
