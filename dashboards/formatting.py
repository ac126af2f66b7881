"""Numbers and moments for people: pure functions, no Dash, no I/O.

- `duration(seconds, lang)`: the two largest units that matter — "2天3小时", "3小时12分钟",
  "45分钟", "30秒"; English "2 d 3 h", "3 h 12 min", "45 min", "30 s". Rounded to the smaller
  unit shown, so 1 天 23 小时 59 分钟 reads "2天", not "1天23小时".
- `shanghai(moment, lang)`: a naive-UTC datetime (the warehouse's convention) shown in
  Asia/Shanghai, "2026-11-02 10:00"; `shanghai_date` for the day alone.
- `month_day(day, lang)`: "9月20日" / "Sep 20"; `date_ticks(lang)`: plotly date-axis tick
  formats in the same style.
- `percent(0.923)` → "92.3%", `count(12345)` → "12,345".
- Every function shows `SUPPRESSED` ("—") for None: a small cell suppressed by the read API, or
  a figure that does not exist (a median of no cases). NaN is treated the same.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
SUPPRESSED: Final = "—"

_MONTHS_EN: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_UNITS: Final = {
    "zh": {"d": "天", "h": "小时", "min": "分钟", "s": "秒"},
    "en": {"d": " d", "h": " h", "min": " min", "s": " s"},
}


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def duration(seconds: float | None, lang: str = "zh") -> str:
    """A span of time in the units people use (see the module docstring)."""
    if seconds is None or _missing(seconds):
        return SUPPRESSED
    units = _UNITS.get(lang, _UNITS["zh"])
    sep = " " if lang == "en" else ""
    sign = "-" if seconds < 0 else ""
    span = abs(seconds)

    def two(big: int, big_unit: str, small: int, small_unit: str) -> str:
        text = f"{big}{units[big_unit]}"
        if small:
            text += f"{sep}{small}{units[small_unit]}"
        return sign + text

    if round(span) < 60:
        return f"{sign}{round(span)}{units['s']}"
    minutes = round(span / 60)
    if minutes < 60:
        return f"{sign}{minutes}{units['min']}"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return two(hours, "h", rest, "min")
    days, hours = divmod(round(span / 3600), 24)
    return two(days, "d", hours, "h")


def to_shanghai(moment: datetime) -> datetime:
    """`moment` in Asia/Shanghai; a naive datetime is taken as UTC (the warehouse's clock)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(SHANGHAI)


def shanghai(moment: datetime | None, lang: str = "zh", *, seconds: bool = False) -> str:
    """Date and time in Asia/Shanghai: "2026-11-02 10:00" (the same in both languages)."""
    if moment is None:
        return SUPPRESSED
    return to_shanghai(moment).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def shanghai_date(moment: datetime | date | None, lang: str = "zh") -> str:
    """The campus day: a datetime converted to Asia/Shanghai first, a date as it is."""
    if moment is None:
        return SUPPRESSED
    day = to_shanghai(moment).date() if isinstance(moment, datetime) else moment
    return day.isoformat()


def month_day(moment: datetime | date | None, lang: str = "zh") -> str:
    """A day of the year as people write it: "9月20日" in Chinese, "Sep 20" in English.

    A datetime is taken as it is (convert with `to_shanghai` first when it is naive UTC)."""
    if moment is None:
        return SUPPRESSED
    if lang == "en":
        return f"{_MONTHS_EN[moment.month - 1]} {moment.day}"
    return f"{moment.month}月{moment.day}日"


DAY_MS: Final = 86_400_000
# plotly date-axis tick formats (d3-time-format, "%-d" without padding) per zoom level, first
# match wins: months "2026年9月" / "Sep 2026", days "9月20日" / "Sep 20", hours with the day.
_DATE_TICKS: Final = {
    "zh": ("%Y年%-m月", "%-m月%-d日", "%H:%M<br>%-m月%-d日"),
    "en": ("%b %Y", "%b %-d", "%H:%M<br>%b %-d"),
}


def date_ticks(lang: str = "zh") -> list[dict[str, object]]:
    """`tickformatstops` for a plotly date axis in `lang`: plotly's own are English ("Sep 20")."""
    months, days, hours = _DATE_TICKS.get(lang, _DATE_TICKS["zh"])
    return [
        {"dtickrange": ["M1", None], "value": months},
        {"dtickrange": [DAY_MS, "M1"], "value": days},
        {"dtickrange": [None, DAY_MS], "value": hours},
    ]


def percent(value: float | None, digits: int = 1) -> str:
    """A rate in [0, 1] as a percentage: 0.923 → "92.3%"."""
    if value is None or _missing(value):
        return SUPPRESSED
    return f"{value * 100:.{digits}f}%"


def count(value: int | float | None) -> str:
    """A count with thousands separators: 12345 → "12,345"."""
    if value is None or _missing(value):
        return SUPPRESSED
    return f"{round(value):,}"
