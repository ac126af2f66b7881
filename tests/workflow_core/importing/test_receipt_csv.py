"""receipt.csv (a municipality's permit receipts) imports whole, exactly, once, rebuildably."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.workflow_core.importing.conftest import counts, real_log
from workflow_core.domain.events import Activity, CaseImported
from workflow_core.importing.csv_log import read_csv
from workflow_core.importing.loader import import_log, stream_id_of
from workflow_core.importing.model import LogImportError
from workflow_core.store import event_store, projections
from workflow_core.store.schema import instances, log_imports

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def instance_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(instances).order_by(instances.c.instance_id)).mappings()
        return [dict(r) for r in rows]


def test_receipt_imports_every_case_and_event(store_engine: Engine) -> None:
    path = real_log("receipt.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected_cases = {row["case:concept:name"] for row in rows}
    expected_activities = {row["concept:name"] for row in rows}
    summary = import_log(store_engine, read_csv(path), "receipt", now=NOW)
    assert (summary.cases, summary.events) == (1_434, 8_577) == (len(expected_cases), len(rows))
    assert summary.activities == len(expected_activities)
    assert counts(store_engine) == {
        "events": 1_434 + 8_577,
        "instances": 1_434,
        "tasks": 0,
        "log_imports": 1,
    }
    with store_engine.connect() as conn:
        stored = list(event_store.iter_all(conn))
        recorded = conn.execute(select(log_imports)).mappings().one()
    assert {s.stream_id for s in stored} == {stream_id_of("receipt", c) for c in expected_cases}
    assert all(s.process_key == "receipt" and s.process_version == 1 for s in stored)
    activities = [s.event for s in stored if isinstance(s.event, Activity)]
    assert {a.activity for a in activities} == expected_activities
    assert all(a.occurred_at.tzinfo is not None for a in activities)
    assert recorded["import_key"] == f"receipt:{summary.sha256}"
    assert (recorded["cases"], recorded["events"]) == (1_434, 8_577)


def test_mixed_offsets_become_exact_utc_and_cases_keep_their_attributes(
    store_engine: Engine,
) -> None:
    import_log(store_engine, read_csv(real_log("receipt.csv")), "receipt", now=NOW)
    with store_engine.connect() as conn:
        stream = event_store.load_stream(conn, stream_id_of("receipt", "case-10011"))
    first, *steps = (s.event for s in stream)
    assert isinstance(first, CaseImported) and first.case_id == "case-10011"
    assert first.attributes["case:channel"] == "Internet"
    assert "case:enddate" not in first.attributes  # an empty cell is no attribute
    assert all(isinstance(s, Activity) for s in steps)
    # Row 1: 2011-10-11 13:45:40.276000+02:00 (summer time); row 3: …15:36:51.302000+01:00.
    assert steps[0].occurred_at == datetime(2011, 10, 11, 11, 45, 40, 276000, tzinfo=UTC)
    assert steps[2].occurred_at == datetime(2011, 11, 24, 14, 36, 51, 302000, tzinfo=UTC)
    assert first.occurred_at == steps[0].occurred_at
    assert [s.sequence for s in steps] == [0, 1, 2, 3]  # type: ignore[attr-defined]
    activity = steps[0]
    assert isinstance(activity, Activity)
    assert (activity.actor_id, activity.actor_role, activity.group) == (
        "Resource21",
        "resource",
        "Group 1",
    )
    assert (activity.lifecycle, activity.attributes) == (
        "complete",
        {"concept:instance": "task-42933"},
    )
    row = next(r for r in instance_rows(store_engine) if r["instance_id"] == stream[0].stream_id)
    assert row["status"] == "imported" and row["applicant_id"] == ""
    assert row["submitted_at"] == steps[0].occurred_at
    assert row["closed_at"] == row["updated_at"] == steps[-1].occurred_at
    assert row["form"] == first.attributes and row["version"] == 5


def test_the_rebuilt_projections_equal_the_imported_ones(store_engine: Engine) -> None:
    import_log(store_engine, read_csv(real_log("receipt.csv")), "receipt", now=NOW)
    live = instance_rows(store_engine)
    with store_engine.begin() as conn:
        rebuilt_counts = projections.rebuild(conn)
    assert rebuilt_counts["instances"] == 1_434
    assert instance_rows(store_engine) == live


def test_the_same_file_twice_is_refused_and_writes_nothing(store_engine: Engine) -> None:
    log = read_csv(real_log("receipt.csv"))
    import_log(store_engine, log, "receipt", now=NOW)
    before = counts(store_engine)
    with pytest.raises(LogImportError, match="already imported as process 'receipt'"):
        import_log(store_engine, log, "receipt", now=NOW)
    assert counts(store_engine) == before


def test_another_key_is_another_process_but_a_key_keeps_its_log(
    store_engine: Engine, tmp_path: Path
) -> None:
    path = real_log("receipt.csv")
    import_log(store_engine, read_csv(path), "receipt", now=NOW)
    again = import_log(store_engine, read_csv(path), "receipt_copy", now=NOW)
    assert again.cases == 1_434
    assert counts(store_engine)["instances"] == 2 * 1_434
    other = tmp_path / "receipt_part.csv"
    with path.open(encoding="utf-8") as source:
        other.write_text("".join(source.readlines()[:40]), encoding="utf-8")
    before = counts(store_engine)
    with pytest.raises(LogImportError, match="'receipt' belongs to another log"):
        import_log(store_engine, read_csv(other), "receipt", now=NOW)
    assert counts(store_engine) == before


def test_equal_timestamps_keep_the_file_order(store_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "ties.csv"
    path.write_text(
        "case:concept:name,concept:name,time:timestamp,org:resource\n"
        "c1,register,2024-03-01T09:00:00+08:00,r1\n"
        "c2,register,2024-03-01T09:00:00+08:00,\n"
        "c1,check,2024-03-01T09:05:00+08:00,r2\n"
        "c1,approve,2024-03-01T09:05:00+08:00,r2\n"
        "c1,archive,2024-03-01T09:05:00+08:00,r3\n",
        encoding="utf-8",
    )
    import_log(store_engine, read_csv(path), "ties", now=NOW)
    with store_engine.connect() as conn:
        c1 = [s.event for s in event_store.load_stream(conn, stream_id_of("ties", "c1"))]
        c2 = [s.event for s in event_store.load_stream(conn, stream_id_of("ties", "c2"))]
    steps = [e for e in c1 if isinstance(e, Activity)]
    assert [(e.activity, e.sequence) for e in steps] == [
        ("register", 0),
        ("check", 1),
        ("approve", 2),
        ("archive", 3),
    ]
    assert steps[0].occurred_at == datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    assert c2[1].actor_id == "unknown" and c2[1].department_id is None  # no resource, no group


def test_the_copy_of_a_log_under_another_name_is_the_same_log(
    store_engine: Engine, tmp_path: Path
) -> None:
    copy = tmp_path / "renamed.csv"
    shutil.copy(real_log("receipt.csv"), copy)
    import_log(store_engine, read_csv(real_log("receipt.csv")), "receipt", now=NOW)
    with pytest.raises(LogImportError, match="already imported"):
        import_log(store_engine, read_csv(copy), "receipt", now=NOW)
