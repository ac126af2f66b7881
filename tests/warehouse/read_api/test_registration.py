"""Whereabouts reads for every generated persona: each sees the progress and the named lists of
exactly its own classes, leadership sees suppressed aggregates only, and crafted requests for
another class or for names outside the scope are refused."""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest

from tests.warehouse.conftest import AS_OF, BuiltUniversity
from tests.warehouse.test_scope import expected_classes, personas
from warehouse.read_api import registration
from warehouse.reader import Warehouse
from warehouse.scope import NotInScopeError, resolve_scope

ON = AS_OF.date()


def class_on(university: BuiltUniversity, student_id: str, day: str) -> str | None:
    db = sqlite3.connect(university.home / "business.db")
    try:
        row = db.execute(
            "select class_id from student_class_memberships where student_id = ?"
            " and valid_from <= ? and (valid_to is null or valid_to > ?)",
            (student_id, day, day),
        ).fetchone()
        return None if row is None else str(row[0])
    finally:
        db.close()


def test_every_persona_sees_exactly_its_classes_and_names(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    checked = found_reminded = 0
    with warehouse.cursor() as cursor:
        for role, user_id in personas(small_university):
            scope = resolve_scope(cursor, user_id, ON)
            if scope.is_empty or not (scope.university or scope.class_ids):
                with pytest.raises(NotInScopeError):
                    registration.campaigns(cursor, scope)
                continue
            campaign = registration.current_campaign(cursor, scope)
            assert campaign is not None, role
            progress = registration.progress(cursor, scope, campaign)
            allowed = expected_classes(small_university, user_id, ON)
            if not scope.university:
                assert set(progress["class_id"]) <= allowed, role
                assert not progress.is_empty(), role
            if not scope.personal_data:
                with pytest.raises(NotInScopeError):
                    registration.unregistered_students(cursor, scope, campaign)
                continue
            missing = registration.unregistered_students(cursor, scope, campaign)
            roster_day = str(
                cursor.execute(
                    "select roster_day from dim_campaigns where campaign_id = ?", [campaign]
                ).fetchall()[0][0]
            )
            for student_id, class_id in missing.select("student_id", "class_id").iter_rows():
                assert class_id in allowed, (role, student_id)
                assert class_on(small_university, student_id, roster_day) == class_id
            # The named list and the counts agree, class by class.
            named = missing.group_by("class_id").len()
            counted = progress.filter(pl.col("not_registered") > 0).select(
                "class_id", "not_registered"
            )
            assert dict(named.iter_rows()) == dict(counted.iter_rows()), role
            registered = registration.registrations(cursor, scope, campaign)
            assert set(registered["class_id"]) <= allowed
            # Registered after a reminder: picked from the roster alone, the same students.
            roster = registration.named_roster(cursor, scope, campaign)
            reminded = registration.reminded(roster)
            after = registered.filter(pl.col("registered_after_reminder"))
            assert (
                reminded.select("student_id", "first_registered_at").rows()
                == after.select("student_id", "first_registered_at").rows()
            ), role
            found_reminded += reminded.height
            # The excluded students and the counts agree too.
            excluded = registration.excluded(roster).group_by("class_id").len()
            counted = progress.filter(pl.col("excluded") > 0).select("class_id", "excluded")
            assert dict(excluded.iter_rows()) == dict(counted.iter_rows()), role
            checked += 1
    assert checked >= 6
    assert found_reminded > 0


def test_a_monitor_asking_for_another_class_is_refused(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    monitor = next(u for r, u in personas(small_university) if r == "class_monitor")
    with warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, monitor, ON)
        campaign = registration.current_campaign(cursor, scope)
        assert campaign is not None
        other = cursor.execute(
            "select class_id from mart_registration__progress where campaign_id = ?"
            " and not list_contains(?, class_id) limit 1",
            [campaign, sorted(scope.class_ids)],
        ).fetchall()[0][0]
        for read in (
            registration.unregistered_students,
            registration.registrations,
            registration.excluded_students,
            registration.named_roster,
            registration.curve,
            registration.destinations,
        ):
            with pytest.raises(NotInScopeError, match=other):
                read(cursor, scope, campaign, [other])


def test_leadership_sees_aggregates_with_small_classes_suppressed(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    leader = next(u for r, u in personas(small_university) if r == "leadership")
    with warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, leader, ON)
        campaign = registration.current_campaign(cursor, scope)
        assert campaign is not None
        by_class = registration.progress(cursor, scope, campaign, by="class")
        small = by_class.filter(pl.col("is_suppressed"))
        assert small.height > 0
        assert small["registered"].null_count() == small.height
        shown = by_class.filter(~pl.col("is_suppressed"))
        assert shown["eligible"].min() >= scope.k
        by_college = registration.progress(cursor, scope, campaign, by="college")
        raw = cursor.execute(
            "select college_id, sum(eligible), sum(registered) from mart_registration__progress"
            " where campaign_id = ? group by 1 order by 1",
            [campaign],
        ).fetchall()
        assert [(c, e, r) for c, e, r in raw] == list(
            by_college.select("college_id", "eligible", "registered").iter_rows()
        )
        for read in (
            registration.registrations,
            registration.excluded_students,
            registration.named_roster,
        ):
            with pytest.raises(NotInScopeError):
                read(cursor, scope, campaign)


def test_unknown_campaign_and_roll_up_are_refused(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    leader = next(u for r, u in personas(small_university) if r == "leadership")
    with warehouse.cursor() as cursor:
        scope = resolve_scope(cursor, leader, ON)
        with pytest.raises(LookupError, match="no whereabouts campaign 'nope'"):
            registration.progress(cursor, scope, "nope")
        campaign = registration.current_campaign(cursor, scope)
        assert campaign is not None
        with pytest.raises(ValueError, match="unknown roll-up 'planet'"):
            registration.progress(cursor, scope, campaign, by="planet")  # type: ignore[arg-type]
