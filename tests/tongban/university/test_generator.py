"""A small generated university is complete, consistent over its effective-dated history,
deterministic per seed, and its personas are real people holding their roles."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tongban.university.generator import (
    UniversitySummary,
    create_business_schema,
    generate_university,
)
from tongban.university.personas import PERSONA_ROLES, write_personas
from workflow_core.catalog.model import AssigneeRule, AssigneeRuleKind, Audience
from workflow_core.catalog.provinces import PROVINCES
from workflow_core.directory.departments import DEPARTMENTS
from workflow_core.directory.port import Role, ScopeType, StudentStatus
from workflow_core.directory.schema import (
    BUSINESS_TABLES,
    classes,
    colleges,
    departments,
    hall_accounts,
    majors,
    role_assignments,
    staff,
    student_class_memberships,
    student_statuses,
    students,
)
from workflow_core.directory.sql_directory import SqlDirectory
from workflow_core.store.db import make_engine

AS_OF = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in China
# Days across the year of history on which the roster must be consistent.
CHECK_DAYS = [AS_OF - timedelta(days=days) for days in range(0, 366, 30)]
SURROGATE_KEYS = {"membership_id", "status_id", "assignment_id"}


def _generate(path: Path, seed: int = 2026) -> tuple[Engine, UniversitySummary]:
    engine = make_engine(f"sqlite:///{path}")
    create_business_schema(engine)
    summary = generate_university(engine, "small", seed=seed, as_of=AS_OF)
    return engine, summary


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, UniversitySummary]]:
    engine, summary = _generate(tmp_path_factory.mktemp("small") / "business.db")
    yield engine, summary
    engine.dispose()


@pytest.fixture(scope="module")
def engine(generated: tuple[Engine, UniversitySummary]) -> Engine:
    return generated[0]


@pytest.fixture(scope="module")
def summary(generated: tuple[Engine, UniversitySummary]) -> UniversitySummary:
    return generated[1]


def rows(engine: Engine, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(table))]


def in_effect(row: dict[str, Any], day: date) -> bool:
    return bool(row["valid_from"] <= day and (row["valid_to"] is None or row["valid_to"] > day))


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows without surrogate keys, in a stable order."""
    out = {}
    for table in BUSINESS_TABLES:
        columns = [c for c in table.columns if c.name not in SURROGATE_KEYS]
        with engine.connect() as conn:
            out[table.name] = sorted(
                (tuple(row) for row in conn.execute(select(*columns))), key=repr
            )
    return out


def test_small_is_the_right_size(tmp_path: Path) -> None:
    engine, summary = _generate(tmp_path / "business.db")
    engine.dispose()
    assert 200 <= summary.undergraduates <= 1_000
    assert 50 <= summary.graduates <= 500
    assert summary.as_dict()["as_of"] == "2026-03-02"
    assert "undergraduates" in str(summary)


def test_counts_match_the_tables(engine: Engine, summary: UniversitySummary) -> None:
    with engine.connect() as conn:
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in BUSINESS_TABLES
        }
    assert sum(counts.values()) == summary.rows
    assert counts["colleges"] == summary.colleges == 3
    assert counts["campuses"] == summary.campuses
    assert counts["majors"] == summary.majors
    assert counts["classes"] == summary.classes + summary.closed_classes
    assert counts["staff"] == summary.staff
    assert counts["role_assignments"] == summary.role_assignments
    assert counts["hall_accounts"] == summary.alumni + summary.visitors
    assert counts["students"] == summary.undergraduates + summary.graduates + summary.graduated
    assert summary.suspended > 0 and summary.left > 0 and summary.class_changes > 0
    assert summary.counsellor_handovers >= 1


def test_departments_are_exactly_the_canonical_codes(engine: Engine) -> None:
    found = {row["department_id"]: row["name_zh"] for row in rows(engine, departments)}
    assert found == {code: text.zh for code, text in DEPARTMENTS.items()}


def test_ids_are_readable(engine: Engine) -> None:
    for student in rows(engine, students):
        prefix = "U" if student["kind"] == "undergraduate" else "G"
        assert re.fullmatch(rf"{prefix}{student['entry_year']}\d{{5}}", student["student_id"])
        assert student["home_province"] in PROVINCES
        assert re.fullmatch(r"1\d{10}", student["phone"])
    assert all(re.fullmatch(r"S\d{5}", row["staff_id"]) for row in rows(engine, staff))
    for account in rows(engine, hall_accounts):
        assert re.fullmatch(
            ("A" if account["kind"] == "alumni" else "V") + r"\d{6}", account["account_id"]
        )
    major_of = {row["major_id"]: row for row in rows(engine, majors)}
    for cls in rows(engine, classes):
        assert cls["class_id"] == f"C-{cls['major_id']}-{cls['entry_year']}-{cls['class_id'][-2:]}"
        undergraduate = major_of[cls["major_id"]]["degree_level"] == "bachelor"
        assert (cls["residential_college_id"] is not None) == undergraduate


def test_same_seed_same_rows_other_seed_other_rows(tmp_path: Path, engine: Engine) -> None:
    again, _ = _generate(tmp_path / "again.db")
    other, _ = _generate(tmp_path / "other.db", seed=7)
    try:
        original = dump(engine)
        assert dump(again) == original
        different = dump(other)
        assert different["students"] != original["students"]
        assert different["departments"] == original["departments"]
    finally:
        again.dispose()
        other.dispose()


def test_regenerating_replaces_the_contents(tmp_path: Path) -> None:
    engine, first = _generate(tmp_path / "business.db", seed=1)
    second = generate_university(engine, "small", seed=1, as_of=AS_OF)
    with engine.connect() as conn:
        total = sum(
            conn.execute(select(func.count()).select_from(t)).scalar_one() for t in BUSINESS_TABLES
        )
    engine.dispose()
    assert first == second
    assert total == second.rows


def test_effective_dates_never_overlap(engine: Engine) -> None:
    for table in (student_class_memberships, student_statuses):
        history: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows(engine, table):
            history[row["student_id"]].append(row)
        for student_id, spans in history.items():
            spans.sort(key=lambda row: row["valid_from"])
            for earlier, later in pairwise(spans):
                assert earlier["valid_to"] is not None, (table.name, student_id)
                assert earlier["valid_to"] <= later["valid_from"], (table.name, student_id)
            if table is student_statuses:
                # A status history has no gaps: from enrolment on, a student always has one.
                for earlier, later in pairwise(spans):
                    assert earlier["valid_to"] == later["valid_from"], student_id


def test_history_has_suspensions_departures_and_class_changes(engine: Engine) -> None:
    statuses = rows(engine, student_statuses)
    on_day = Counter(row["status"] for row in statuses if in_effect(row, AS_OF))
    enrolled = on_day[StudentStatus.ENROLLED.value]
    assert on_day[StudentStatus.SUSPENDED.value] > 0
    assert on_day[StudentStatus.LEFT.value] > 0
    reasons = {row["reason"] for row in statuses}
    assert {"入学", "毕业"} <= reasons
    running = {
        row["student_id"]
        for row in rows(engine, student_class_memberships)
        if in_effect(row, AS_OF)
    }
    assert enrolled / len(running) > 0.9  # mostly 在读
    memberships = Counter(row["student_id"] for row in rows(engine, student_class_memberships))
    assert any(count == 2 for count in memberships.values())


def _members_on(engine: Engine, day: date) -> dict[str, str]:
    return {
        row["student_id"]: row["class_id"]
        for row in rows(engine, student_class_memberships)
        if in_effect(row, day)
    }


def _running_on(engine: Engine, day: date) -> list[dict[str, Any]]:
    return [
        cls
        for cls in rows(engine, classes)
        if cls["opened_on"] <= day and (cls["closed_on"] is None or cls["closed_on"] > day)
    ]


def test_every_class_has_exactly_one_monitor_who_is_a_member(engine: Engine) -> None:
    grants = [r for r in rows(engine, role_assignments) if r["role"] == Role.CLASS_MONITOR.value]
    for day in CHECK_DAYS:
        members = _members_on(engine, day)
        monitors: dict[str, list[str]] = defaultdict(list)
        for grant in grants:
            if in_effect(grant, day):
                monitors[grant["scope_id"]].append(grant["person_id"])
        for cls in _running_on(engine, day):
            holders = monitors[cls["class_id"]]
            assert len(holders) == 1, (day, cls["class_id"], holders)
            assert members.get(holders[0]) == cls["class_id"], (day, cls["class_id"])


def test_every_class_has_one_counsellor_who_looks_after_4_to_10(engine: Engine) -> None:
    grants = [r for r in rows(engine, role_assignments) if r["role"] == Role.COUNSELLOR.value]
    for day in CHECK_DAYS:
        per_class: dict[str, list[str]] = defaultdict(list)
        for grant in grants:
            if in_effect(grant, day):
                per_class[grant["scope_id"]].append(grant["person_id"])
        for cls in _running_on(engine, day):
            assert len(per_class[cls["class_id"]]) == 1, (day, cls["class_id"])
    on_day = Counter(g["person_id"] for g in grants if in_effect(g, AS_OF))
    assert on_day and all(4 <= count <= 10 for count in on_day.values()), on_day


def test_offices_and_university_roles_are_staffed(engine: Engine) -> None:
    current = [g for g in rows(engine, role_assignments) if in_effect(g, AS_OF)]
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for grant in current:
        holders[(grant["role"], grant["scope_id"])].add(grant["person_id"])
    for college in rows(engine, colleges):
        assert 1 <= len(holders[(Role.COLLEGE_OFFICE.value, college["college_id"])]) <= 3
    for code in DEPARTMENTS:
        assert 2 <= len(holders[(Role.DEPARTMENT_APPROVER.value, code)]) <= 4, code
    assert len(holders[(Role.LEADERSHIP.value, "university")]) == 10
    assert len(holders[(Role.DATA_STAFF.value, "university")]) == 5
    assert holders[(Role.STUDENT_AFFAIRS.value, "university")]
    assert holders[(Role.GRADUATE_SCHOOL.value, "university")]


def test_every_enrolled_student_and_staff_member_resolves_every_rule(engine: Engine) -> None:
    directory = SqlDirectory(engine)
    rules = [
        AssigneeRule(AssigneeRuleKind.CLASS_COUNSELLOR),
        AssigneeRule(AssigneeRuleKind.COLLEGE_OFFICE),
        AssigneeRule(AssigneeRuleKind.APPLICANT_DEPARTMENT),
        AssigneeRule(AssigneeRuleKind.LEADERSHIP),
        *(AssigneeRule(AssigneeRuleKind.DEPARTMENT, code) for code in DEPARTMENTS),
    ]
    try:
        for student_id in _members_on(engine, AS_OF):
            placement = directory.placement(student_id, NOW)
            assert placement is not None
            for assignee_rule in rules:
                assert directory.resolve(assignee_rule, placement, NOW).assignees
            if placement.kind is Audience.UNDERGRADUATE:
                office = AssigneeRule(AssigneeRuleKind.RESIDENTIAL_COLLEGE_OFFICE)
                assert directory.resolve(office, placement, NOW).assignees
        for member in rows(engine, staff):
            placement = directory.placement(member["staff_id"], NOW)
            assert placement is not None
            own = AssigneeRule(AssigneeRuleKind.APPLICANT_DEPARTMENT)
            assert directory.resolve(own, placement, NOW).assignees
    finally:
        directory.close()


@pytest.fixture(scope="module")
def personas_file(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("personas") / "personas.json"
    write_personas(engine, path, NOW)
    return path


def test_personas_file_shape(personas_file: Path) -> None:
    document = json.loads(personas_file.read_text(encoding="utf-8"))
    assert [p.name for p in personas_file.parent.iterdir()] == ["personas.json"]  # no temp left
    assert document["as_of"] == "2026-03-02"
    datetime.fromisoformat(document["generated_at"])
    personas = document["personas"]
    assert list(personas) == list(PERSONA_ROLES)
    for role, people in personas.items():
        assert len(people) == 3, role
        assert len({person["user_id"] for person in people}) == 3, role
        for person in people:
            assert set(person) == {"user_id", "name", "role", "kind", "scope", "description"}
            assert person["role"] == role
            assert person["name"] and person["description"]
            assert set(person["scope"]) == {"type", "ids"} and person["scope"]["ids"]


def test_every_persona_exists_and_holds_the_role(engine: Engine, personas_file: Path) -> None:
    personas = json.loads(personas_file.read_text(encoding="utf-8"))["personas"]
    directory = SqlDirectory(engine)
    try:
        for role, people in personas.items():
            for persona in people:
                user_id = persona["user_id"]
                person = directory.person(user_id, NOW)
                assert person is not None, user_id
                assert person.name == persona["name"]
                assert person.kind.value == persona["kind"]
                scope = persona["scope"]
                if scope["type"] == "self":
                    assert scope["ids"] == [user_id]
                    if role == "student":
                        assert person.status is StudentStatus.ENROLLED
                    continue
                grants = directory.roles(user_id, NOW)
                held = sorted(g.scope_id for g in grants if g.role.value == role)
                assert held == sorted(scope["ids"]), (role, user_id)
                assert {g.scope_type for g in grants if g.role.value == role} == {
                    ScopeType(scope["type"])
                }
        kinds = {p["kind"] for p in personas["student"]}
        assert kinds == {"undergraduate", "graduate"}
    finally:
        directory.close()


def test_the_first_personas_tell_one_story(engine: Engine, personas_file: Path) -> None:
    personas = json.loads(personas_file.read_text(encoding="utf-8"))["personas"]
    directory = SqlDirectory(engine)
    try:
        counsellor_classes = personas["counsellor"][0]["scope"]["ids"]
        monitor_class = personas["class_monitor"][0]["scope"]["ids"][0]
        student = directory.placement(personas["student"][0]["user_id"], NOW)
        assert student is not None
        assert monitor_class == student.class_id and monitor_class in counsellor_classes
        assert personas["college_office"][0]["scope"]["ids"] == [student.college_id]
    finally:
        directory.close()


@pytest.mark.postgres
def test_generates_on_postgresql(pg_schema_url: str, engine: Engine) -> None:
    pg = make_engine(pg_schema_url)
    try:
        create_business_schema(pg)
        summary = generate_university(pg, "small", seed=2026, as_of=AS_OF)
        assert dump(pg) == dump(engine)
        directory = SqlDirectory(pg)
        student = directory.placement(next(iter(_members_on(engine, AS_OF))), NOW)
        assert student is not None
        assert directory.resolve(AssigneeRule(AssigneeRuleKind.CLASS_COUNSELLOR), student, NOW)
        directory.close()
        assert summary.rows == sum(len(rows) for rows in dump(pg).values())
    finally:
        pg.dispose()
