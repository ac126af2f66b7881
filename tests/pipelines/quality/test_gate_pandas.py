"""A checks' frame read through Arrow is the frame DuckDB's `df()` makes: the same dtypes and
values for every kind of column the frames hold (text, numbers with gaps, dates, decimal sums,
times, flags), NULLs included."""

from __future__ import annotations

import duckdb

from pipelines.quality.gate import _pandas

ROWS = """
    select * from (values
        (1, 'I-1', date '2026-03-02', timestamp '2026-03-02 01:00:00.123456', true, 2.5),
        (2, null, null, null, null, null),
        (null, 'I-3', date '2025-09-01', timestamp '2025-09-01 08:00:00', false, -1.0)
    ) as t(event_id, instance_id, valid_from, occurred_at, is_known, seconds)
"""


def test_a_frame_through_arrow_is_the_frame_df_makes() -> None:
    conn = duckdb.connect()
    sql = (
        "select *, sum(event_id) over () as roster, sum(event_id::bigint) over () as total,"
        " event_id::bigint as big_id, row_number() over () as position,"
        " coalesce(is_known, false) as is_flagged, seconds::decimal(10, 2) as amount,"
        f" epoch(occurred_at) as occurred_s from ({ROWS}) order by event_id"
    )
    expected = conn.execute(sql).df()
    got = _pandas(conn, sql)
    assert list(got.dtypes) == list(expected.dtypes)
    assert got.equals(expected)


def test_parameters_reach_the_query() -> None:
    conn = duckdb.connect()
    got = _pandas(conn, f"select * from ({ROWS}) where event_id >= ? order by event_id", [2])
    assert got["event_id"].tolist() == [2]
