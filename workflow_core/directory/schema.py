"""The business-systems database: the university's student information system and HR, as tables.

This is a separate database from the event store. The simulator writes it, `SqlDirectory` reads
it for the workflow engine, and the pipelines copy its tables into the warehouse, so every table
is plain: string ids, dates, short code values, no database-specific types.

Effective dating. Everything that changes over time carries `valid_from` (inclusive) and
`valid_to` (exclusive; NULL while open) as calendar **dates** in the university's time zone
(China Standard Time, UTC+8, no daylight saving). A change "on 2026-03-02" holds from 00:00 local
time that day. Business systems record these changes by day, and the warehouse joins rosters to
campaign deadlines by day, so dates (not timestamps) are the honest grain. `effective_day` maps a
moment to the day it falls on; a naive datetime is taken as UTC, the event store's convention.

Code values: `students.kind` and `hall_accounts.kind` are `Audience` values; `degree_level` is
bachelor | master | doctor; `student_statuses.status` holds `StudentStatus` values (在读, 休学,
已离校); `role_assignments.role` / `scope_type` hold `Role` / `ScopeType` values, and a
university-wide grant has scope id `UNIVERSITY_SCOPE_ID`. `staff.unit_type` says which table
`staff.unit_id` points into (department, college, residential_college).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
)

CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
UNIVERSITY_SCOPE_ID: Final = "university"

DEGREE_LEVELS: Final[tuple[str, ...]] = ("bachelor", "master", "doctor")
STUDENT_KINDS: Final[tuple[str, ...]] = ("undergraduate", "graduate")
ACCOUNT_KINDS: Final[tuple[str, ...]] = ("alumni", "visitor")
STAFF_UNIT_TYPES: Final[tuple[str, ...]] = ("department", "college", "residential_college")
STATUS_VALUES: Final[tuple[str, ...]] = ("在读", "休学", "已离校")
GENDERS: Final[tuple[str, ...]] = ("M", "F")


def effective_day(at: date | datetime) -> date:
    """The university-local calendar day that effective-dated rows are compared against."""
    if not isinstance(at, datetime):
        return at
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(CHINA_STANDARD_TIME).date()


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} in ({quoted})"


_DATED = "valid_to is null or valid_to > valid_from"

business_metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

campuses = Table(
    "campuses",
    business_metadata,
    Column("campus_id", String(32), primary_key=True),
    Column("name_zh", String(64), nullable=False),
    Column("name_en", String(128), nullable=False),
    Column("address", String(256), nullable=False),
)

departments = Table(
    "departments",
    business_metadata,
    Column("department_id", String(32), primary_key=True),
    Column("name_zh", String(64), nullable=False),
    Column("name_en", String(128), nullable=False),
)

colleges = Table(
    "colleges",
    business_metadata,
    Column("college_id", String(32), primary_key=True),
    Column("name_zh", String(64), nullable=False),
    Column("name_en", String(128), nullable=False),
    Column("discipline", String(32), nullable=False),  # 学科门类: 工学, 文学, …
    Column("campus_id", String(32), ForeignKey("campuses.campus_id"), nullable=False),
)

residential_colleges = Table(
    "residential_colleges",
    business_metadata,
    Column("residential_college_id", String(32), primary_key=True),
    Column("name_zh", String(64), nullable=False),
    Column("name_en", String(128), nullable=False),
    Column("campus_id", String(32), ForeignKey("campuses.campus_id"), nullable=False),
)

majors = Table(
    "majors",
    business_metadata,
    Column("major_id", String(32), primary_key=True),
    Column("college_id", String(32), ForeignKey("colleges.college_id"), nullable=False),
    Column("name_zh", String(64), nullable=False),
    Column("name_en", String(128), nullable=False),
    Column("degree_level", String(16), nullable=False),
    Column("duration_years", SmallInteger, nullable=False),
    CheckConstraint(_one_of("degree_level", DEGREE_LEVELS), name="degree_level"),
    Index(None, "college_id"),
)

classes = Table(
    "classes",
    business_metadata,
    Column("class_id", String(48), primary_key=True),
    Column("name_zh", String(96), nullable=False),
    Column("major_id", String(32), ForeignKey("majors.major_id"), nullable=False),
    Column("entry_year", SmallInteger, nullable=False),  # the grade (年级): 2023 → 2023级
    Column("campus_id", String(32), ForeignKey("campuses.campus_id"), nullable=False),
    # 书院 house undergraduates only; graduate classes have none.
    Column(
        "residential_college_id",
        String(32),
        ForeignKey("residential_colleges.residential_college_id"),
        nullable=True,
    ),
    Column("opened_on", Date, nullable=False),
    Column("closed_on", Date, nullable=True),  # graduation; NULL while the class runs
    CheckConstraint("closed_on is null or closed_on > opened_on", name="dates"),
    Index(None, "major_id", "entry_year"),
)

students = Table(
    "students",
    business_metadata,
    Column("student_id", String(16), primary_key=True),
    Column("name", String(32), nullable=False),
    Column("gender", String(1), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("degree_level", String(16), nullable=False),
    Column("entry_year", SmallInteger, nullable=False),
    Column("phone", String(16), nullable=False),
    Column("home_province", String(16), nullable=False),
    CheckConstraint(_one_of("kind", STUDENT_KINDS), name="kind"),
    CheckConstraint(_one_of("degree_level", DEGREE_LEVELS), name="degree_level"),
    CheckConstraint(_one_of("gender", GENDERS), name="gender"),
)

student_class_memberships = Table(
    "student_class_memberships",
    business_metadata,
    Column("membership_id", Integer, primary_key=True, autoincrement=True),
    Column("student_id", String(16), ForeignKey("students.student_id"), nullable=False),
    Column("class_id", String(48), ForeignKey("classes.class_id"), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    CheckConstraint(_DATED, name="dates"),
    Index(None, "student_id", "valid_from"),
    Index(None, "class_id", "valid_from"),
)

student_statuses = Table(
    "student_statuses",
    business_metadata,
    Column("status_id", Integer, primary_key=True, autoincrement=True),
    Column("student_id", String(16), ForeignKey("students.student_id"), nullable=False),
    Column("status", String(8), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("reason", String(64), nullable=True),  # 入学, 因病休学, 复学, 毕业, 退学, …
    CheckConstraint(_one_of("status", STATUS_VALUES), name="status"),
    CheckConstraint(_DATED, name="dates"),
    Index(None, "student_id", "valid_from"),
)

staff = Table(
    "staff",
    business_metadata,
    Column("staff_id", String(16), primary_key=True),
    Column("name", String(32), nullable=False),
    Column("gender", String(1), nullable=False),
    Column("unit_type", String(24), nullable=False),
    Column("unit_id", String(32), nullable=False),
    Column("title", String(64), nullable=False),  # 职务: 辅导员, 办公室主任, 副校长, …
    Column("phone", String(16), nullable=False),
    Column("hired_on", Date, nullable=False),
    CheckConstraint(_one_of("unit_type", STAFF_UNIT_TYPES), name="unit_type"),
    CheckConstraint(_one_of("gender", GENDERS), name="gender"),
    Index(None, "unit_type", "unit_id"),
)

hall_accounts = Table(
    "hall_accounts",
    business_metadata,
    Column("account_id", String(16), primary_key=True),
    Column("name", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("phone", String(16), nullable=False),
    Column("registered_on", Date, nullable=False),
    # An alumni account of someone who studied here within the records we keep.
    Column("former_student_id", String(16), ForeignKey("students.student_id"), nullable=True),
    Column("graduation_year", SmallInteger, nullable=True),  # alumni only
    CheckConstraint(_one_of("kind", ACCOUNT_KINDS), name="kind"),
)

role_assignments = Table(
    "role_assignments",
    business_metadata,
    Column("assignment_id", Integer, primary_key=True, autoincrement=True),
    # A student (class monitor) or a staff member; no foreign key because it may be either.
    Column("person_id", String(16), nullable=False),
    Column("role", String(32), nullable=False),
    Column("scope_type", String(24), nullable=False),
    Column("scope_id", String(48), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    CheckConstraint(_DATED, name="dates"),
    Index(None, "person_id", "valid_from"),
    Index(None, "role", "scope_type", "scope_id", "valid_from"),
)

# Parents before children: the order to create or fill, reversed to empty.
BUSINESS_TABLES: Final[tuple[Table, ...]] = (
    campuses,
    departments,
    colleges,
    residential_colleges,
    majors,
    classes,
    students,
    student_class_memberships,
    student_statuses,
    staff,
    hall_accounts,
    role_assignments,
)
