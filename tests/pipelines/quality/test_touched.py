"""The touched streams' events the event frames share: exactly the events of the streams with
an event past the mark (all of them for the mark 0), made once per mark, gone afterwards."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.quality.touched import TOUCHED_EVENTS, touched_events
from warehouse.raw import ensure_raw_events


def _log(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    ensure_raw_events(conn)
    # Streams a, b, c interleaved; event 6 is b's only new one past the mark 5.
    for event_id, stream in enumerate("abcabb", start=1):
        conn.execute(
            "insert into raw_events values (?, ?, ?, 'instance', timestamp '2026-03-02 01:00',"
            " timestamp '2026-03-02 01:00', 'submitted', 'p', 1, null, null, 'u', 'applicant',"
            " null, 1, '{}')",
            [event_id, stream, event_id],
        )
    return conn


def _held(conn: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    return conn.execute(f"select event_id, stream_id from {TOUCHED_EVENTS} order by 1").fetchall()


def test_the_events_of_the_streams_past_the_mark(tmp_path: Path) -> None:
    conn = _log(tmp_path)
    with touched_events(conn) as prepare:
        prepare(5)
        assert _held(conn) == [(2, "b"), (5, "b"), (6, "b")]
        prepare(3)  # c and a moved after 3 too
        assert [stream for _, stream in _held(conn)] == ["a", "b", "a", "b", "b"]
        prepare(0)
        assert len(_held(conn)) == 6
    tables = conn.execute("select table_name from duckdb_tables() where temporary").fetchall()
    views = conn.execute("select view_name from duckdb_views() where temporary").fetchall()
    assert (TOUCHED_EVENTS,) not in tables and (TOUCHED_EVENTS,) not in views


def test_the_same_mark_reads_the_log_once(tmp_path: Path) -> None:
    conn = _log(tmp_path)
    with touched_events(conn) as prepare:
        prepare(5)
        # A later event is not picked up until the mark changes: one read per mark.
        conn.execute(
            "insert into raw_events select 7, 'c', 7, stream_type, occurred_at, recorded_at,"
            " event_type, process_key, process_version, node_key, task_id, actor_id, actor_role,"
            " department_id, schema_version, payload from raw_events where event_id = 1"
        )
        prepare(5)
        assert [stream for _, stream in _held(conn)] == ["b", "b", "b"]
        prepare(6)
        assert _held(conn) == [(3, "c"), (7, "c")]
