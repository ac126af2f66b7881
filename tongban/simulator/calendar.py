"""Working time for the simulator: when approvers are at their desks, and how long work takes.

The day rules (statutory holidays, make-up workdays 调休, the Mon–Fri fallback beyond
`chinese_calendar`'s data, office hours) live in `warehouse.academic_calendar`, so the simulator
and the warehouse's working seconds cannot disagree about which days count. The simulator keeps
the default year-round office hours (08:30–12:00, 14:00–17:30 Asia/Shanghai) for every
approver: per-department hours and the summer timetable are the warehouse's measure, not a
behaviour the simulated university needs.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta

from warehouse.academic_calendar import (
    CAMPUS_TZ,
    OFFICE_HOURS,
    WORKING_HOURS_PER_DAY,
    calendar_source,
    intervals_of,
    is_workday,
)

__all__ = [
    "CAMPUS_TZ",
    "OFFICE_HOURS",
    "WORKING_HOURS_PER_DAY",
    "add_working_time",
    "calendar_source",
    "campus_date",
    "is_workday",
    "is_working_time",
    "next_working_moment",
    "office_intervals",
    "working_time_between",
]


@functools.lru_cache(maxsize=8192)
def office_intervals(day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The office-hour intervals of `day` (campus date) as UTC moments; none on a day off."""
    if not is_workday(day):
        return ()
    return intervals_of(day, OFFICE_HOURS)


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
