"""Working seconds through the working clock and asof joins, against figures worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from warehouse.academic_calendar import calendar_frames
from warehouse.modeling import run_models
from warehouse.raw import replace_table

CALENDAR_MODELS = (
    "stg_calendar__days",
    "stg_calendar__working_intervals",
    "int_calendar__working_clock",
    "dim_calendar",
)

# The pattern documented in int_calendar__working_clock.sql: W(b) - W(a), one asof join each.
WORKING_SECONDS = """
with
tasks as (
    select * from (values (?::varchar, ?::timestamp, ?::timestamp))
        as t(calendar_id, created_at, decided_at)
),
final as (
    select
        coalesce(decided.seconds_before + least(greatest(
            epoch(t.decided_at) - epoch(decided.interval_start), 0), decided.seconds), 0)
      - coalesce(created.seconds_before + least(greatest(
            epoch(t.created_at) - epoch(created.interval_start), 0), created.seconds), 0)
        as working_seconds
    from tasks as t
    asof left join int_calendar__working_clock as created
        on created.calendar_id = t.calendar_id and created.interval_start <= t.created_at
    asof left join int_calendar__working_clock as decided
        on decided.calendar_id = t.calendar_id and decided.interval_start <= t.decided_at
)
select * from final
"""


def build(tmp_path: Path, closures: Sequence[date] = ()) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    frames = calendar_frames(date(2025, 9, 1), date(2025, 10, 31), ["security"], closures)
    for name, frame in frames.items():
        replace_table(conn, name, frame)
    run_models(conn, as_of=datetime(2025, 11, 1), select=CALENDAR_MODELS)
    return conn


def working_seconds(
    conn: duckdb.DuckDBPyConnection, calendar_id: str, created: datetime, decided: datetime
) -> float:
    row = conn.execute(WORKING_SECONDS, [calendar_id, created, decided]).fetchone()
    assert row is not None
    return float(row[0])


def utc(*cst: int) -> datetime:
    """A naive UTC timestamp, as the warehouse keeps times, from a time in Asia/Shanghai."""
    return datetime(*cst) - timedelta(hours=8)  # type: ignore[arg-type]


@pytest.fixture
def conn(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return build(tmp_path)


# Friday 2025-09-26 16:00 CST → Monday 2025-10-13 10:00 CST, checked against chinese_calendar:
#   Fri 09-26  summer afternoon 14:30–18:00, from 16:00:          2.0 h  =   7 200 s
#   Sat 09-27  an ordinary Saturday, off                           0
#   Sun 09-28  调休 make-up workday, summer hours 3.5 + 3.5 h      7.0 h  =  25 200 s
#   Mon 09-29, Tue 09-30  ordinary workdays (still summer)        14.0 h  =  50 400 s
#   Wed 10-01 … Wed 10-08  National Day + Mid-Autumn, off          0
#   Thu 10-09, Fri 10-10  default hours 08:30–12:00, 14:00–17:30 14.0 h  =  50 400 s
#   Sat 10-11  调休 make-up workday                                7.0 h  =  25 200 s
#   Sun 10-12  off                                                 0
#   Mon 10-13  08:30–10:00                                         1.5 h  =   5 400 s
#                                                          total 45.5 h  = 163 800 s
# 保卫处 (08:00–12:00, 13:30–18:00 all year, 8.5 h a day) over the same span:
#   Fri 16:00–18:00 2 h + six full days 51 h + Mon 08:00–10:00 2 h = 55 h = 198 000 s
ACROSS_THE_HOLIDAY = (utc(2025, 9, 26, 16, 0), utc(2025, 10, 13, 10, 0))


def test_across_a_weekend_a_statutory_holiday_and_makeup_days(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    assert working_seconds(conn, "*", *ACROSS_THE_HOLIDAY) == 163_800
    assert working_seconds(conn, "security", *ACROSS_THE_HOLIDAY) == 198_000


def test_a_campus_closure_stops_the_clock(tmp_path: Path) -> None:
    # Closing Friday 10-10 removes its 7 h: 163 800 - 25 200.
    closed = build(tmp_path, closures=[date(2025, 10, 10)])
    assert working_seconds(closed, "*", *ACROSS_THE_HOLIDAY) == 138_600


def test_within_one_interval(conn: duckdb.DuckDBPyConnection) -> None:
    # Thursday 2025-10-09 09:00 → 11:15 CST, all inside the morning: 2.25 h.
    assert working_seconds(conn, "*", utc(2025, 10, 9, 9, 0), utc(2025, 10, 9, 11, 15)) == 8_100


def test_starting_and_ending_out_of_hours(conn: duckdb.DuckDBPyConnection) -> None:
    # Lunch to evening, Thursday 2025-10-09 12:30 → 19:00 CST: the afternoon 14:00–17:30.
    assert working_seconds(conn, "*", utc(2025, 10, 9, 12, 30), utc(2025, 10, 9, 19, 0)) == 12_600
    # Friday 2025-10-10 19:00 → Monday 10-13 07:30 CST: only the 调休 Saturday 10-11 counts.
    assert working_seconds(conn, "*", utc(2025, 10, 10, 19, 0), utc(2025, 10, 13, 7, 30)) == 25_200
    # Both moments on the holiday: the clock does not move.
    assert working_seconds(conn, "*", utc(2025, 10, 2, 9, 0), utc(2025, 10, 7, 15, 0)) == 0


def test_a_department_with_its_own_hours(conn: duckdb.DuckDBPyConnection) -> None:
    # Thursday 2025-10-09 07:30 → 13:45 CST. 保卫处: 08:00–12:00 and 13:30–13:45 = 4.25 h;
    # the default hours: 08:30–12:00 = 3.5 h. (07:30 CST is 23:30 UTC the day before.)
    span = (utc(2025, 10, 9, 7, 30), utc(2025, 10, 9, 13, 45))
    assert working_seconds(conn, "security", *span) == 15_300
    assert working_seconds(conn, "*", *span) == 12_600


def test_before_the_first_interval_the_clock_reads_zero(conn: duckdb.DuckDBPyConnection) -> None:
    # Sunday 2025-08-31 precedes the calendar; Monday 09-01 08:30–09:30 CST is one hour.
    assert working_seconds(conn, "*", utc(2025, 8, 31, 12, 0), utc(2025, 9, 1, 9, 30)) == 3_600


def test_the_clock_is_cumulative_and_the_calendar_one_row_a_day(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    gaps = conn.execute(
        "select count(*) from ("
        " select seconds_before - lag(seconds_before + seconds) over ("
        "   partition by calendar_id order by interval_start) as gap"
        " from int_calendar__working_clock) where gap <> 0"
    ).fetchone()
    assert gaps == (0,)
    row = conn.execute(
        "select count(*), count(distinct calendar_date) from dim_calendar"
    ).fetchone()
    assert row == (61, 61)
    kinds = dict(
        conn.execute(
            "select calendar_date, day_kind from dim_calendar"
            " where calendar_date in ('2025-09-27', '2025-09-28', '2025-10-06', '2025-10-09')"
        ).fetchall()
    )
    assert kinds == {
        date(2025, 9, 27): "weekend",
        date(2025, 9, 28): "makeup_workday",
        date(2025, 10, 6): "statutory_holiday",
        date(2025, 10, 9): "workday",
    }
