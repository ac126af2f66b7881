"""Which checks run when: a check validates only what is new since it passed, holds on data it
passed, keeps failing on a bad row however much traffic follows, and looks again when its
definition changes."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.quality.checks import CHECKS, Check
from pipelines.quality.gate import evaluate
from warehouse.quality import RunInfo
from warehouse.raw import ensure_raw_events, events_cursor

# The checks whose frames read nothing but the events.
EVENT_ONLY = tuple(
    c for c in CHECKS if c.frame in ("events", "stream_versions", "instance_order", "instances")
)
T0 = datetime(2026, 3, 2, 1, 0)


@pytest.fixture
def conn(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    made = duckdb.connect(str(tmp_path / "work.duckdb"))
    ensure_raw_events(made)
    return made


def add(
    conn: duckdb.DuckDBPyConnection,
    stream: str,
    version: int,
    event_type: str,
    minutes: float,
    event_id: int | None = None,
) -> int:
    event_id = event_id or events_cursor(conn) + 1
    moment = T0 + timedelta(minutes=minutes)
    task = f"{stream}-t1" if event_type in ("task_created", "approved") else None
    conn.execute(
        "insert into raw_events values"
        " (?, ?, ?, 'instance', ?, ?, ?, 'vpn_application', 1, ?, ?, 'U1', 'applicant', NULL, 1,"
        " '{}')",
        [
            event_id,
            stream,
            version,
            moment,
            moment + timedelta(seconds=1),
            event_type,
            "review" if task else None,
            task,
        ],
    )
    return event_id


def run(conn: duckdb.DuckDBPyConnection, n: int, checks: tuple[Check, ...] = EVENT_ONLY):
    info = RunInfo(f"run-{n}", "test", T0 + timedelta(hours=n), events_cursor(conn))
    return evaluate(conn, checks, info)


def instance(conn: duckdb.DuckDBPyConnection, stream: str, minutes: int) -> None:
    for version, kind in enumerate(("submitted", "task_created", "approved", "completed"), 1):
        add(conn, stream, version, kind, minutes + version)


def test_a_check_reads_only_what_is_new_and_holds_on_what_it_passed(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    instance(conn, "i1", 0)
    first = run(conn, 1)
    assert {r.check_name for r in first.results} == {c.name for c in EVENT_ONLY}
    assert all(r.success and r.scope == "full" for r in first.results)

    again = run(conn, 2)
    assert not again.results
    assert set(again.holding) == {c.name for c in EVENT_ONLY}

    instance(conn, "i2", 10)
    later = run(conn, 3)
    unique = next(r for r in later.results if r.check_name == "events_event_id_unique")
    assert (unique.scope, unique.element_count) == ("incremental", 4)


def test_a_failure_stays_until_its_rows_are_gone(conn: duckdb.DuckDBPyConnection) -> None:
    instance(conn, "i1", 0)
    run(conn, 1)
    bad = add(conn, "i1", 4, "reminded", 9)  # a second version 4 of i1
    failed = run(conn, 2)
    assert {r.check_name for r in failed.blocking_failures} >= {"events_stream_version_unique"}
    result = next(r for r in failed.results if r.check_name == "events_stream_version_unique")
    assert {row["event_id"] for row in result.sample} == {4, bad}

    # Traffic after it does not push the failure out of view: the check reads from before it.
    instance(conn, "i2", 20)
    still = run(conn, 3)
    assert "events_stream_version_unique" in {r.check_name for r in still.blocking_failures}

    conn.execute("delete from raw_events where event_id = ?", [bad])
    cleared = run(conn, 4)
    assert not cleared.blocking_failures
    assert "events_stream_version_unique" in {r.check_name for r in cleared.results}


def test_a_changed_check_looks_again(conn: duckdb.DuckDBPyConnection) -> None:
    instance(conn, "i1", 0)
    run(conn, 1)
    known = next(c for c in EVENT_ONLY if c.name == "events_known_type")
    narrower = dataclasses.replace(
        known,
        expect=dataclasses.replace(
            known.expect, kwargs={"column": "event_type", "value_set": ["submitted"]}
        ),
    )
    changed = run(conn, 2, (narrower,))
    assert [r.check_name for r in changed.results] == ["events_known_type"]
    assert changed.blocking_failures[0].unexpected_count == 3


def test_a_lasting_warning_rereads_from_its_first_failing_event(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    known = next(c for c in EVENT_ONLY if c.name == "events_known_type")
    warning = (dataclasses.replace(known, severity="warn"),)
    instance(conn, "i1", 0)
    run(conn, 1, warning)
    odd = add(conn, "i1", 5, "stamped", 9)  # a type the workflow does not write
    instance(conn, "i2", 20)
    first = run(conn, 2, warning)
    assert first.warnings and not first.blocking_failures
    assert first.warnings[0].sample[0]["event_id"] == odd

    instance(conn, "i3", 40)
    again = run(conn, 3, warning)
    # From the failing event on (it, i2's four and i3's four), not the whole log again.
    assert again.warnings[0].element_count == 9
    assert again.warnings[0].unexpected_count == 1
