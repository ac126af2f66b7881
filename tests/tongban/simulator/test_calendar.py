"""The working calendar: China's holidays and 调休 days, the Mon–Fri fallback, office hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tongban.simulator.calendar import (
    CAMPUS_TZ,
    add_working_time,
    calendar_source,
    is_workday,
    is_working_time,
    next_working_moment,
    working_time_between,
)


def campus(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CAMPUS_TZ)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 1, 26), True),  # Sunday, 调休 before the Spring Festival
        (date(2025, 2, 8), True),  # Saturday, 调休 after it
        (date(2025, 1, 29), False),  # 春节
        (date(2025, 10, 8), False),  # 国庆 (with 中秋), a Wednesday
        (date(2026, 2, 14), True),  # Saturday, 调休
        (date(2026, 3, 2), True),  # an ordinary Monday
        (date(2026, 3, 7), False),  # an ordinary Saturday
    ],
)
def test_statutory_holidays_and_make_up_workdays(day: date, working: bool) -> None:
    assert is_workday(day) is working
    assert calendar_source(day) == "chinese_calendar"


def test_beyond_the_data_monday_to_friday_is_the_explicit_fallback() -> None:
    assert calendar_source(date(2027, 3, 1)) == "weekday_fallback"
    assert is_workday(date(2027, 3, 1))  # Monday
    assert not is_workday(date(2027, 3, 6))  # Saturday


def test_office_hours_on_working_days_only() -> None:
    assert is_working_time(campus(2026, 3, 2, 8, 30))
    assert is_working_time(campus(2026, 3, 2, 11, 59))
    assert not is_working_time(campus(2026, 3, 2, 12, 30))
    assert not is_working_time(campus(2026, 3, 2, 17, 30))
    assert not is_working_time(campus(2026, 3, 7, 10, 0))  # Saturday
    assert is_working_time(campus(2026, 2, 14, 10, 0))  # 调休 Saturday
    assert not is_working_time(campus(2025, 10, 8, 10, 0))


def test_adding_working_hours_skips_lunch_nights_weekends_and_holidays() -> None:
    # Friday 16:30 + 2 h: one hour on Friday, the second on Monday morning.
    assert add_working_time(campus(2026, 3, 6, 16, 30), timedelta(hours=2)) == campus(
        2026, 3, 9, 9, 30
    )
    # Over lunch: 11:30 + 1 h = 14:30.
    assert add_working_time(campus(2026, 3, 2, 11, 30), timedelta(hours=1)) == campus(
        2026, 3, 2, 14, 30
    )
    # Submitted on a Saturday night: work starts Monday 08:30.
    assert add_working_time(campus(2026, 3, 7, 22, 0), timedelta(minutes=30)) == campus(
        2026, 3, 9, 9, 0
    )
    # 国庆 2025: from 30 September 17:00 the next working time is 9 October.
    assert add_working_time(campus(2025, 9, 30, 17, 0), timedelta(hours=1)) == campus(
        2025, 10, 9, 9, 0
    )
    # The 调休 Sunday before the 2025 Spring Festival counts.
    assert add_working_time(campus(2025, 1, 25, 10, 0), timedelta(hours=1)) == campus(
        2025, 1, 26, 9, 30
    )
    assert next_working_moment(campus(2026, 3, 2, 12, 10)) == campus(2026, 3, 2, 14, 0)


def test_working_time_between_inverts_adding_it() -> None:
    start = datetime(2025, 9, 28, 3, 17, tzinfo=UTC)
    for hours in (0.5, 3.5, 7, 13, 40, 120):
        done = add_working_time(start, timedelta(hours=hours))
        assert working_time_between(start, done) == timedelta(hours=hours)
        assert is_working_time(done - timedelta(seconds=1))
