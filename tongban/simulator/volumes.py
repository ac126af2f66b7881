"""How many requests each service gets on a day: the seed reports' volumes, scaled and seasonal.

For the demo-size university (≈45,000 students) the hall sees about 1,660 submissions a day
on average over a year: about 18,000 cross-department cases a month across the approval
services, 554 activity/lecture applications a term, the whereabouts registrations of the seven
holiday campaigns (simulated by `campaigns`, about seven a student a year), and the rest
single-node bookings (museum, campus bus). Other sizes scale with their student population.
Each service's daily expectation follows a seasonal profile (term vs. vacation, working day vs.
weekend or holiday), normalised so that its yearly total is the configured one; the count of a
day is Poisson around it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from tongban.simulator.calendar import CAMPUS_TZ, is_workday
from tongban.university.generator import PROFILES, SizeProfile

HALL_VISITS_PER_DAY: Final = 1_660
CROSS_DEPARTMENT_PER_MONTH: Final = 18_000
ACTIVITY_APPLICATIONS_PER_TERM: Final = 554
DAYS_PER_YEAR: Final = 365
# Seven campaigns a year, ≈95 % of students registering and ≈8 % of them changing it once.
REGISTRATIONS_PER_STUDENT_YEAR: Final = 7 * 0.95 * 1.08

# Shares of the cross-department cases (services with two or more nodes), activity aside.
CROSS_DEPARTMENT_MIX: Final[dict[str, float]] = {
    "enrollment_certificate": 0.42,
    "vpn_application": 0.15,
    "personal_info_change": 0.10,
    "dorm_air_conditioner": 0.07,
    "vehicle_pass": 0.07,
    "fixed_ip": 0.05,
    "temp_staff_account_extension": 0.04,
    "graduate_status_change": 0.03,
    "graduate_hardship_grant": 0.03,
    "staff_domain_name": 0.025,
    "staff_secondment": 0.015,
}
# Shares of the single-node bookings.
BOOKING_MIX: Final[dict[str, float]] = {"museum_booking": 0.67, "campus_bus_booking": 0.33}
STUDENT_SERVICES: Final = frozenset(
    {
        "enrollment_certificate",
        "dorm_air_conditioner",
        "graduate_status_change",
        "graduate_hardship_grant",
        "activity_application",
    }
)
VISITOR_SERVICES: Final = frozenset(BOOKING_MIX)


def in_term(day: date) -> bool:
    """Term time: the spring term 24 Feb – 10 Jul, the autumn term 1 Sep – 17 Jan."""
    md = (day.month, day.day)
    return (2, 24) <= md <= (7, 10) or md >= (9, 1) or md <= (1, 17)


def season(key: str, day: date) -> float:
    """The relative demand for a service on a day (before normalisation)."""
    working = is_workday(day)
    term = in_term(day)
    if key == "activity_application":
        if not term:
            return 0.0
        return 1.0 if working else 0.2
    if key in VISITOR_SERVICES:
        factor = 1.0 if working else 1.6
        if not term:
            factor *= 1.3 if day.month in (7, 8) else 0.6
        return factor
    if key in STUDENT_SERVICES:
        factor = (1.0 if working else 0.35) * (1.0 if term else 0.25)
        if key == "dorm_air_conditioner" and 5 <= day.month <= 9:
            factor *= 2.0
        if key == "enrollment_certificate" and day.month in (3, 9, 10, 12):
            factor *= 1.4  # internships, visas and exam registrations
        return factor
    # Services for staff (and the mixed ones): working days, a little less in vacations.
    return (1.0 if working else 0.08) * (1.0 if term else 0.7)


def yearly_totals() -> dict[str, float]:
    """Requests a year per service at demo size."""
    cross = CROSS_DEPARTMENT_PER_MONTH * 12
    activity = ACTIVITY_APPLICATIONS_PER_TERM * 2
    registrations = REGISTRATIONS_PER_STUDENT_YEAR * students_of(PROFILES["demo"])
    bookings = HALL_VISITS_PER_DAY * DAYS_PER_YEAR - cross - activity - registrations
    totals = {key: share * cross for key, share in CROSS_DEPARTMENT_MIX.items()}
    totals.update({key: share * bookings for key, share in BOOKING_MIX.items()})
    totals["activity_application"] = float(activity)
    return totals


def students_of(profile: SizeProfile) -> int:
    """Roughly how many students a size has: four undergraduate, three master's and four
    doctoral cohorts."""
    return profile.undergraduate_intake * 4 + profile.master_intake * 3 + profile.doctor_intake * 4


def scale_of(size: str) -> float:
    """The size's population relative to the demo university."""
    return students_of(PROFILES[size]) / students_of(PROFILES["demo"])


@dataclass(frozen=True)
class VolumeModel:
    """Expected requests per service and day for one university size."""

    scale: float
    totals: dict[str, float]
    reference_year: int = 2025

    @classmethod
    def for_size(cls, size: str) -> VolumeModel:
        return cls(scale_of(size), yearly_totals())

    def expected(self, key: str, day: date) -> float:
        return self.totals[key] * self.scale * season(key, day) / _season_sum(key)

    def counts(self, day: date, rng: random.Random) -> dict[str, int]:
        """How many requests of each service arrive on `day` (Poisson draws, in key order)."""
        return {key: poisson(rng, self.expected(key, day)) for key in sorted(self.totals)}


_SEASON_SUMS: dict[str, float] = {}


def _season_sum(key: str) -> float:
    """The sum of a service's seasonal factors over a reference year (2025-03-01 onwards)."""
    if key not in _SEASON_SUMS:
        first = date(2025, 3, 1)
        _SEASON_SUMS[key] = sum(
            season(key, first + timedelta(days=n)) for n in range(DAYS_PER_YEAR)
        )
    return _SEASON_SUMS[key]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; a rounded normal for large means)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# Relative submissions by campus hour: students also apply in the evening, staff in office
# hours, visitors book by day.
_STUDENT_HOURS: Final = (1, 0, 0, 0, 0, 0, 1, 3, 8, 10, 10, 8, 4, 4, 8, 9, 8, 6, 4, 5, 6, 6, 5, 3)
_STAFF_HOURS: Final = (0, 0, 0, 0, 0, 0, 0, 2, 8, 12, 12, 9, 2, 3, 10, 11, 9, 5, 2, 1, 1, 1, 0, 0)
_VISITOR_HOURS: Final = (0, 0, 0, 0, 0, 0, 1, 3, 6, 9, 9, 7, 5, 5, 6, 6, 5, 4, 4, 4, 4, 3, 1, 0)


def student_hour_weights() -> tuple[int, ...]:
    """Relative activity of students by campus hour."""
    return _STUDENT_HOURS


def hour_weights(key: str) -> tuple[int, ...]:
    if key in VISITOR_SERVICES:
        return _VISITOR_HOURS
    if key in STUDENT_SERVICES or key == "personal_info_change":
        return _STUDENT_HOURS
    return _STAFF_HOURS


def arrival_times(key: str, day: date, count: int, rng: random.Random) -> list[datetime]:
    """`count` submission moments on a campus `day`, sorted, drawn by the hour profile."""
    weights = hour_weights(key)
    hours = rng.choices(range(24), weights=weights, k=count)
    moments = [
        datetime(day.year, day.month, day.day, hour, tzinfo=CAMPUS_TZ)
        + timedelta(seconds=rng.randrange(3600))
        for hour in hours
    ]
    return sorted(moments)
