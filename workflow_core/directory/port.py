"""The `Directory` port: what the workflow core asks of the university's business systems.

The engine never stores who belongs where; it asks the student information and HR systems, as
of a moment, who a person is, where they sit in the organisation, which roles they hold, and
who must decide a node for a given applicant (assignee resolution).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from workflow_core.catalog.model import AssigneeRule, Audience


class Role(StrEnum):
    """Roles a person can hold, each over a scope (a class, a college, a department, …)."""

    CLASS_MONITOR = "class_monitor"  # 班长 → scope: class
    COUNSELLOR = "counsellor"  # 辅导员 → scope: class (one grant per class)
    COLLEGE_OFFICE = "college_office"  # 学院办公室 → scope: college
    RESIDENTIAL_COLLEGE_OFFICE = "residential_college_office"  # 书院办公室 → scope: 书院
    STUDENT_AFFAIRS = "student_affairs"  # 学工部 → scope: university
    GRADUATE_SCHOOL = "graduate_school"  # 研究生院 → scope: university (graduates)
    DEPARTMENT_APPROVER = "department_approver"  # → scope: department
    LEADERSHIP = "leadership"  # 校领导 / 两办 → scope: university
    DATA_STAFF = "data_staff"  # 网信中心数据人员 → scope: university


class ScopeType(StrEnum):
    CLASS = "class"
    COLLEGE = "college"
    RESIDENTIAL_COLLEGE = "residential_college"
    DEPARTMENT = "department"
    UNIVERSITY = "university"


class StudentStatus(StrEnum):
    ENROLLED = "在读"
    SUSPENDED = "休学"
    LEFT = "已离校"


@dataclass(frozen=True)
class Person:
    """A person the hall knows, as of a moment."""

    person_id: str
    name: str
    kind: Audience
    status: StudentStatus | None = None  # students only


@dataclass(frozen=True)
class Placement:
    """Where a person sits in the organisation at a moment (effective-dated in the sources)."""

    person_id: str
    kind: Audience
    class_id: str | None = None
    grade: int | None = None
    major_id: str | None = None
    college_id: str | None = None
    residential_college_id: str | None = None
    department_id: str | None = None  # staff: their department (a college or an office)


@dataclass(frozen=True)
class RoleGrant:
    role: Role
    scope_type: ScopeType
    scope_id: str


@dataclass(frozen=True)
class Assignment:
    """Who decides a node for one applicant, and for which department they act."""

    department_id: str
    assignees: tuple[str, ...]


class Directory(Protocol):
    """Read access to the business systems, always as of a moment."""

    def person(self, person_id: str, at: datetime) -> Person | None:
        """The person, or None when the directory does not know them."""
        ...

    def placement(self, person_id: str, at: datetime) -> Placement | None:
        """Where the person sits at `at`; None for people outside the organisation."""
        ...

    def roles(self, person_id: str, at: datetime) -> tuple[RoleGrant, ...]:
        """The roles the person holds at `at`."""
        ...

    def resolve(self, rule: AssigneeRule, applicant: Placement, at: datetime) -> Assignment:
        """Who decides a node with `rule` for `applicant` at `at`.

        Raises `BusinessRuleError` naming the rule and the organisation unit when nobody holds
        the role (e.g. a class without a counsellor), so a submission is refused, not stranded.
        """
        ...
