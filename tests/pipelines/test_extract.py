"""The event store's feed read into a raw_events frame on SQLite and on PostgreSQL: the same
columns and types, times as naive UTC to the microsecond, the payload as JSON text, in batches
after a cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from pipelines.extract import iter_event_batches, read_events
from pipelines.feed_process import stream_events
from warehouse.raw import RAW_EVENTS_SCHEMA
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade
from workflow_core.store.schema import events

SHANGHAI = timezone(timedelta(hours=8))
# Written in Asia/Shanghai time: the feed must hand them over as UTC.
OCCURRED = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=SHANGHAI)
RECORDED = datetime(2026, 3, 2, 10, 0, 1, 654321, tzinfo=SHANGHAI)


def _append(engine: Engine, count: int, task_from: int | None = None) -> None:
    """`count` events of one instance; from event `task_from` on, each names a task and node."""
    with engine.begin() as conn:
        for number in range(1, count + 1):
            tasked = task_from is not None and number >= task_from
            conn.execute(
                events.insert().values(
                    stream_id="I-1",
                    stream_version=number,
                    stream_type="instance",
                    occurred_at=OCCURRED + timedelta(seconds=number),
                    recorded_at=RECORDED + timedelta(seconds=number),
                    event_type="submitted" if number == 1 else "reminded",
                    process_key="vpn_account",
                    process_version=1,
                    node_key="counsellor" if tasked else None,
                    task_id=f"T-{number}" if tasked else None,
                    department_id="D-07" if tasked else None,
                    actor_id="U2023001",
                    actor_role="student",
                    schema_version=1,
                    payload={"form": {"理由": "科研"}, "n": number},
                )
            )


def test_the_feed_reads_the_same_frame_on_every_backend(store_engine: Engine) -> None:
    _append(store_engine, 5)
    frame = read_events(store_engine, 0)
    assert frame.schema == pl.Schema(RAW_EVENTS_SCHEMA)
    assert frame["event_id"].to_list() == sorted(frame["event_id"].to_list())
    first = frame.row(0, named=True)
    assert first["occurred_at"] == datetime(2026, 3, 2, 2, 0, 1, 123456)
    assert first["recorded_at"] == datetime(2026, 3, 2, 2, 0, 2, 654321)
    assert first["stream_version"] == 1 and first["event_type"] == "submitted"
    assert json.loads(first["payload"]) == {"form": {"理由": "科研"}, "n": 1}
    assert frame["occurred_at"].is_sorted()


def test_batches_follow_the_cursor_without_gaps_or_repeats(store_engine: Engine) -> None:
    _append(store_engine, 7)
    every = read_events(store_engine, 0)["event_id"].to_list()
    batches = list(iter_event_batches(store_engine, every[1], batch=2))
    assert [b.height for b in batches] == [2, 2, 1]
    assert pl.concat(batches)["event_id"].to_list() == every[2:]
    assert read_events(store_engine, every[-1]).is_empty()


def test_columns_empty_in_the_first_rows_keep_their_text_when_it_comes(
    store_engine: Engine,
) -> None:
    # More empty rows than a driver looks at to guess a column's type (SQLite's ADBC: 1,024).
    _append(store_engine, 1_100, task_from=1_051)
    whole = read_events(store_engine, 0)
    assert whole.schema == pl.Schema(RAW_EVENTS_SCHEMA)
    assert whole["task_id"].to_list() == [None] * 1_050 + [f"T-{n}" for n in range(1_051, 1_101)]
    assert whole["node_key"].null_count() == 1_050 and whole["department_id"].null_count() == 1_050
    # More than a batch behind: a SQLite store is read by the child process. A batch wholly
    # without them, then one with them, come out with the same types and values.
    batches = list(iter_event_batches(store_engine, 0, batch=1_000))
    assert [b.height for b in batches] == [1_000, 100]
    assert [b.schema for b in batches] == [pl.Schema(RAW_EVENTS_SCHEMA)] * 2
    assert pl.concat(batches).equals(whole)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite event store: the child reader reads SQLite files."""
    engine = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_child_reader_hands_over_the_same_frames_as_the_driver(sqlite_store: Engine) -> None:
    _append(sqlite_store, 2_500, task_from=7)
    every = read_events(sqlite_store, 0)["event_id"].to_list()
    store = Path(str(sqlite_store.url.database))
    streamed = list(stream_events(store, every[99], 1_000))
    assert [b.height for b in streamed] == [1_000, 1_000, 400]
    assert pl.concat(streamed).equals(read_events(sqlite_store, every[99], 5_000))


def test_a_reader_that_fails_names_the_store(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    with pytest.raises(RuntimeError, match=r"reading the event store .*gone\.db.*no event store"):
        list(stream_events(missing, 0, 10))


def test_stopping_early_stops_the_child_reader(sqlite_store: Engine) -> None:
    _append(sqlite_store, 300)
    store = Path(str(sqlite_store.url.database))
    batches = stream_events(store, 0, 10)
    assert next(batches).height == 10
    assert _readers_of(store), "the child reads the store"
    batches.close()
    assert not _readers_of(store)


def _readers_of(store: Path) -> list[int]:
    """Processes running the child reader on `store`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pipelines.feed_process" in command and str(store).encode() in command:
            found.append(int(proc.name))
    return found
