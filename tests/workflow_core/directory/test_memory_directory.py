"""MemoryDirectory answers like SqlDirectory on every day, and its rosters match the tables."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, and_, func, insert, or_, select

from tongban.university.generator import generate_university
from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import AssigneeRule, AssigneeRuleKind, Audience
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.directory.port import (
    Assignment,
    Directory,
    Placement,
    Role,
    RoleGrant,
    ScopeType,
    StudentStatus,
)
from workflow_core.directory.schema import (
    classes,
    hall_accounts,
    role_assignments,
    staff,
    student_class_memberships,
    student_statuses,
    students,
)
from workflow_core.directory.sql_directory import SqlDirectory
from workflow_core.errors import BusinessRuleError
from workflow_core.store.db import make_engine

AS_OF = date(2026, 3, 2)  # the day the session university is generated up to
# Every 18 days from a year before the generated university's "today" to six weeks after it.
YEAR = tuple(AS_OF - timedelta(days=366) + timedelta(days=18 * k) for k in range(23))
UNKNOWN = ("NOBODY", "", "U0000000000", "u2024000001", "S99999")


def local(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """`hour:minute` in China on `day`, as the UTC moment the event store records."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def around(day: date) -> tuple[datetime, ...]:
    """The last minute before a change, its first minute, and the day after it."""
    return (local(day - timedelta(days=1), 23, 59), local(day, 0, 0), local(day + timedelta(1)))


def outcome(
    resolve: Callable[[AssigneeRule, Placement, datetime], Assignment],
    rule: AssigneeRule,
    applicant: Placement,
    at: datetime,
) -> object:
    """The assignment, or the refusal's type, message and fields, so both can be compared."""
    try:
        return resolve(rule, applicant, at)
    except BusinessRuleError as exc:
        return (type(exc).__name__, exc.message, exc.fields)


@pytest.fixture(scope="module")
def memory(business_engine: Engine) -> MemoryDirectory:
    return MemoryDirectory.load(business_engine)


def _in_effect(table: Any, day: date) -> Any:
    return and_(table.c.valid_from <= day, or_(table.c.valid_to.is_(None), table.c.valid_to > day))


@pytest.fixture(scope="module")
def people(business_engine: Engine) -> dict[str, set[date]]:
    """Several hundred people of every kind and fate, each with the days their records change."""
    dated = (student_statuses, student_class_memberships)
    changes: dict[str, set[date]] = {}
    with business_engine.connect() as conn:
        for table in dated:
            for person_id, valid_from, valid_to in conn.execute(
                select(table.c.student_id, table.c.valid_from, table.c.valid_to)
            ):
                changes.setdefault(person_id, set()).update(d for d in (valid_from, valid_to) if d)
        for person_id, valid_from, valid_to in conn.execute(
            select(
                role_assignments.c.person_id,
                role_assignments.c.valid_from,
                role_assignments.c.valid_to,
            )
        ):
            changes.setdefault(person_id, set()).update(d for d in (valid_from, valid_to) if d)

        def ids(statement: Any) -> list[str]:
            return sorted(str(value) for value in conn.execute(statement).scalars())

        suspended = ids(
            select(student_statuses.c.student_id).where(
                student_statuses.c.status == StudentStatus.SUSPENDED.value
            )
        )
        left = ids(
            select(student_statuses.c.student_id).where(
                student_statuses.c.status == StudentStatus.LEFT.value
            )
        )
        changers = ids(
            select(student_class_memberships.c.student_id)
            .group_by(student_class_memberships.c.student_id)
            .having(func.count() > 1)
        )
        freshmen = ids(select(students.c.student_id).where(students.c.entry_year == AS_OF.year - 1))
        holders = ids(select(role_assignments.c.person_id).distinct())
        every_student = ids(select(students.c.student_id))
        every_staff = ids(select(staff.c.staff_id))
        accounts = ids(select(hall_accounts.c.account_id))
    groups = {
        "休学": suspended,
        "已离校": left,
        "class changers": changers,
        "freshmen": freshmen[::5],
        "role holders": holders,
        "students": every_student[::6],
        "staff": every_staff[::2],
        "alumni and visitors": accounts,
    }
    for name, group in groups.items():
        assert group, f"the generated university has no {name}: the sample would prove nothing"
    sample = sorted({person for group in groups.values() for person in group} | set(UNKNOWN))
    assert len(sample) >= 300
    return {person: changes.get(person, set()) for person in sample}


def test_it_satisfies_the_directory_port(memory: MemoryDirectory) -> None:
    port: Directory = memory
    assert port.person(memory.people_of_kind(Audience.STAFF)[0], local(AS_OF)) is not None


def test_people_placements_and_roles_equal_sql_on_every_day(
    memory: MemoryDirectory, directory: SqlDirectory, people: dict[str, set[date]]
) -> None:
    mismatches: list[str] = []
    compared = 0
    for person_id, change_days in people.items():
        moments = [local(day) for day in YEAR]
        moments += [moment for day in sorted(change_days) for moment in around(day)]
        for at in moments:
            for ask in ("person", "placement", "roles"):
                want = getattr(directory, ask)(person_id, at)
                got = getattr(memory, ask)(person_id, at)
                compared += 1
                if got != want:
                    mismatches.append(f"{ask}({person_id!r}, {at}): {got!r} != {want!r}")
    assert not mismatches, f"{len(mismatches)} of {compared}:\n" + "\n".join(mismatches[:10])
    assert compared > 30_000


def test_a_naive_moment_is_taken_as_utc_like_sql(
    memory: MemoryDirectory, directory: SqlDirectory, people: dict[str, set[date]]
) -> None:
    for person_id, change_days in people.items():
        for day in sorted(change_days)[:2]:
            at = local(day, 0, 0).replace(tzinfo=None)  # 16:00 UTC the day before
            assert memory.person(person_id, at) == directory.person(person_id, at)
            assert memory.placement(person_id, at) == directory.placement(person_id, at)


@pytest.fixture(scope="module")
def applicants(
    directory: SqlDirectory, people: dict[str, set[date]]
) -> list[tuple[Placement, datetime]]:
    """Placements of sampled people on sampled days, and placements no directory would give."""
    found: list[tuple[Placement, datetime]] = []
    for index, (person_id, change_days) in enumerate(people.items()):
        if index % 3:
            continue
        moments = [local(YEAR[index % len(YEAR)])]
        moments += [moment for day in sorted(change_days)[-2:] for moment in around(day)]
        for at in moments:
            placement = directory.placement(person_id, at)
            if placement is not None:
                found.append((placement, at))
    now = local(AS_OF)
    unplaced = Placement("X0000001", Audience.UNDERGRADUATE)
    nowhere = Placement(
        "X0000002",
        Audience.UNDERGRADUATE,
        class_id="C-NOWHERE",
        grade=2024,
        major_id="NOWHERE",
        college_id="NOWHERE",
        residential_college_id="RC-NOWHERE",
    )
    outsider = Placement("X0000003", Audience.STAFF, department_id="no_such_department")
    return [*found, (unplaced, now), (nowhere, now), (outsider, now)]


def test_resolve_equals_sql_for_every_catalog_rule(
    memory: MemoryDirectory,
    directory: SqlDirectory,
    catalog: Catalog,
    applicants: list[tuple[Placement, datetime]],
) -> None:
    rules = {node.assignee for process in catalog for node in process.nodes}
    # Rules the catalog does not use today, so every refusal path is compared too.
    rules |= {AssigneeRule(kind) for kind in AssigneeRuleKind}
    rules.add(AssigneeRule(AssigneeRuleKind.DEPARTMENT, "no_such_department"))
    mismatches: list[str] = []
    outcomes: list[object] = []
    for rule in sorted(rules, key=repr):
        for applicant, at in applicants:
            want = outcome(directory.resolve, rule, applicant, at)
            got = outcome(memory.resolve, rule, applicant, at)
            outcomes.append(want)
            if got != want:
                mismatches.append(f"{rule} for {applicant} at {at}: {got!r} != {want!r}")
    assert not mismatches, f"{len(mismatches)} of {len(outcomes)}:\n" + "\n".join(mismatches[:10])
    refusals = [str(o[1]) for o in outcomes if isinstance(o, tuple)]
    assert any("is assigned to" in message for message in refusals)
    assert any("belongs to no" in message for message in refusals)
    assert any("names no department" in message for message in refusals)
    assert len(refusals) < len(outcomes) / 2, "most resolutions should find someone"


@pytest.fixture(scope="module")
def roster_days(business_engine: Engine) -> tuple[date, ...]:
    """A few days across the year, and every day a class roster or a class grant changes."""
    with business_engine.connect() as conn:
        changes = set(
            conn.execute(select(student_class_memberships.c.valid_from).distinct()).scalars()
        )
        changes |= set(
            conn.execute(
                select(role_assignments.c.valid_from).where(
                    role_assignments.c.scope_type == ScopeType.CLASS.value
                )
            ).scalars()
        )
    edges = {day + timedelta(days=shift) for day in changes for shift in (-1, 0)}
    return tuple(sorted({*YEAR[::3], *edges}))


def test_class_rosters_equal_the_memberships_in_effect(
    memory: MemoryDirectory, business_engine: Engine, roster_days: tuple[date, ...]
) -> None:
    membership = student_class_memberships
    with business_engine.connect() as conn:
        assert memory.classes() == tuple(
            conn.execute(select(classes.c.class_id).order_by(classes.c.class_id)).scalars()
        )
        for day in roster_days:
            rows = conn.execute(
                select(membership.c.class_id, membership.c.student_id)
                .where(_in_effect(membership, day))
                .order_by(membership.c.class_id, membership.c.student_id)
            ).all()
            want: dict[str, list[str]] = {}
            for class_id, student_id in rows:
                want.setdefault(class_id, []).append(student_id)
            got = {
                class_id: list(memory.students_of_class(class_id, local(day)))
                for class_id in memory.classes()
            }
            assert {c: ids for c, ids in got.items() if ids} == want, day
            assert sum(map(len, got.values())) == len(rows)
    assert memory.students_of_class("C-NOWHERE", local(AS_OF)) == ()


def test_monitors_and_counsellors_equal_the_class_grants_in_effect(
    memory: MemoryDirectory, business_engine: Engine, roster_days: tuple[date, ...]
) -> None:
    grants = role_assignments
    asked = {
        Role.CLASS_MONITOR: memory.monitors_of_class,
        Role.COUNSELLOR: memory.counsellors_of_class,
    }
    seen = 0
    with business_engine.connect() as conn:
        for day in roster_days:
            for role, of_class in asked.items():
                rows = conn.execute(
                    select(grants.c.scope_id, grants.c.person_id)
                    .distinct()
                    .where(
                        grants.c.role == role.value,
                        grants.c.scope_type == ScopeType.CLASS.value,
                        _in_effect(grants, day),
                    )
                    .order_by(grants.c.scope_id, grants.c.person_id)
                ).all()
                want: dict[str, list[str]] = {}
                for class_id, person_id in rows:
                    want.setdefault(class_id, []).append(person_id)
                for class_id in memory.classes():
                    assert list(of_class(class_id, local(day))) == want.get(class_id, []), (
                        role,
                        class_id,
                        day,
                    )
                seen += len(rows)
    assert seen > 0


def test_people_of_kind_and_staff_of_unit_equal_the_tables(
    memory: MemoryDirectory, business_engine: Engine
) -> None:
    with business_engine.connect() as conn:
        want: dict[Audience, list[str]] = {kind: [] for kind in Audience}
        for person_id, kind in conn.execute(select(students.c.student_id, students.c.kind)):
            want[Audience(kind)].append(person_id)
        for person_id, kind in conn.execute(
            select(hall_accounts.c.account_id, hall_accounts.c.kind)
        ):
            want[Audience(kind)].append(person_id)
        want[Audience.STAFF] = list(conn.execute(select(staff.c.staff_id)).scalars())
        units = conn.execute(select(staff.c.unit_id, func.count()).group_by(staff.c.unit_id)).all()
        for unit_id, headcount in units:
            members = memory.staff_of_unit(unit_id)
            assert len(members) == headcount
            assert members == tuple(
                conn.execute(
                    select(staff.c.staff_id)
                    .where(staff.c.unit_id == unit_id)
                    .order_by(staff.c.staff_id)
                ).scalars()
            )
    for kind, ids in want.items():
        assert memory.people_of_kind(kind) == tuple(sorted(ids)), kind
    assert all(memory.people_of_kind(kind) for kind in Audience)
    assert memory.staff_of_unit("no_such_unit") == ()


@pytest.fixture
def copied_university(university_dir: Path, tmp_path: Path) -> Path:
    path = tmp_path / "business.db"
    shutil.copy(university_dir / "business.db", path)
    return path


def test_answers_come_from_memory_once_loaded(
    copied_university: Path, directory: SqlDirectory, people: dict[str, set[date]]
) -> None:
    engine = make_engine(f"sqlite:///{copied_university}", write_lock_at_begin=False)
    loaded = MemoryDirectory.load(engine)
    engine.dispose()
    copied_university.unlink()  # no database left to ask
    now = local(AS_OF)
    for person_id in people:
        assert loaded.placement(person_id, now) == directory.placement(person_id, now)
        assert loaded.roles(person_id, now) == directory.roles(person_id, now)


def test_a_change_after_loading_is_not_seen(copied_university: Path) -> None:
    engine = make_engine(f"sqlite:///{copied_university}", write_lock_at_begin=False)
    loaded = MemoryDirectory.load(engine)
    newcomer = loaded.people_of_kind(Audience.STAFF)[0]
    grant = RoleGrant(Role.DEPARTMENT_APPROVER, ScopeType.DEPARTMENT, "new_office")
    with engine.begin() as conn:
        conn.execute(
            insert(role_assignments).values(
                person_id=newcomer,
                role=grant.role.value,
                scope_type=grant.scope_type.value,
                scope_id=grant.scope_id,
                valid_from=AS_OF,
            )
        )
    live = SqlDirectory(engine)
    try:
        now = local(AS_OF)
        assert grant in live.roles(newcomer, now)
        assert grant not in loaded.roles(newcomer, now)  # a snapshot: load again to see it
        assert grant in MemoryDirectory.load(engine).roles(newcomer, now)
    finally:
        live.close()
        engine.dispose()


def test_each_backend_loads_the_university_sql_directory_sees(
    business_db: Engine, catalog: Catalog
) -> None:
    generate_university(business_db, "small", seed=11, as_of=AS_OF)
    memory = MemoryDirectory.load(business_db)
    directory = SqlDirectory(business_db)
    try:
        everyone = sorted(p for kind in Audience for p in memory.people_of_kind(kind))
        days = (*YEAR[::5], AS_OF)
        for person_id in everyone[::3]:
            for at in map(local, days):
                assert memory.person(person_id, at) == directory.person(person_id, at)
                assert memory.placement(person_id, at) == directory.placement(person_id, at)
                assert memory.roles(person_id, at) == directory.roles(person_id, at)
        now = local(AS_OF)
        rules = {node.assignee for process in catalog for node in process.nodes}
        for person_id in everyone[::10]:
            applicant = directory.placement(person_id, now)
            if applicant is None:
                continue
            for rule in rules:
                assert outcome(memory.resolve, rule, applicant, now) == outcome(
                    directory.resolve, rule, applicant, now
                )
    finally:
        directory.close()
