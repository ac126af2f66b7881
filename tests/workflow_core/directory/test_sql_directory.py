"""SqlDirectory over a hand-built university answers people, placements, roles and every assignee
rule as of a moment, following effective-dated changes, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import make_url

from workflow_core.catalog.model import AssigneeRule, AssigneeRuleKind, Audience
from workflow_core.directory.departments import DEPARTMENTS
from workflow_core.directory.port import (
    Assignment,
    Directory,
    Person,
    Placement,
    Role,
    RoleGrant,
    ScopeType,
    StudentStatus,
)
from workflow_core.directory.schema import (
    UNIVERSITY_SCOPE_ID,
    business_metadata,
    campuses,
    classes,
    colleges,
    departments,
    effective_day,
    hall_accounts,
    majors,
    residential_colleges,
    role_assignments,
    staff,
    student_class_memberships,
    student_statuses,
    students,
)
from workflow_core.directory.sql_directory import SqlDirectory
from workflow_core.errors import BusinessRuleError
from workflow_core.store.db import make_engine

CST_MIDNIGHT_MAR_2 = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 in China
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

# The student who moves from software engineering to finance on 2026-03-02.
MOVER = "U2023000001"
SUSPENDED = "U2023000002"
NO_COUNSELLOR_STUDENT = "U2023000003"
FRESHMAN = "U2025000001"
GRADUATE = "G2024000001"
SE_CLASS = "C-CS-SE-2023-01"
FIN_CLASS = "C-ECON-FIN-2023-01"
ORPHAN_CLASS = "C-CS-SE-2023-03"
MASTER_CLASS = "C-CS-SE-M-2024-01"
FRESHMAN_CLASS = "C-CS-SE-2025-01"


def _grant(
    person: str,
    role: Role,
    scope_type: ScopeType,
    scope_id: str,
    valid_from: date,
    valid_to: date | None = None,
) -> dict[str, object]:
    return {
        "person_id": person,
        "role": role.value,
        "scope_type": scope_type.value,
        "scope_id": scope_id,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


def _staff(person: str, name: str, unit_type: str, unit_id: str, title: str) -> dict[str, object]:
    return {
        "staff_id": person,
        "name": name,
        "gender": "F",
        "unit_type": unit_type,
        "unit_id": unit_id,
        "title": title,
        "phone": "13800000000",
        "hired_on": date(2015, 9, 1),
    }


def _student(student_id: str, name: str, kind: str, degree: str, year: int) -> dict[str, object]:
    return {
        "student_id": student_id,
        "name": name,
        "gender": "M",
        "kind": kind,
        "degree_level": degree,
        "entry_year": year,
        "phone": "13900000000",
        "home_province": "湖北省",
    }


def _class(
    class_id: str, major_id: str, year: int, house: str | None, name: str
) -> dict[str, object]:
    return {
        "class_id": class_id,
        "name_zh": name,
        "major_id": major_id,
        "entry_year": year,
        "campus_id": "EAST",
        "residential_college_id": house,
        "opened_on": date(year, 9, 1),
        "closed_on": None,
    }


def _dated(
    table_key: str, student_id: str, value: str, start: date, end: date | None
) -> dict[str, object]:
    return {"student_id": student_id, table_key: value, "valid_from": start, "valid_to": end}


def seed(engine: Engine) -> None:
    """Two colleges, one 书院, five classes, five students, a dozen staff, two hall accounts."""
    with engine.begin() as conn:
        conn.execute(
            insert(campuses),
            [{"campus_id": "EAST", "name_zh": "东校区", "name_en": "East", "address": "1 号"}],
        )
        conn.execute(
            insert(departments),
            [
                {"department_id": code, "name_zh": text.zh, "name_en": text.en}
                for code, text in DEPARTMENTS.items()
            ],
        )
        conn.execute(
            insert(colleges),
            [
                {
                    "college_id": "CS",
                    "name_zh": "计算机学院",
                    "name_en": "CS",
                    "discipline": "工学",
                    "campus_id": "EAST",
                },
                {
                    "college_id": "ECON",
                    "name_zh": "经济学院",
                    "name_en": "Economics",
                    "discipline": "经济学",
                    "campus_id": "EAST",
                },
            ],
        )
        conn.execute(
            insert(residential_colleges),
            [
                {
                    "residential_college_id": "RC-HONGYI",
                    "name_zh": "弘毅书院",
                    "name_en": "Hongyi",
                    "campus_id": "EAST",
                }
            ],
        )
        conn.execute(
            insert(majors),
            [
                {
                    "major_id": major_id,
                    "college_id": college,
                    "name_zh": zh,
                    "name_en": zh,
                    "degree_level": level,
                    "duration_years": years,
                }
                for major_id, college, zh, level, years in (
                    ("CS-SE", "CS", "软件工程", "bachelor", 4),
                    ("CS-SE-M", "CS", "软件工程", "master", 3),
                    ("ECON-FIN", "ECON", "金融学", "bachelor", 4),
                )
            ],
        )
        conn.execute(
            insert(classes),
            [
                _class(SE_CLASS, "CS-SE", 2023, "RC-HONGYI", "软件工程2023级1班"),
                _class(ORPHAN_CLASS, "CS-SE", 2023, "RC-HONGYI", "软件工程2023级3班"),
                _class(FIN_CLASS, "ECON-FIN", 2023, "RC-HONGYI", "金融学2023级1班"),
                _class(MASTER_CLASS, "CS-SE-M", 2024, None, "软件工程2024级硕士1班"),
                _class(FRESHMAN_CLASS, "CS-SE", 2025, "RC-HONGYI", "软件工程2025级1班"),
            ],
        )
        conn.execute(
            insert(students),
            [
                _student(MOVER, "李明", "undergraduate", "bachelor", 2023),
                _student(SUSPENDED, "王芳", "undergraduate", "bachelor", 2023),
                _student(NO_COUNSELLOR_STUDENT, "张伟", "undergraduate", "bachelor", 2023),
                _student(FRESHMAN, "刘洋", "undergraduate", "bachelor", 2025),
                _student(GRADUATE, "陈静", "graduate", "master", 2024),
            ],
        )
        enrolled, suspended = StudentStatus.ENROLLED.value, StudentStatus.SUSPENDED.value
        conn.execute(
            insert(student_class_memberships),
            [
                _dated("class_id", MOVER, SE_CLASS, date(2023, 9, 1), date(2026, 3, 2)),
                _dated("class_id", MOVER, FIN_CLASS, date(2026, 3, 2), None),
                _dated("class_id", SUSPENDED, SE_CLASS, date(2023, 9, 1), None),
                _dated("class_id", NO_COUNSELLOR_STUDENT, ORPHAN_CLASS, date(2023, 9, 1), None),
                _dated("class_id", FRESHMAN, FRESHMAN_CLASS, date(2025, 9, 1), None),
                _dated("class_id", GRADUATE, MASTER_CLASS, date(2024, 9, 1), None),
            ],
        )
        conn.execute(
            insert(student_statuses),
            [
                {**_dated("status", MOVER, enrolled, date(2023, 9, 1), None), "reason": "入学"},
                {
                    **_dated("status", SUSPENDED, enrolled, date(2023, 9, 1), date(2025, 12, 1)),
                    "reason": "入学",
                },
                {
                    **_dated("status", SUSPENDED, suspended, date(2025, 12, 1), None),
                    "reason": "因病休学",
                },
                {
                    **_dated("status", NO_COUNSELLOR_STUDENT, enrolled, date(2023, 9, 1), None),
                    "reason": "入学",
                },
                {**_dated("status", FRESHMAN, enrolled, date(2025, 9, 1), None), "reason": "入学"},
                {**_dated("status", GRADUATE, enrolled, date(2024, 9, 1), None), "reason": "入学"},
            ],
        )
        conn.execute(
            insert(staff),
            [
                _staff("S00001", "赵敏", "college", "CS", "辅导员"),
                _staff("S00002", "孙磊", "college", "CS", "辅导员"),
                _staff("S00003", "周杰", "college", "ECON", "辅导员"),
                _staff("S00011", "吴霞", "college", "CS", "办公室主任"),
                _staff("S00010", "郑涛", "college", "CS", "教学秘书"),
                _staff("S00012", "冯娟", "college", "ECON", "办公室主任"),
                _staff("S00020", "陈晨", "residential_college", "RC-HONGYI", "办公室主任"),
                _staff("S00030", "杨帆", "department", "security", "处长"),
                _staff("S00031", "黄勇", "department", "security", "副处长"),
                _staff("S00040", "徐丽", "college", "CS", "副院长"),
                _staff("S00041", "马超", "department", "security", "科员"),
                _staff("S00042", "朱琳", "college", "CS", "讲师"),
                _staff("S00050", "胡刚", "department", "leadership", "校长"),
                _staff("S00051", "林燕", "department", "leadership", "党委书记"),
            ],
        )
        long_ago = date(2015, 9, 1)
        handover = date(2026, 1, 15)
        conn.execute(
            insert(role_assignments),
            [
                _grant("S00001", Role.COUNSELLOR, ScopeType.CLASS, SE_CLASS, long_ago, handover),
                _grant("S00002", Role.COUNSELLOR, ScopeType.CLASS, SE_CLASS, handover),
                _grant("S00003", Role.COUNSELLOR, ScopeType.CLASS, MASTER_CLASS, long_ago),
                _grant("S00003", Role.COUNSELLOR, ScopeType.CLASS, FIN_CLASS, long_ago),
                _grant("S00002", Role.COUNSELLOR, ScopeType.CLASS, FRESHMAN_CLASS, long_ago),
                _grant(
                    MOVER, Role.CLASS_MONITOR, ScopeType.CLASS, SE_CLASS, long_ago, date(2026, 3, 2)
                ),
                _grant("S00011", Role.COLLEGE_OFFICE, ScopeType.COLLEGE, "CS", long_ago),
                _grant("S00010", Role.COLLEGE_OFFICE, ScopeType.COLLEGE, "CS", long_ago),
                _grant("S00012", Role.COLLEGE_OFFICE, ScopeType.COLLEGE, "ECON", long_ago),
                _grant(
                    "S00020",
                    Role.RESIDENTIAL_COLLEGE_OFFICE,
                    ScopeType.RESIDENTIAL_COLLEGE,
                    "RC-HONGYI",
                    long_ago,
                ),
                _grant(
                    "S00030", Role.DEPARTMENT_APPROVER, ScopeType.DEPARTMENT, "security", long_ago
                ),
                _grant(
                    "S00031",
                    Role.DEPARTMENT_APPROVER,
                    ScopeType.DEPARTMENT,
                    "security",
                    long_ago,
                    date(2026, 1, 1),
                ),
                _grant("S00040", Role.DEPARTMENT_APPROVER, ScopeType.COLLEGE, "CS", long_ago),
                _grant(
                    "S00051", Role.LEADERSHIP, ScopeType.UNIVERSITY, UNIVERSITY_SCOPE_ID, long_ago
                ),
                _grant(
                    "S00050", Role.LEADERSHIP, ScopeType.UNIVERSITY, UNIVERSITY_SCOPE_ID, long_ago
                ),
            ],
        )
        conn.execute(
            insert(hall_accounts),
            [
                {
                    "account_id": "A000001",
                    "name": "钱进",
                    "kind": "alumni",
                    "phone": "13700000000",
                    "registered_on": date(2024, 7, 10),
                    "former_student_id": None,
                    "graduation_year": 2010,
                },
                {
                    "account_id": "V000001",
                    "name": "孔亮",
                    "kind": "visitor",
                    "phone": "13600000000",
                    "registered_on": date(2025, 10, 1),
                    "former_student_id": None,
                    "graduation_year": None,
                },
            ],
        )


@pytest.fixture
def university(business_db: Engine) -> Engine:
    seed(business_db)
    return business_db


@pytest.fixture
def directory(university: Engine) -> Iterator[SqlDirectory]:
    directory = SqlDirectory(university)
    yield directory
    directory.close()


def at_day(day: date, hour: int = 10) -> datetime:
    """`hour` o'clock in China on `day`, as the UTC moment the event store would record."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)


def rule(kind: AssigneeRuleKind, department: str | None = None) -> AssigneeRule:
    return AssigneeRule(kind, department)


def test_it_satisfies_the_directory_port(directory: SqlDirectory) -> None:
    port: Directory = directory
    assert port.person(MOVER, NOW) is not None


def test_person_kinds_and_student_status_as_of_a_day(directory: SqlDirectory) -> None:
    assert directory.person(MOVER, NOW) == Person(
        MOVER, "李明", Audience.UNDERGRADUATE, StudentStatus.ENROLLED
    )
    assert directory.person(GRADUATE, NOW) == Person(
        GRADUATE, "陈静", Audience.GRADUATE, StudentStatus.ENROLLED
    )
    assert directory.person("S00001", NOW) == Person("S00001", "赵敏", Audience.STAFF)
    assert directory.person("A000001", NOW) == Person("A000001", "钱进", Audience.ALUMNI)
    assert directory.person("V000001", NOW) == Person("V000001", "孔亮", Audience.VISITOR)


def test_suspended_student_status_follows_the_dates(directory: SqlDirectory) -> None:
    before = directory.person(SUSPENDED, at_day(date(2025, 11, 30)))
    after = directory.person(SUSPENDED, at_day(date(2025, 12, 1)))
    assert before is not None and before.status is StudentStatus.ENROLLED
    assert after is not None and after.status is StudentStatus.SUSPENDED
    # Suspension keeps the student on the class roster, where the warehouse shows the exclusion.
    placement = directory.placement(SUSPENDED, NOW)
    assert placement is not None and placement.class_id == SE_CLASS


def test_unknown_people_and_people_outside_the_organisation(directory: SqlDirectory) -> None:
    assert directory.person("NOBODY", NOW) is None
    assert directory.placement("NOBODY", NOW) is None
    assert directory.roles("NOBODY", NOW) == ()
    assert directory.placement("A000001", NOW) is None
    assert directory.placement("V000001", NOW) is None


def test_student_unknown_before_enrolment(directory: SqlDirectory) -> None:
    assert directory.person(FRESHMAN, at_day(date(2025, 8, 31))) is None
    assert directory.placement(FRESHMAN, at_day(date(2025, 8, 31))) is None
    placement = directory.placement(FRESHMAN, at_day(date(2025, 9, 1)))
    assert placement is not None and placement.class_id == FRESHMAN_CLASS


def test_placement_follows_a_class_change(directory: SqlDirectory) -> None:
    before = directory.placement(MOVER, at_day(date(2026, 3, 1)))
    after = directory.placement(MOVER, at_day(date(2026, 3, 2)))
    assert before == Placement(
        person_id=MOVER,
        kind=Audience.UNDERGRADUATE,
        class_id=SE_CLASS,
        grade=2023,
        major_id="CS-SE",
        college_id="CS",
        residential_college_id="RC-HONGYI",
    )
    assert after is not None
    assert (after.class_id, after.major_id, after.college_id) == (FIN_CLASS, "ECON-FIN", "ECON")


def test_the_day_is_the_university_local_day(directory: SqlDirectory) -> None:
    last_second = CST_MIDNIGHT_MAR_2 - timedelta(seconds=1)
    assert effective_day(last_second) == date(2026, 3, 1)
    assert effective_day(CST_MIDNIGHT_MAR_2) == date(2026, 3, 2)
    assert effective_day(datetime(2026, 3, 1, 16, 0)) == date(2026, 3, 2)  # naive means UTC
    before = directory.placement(MOVER, last_second)
    after = directory.placement(MOVER, CST_MIDNIGHT_MAR_2)
    assert before is not None and before.class_id == SE_CLASS
    assert after is not None and after.class_id == FIN_CLASS


def test_staff_placement_names_their_unit(directory: SqlDirectory) -> None:
    assert directory.placement("S00041", NOW) == Placement(
        "S00041", Audience.STAFF, department_id="security"
    )
    assert directory.placement("S00042", NOW) == Placement(
        "S00042", Audience.STAFF, college_id="CS", department_id="CS"
    )
    assert directory.placement("S00020", NOW) == Placement(
        "S00020", Audience.STAFF, residential_college_id="RC-HONGYI", department_id="RC-HONGYI"
    )


def test_roles_are_dated_and_ordered(directory: SqlDirectory) -> None:
    assert directory.roles("S00003", NOW) == (
        RoleGrant(Role.COUNSELLOR, ScopeType.CLASS, MASTER_CLASS),
        RoleGrant(Role.COUNSELLOR, ScopeType.CLASS, FIN_CLASS),
    )
    monitor = RoleGrant(Role.CLASS_MONITOR, ScopeType.CLASS, SE_CLASS)
    assert directory.roles(MOVER, at_day(date(2026, 3, 1))) == (monitor,)
    assert directory.roles(MOVER, at_day(date(2026, 3, 2))) == ()
    assert directory.roles("S00001", at_day(date(2026, 1, 14))) == (
        RoleGrant(Role.COUNSELLOR, ScopeType.CLASS, SE_CLASS),
    )
    assert directory.roles("S00001", at_day(date(2026, 1, 15))) == ()


def test_class_counsellor_follows_a_handover(directory: SqlDirectory) -> None:
    placement = directory.placement(SUSPENDED, NOW)
    assert placement is not None
    counsellor = rule(AssigneeRuleKind.CLASS_COUNSELLOR)
    assert directory.resolve(counsellor, placement, at_day(date(2026, 1, 14))) == Assignment(
        "CS", ("S00001",)
    )
    assert directory.resolve(counsellor, placement, at_day(date(2026, 1, 15))) == Assignment(
        "CS", ("S00002",)
    )


def test_class_counsellor_follows_the_applicants_class_change(directory: SqlDirectory) -> None:
    counsellor = rule(AssigneeRuleKind.CLASS_COUNSELLOR)
    day_before, day_of = at_day(date(2026, 3, 1)), at_day(date(2026, 3, 2))
    before = directory.placement(MOVER, day_before)
    after = directory.placement(MOVER, day_of)
    assert before is not None and after is not None
    assert directory.resolve(counsellor, before, day_before) == Assignment("CS", ("S00002",))
    assert directory.resolve(counsellor, after, day_of) == Assignment("ECON", ("S00003",))


def test_class_without_counsellor_is_refused_naming_it(directory: SqlDirectory) -> None:
    placement = directory.placement(NO_COUNSELLOR_STUDENT, NOW)
    assert placement is not None
    with pytest.raises(BusinessRuleError) as raised:
        directory.resolve(rule(AssigneeRuleKind.CLASS_COUNSELLOR), placement, NOW)
    assert raised.value.message == (
        f"class_counsellor: no counsellor is assigned to class {ORPHAN_CLASS} on 2026-03-02"
    )
    assert raised.value.fields == {"rule": "class_counsellor", "class": ORPHAN_CLASS}


def test_college_office(directory: SqlDirectory) -> None:
    placement = directory.placement(SUSPENDED, NOW)
    assert placement is not None
    assert directory.resolve(rule(AssigneeRuleKind.COLLEGE_OFFICE), placement, NOW) == Assignment(
        "CS", ("S00010", "S00011")
    )


def test_residential_college_office(directory: SqlDirectory) -> None:
    office = rule(AssigneeRuleKind.RESIDENTIAL_COLLEGE_OFFICE)
    undergraduate = directory.placement(SUSPENDED, NOW)
    graduate = directory.placement(GRADUATE, NOW)
    assert undergraduate is not None and graduate is not None
    assert directory.resolve(office, undergraduate, NOW) == Assignment("RC-HONGYI", ("S00020",))
    with pytest.raises(BusinessRuleError, match=f"{GRADUATE} belongs to no residential college"):
        directory.resolve(office, graduate, NOW)


def test_named_department_approvers_are_dated(directory: SqlDirectory) -> None:
    security = rule(AssigneeRuleKind.DEPARTMENT, "security")
    applicant = directory.placement(MOVER, NOW)
    assert applicant is not None
    assert directory.resolve(security, applicant, at_day(date(2025, 12, 31))) == Assignment(
        "security", ("S00030", "S00031")
    )
    assert directory.resolve(security, applicant, NOW) == Assignment("security", ("S00030",))
    with pytest.raises(BusinessRuleError, match=r"no department approver .* department museum"):
        directory.resolve(rule(AssigneeRuleKind.DEPARTMENT, "museum"), applicant, NOW)


def test_applicant_department_for_staff_and_students(directory: SqlDirectory) -> None:
    own = rule(AssigneeRuleKind.APPLICANT_DEPARTMENT)
    office_worker = directory.placement("S00041", NOW)
    lecturer = directory.placement("S00042", NOW)
    student = directory.placement(SUSPENDED, NOW)
    assert office_worker is not None and lecturer is not None and student is not None
    assert directory.resolve(own, office_worker, NOW) == Assignment("security", ("S00030",))
    assert directory.resolve(own, lecturer, NOW) == Assignment("CS", ("S00040",))
    assert directory.resolve(own, student, NOW) == Assignment("CS", ("S00040",))
    residential = directory.placement("S00020", NOW)
    assert residential is not None
    with pytest.raises(BusinessRuleError, match="residential college RC-HONGYI"):
        directory.resolve(own, residential, NOW)


def test_leadership(directory: SqlDirectory) -> None:
    applicant = directory.placement("S00041", NOW)
    assert applicant is not None
    assert directory.resolve(rule(AssigneeRuleKind.LEADERSHIP), applicant, NOW) == Assignment(
        "leadership", ("S00050", "S00051")
    )


def test_rules_needing_an_org_unit_refuse_applicants_without_one(
    directory: SqlDirectory,
) -> None:
    staff_member = directory.placement("S00041", NOW)
    assert staff_member is not None
    with pytest.raises(BusinessRuleError, match="S00041 belongs to no class"):
        directory.resolve(rule(AssigneeRuleKind.CLASS_COUNSELLOR), staff_member, NOW)
    with pytest.raises(BusinessRuleError, match="names no department"):
        directory.resolve(rule(AssigneeRuleKind.DEPARTMENT), staff_member, NOW)


def test_answers_are_cached_until_they_expire(university: Engine) -> None:
    now = [0.0]
    directory = SqlDirectory(university, cache_ttl=30.0, clock=lambda: now[0])
    applicant = directory.placement(SUSPENDED, NOW)
    assert applicant is not None
    office = rule(AssigneeRuleKind.COLLEGE_OFFICE)
    assert directory.resolve(office, applicant, NOW).assignees == ("S00010", "S00011")
    with university.begin() as conn:
        conn.execute(
            insert(role_assignments),
            [_grant("S00042", Role.COLLEGE_OFFICE, ScopeType.COLLEGE, "CS", date(2026, 3, 1))],
        )
    assert directory.resolve(office, applicant, NOW).assignees == ("S00010", "S00011")
    now[0] = 31.0
    assert directory.resolve(office, applicant, NOW).assignees == ("S00010", "S00011", "S00042")
    directory.close()


def test_cache_is_bounded(university: Engine) -> None:
    directory = SqlDirectory(university, cache_size=3)
    for person in ("S00001", "S00002", "S00003", "S00010", "S00011"):
        directory.person(person, NOW)
    assert len(directory._cache) == 3
    directory.clear_cache()
    assert len(directory._cache) == 0
    directory.close()


def test_concurrent_callers_get_the_same_answers(directory: SqlDirectory) -> None:
    expected = {
        person: (directory.person(person, NOW), directory.placement(person, NOW))
        for person in (MOVER, SUSPENDED, GRADUATE, "S00041", "S00042", "A000001")
    }
    directory.clear_cache()
    failures: list[str] = []

    def worker(offset: int) -> None:
        people = list(expected)
        for step in range(200):
            person = people[(offset + step) % len(people)]
            answer = (directory.person(person, NOW), directory.placement(person, NOW))
            if answer != expected[person]:
                failures.append(f"{person}: {answer}")
            if step % 50 == 0:
                directory.clear_cache()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_cached_resolution_is_fast(directory: SqlDirectory) -> None:
    applicant = directory.placement(SUSPENDED, NOW)
    assert applicant is not None
    counsellor = rule(AssigneeRuleKind.CLASS_COUNSELLOR)
    started = time.perf_counter()
    for _ in range(10_000):
        directory.placement(SUSPENDED, NOW)
        directory.resolve(counsellor, applicant, NOW)
    # 20,000 calls; the engine needs ≥ 2,000 a second, cached answers give far more.
    assert time.perf_counter() - started < 2.0


def test_reads_do_not_wait_for_a_writer(tmp_path_factory: pytest.TempPathFactory) -> None:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('locked') / 'business.db'}")
    business_metadata.create_all(engine)
    seed(engine)
    directory = SqlDirectory(engine, cache_size=0)
    try:
        with engine.begin() as conn:  # BEGIN IMMEDIATE: holds SQLite's write lock
            conn.execute(
                insert(hall_accounts),
                [
                    {
                        "account_id": "V000002",
                        "name": "严宁",
                        "kind": "visitor",
                        "phone": "13500000000",
                        "registered_on": date(2026, 3, 1),
                    }
                ],
            )
            started = time.perf_counter()
            assert directory.person(MOVER, NOW) is not None
            assert directory.person("V000002", NOW) is None  # not committed yet
            assert time.perf_counter() - started < 1.0
        assert directory.person("V000002", NOW) is not None
    finally:
        directory.close()
        engine.dispose()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(moment=st.datetimes(min_value=datetime(2025, 9, 1), max_value=datetime(2026, 9, 1)))
def test_placement_matches_the_membership_in_effect(
    directory: SqlDirectory, moment: datetime
) -> None:
    at = moment.replace(tzinfo=UTC)
    placement = directory.placement(MOVER, at)
    assert placement is not None
    expected = SE_CLASS if effective_day(at) < date(2026, 3, 2) else FIN_CLASS
    assert placement.class_id == expected


@pytest.mark.postgres
def test_survives_the_server_dropping_its_connections(pg_schema_url: str) -> None:
    application = f"directory_test_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_schema_url).update_query_dict({"application_name": application})
    engine = make_engine(url.render_as_string(hide_password=False))
    business_metadata.create_all(engine)
    seed(engine)
    directory = SqlDirectory(engine, cache_size=0)
    try:
        assert directory.person(MOVER, NOW) is not None  # leaves an idle connection behind
        with engine.connect() as conn:
            dropped = conn.execute(
                text(
                    "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                    "where application_name = :name and pid <> pg_backend_pid()"
                ),
                {"name": application},
            ).scalar_one()
        assert dropped >= 1
        assert directory.person(MOVER, NOW) is not None
    finally:
        directory.close()
        engine.dispose()
