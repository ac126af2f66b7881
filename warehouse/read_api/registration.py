"""Whereabouts registration (去向登记) reads: campaigns, progress per class, the cumulative curve,
destinations, and the named lists (not registered, late, changed) within scope.

Progress for classes outside the caller's named scope (leadership, data staff, a university-wide
aggregate) is a count only, and a class with fewer than `k` eligible students has its figures
suppressed (null, `is_suppressed`).
"""

from __future__ import annotations

from typing import Final, Literal

import duckdb
import polars as pl

from warehouse.read_api.frames import query
from warehouse.scope import NotInScopeError, Scope

RollUp = Literal["class", "grade", "college", "residential_college", "university"]
ROLL_UPS: Final[tuple[str, ...]] = (
    "class",
    "grade",
    "college",
    "residential_college",
    "university",
)

_COUNTS: Final = (
    "roster",
    "excluded",
    "excluded_suspended",
    "excluded_left",
    "eligible",
    "registered",
    "not_registered",
    "registered_on_time",
    "registered_late",
    "changed",
    "reminded",
    "registered_after_reminder",
)


def _visible_classes(scope: Scope) -> tuple[str, list[object]]:
    """SQL predicate on `class_id` for the classes whose counts the scope may see."""
    scope.require()
    if scope.university:
        return "true", []
    if not scope.class_ids:
        raise NotInScopeError(f"whereabouts registration is outside the scope of {scope.user_id}")
    return "list_contains(?, class_id)", [sorted(scope.class_ids)]


def campaigns(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    """Campaigns whose rosters include students in scope, newest first (open ones marked)."""
    predicate, params = _visible_classes(scope)
    return query(
        cursor,
        f"""
        select campaign_id, campaign_title, holiday, opens_at, deadline, is_open, roster_day
        from dim_campaigns
        where campaign_id in (
            select campaign_id from mart_registration__progress where {predicate}
        )
        order by deadline desc, campaign_id
        """,
        params,
    )


def current_campaign(cursor: duckdb.DuckDBPyConnection, scope: Scope) -> str | None:
    """The campaign a page opens on: the open one closing soonest, else the latest."""
    frame = campaigns(cursor, scope)
    if frame.is_empty():
        return None
    open_ = frame.filter(pl.col("is_open")).sort("deadline")
    return str((open_ if not open_.is_empty() else frame)["campaign_id"][0])


def _check_campaign(cursor: duckdb.DuckDBPyConnection, campaign_id: str) -> None:
    rows = cursor.execute(
        "select count(*) from dim_campaigns where campaign_id = ?", [campaign_id]
    ).fetchall()
    if not rows[0][0]:
        raise LookupError(f"no whereabouts campaign {campaign_id!r}")


def progress(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign_id: str,
    *,
    by: RollUp = "class",
    college_id: str | None = None,
) -> pl.DataFrame:
    """Registration progress rolled up `by` class, grade, college, 书院 or the university.

    Each row carries its sample size (`eligible`); rows the scope sees only as aggregates and
    with fewer than `k` eligible students are suppressed.
    """
    if by not in ROLL_UPS:
        raise ValueError(f"unknown roll-up {by!r}: one of {', '.join(ROLL_UPS)}")
    _check_campaign(cursor, campaign_id)
    predicate, params = _visible_classes(scope)
    keys = {
        "class": "class_id, any_value(class_name_zh) as name, any_value(college_id) as college_id,"
        " any_value(grade) as grade",
        "grade": "grade, cast(grade as varchar) || '级' as name",
        "college": "college_id, any_value(college_name_zh) as name",
        "residential_college": "residential_college_id,"
        " any_value(residential_college_name_zh) as name",
        "university": "'university' as unit_id, '全校' as name",
    }[by]
    group = {
        "class": "class_id",
        "grade": "grade",
        "college": "college_id",
        "residential_college": "residential_college_id",
        "university": "1",
    }[by]
    named = sorted(scope.class_ids) if scope.personal_data else []
    sums = ", ".join(f"cast(sum({column}) as bigint) as {column}" for column in _COUNTS)
    college_filter = "and college_id = ?" if college_id is not None else ""
    frame = query(
        cursor,
        f"""
        select
            {keys},
            {sums},
            count(*) as classes,
            bool_and(list_contains(?, class_id)) as is_named_scope
        from mart_registration__progress
        where campaign_id = ? and {predicate} {college_filter}
          {"and residential_college_id is not null" if by == "residential_college" else ""}
        group by {group}
        order by {group}
        """,
        [named, campaign_id, *params, *([college_id] if college_id is not None else [])],
    )
    frame = frame.with_columns(
        (pl.col("registered") / pl.col("eligible")).alias("registration_rate"),
        (~pl.col("is_named_scope") & (pl.col("eligible") < scope.k)).alias("is_suppressed"),
    )
    suppressed = [*_COUNTS, "registration_rate"]
    return frame.with_columns(
        pl.when(pl.col("is_suppressed")).then(None).otherwise(pl.col(c)).alias(c)
        for c in suppressed
    )


def curve(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign_id: str,
    class_ids: list[str] | None = None,
) -> pl.DataFrame:
    """Cumulative first registrations by campus hour over the classes in scope (or chosen)."""
    _check_campaign(cursor, campaign_id)
    predicate, params = _visible_classes(scope)
    chosen = ""
    extra: list[object] = []
    if class_ids is not None:
        if not scope.university:
            scope.require_classes(set(class_ids))
        chosen = "and list_contains(?, class_id)"
        extra = [sorted(class_ids)]
    frame = query(
        cursor,
        f"""
        with per_hour as (
            select campus_hour, cast(sum(registrations) as bigint) as registrations
            from mart_registration__hourly
            where campaign_id = ? and {predicate} {chosen}
            group by campus_hour
        ),
        eligible as (
            select cast(coalesce(sum(eligible), 0) as bigint) as eligible
            from mart_registration__progress
            where campaign_id = ? and {predicate} {chosen}
        )
        select
            campus_hour,
            registrations,
            cast(sum(registrations) over (order by campus_hour) as bigint) as cumulative,
            (select eligible from eligible) as eligible
        from per_hour
        order by campus_hour
        """,
        [campaign_id, *params, *extra, campaign_id, *params, *extra],
    )
    if scope.aggregates_only and not frame.is_empty() and frame["eligible"][0] < scope.k:
        return frame.clear()
    return frame


def destinations(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign_id: str,
    class_ids: list[str] | None = None,
) -> pl.DataFrame:
    """Staying or leaving, by destination province, from each student's latest registration."""
    _check_campaign(cursor, campaign_id)
    predicate, params = _visible_classes(scope)
    chosen, extra = "", []
    if class_ids is not None:
        if not scope.university:
            scope.require_classes(set(class_ids))
        chosen, extra = "and list_contains(?, class_id)", [sorted(class_ids)]
    frame = query(
        cursor,
        f"""
        select
            stay_or_leave,
            destination_province,
            cast(sum(students) as bigint) as students,
            min(earliest_return) as earliest_return,
            max(latest_return) as latest_return
        from mart_registration__destinations
        where campaign_id = ? and {predicate} {chosen}
        group by all
        order by students desc, stay_or_leave, destination_province
        """,
        [campaign_id, *params, *extra],
    )
    if scope.aggregates_only:
        frame = frame.filter(pl.col("students") >= scope.k)
    return frame


def _named_classes(scope: Scope, class_ids: list[str] | None) -> list[str]:
    scope.require_personal_data("a named list of students")
    if class_ids is None:
        return sorted(scope.class_ids)
    scope.require_classes(set(class_ids))
    return sorted(class_ids)


def named_roster(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign_id: str,
    class_ids: list[str] | None = None,
) -> pl.DataFrame:
    """Every student on the campaign's roster in the scope's named classes, by name, with what
    the named lists show: contact, class and college, status, reminders (催办), registration.

    One read for the page's lists: `unregistered`, `excluded` and `reminded` pick theirs from
    it (the roster scan is most of each list's cost)."""
    _check_campaign(cursor, campaign_id)
    classes = _named_classes(scope, class_ids)
    return query(
        cursor,
        """
        select
            rosters.student_id,
            people.person_name as student_name,
            people.phone,
            rosters.class_id,
            classes.class_name_zh,
            classes.college_name_zh,
            rosters.status,
            rosters.is_excluded,
            rosters.is_registered,
            rosters.reminders,
            rosters.last_reminded_at,
            rosters.first_registered_at,
            rosters.registered_after_reminder,
            rosters.seconds_from_reminder_to_registration
        from fct_campaign_rosters as rosters
        join dim_people as people on people.person_id = rosters.student_id
        left join dim_classes as classes using (class_id)
        where rosters.campaign_id = ? and list_contains(?, rosters.class_id)
        order by rosters.class_id, rosters.student_id
        """,
        [campaign_id, classes],
    )


UNREGISTERED_COLUMNS: Final = (
    "student_id",
    "student_name",
    "phone",
    "class_id",
    "class_name_zh",
    "college_name_zh",
    "reminders",
    "last_reminded_at",
)
EXCLUDED_COLUMNS: Final = ("student_id", "student_name", "class_id", "status")
REMINDED_COLUMNS: Final = (
    "student_id",
    "student_name",
    "class_id",
    "first_registered_at",
    "seconds_from_reminder_to_registration",
)


def unregistered(roster: pl.DataFrame) -> pl.DataFrame:
    """From a `named_roster`: the eligible students who have not registered."""
    return roster.filter(~pl.col("is_excluded") & ~pl.col("is_registered")).select(
        UNREGISTERED_COLUMNS
    )


def excluded(roster: pl.DataFrame) -> pl.DataFrame:
    """From a `named_roster`: the students excluded from the rate (休学, 已离校)."""
    return roster.filter(pl.col("is_excluded")).select(EXCLUDED_COLUMNS)


def reminded(roster: pl.DataFrame) -> pl.DataFrame:
    """From a `named_roster`: the eligible students who registered after a reminder."""
    return roster.filter(
        ~pl.col("is_excluded") & pl.col("registered_after_reminder").fill_null(False)
    ).select(REMINDED_COLUMNS)


def unregistered_students(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign_id: str,
    class_ids: list[str] | None = None,
) -> pl.DataFrame:
    """The named list of eligible students who have not registered, within the scope's classes.

    With how often and when they were last reminded (催办), for the remind action and its export.
    """
    return unregistered(named_roster(cursor, scope, campaign_id, class_ids))


def excluded_students(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign_id: str,
    class_ids: list[str] | None = None,
) -> pl.DataFrame:
    """Students on the roster but excluded from the rate (休学, 已离校), by name within scope."""
    return excluded(named_roster(cursor, scope, campaign_id, class_ids))


def registrations(
    cursor: duckdb.DuckDBPyConnection,
    scope: Scope,
    campaign_id: str,
    class_ids: list[str] | None = None,
    *,
    only: Literal["all", "late", "changed"] = "all",
) -> pl.DataFrame:
    """Each registered student's latest registration (destination, dates, contact) by name,
    optionally only the late or the changed ones; within the scope's classes."""
    if only not in ("all", "late", "changed"):
        raise ValueError(f"unknown registration filter {only!r}")
    _check_campaign(cursor, campaign_id)
    classes = _named_classes(scope, class_ids)
    condition = {"all": "true", "late": "rosters.is_late", "changed": "rosters.changes > 0"}[only]
    return query(
        cursor,
        f"""
        select
            rosters.student_id,
            people.person_name as student_name,
            rosters.class_id,
            rosters.first_registered_at,
            latest.submitted_at as latest_submitted_at,
            rosters.is_late,
            rosters.changes,
            latest.stay_or_leave,
            latest.destination_province,
            latest.destination_city,
            latest.destination_address,
            latest.leave_date,
            latest.return_date,
            latest.transport,
            latest.emergency_contact_name,
            latest.emergency_contact_phone,
            rosters.registered_after_reminder,
            rosters.seconds_from_reminder_to_registration
        from fct_campaign_rosters as rosters
        join fct_registrations as latest
            on latest.registration_id = rosters.latest_registration_id
        join dim_people as people on people.person_id = rosters.student_id
        where rosters.campaign_id = ? and list_contains(?, rosters.class_id)
          and rosters.is_registered and not rosters.is_excluded and {condition}
        order by rosters.class_id, rosters.student_id
        """,
        [campaign_id, classes],
    )


def reminder_effect(
    cursor: duckdb.DuckDBPyConnection, scope: Scope, campaign_id: str
) -> pl.DataFrame:
    """How past reminders (催办) worked, per class in scope: reminded, registered after, and the
    median time from the first reminder to the registration."""
    _check_campaign(cursor, campaign_id)
    predicate, params = _visible_classes(scope)
    frame = query(
        cursor,
        f"""
        select
            class_id,
            count(*) filter (where reminders > 0) as reminded,
            count(*) filter (where registered_after_reminder) as registered_after_reminder,
            quantile_cont(seconds_from_reminder_to_registration, 0.5)
                filter (where registered_after_reminder) as median_seconds_to_register,
            count(*) filter (where not is_excluded) as eligible
        from fct_campaign_rosters
        where campaign_id = ? and {predicate}
        group by class_id
        having count(*) filter (where reminders > 0) > 0
        order by class_id
        """,
        [campaign_id, *params],
    )
    if scope.aggregates_only:
        frame = frame.filter(pl.col("eligible") >= scope.k)
    return frame


__all__ = [
    "NotInScopeError",
    "campaigns",
    "current_campaign",
    "curve",
    "destinations",
    "excluded",
    "excluded_students",
    "named_roster",
    "progress",
    "registrations",
    "reminded",
    "reminder_effect",
    "unregistered",
    "unregistered_students",
]
