"""The academic calendar: China's holidays and 调休 (2024–2026), the fallback, closures, hours."""

from __future__ import annotations

from datetime import date, datetime, time

import chinese_calendar  # type: ignore[import-untyped]
import polars as pl
import pytest

from warehouse.academic_calendar import (
    DEFAULT_CLOSURES,
    HOURS_RULES,
    OFFICE_HOURS,
    calendar_frames,
    calendar_source,
    holiday_name,
    is_makeup_workday,
    is_statutory_holiday,
    is_workday,
    office_hours,
    office_intervals,
)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 2, 4), True),  # Sunday, 调休 before the Spring Festival
        (date(2024, 2, 18), True),  # Sunday, 调休 after it
        *[(date(2024, 10, n), False) for n in range(1, 8)],  # 国庆
        (date(2024, 9, 29), True),  # Sunday, 调休
        (date(2024, 10, 12), True),  # Saturday, 调休
        (date(2025, 1, 26), True),  # Sunday, 调休
        (date(2025, 2, 8), True),  # Saturday, 调休
        (date(2025, 10, 8), False),  # 国庆 with 中秋, a Wednesday
        (date(2025, 9, 28), True),  # Sunday, 调休
        (date(2026, 2, 14), True),  # Saturday, 调休
        (date(2026, 3, 7), False),  # an ordinary Saturday
    ],
)
def test_workdays_follow_chinese_calendar(day: date, working: bool) -> None:
    assert is_workday(day) is working
    assert is_workday(day) is chinese_calendar.is_workday(day)
    assert calendar_source(day) == "chinese_calendar"
    assert is_makeup_workday(day) is (working and day.weekday() >= 5)


def test_holiday_names_and_statutory_days() -> None:
    assert holiday_name(date(2025, 10, 6)) == "Mid-autumn Festival"
    assert is_statutory_holiday(date(2025, 10, 6))
    assert is_statutory_holiday(date(2024, 10, 5))  # a Saturday inside the break counts
    assert not is_statutory_holiday(date(2025, 9, 27))  # an ordinary Saturday
    assert holiday_name(date(2025, 9, 27)) is None
    # A make-up workday names the holiday it pays for, and is no holiday.
    assert holiday_name(date(2025, 9, 28)) == "National Day"
    assert not is_statutory_holiday(date(2025, 9, 28))


def test_beyond_the_data_monday_to_friday_is_the_reported_fallback() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 3, 1))
    assert calendar_source(date(2027, 3, 1)) == "weekday_fallback"
    assert is_workday(date(2027, 3, 1))  # Monday
    assert not is_workday(date(2027, 3, 6))  # Saturday
    assert holiday_name(date(2027, 3, 1)) is None

    days = calendar_frames(date(2026, 12, 31), date(2027, 1, 3), [])["raw_calendar__days"]
    assert days["source"].to_list() == ["chinese_calendar", *["weekday_fallback"] * 3]
    assert days["is_workday"].to_list() == [True, True, False, False]


def test_closures_shut_every_calendar_on_a_workday() -> None:
    assert DEFAULT_CLOSURES == ()
    closed = date(2025, 10, 10)  # a Friday workday
    frames = calendar_frames(
        date(2025, 10, 9), date(2025, 10, 11), ["security", "library"], closures=[closed]
    )
    days = frames["raw_calendar__days"].filter(pl.col("day") == closed).row(0, named=True)
    assert days["is_closure"] and not days["is_workday"] and days["is_national_workday"]
    intervals = frames["raw_calendar__working_intervals"]
    assert intervals.filter(pl.col("day") == closed).is_empty()
    assert set(intervals["calendar_id"]) == {"*", "security", "library"}
    assert office_intervals(closed, closures=[closed]) == ()
    assert len(office_intervals(closed)) == 2


def test_hours_are_a_table_of_rules() -> None:
    assert {rule.calendar_id for rule in HOURS_RULES} == {"*", "security", "logistics"}
    assert office_hours(date(2025, 10, 9)) == OFFICE_HOURS
    assert office_hours(date(2025, 10, 9), "library") == OFFICE_HOURS  # no rules: the default
    assert office_hours(date(2025, 5, 1), "library")[1] == (time(14, 30), time(18, 0))
    assert office_hours(date(2025, 9, 30))[1] == (time(14, 30), time(18, 0))
    assert office_hours(date(2025, 4, 30))[1] == (time(14, 0), time(17, 30))
    # The long-hours departments keep their hours through the summer.
    assert office_hours(date(2025, 7, 1), "logistics") == office_hours(
        date(2025, 12, 1), "security"
    )


def intervals_on(
    frames: dict[str, pl.DataFrame], calendar_id: str, day: date
) -> list[tuple[object, ...]]:
    table = frames["raw_calendar__working_intervals"]
    return (
        table.filter((pl.col("calendar_id") == calendar_id) & (pl.col("day") == day))
        .select("interval_start", "interval_end", "seconds")
        .rows()
    )


def test_intervals_in_utc_per_department_and_season() -> None:
    frames = calendar_frames(date(2025, 7, 1), date(2025, 10, 9), ["security", "logistics", "it"])
    # Thursday 2025-10-09, default hours: 08:30–12:00 and 14:00–17:30 CST = UTC+8.
    assert intervals_on(frames, "*", date(2025, 10, 9)) == [
        (datetime(2025, 10, 9, 0, 30), datetime(2025, 10, 9, 4, 0), 12600),
        (datetime(2025, 10, 9, 6, 0), datetime(2025, 10, 9, 9, 30), 12600),
    ]
    assert intervals_on(frames, "it", date(2025, 10, 9)) == intervals_on(
        frames, "*", date(2025, 10, 9)
    )
    # 保卫处: 08:00–12:00 and 13:30–18:00 CST.
    assert intervals_on(frames, "security", date(2025, 10, 9)) == [
        (datetime(2025, 10, 9, 0, 0), datetime(2025, 10, 9, 4, 0), 14400),
        (datetime(2025, 10, 9, 5, 30), datetime(2025, 10, 9, 10, 0), 16200),
    ]
    # Summer, Tuesday 2025-07-01: the afternoon runs 14:30–18:00 CST.
    assert intervals_on(frames, "*", date(2025, 7, 1)) == [
        (datetime(2025, 7, 1, 0, 30), datetime(2025, 7, 1, 4, 0), 12600),
        (datetime(2025, 7, 1, 6, 30), datetime(2025, 7, 1, 10, 0), 12600),
    ]
    # 后勤保障部 keeps its long hours in summer.
    assert intervals_on(frames, "logistics", date(2025, 7, 1)) == [
        (datetime(2025, 7, 1, 0, 0), datetime(2025, 7, 1, 4, 0), 14400),
        (datetime(2025, 7, 1, 5, 30), datetime(2025, 7, 1, 10, 0), 16200),
    ]
    # Days off carry no intervals; a 调休 Sunday carries them.
    assert intervals_on(frames, "*", date(2025, 10, 1)) == []
    assert len(intervals_on(frames, "security", date(2025, 9, 28))) == 2


def test_days_table_flags() -> None:
    days = calendar_frames(date(2025, 9, 26), date(2025, 10, 12), [])["raw_calendar__days"]
    by_day = {row["day"]: row for row in days.iter_rows(named=True)}
    assert by_day[date(2025, 9, 28)]["is_makeup_workday"]
    assert by_day[date(2025, 10, 11)]["is_makeup_workday"]
    assert by_day[date(2025, 10, 6)]["holiday_name_zh"] == "中秋节"
    assert by_day[date(2025, 10, 1)]["holiday_name_zh"] == "国庆节"
    assert [d for d, row in by_day.items() if row["is_statutory_holiday"]] == [
        date(2025, 10, n) for n in range(1, 9)
    ]
    assert not any(row["is_closure"] for row in by_day.values())
