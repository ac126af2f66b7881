"""Every generated persona's scope, resolved from the published warehouse, names exactly the
classes and units their role grants give them — checked against the business database itself."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest

from tests.warehouse.conftest import AS_OF, BuiltUniversity
from warehouse.reader import Warehouse
from warehouse.scope import NotInScopeError, Scope, resolve_scope

ON = AS_OF.date()


def personas(university: BuiltUniversity) -> list[tuple[str, str]]:
    data = json.loads((university.home / "personas.json").read_text(encoding="utf-8"))
    return [
        (role, person["user_id"]) for role, people in data["personas"].items() for person in people
    ]


def expected_classes(university: BuiltUniversity, user_id: str, on: date) -> set[str]:
    """The classes a user looks after, straight from the business systems' tables."""
    db = sqlite3.connect(university.home / "business.db")
    try:
        grants = db.execute(
            "select role, scope_type, scope_id from role_assignments where person_id = ?"
            " and valid_from <= ? and (valid_to is null or valid_to > ?)",
            (user_id, on.isoformat(), on.isoformat()),
        ).fetchall()
        classes: set[str] = set()
        for role, _scope_type, scope_id in grants:
            if role in ("class_monitor", "counsellor"):
                classes.add(scope_id)
            elif role == "college_office":
                classes |= {
                    row[0]
                    for row in db.execute(
                        "select class_id from classes join majors using (major_id)"
                        " where majors.college_id = ?",
                        (scope_id,),
                    )
                }
            elif role == "residential_college_office":
                classes |= {
                    row[0]
                    for row in db.execute(
                        "select class_id from classes where residential_college_id = ?",
                        (scope_id,),
                    )
                }
            elif role in ("student_affairs", "graduate_school"):
                classes |= {row[0] for row in db.execute("select class_id from classes")}
        return classes
    finally:
        db.close()


def test_every_persona_resolves_to_exactly_the_classes_of_its_grants(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    seen_roles = set()
    with warehouse.cursor() as cursor:
        for role, user_id in personas(small_university):
            scope = resolve_scope(cursor, user_id, ON)
            assert scope.class_ids == expected_classes(small_university, user_id, ON), role
            seen_roles.add(role)
            if role in ("student", "staff", "alumni", "visitor"):
                assert scope.is_empty, role
            if role in ("leadership", "data_staff"):
                assert scope.university and scope.aggregates_only and not scope.class_ids
            if role in ("class_monitor", "counsellor"):
                assert scope.personal_data and not scope.university and not scope.unit_ids
    assert {"class_monitor", "counsellor", "college_office", "leadership"} <= seen_roles


def test_a_department_approver_sees_its_department_as_a_unit(
    small_university: BuiltUniversity, warehouse: Warehouse
) -> None:
    with warehouse.cursor() as cursor:
        rows = cursor.execute(
            "select person_id, scope_id from dim_role_grants where role = 'department_approver'"
            " and scope_type = 'department' and valid_from <= ?"
            " and (valid_to is null or valid_to > ?) order by person_id limit 1",
            [ON, ON],
        ).fetchall()
        person_id, department_id = rows[0]
        scope = resolve_scope(cursor, person_id, ON)
    assert department_id in scope.unit_ids
    assert scope.sees_unit(department_id)


def test_an_unknown_user_has_an_empty_scope_that_refuses_every_read() -> None:
    scope = Scope(user_id="nobody", on=ON)
    assert scope.is_empty
    with pytest.raises(NotInScopeError, match="nobody holds no role"):
        scope.require()
    with pytest.raises(NotInScopeError, match="personal data"):
        scope.require_personal_data("a named list")


def test_a_scope_refuses_classes_outside_it() -> None:
    scope = Scope(user_id="m1", on=ON, class_ids=frozenset({"C-1"}), personal_data=True)
    scope.require_classes({"C-1"})
    with pytest.raises(NotInScopeError, match="C-2 are outside the scope of m1"):
        scope.require_classes({"C-1", "C-2"})
