"""Working time in China: statutory holidays, make-up workdays (调休) and office hours.

Days come from `chinese_calendar` (2004–2026); beyond its data a day is a workday when it is
Monday to Friday (`is_workday(day)` says which rule answered through `calendar_source`). Office
hours are 08:30–12:00 and 14:00–17:30 in Asia/Shanghai.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

import chinese_calendar

CAMPUS_TZ: Final = ZoneInfo("Asia/Shanghai")
OFFICE_HOURS: Final[tuple[tuple[time, time], ...]] = (
    (time(8, 30), time(12, 0)),
    (time(14, 0), time(17, 30)),
)
WORKING_HOURS_PER_DAY: Final = 7.0


def calendar_source(day: date) -> Literal["chinese_calendar", "weekday_fallback"]:
    """Which rule decides whether `day` is a workday."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return "weekday_fallback"
    return "chinese_calendar"


@functools.lru_cache(maxsize=8192)
def is_workday(day: date) -> bool:
    """A working day: statutory holidays off, 调休 Saturdays and Sundays on; Mon–Fri beyond data."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


@functools.lru_cache(maxsize=8192)
def office_intervals(day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The office-hour intervals of `day` (campus date) as UTC moments; none on a day off."""
    if not is_workday(day):
        return ()
    return tuple(
        (
            datetime.combine(day, start, CAMPUS_TZ).astimezone(UTC),
            datetime.combine(day, end, CAMPUS_TZ).astimezone(UTC),
        )
        for start, end in OFFICE_HOURS
    )


def campus_date(moment: datetime) -> date:
    return moment.astimezone(CAMPUS_TZ).date()


def is_working_time(moment: datetime) -> bool:
    """Whether `moment` falls within office hours on a working day."""
    return any(start <= moment < end for start, end in office_intervals(campus_date(moment)))


def next_working_moment(moment: datetime) -> datetime:
    """`moment` itself when it is working time, else the start of the next office interval."""
    day = campus_date(moment)
    for _ in range(400):
        for start, end in office_intervals(day):
            if moment < end:
                return max(moment, start)
        day += timedelta(days=1)
    raise ValueError(f"no working time within 400 days after {moment.isoformat()}")


def add_working_time(moment: datetime, delay: timedelta) -> datetime:
    """The moment work started at `moment` is done after `delay` of working time.

    Time counts only within office hours on working days; work that starts out of hours starts
    at the next office interval. A zero delay gives the next working moment.
    """
    if delay < timedelta(0):
        raise ValueError("a working-time delay cannot be negative")
    remaining = delay
    current = next_working_moment(moment.astimezone(UTC))
    day = campus_date(current)
    for _ in range(4000):
        for start, end in office_intervals(day):
            if current >= end:
                continue
            current = max(current, start)
            available = end - current
            if remaining <= available:
                return current + remaining
            remaining -= available
            current = end
        day += timedelta(days=1)
    raise ValueError(f"{delay} of working time does not fit in 4000 days")


def working_time_between(start: datetime, end: datetime) -> timedelta:
    """Office time on working days between two moments (zero when `end` is not later)."""
    total = timedelta(0)
    if end <= start:
        return total
    day = campus_date(start)
    last = campus_date(end)
    while day <= last:
        for lo, hi in office_intervals(day):
            overlap = min(hi, end) - max(lo, start)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total
