"""A frame bigger than the batch size is validated in batches and gives the results of one batch:
counts, verdicts, samples and the first failing event, even for duplicates far apart in the log."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.quality import gate
from pipelines.quality.checks import CHECKS, FRAMES
from pipelines.quality.gate import evaluate
from pipelines.quality.touched import touched_events
from pipelines.quality.validate import latest_batches
from tests.pipelines.quality.test_gate import add
from warehouse.quality import SAMPLE_ROWS, RunInfo, check_states
from warehouse.raw import ensure_raw_events, events_cursor

EVENT_ONLY = tuple(
    c for c in CHECKS if c.frame in ("events", "stream_versions", "instance_order", "instances")
)
T0 = datetime(2026, 3, 2, 1, 0)
SMALL = 16  # rows a batch in these tests: the log below is ~10 batches


def _log(conn: duckdb.DuckDBPyConnection) -> None:
    """Forty instances, with more failing rows than a sample holds, spread over the whole log."""
    kinds = ("submitted", "task_created", "approved", "completed")
    for round_ in range(4):
        for n in range(40):
            minutes = n * 10 + round_
            if n == 7 and round_ == 2:
                minutes -= 5  # i07's approval before its task was created: time runs backwards
            add(conn, f"i{n:02d}", round_ + 1, kinds[round_], minutes)
    for n in range(0, 40, 3):  # a type the workflow does not write, 14 times
        add(conn, f"i{n:02d}", 5, "stamped", 500 + n)
    for n in range(1, 40, 4):  # and 10 more
        add(conn, f"i{n:02d}", 6 if n % 3 == 0 else 5, "sealed", 600 + n)
    add(conn, "i11", 2, "commented", 111)  # a second version 2 of i11, loaded long after it
    add(conn, "i39", 7, "commented", 701, event_id=3)  # event 3 loaded twice


def _conn(path: Path) -> duckdb.DuckDBPyConnection:
    made = duckdb.connect(str(path))
    ensure_raw_events(made)
    _log(made)
    return made


def _evaluate(conn: duckdb.DuckDBPyConnection, n: int, batch_rows: int) -> gate.Evaluation:
    info = RunInfo(f"run-{n}", "test", T0 + timedelta(hours=n), events_cursor(conn))
    return evaluate(conn, EVENT_ONLY, info, batch_rows=batch_rows)


def _outcome(evaluation: gate.Evaluation) -> dict[str, tuple[object, ...]]:
    frames = {c.name: FRAMES[c.frame] for c in CHECKS}
    return {
        r.check_name: (
            r.success,
            r.element_count,
            r.unexpected_count,
            None if r.unexpected_percent is None else pytest.approx(r.unexpected_percent),
            _sample(r.sample, ordered=frames[r.check_name].order_by is not None),
            r.scope,
        )
        for r in evaluation.results
    }


def _sample(rows: Sequence[Mapping[str, object]], *, ordered: bool) -> object:
    """The failing rows a sample shows: the first ones of an ordered frame; of an unordered
    frame (its order is DuckDB's whim) which rows, when all fit in a sample, else how many."""
    if ordered:
        return [dict(row) for row in rows]
    if len(rows) < SAMPLE_ROWS:
        return sorted(json.dumps(row, sort_keys=True) for row in rows)
    return len(rows)


def test_batches_give_the_results_of_one_batch(tmp_path: Path) -> None:
    whole_conn = _conn(tmp_path / "whole.duckdb")
    batched_conn = _conn(tmp_path / "batched.duckdb")
    rows = batched_conn.execute("select count(*) from raw_events").fetchone()[0]

    whole = _evaluate(whole_conn, 1, batch_rows=rows)
    assert latest_batches()["events"] == 1
    batched = _evaluate(batched_conn, 1, batch_rows=SMALL)
    assert latest_batches()["events"] == math.ceil(rows / SMALL)

    assert _outcome(batched) == _outcome(whole)
    failing = {r.check_name for r in batched.results if not r.success}
    assert failing == {
        "events_event_id_unique",
        "events_known_type",
        "events_stream_version_unique",
        "integrity_time_not_backwards",
        "integrity_nothing_after_terminal",
    }
    known = next(r for r in batched.results if r.check_name == "events_known_type")
    assert known.unexpected_count == 24 and len(known.sample) == SAMPLE_ROWS
    assert [row["event_id"] for row in known.sample] == sorted(
        row["event_id"] for row in known.sample
    )
    # The pair check skips the first event of each instance (no previous one): its percentage
    # is over the rest, summed over the batches.
    backwards = next(r for r in batched.results if r.check_name == "integrity_time_not_backwards")
    assert backwards.unexpected_percent == pytest.approx(100 / (rows - 40))
    # Each check resumes from its first failing event, as after one batch.
    assert check_states(batched_conn) == check_states(whole_conn)


def test_a_duplicate_far_apart_in_the_log_is_found(tmp_path: Path) -> None:
    conn = _conn(tmp_path / "work.duckdb")
    conn.execute("set variable quality_after = 0::bigint")
    with touched_events(conn) as prepare:
        prepare(0)
        order = [
            (stream, version)
            for stream, version, _ in conn.execute(FRAMES["stream_versions"].sql).fetchall()
        ]
    positions = [i for i, key in enumerate(order) if key == ("i11", 2)]
    # Cut by row ranges, the two rows would be validated apart and pass.
    assert len({p // SMALL for p in positions}) == 2

    result = next(
        r
        for r in _evaluate(conn, 1, batch_rows=SMALL).results
        if r.check_name == "events_stream_version_unique"
    )
    assert not result.success and result.unexpected_count == 2
    assert {(row["stream_id"], row["stream_version"]) for row in result.sample} == {("i11", 2)}


def test_a_live_pass_is_one_batch_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    ensure_raw_events(conn)
    for n in range(10):
        for version, kind in enumerate(("submitted", "task_created", "approved", "completed"), 1):
            add(conn, f"i{n:02d}", version, kind, n * 10 + version)
    first = _evaluate(conn, 1, batch_rows=SMALL)
    assert all(r.success for r in first.results) and latest_batches()["events"] > 1
    for version, kind in enumerate(("submitted", "task_created", "approved"), 1):
        add(conn, "i40", version, kind, 800 + version)

    def staged(*args: object, **kwargs: object) -> object:
        raise AssertionError("a live pass staged a frame")

    with monkeypatch.context() as patched:
        patched.setattr(gate, "_validate_staged", staged)
        live = _evaluate(conn, 2, batch_rows=SMALL)
    assert latest_batches()["events"] == 1
    events = next(r for r in live.results if r.check_name == "events_known_type")
    assert (events.scope, events.element_count) == ("incremental", 3)

    # A backlog bigger than a batch is validated in batches, incremental all the same.
    for n in range(SMALL + 1):
        add(conn, f"j{n:02d}", 1, "submitted", 900 + n)
    backlog = _evaluate(conn, 3, batch_rows=SMALL)
    assert latest_batches()["events"] > 1
    events = next(r for r in backlog.results if r.check_name == "events_known_type")
    assert (events.scope, events.element_count) == ("incremental", SMALL + 1)
