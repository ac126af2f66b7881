"""The event store's feed read into a raw_events frame on SQLite and on PostgreSQL: the same
columns and types, times as naive UTC to the microsecond, the payload as JSON text, in batches
after a cursor."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
from sqlalchemy import Engine

from pipelines.extract import iter_event_batches, read_events
from warehouse.raw import RAW_EVENTS_SCHEMA
from workflow_core.store.schema import events

SHANGHAI = timezone(timedelta(hours=8))
# Written in Asia/Shanghai time: the feed must hand them over as UTC.
OCCURRED = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=SHANGHAI)
RECORDED = datetime(2026, 3, 2, 10, 0, 1, 654321, tzinfo=SHANGHAI)


def _append(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        for number in range(1, count + 1):
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
