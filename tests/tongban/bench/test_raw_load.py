"""The floor under a build moves every raw event of a real store into DuckDB, and a second
load appends only what came after its cursor."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.warehouse.conftest import BuiltUniversity
from tongban.bench.build_stage import asset_seconds, job_seconds
from tongban.bench.raw_load import load_raw_events
from tongban.bench.university import event_count


def test_every_event_then_only_the_new_ones(
    small_university: BuiltUniversity, tmp_path: Path
) -> None:
    store = small_university.home / "events.db"
    total = event_count(store)
    target = tmp_path / "raw.duckdb"
    first = load_raw_events(store, target, after=total - 1_000)
    again = load_raw_events(store, target, after=total)
    assert (first.events, again.events) == (1_000, 0)
    assert first.extract_s > 0 and first.insert_s > 0
    with duckdb.connect(str(target), read_only=True) as conn:
        rows = conn.execute(
            "select count(*), min(event_id), max(event_id), count(distinct typeof(occurred_at))"
            " from raw_events"
        ).fetchone()
    assert rows == (1_000, total - 999, total, 1)
    with duckdb.connect(str(target), read_only=True) as conn:
        kinds = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_name = 'raw_events'"
            ).fetchall()
        )
    assert kinds["occurred_at"] == "TIMESTAMP"
    assert kinds["payload"] == "JSON"


BUILD_OUTPUT = """\
warehouse_update into /srv/var/warehouse (run 5aa167c0)
raw_events                            73,866 rows   0.58 s (new events 12,110)
fct_tasks                             17,326 rows   0.12 s (changed 3,350)
published_warehouse                   33,791 rows   0.43 s (snapshot 20)
data quality: 43 checks, 0 blocking failed, 0 warnings
warehouse_update finished in 28.0 s
"""


def test_the_build_output_gives_the_job_and_asset_seconds() -> None:
    assert job_seconds(BUILD_OUTPUT) == 28.0
    assert asset_seconds(BUILD_OUTPUT) == {
        "raw_events": 0.58,
        "fct_tasks": 0.12,
        "published_warehouse": 0.43,
    }
