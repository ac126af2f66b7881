"""The academic calendar: which days the offices open, and their hours, per department.

This module is the one home of the day rules; the simulator imports them from here, and the
warehouse loads them as two raw tables (`calendar_frames`) from which the SQL computes working
seconds (DESIGN.md "Warehouse").

Days
    `chinese_calendar` knows China's statutory holidays and make-up workdays 调休 for 2004–2026.
    Beyond its data a day is a workday when it is Monday to Friday; that guess is explicit:
    `calendar_source(day)` answers 'weekday_fallback', so the data-quality checks can report it
    (a year's 调休 are announced by the State Council only in the preceding November).

Campus closures 校园闭馆/闭校
    Days the offices stay shut although the national calendar says workday (a typhoon, an
    epidemic lockdown, a power cut announced by the university). `DEFAULT_CLOSURES` is empty
    on purpose: no campus-wide closure is known for the years the warehouse holds, and an
    invented one would silently shift every working-time figure. The pipelines pass the
    university's notices as `closures`. A closure shuts every department's calendar.

Hours (all Asia/Shanghai)
    `HOURS_RULES` is data, not branches. A department with rules of its own uses only those;
    every other department uses the default ('*') rules. Within one calendar a seasonal rule
    whose season contains the day beats a year-round rule:

    | calendar  | season        | hours                      | why                               |
    |-----------|---------------|----------------------------|-----------------------------------|
    | *         | all year      | 08:30–12:00, 14:00–17:30   | the usual office hours            |
    | *         | 05-01 – 09-30 | 08:30–12:00, 14:30–18:00   | 夏季作息: a longer midday break     |
    | security  | all year      | 08:00–12:00, 13:30–18:00   | 保卫处 runs the gates, longer desk |
    | logistics | all year      | 08:00–12:00, 13:30–18:00   | 后勤保障部, repairs and services   |

    The two long-hours departments keep their hours in summer too: their afternoon already runs
    to 18:00, so the summer shift would only shorten it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final, Literal
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]  # ships no type hints

if TYPE_CHECKING:
    import polars as pl

CAMPUS_TZ: Final = ZoneInfo("Asia/Shanghai")
DEFAULT_CALENDAR_ID: Final = "*"

Hours = tuple[tuple[time, time], ...]
Source = Literal["chinese_calendar", "weekday_fallback"]

# The default, year-round office hours; the simulator schedules its approvers by these.
OFFICE_HOURS: Final[Hours] = (
    (time(8, 30), time(12, 0)),
    (time(14, 0), time(17, 30)),
)
WORKING_HOURS_PER_DAY: Final = 7.0
SUMMER_HOURS: Final[Hours] = (
    (time(8, 30), time(12, 0)),
    (time(14, 30), time(18, 0)),
)
LONG_HOURS: Final[Hours] = (
    (time(8, 0), time(12, 0)),
    (time(13, 30), time(18, 0)),
)

# Dates the offices are shut although the national calendar says workday: see the module doc.
DEFAULT_CLOSURES: Final[tuple[date, ...]] = ()

# chinese_calendar names holidays in English; the dashboards show both.
HOLIDAY_NAMES_ZH: Final[dict[str, str]] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


@dataclass(frozen=True)
class HoursRule:
    """Office hours of one calendar, all year (`season` None) or between two (month, day)s."""

    calendar_id: str
    hours: Hours
    season: tuple[tuple[int, int], tuple[int, int]] | None = None  # first, last (inclusive)
    note: str = ""

    def applies(self, day: date) -> bool:
        if self.season is None:
            return True
        first, last = self.season
        key = (day.month, day.day)
        if first <= last:
            return first <= key <= last
        return key >= first or key <= last  # a season across New Year


HOURS_RULES: Final[tuple[HoursRule, ...]] = (
    HoursRule(DEFAULT_CALENDAR_ID, OFFICE_HOURS, note="default office hours"),
    HoursRule(DEFAULT_CALENDAR_ID, SUMMER_HOURS, ((5, 1), (9, 30)), "夏季作息 summer timetable"),
    HoursRule("security", LONG_HOURS, note="保卫处 security office"),
    HoursRule("logistics", LONG_HOURS, note="后勤保障部 logistics"),
)


@functools.lru_cache(maxsize=16384)
def _national_day(day: date) -> tuple[Source, bool, str | None]:
    # One chinese_calendar call a day: each call validates the date against all its years,
    # which dominated the cost of a 20-year build when asked three times a day.
    try:
        day_off, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return "weekday_fallback", day.weekday() < 5, None
    return "chinese_calendar", not day_off, str(name) if name else None


def calendar_source(day: date) -> Source:
    """Which rule decides whether `day` is a workday."""
    return _national_day(day)[0]


def is_workday(day: date) -> bool:
    """A national working day: statutory holidays off, 调休 weekend days on; Mon–Fri beyond data.

    Campus closures are not applied here (see `is_office_day`).
    """
    return _national_day(day)[1]


def holiday_name(day: date) -> str | None:
    """The holiday chinese_calendar names for `day`, in English.

    A make-up workday carries the name of the holiday it pays for (2025-09-28 'National Day').
    """
    return _national_day(day)[2]


def is_makeup_workday(day: date) -> bool:
    """A Saturday or Sunday that is a workday (调休)."""
    return day.weekday() >= 5 and is_workday(day)


def is_statutory_holiday(day: date) -> bool:
    """A day off within a named holiday, its weekend and in-lieu days included."""
    return not is_workday(day) and holiday_name(day) is not None


def is_office_day(day: date, closures: Sequence[date] = DEFAULT_CLOSURES) -> bool:
    """Offices open: a national workday that is not a campus closure."""
    return is_workday(day) and day not in closures


def office_hours(day: date, calendar_id: str = DEFAULT_CALENDAR_ID) -> Hours:
    """The hours `calendar_id` keeps on `day` if it is an office day (see `HOURS_RULES`)."""
    return _hours_on(day.month, day.day, calendar_id)


@functools.lru_cache(maxsize=16384)
def _hours_on(month: int, day_of_month: int, calendar_id: str) -> Hours:
    # Seasons depend on the month and day only; caching on them makes a 20-year build cheap.
    day = date(2000, month, day_of_month)  # a leap year, so 02-29 resolves too
    own = [rule for rule in HOURS_RULES if rule.calendar_id == calendar_id]
    rules = own or [rule for rule in HOURS_RULES if rule.calendar_id == DEFAULT_CALENDAR_ID]
    seasonal = [rule for rule in rules if rule.season is not None and rule.applies(day)]
    chosen = seasonal or [rule for rule in rules if rule.season is None]
    return chosen[0].hours


def intervals_of(day: date, hours: Hours) -> tuple[tuple[datetime, datetime], ...]:
    """`hours` on campus date `day` as aware UTC moments."""
    return tuple(
        (
            datetime.combine(day, start, CAMPUS_TZ).astimezone(UTC),
            datetime.combine(day, end, CAMPUS_TZ).astimezone(UTC),
        )
        for start, end in hours
    )


def office_intervals(
    day: date,
    calendar_id: str = DEFAULT_CALENDAR_ID,
    closures: Sequence[date] = DEFAULT_CLOSURES,
) -> tuple[tuple[datetime, datetime], ...]:
    """The office intervals of `calendar_id` on `day` as UTC moments; none on a day off."""
    if not is_office_day(day, closures):
        return ()
    return intervals_of(day, office_hours(day, calendar_id))


def calendar_frames(
    first_day: date,
    last_day: date,
    departments: Sequence[str],
    closures: Sequence[date] = DEFAULT_CLOSURES,
) -> dict[str, pl.DataFrame]:
    """`raw_calendar__days` and `raw_calendar__working_intervals` for `first_day`..`last_day`.

    `is_workday` in the days table means the offices open (closures applied);
    `is_national_workday` is the national calendar alone. Intervals hold naive UTC timestamps,
    like every time in the warehouse, for the default calendar '*' and for each department in
    `departments` (its own rules, or a copy of the default), so models join on department id
    without a fallback.
    """
    # polars is imported here, not at the top: the simulator imports the day rules from this
    # module and should not pay for loading polars at every start.
    import polars as pl

    days_schema: dict[str, pl.DataType] = {
        "day": pl.Date(),
        "is_workday": pl.Boolean(),
        "is_national_workday": pl.Boolean(),
        "is_makeup_workday": pl.Boolean(),
        "is_statutory_holiday": pl.Boolean(),
        "holiday_name": pl.String(),
        "holiday_name_zh": pl.String(),
        "is_closure": pl.Boolean(),
        "source": pl.String(),
    }
    intervals_schema: dict[str, pl.DataType] = {
        "calendar_id": pl.String(),
        "day": pl.Date(),
        "interval_start": pl.Datetime("us"),
        "interval_end": pl.Datetime("us"),
        "seconds": pl.Int64(),
    }
    if last_day < first_day:
        raise ValueError(f"calendar from {first_day} to {last_day} runs backwards")
    closed = frozenset(closures)
    calendar_ids = [DEFAULT_CALENDAR_ID, *sorted(set(departments) - {DEFAULT_CALENDAR_ID})]
    days: list[dict[str, object]] = []
    # Intervals are built once per distinct timetable and day, then handed to each calendar by
    # a join: a 20-year build for dozens of departments stays well under a second.
    timetables = list(dict.fromkeys(rule.hours for rule in HOURS_RULES))
    by_timetable: list[tuple[int, date, datetime, datetime, int]] = []
    day = first_day
    while day <= last_day:
        national = is_workday(day)
        is_closure = day in closed
        name = holiday_name(day)
        days.append(
            {
                "day": day,
                "is_workday": national and not is_closure,
                "is_national_workday": national,
                "is_makeup_workday": is_makeup_workday(day),
                "is_statutory_holiday": is_statutory_holiday(day),
                "holiday_name": name,
                "holiday_name_zh": HOLIDAY_NAMES_ZH.get(name) if name else None,
                "is_closure": is_closure,
                "source": calendar_source(day),
            }
        )
        if national and not is_closure:
            for index, hours in enumerate(timetables):
                for start, end in intervals_of(day, hours):
                    seconds = int((end - start).total_seconds())
                    naive_start, naive_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
                    by_timetable.append((index, day, naive_start, naive_end, seconds))
        day += timedelta(days=1)
    leap_year = [date(2000, 1, 1) + timedelta(days=n) for n in range(366)]
    assignment = pl.DataFrame(
        [
            (
                calendar_id,
                moment.month,
                moment.day,
                timetables.index(office_hours(moment, calendar_id)),
            )
            for calendar_id in calendar_ids
            for moment in leap_year
        ],
        schema={"calendar_id": pl.String, "month": pl.Int8, "dom": pl.Int8, "timetable": pl.Int64},
        orient="row",
    )
    intervals = (
        pl.DataFrame(
            by_timetable,
            schema={
                "timetable": pl.Int64,
                **{k: intervals_schema[k] for k in list(intervals_schema)[1:]},
            },
            orient="row",
        )
        .with_columns(
            month=pl.col("day").dt.month().cast(pl.Int8), dom=pl.col("day").dt.day().cast(pl.Int8)
        )
        .join(assignment, on=["month", "dom", "timetable"])
        .select(list(intervals_schema))
        .sort("calendar_id", "interval_start")
    )
    return {
        "raw_calendar__days": pl.DataFrame(days, schema=days_schema),
        "raw_calendar__working_intervals": intervals.cast(intervals_schema),  # type: ignore[arg-type]
    }
