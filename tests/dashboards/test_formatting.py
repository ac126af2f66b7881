"""Numbers and moments for people: durations in 天/小时/分钟/秒 and English, Asia/Shanghai times
from naive UTC, percentages, counts, and "—" for suppressed cells."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dashboards.formatting import (
    SUPPRESSED,
    count,
    date_ticks,
    duration,
    month_day,
    percent,
    shanghai,
    shanghai_date,
    to_shanghai,
)

DAY, HOUR, MINUTE = 86_400, 3_600, 60


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (0, "0秒", "0 s"),
        (30, "30秒", "30 s"),
        (59.4, "59秒", "59 s"),
        (59.6, "1分钟", "1 min"),
        (45 * MINUTE, "45分钟", "45 min"),
        (HOUR, "1小时", "1 h"),
        (3 * HOUR + 12 * MINUTE, "3小时12分钟", "3 h 12 min"),
        (23 * HOUR + 59 * MINUTE + 50, "1天", "1 d"),
        (2 * DAY + 3 * HOUR, "2天3小时", "2 d 3 h"),
        (DAY + 23 * HOUR + 59 * MINUTE, "2天", "2 d"),
        (40 * DAY + 1 * HOUR, "40天1小时", "40 d 1 h"),
        (-90 * MINUTE, "-1小时30分钟", "-1 h 30 min"),
    ],
)
def test_durations_read_in_the_units_people_use(seconds: float, zh: str, en: str) -> None:
    assert duration(seconds) == zh
    assert duration(seconds, "en") == en


def test_missing_and_suppressed_figures_show_a_dash() -> None:
    nan = float("nan")
    for shown in (
        duration(None),
        duration(nan),
        percent(None),
        percent(nan),
        count(None),
        shanghai(None),
        shanghai_date(None),
    ):
        assert shown == SUPPRESSED == "—"


def test_naive_utc_moments_are_shown_in_asia_shanghai() -> None:
    moment = datetime(2026, 11, 1, 17, 30)  # naive UTC: 01:30 the next day in Shanghai
    assert shanghai(moment) == "2026-11-02 01:30"
    assert shanghai(moment, "en", seconds=True) == "2026-11-02 01:30:00"
    assert shanghai_date(moment) == "2026-11-02"
    assert shanghai_date(date(2026, 11, 1)) == "2026-11-01"
    aware = datetime(2026, 11, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert to_shanghai(aware) == datetime(2026, 11, 1, 17, 0, tzinfo=UTC)
    assert shanghai(aware) == "2026-11-02 01:00"


def test_rates_and_counts() -> None:
    assert percent(0.923) == "92.3%"
    assert percent(1.0, digits=0) == "100%"
    assert percent(0.0) == "0.0%"
    assert count(12345) == "12,345"
    assert count(0) == "0"
    assert count(1234567.6) == "1,234,568"


def test_month_day_is_written_the_way_each_language_writes_it() -> None:
    assert month_day(date(2026, 9, 20), "zh") == "9月20日"
    assert month_day(datetime(2026, 12, 1, 8), "en") == "Dec 1"
    assert month_day(None) == SUPPRESSED


def test_date_ticks_name_months_the_way_each_language_does() -> None:
    chinese = [stop["value"] for stop in date_ticks("zh")]
    assert chinese[:2] == ["%Y年%-m月", "%-m月%-d日"]
    assert not any("%b" in value for value in chinese)
    assert [stop["value"] for stop in date_ticks("en")][1] == "%b %-d"
    # plotly takes the first stop whose range holds the tick step: months before days.
    assert date_ticks("zh")[0]["dtickrange"] == ["M1", None]
