"""Personas: real people of the generated university to log in as, one short list per role.

The demo's `dev` authentication offers these, and tests act as them. Each is read from the live
business-systems data as of a moment, so every id exists and holds the role on that day. The
first counsellor, the first class monitor, the first student and the first college-office persona
belong together (one class, its monitor, its counsellor, its college), so a demo can follow one
story through every level; the others are spread across colleges. Picks are deterministic.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, Engine, and_, or_, select

from workflow_core.directory.departments import DEPARTMENTS
from workflow_core.directory.port import Role, ScopeType, StudentStatus
from workflow_core.directory.schema import (
    classes,
    colleges,
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

PER_ROLE: Final = 3
PERSONA_ROLES: Final[tuple[str, ...]] = (
    "student",
    "class_monitor",
    "counsellor",
    "college_office",
    "residential_college_office",
    "student_affairs",
    "graduate_school",
    "department_approver",
    "leadership",
    "data_staff",
    "staff",
    "alumni",
    "visitor",
)
SELF_SCOPE: Final = "self"  # a persona without a role sees only their own affairs

T = TypeVar("T")


@dataclass(frozen=True)
class _Staff:
    staff_id: str
    name: str
    title: str
    unit_type: str
    unit_id: str


@dataclass(frozen=True)
class _ClassInfo:
    class_id: str
    name: str
    college_id: str
    residential_college_id: str | None
    degree_level: str


def write_personas(engine: Engine, path: Path, at: date | datetime) -> dict[str, Any]:
    """Write the personas as of `at` to `path` as JSON, atomically; return the document."""
    document = build_personas(engine, at)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, ensure_ascii=False, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return document


def build_personas(engine: Engine, at: date | datetime) -> dict[str, Any]:
    """The personas document: `{"generated_at", "as_of", "personas": {role: [persona, …]}}`."""
    day = effective_day(at)
    with engine.connect() as conn:
        picker = _Picker(conn, day)
        personas = picker.pick()
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "as_of": day.isoformat(),
        "personas": personas,
    }


def _in_effect(table: Any, day: date) -> Any:
    return and_(table.c.valid_from <= day, or_(table.c.valid_to.is_(None), table.c.valid_to > day))


def _spread(items: Sequence[T], count: int, exclude: Iterable[T] = ()) -> list[T]:
    """`count` items spread evenly over `items` (first, a third in, two thirds in, …)."""
    skip = set(exclude)
    pool = [item for item in items if item not in skip]
    if len(pool) <= count:
        return pool
    return [pool[index * len(pool) // count] for index in range(count)]


class _Picker:
    def __init__(self, conn: Connection, day: date) -> None:
        self.day = day
        self.college_names: dict[str, str] = {
            college_id: name
            for college_id, name in conn.execute(select(colleges.c.college_id, colleges.c.name_zh))
        }
        houses = residential_colleges
        self.residential_names: dict[str, str] = {
            house_id: name
            for house_id, name in conn.execute(
                select(houses.c.residential_college_id, houses.c.name_zh)
            )
        }
        self.classes = {
            row.class_id: _ClassInfo(
                row.class_id,
                row.name_zh,
                row.college_id,
                row.residential_college_id,
                row.degree_level,
            )
            for row in conn.execute(
                select(
                    classes.c.class_id,
                    classes.c.name_zh,
                    majors.c.college_id,
                    classes.c.residential_college_id,
                    majors.c.degree_level,
                ).join(majors, majors.c.major_id == classes.c.major_id)
            )
        }
        self.staff = {
            row.staff_id: _Staff(row.staff_id, row.name, row.title, row.unit_type, row.unit_id)
            for row in conn.execute(
                select(
                    staff.c.staff_id,
                    staff.c.name,
                    staff.c.title,
                    staff.c.unit_type,
                    staff.c.unit_id,
                ).order_by(staff.c.staff_id)
            )
        }
        # role → person → scope ids, each in id order.
        self.grants: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.scope_types: dict[tuple[str, str], str] = {}
        grants = role_assignments
        for person_id, role, scope_type, scope_id in conn.execute(
            select(grants.c.person_id, grants.c.role, grants.c.scope_type, grants.c.scope_id)
            .where(_in_effect(grants, day))
            .distinct()
            .order_by(grants.c.person_id, grants.c.role, grants.c.scope_id)
        ):
            self.grants[role][person_id].append(scope_id)
            self.scope_types[(role, person_id)] = scope_type
        self.monitor_of = {
            scopes[0]: person for person, scopes in self.grants[Role.CLASS_MONITOR.value].items()
        }
        membership, status = student_class_memberships, student_statuses
        self.enrolled: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        self.student_names: dict[str, tuple[str, str]] = {}
        for student_id, name, kind, class_id in conn.execute(
            select(students.c.student_id, students.c.name, students.c.kind, membership.c.class_id)
            .join(membership, membership.c.student_id == students.c.student_id)
            .join(status, status.c.student_id == students.c.student_id)
            .where(
                _in_effect(membership, day),
                _in_effect(status, day),
                status.c.status == StudentStatus.ENROLLED.value,
            )
            .order_by(students.c.student_id)
        ):
            self.enrolled[class_id].append((student_id, name, kind))
            self.student_names[student_id] = (name, kind)
        self.accounts: dict[str, list[tuple[str, str, int | None]]] = defaultdict(list)
        for account_id, name, kind, graduation_year in conn.execute(
            select(
                hall_accounts.c.account_id,
                hall_accounts.c.name,
                hall_accounts.c.kind,
                hall_accounts.c.graduation_year,
            ).order_by(hall_accounts.c.account_id)
        ):
            self.accounts[kind].append((account_id, name, graduation_year))

    def pick(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        counsellors = self._counsellors()
        story_classes = [self.grants[Role.COUNSELLOR.value][c][0] for c in counsellors]
        out["counsellor"] = [self._counsellor(person) for person in counsellors]
        out["class_monitor"] = [
            self._role_persona(
                self.monitor_of[class_id],
                Role.CLASS_MONITOR,
                f"{self.classes[class_id].name}班长 (class monitor)",
            )
            for class_id in story_classes
            if class_id in self.monitor_of
        ]
        out["student"] = self._students(story_classes)
        story_colleges = list(dict.fromkeys(self.classes[c].college_id for c in story_classes))
        out["college_office"] = self._unit_personas(
            Role.COLLEGE_OFFICE, story_colleges, self.college_names
        )
        story_houses = [
            self.classes[c].residential_college_id
            for c in story_classes
            if self.classes[c].residential_college_id is not None
        ]
        out["residential_college_office"] = self._unit_personas(
            Role.RESIDENTIAL_COLLEGE_OFFICE,
            [house for house in dict.fromkeys(story_houses) if house is not None],
            self.residential_names,
        )
        for role, unit in (
            (Role.STUDENT_AFFAIRS, DEPARTMENTS["student_affairs"].zh),
            (Role.GRADUATE_SCHOOL, DEPARTMENTS["graduate_school"].zh),
            (Role.DATA_STAFF, DEPARTMENTS["it_center"].zh),
            (Role.LEADERSHIP, DEPARTMENTS["leadership"].zh),
        ):
            holders = _spread(sorted(self.grants[role.value]), PER_ROLE)
            out[role.value] = [
                self._role_persona(person, role, _unit_title(unit, self.staff[person].title))
                for person in holders
            ]
        out["department_approver"] = self._department_approvers()
        out["staff"] = self._plain_staff()
        out["alumni"] = [
            _persona(
                account_id,
                name,
                "alumni",
                "alumni",
                {"type": SELF_SCOPE, "ids": [account_id]},
                f"校友（{year}届）(alumnus)" if year else "校友 (alumnus)",
            )
            for account_id, name, year in _spread(self.accounts["alumni"], PER_ROLE)
        ]
        out["visitor"] = [
            _persona(
                account_id,
                name,
                "visitor",
                "visitor",
                {"type": SELF_SCOPE, "ids": [account_id]},
                "校外访客 (visitor)",
            )
            for account_id, name, _ in _spread(self.accounts["visitor"], PER_ROLE)
        ]
        return {role: out[role] for role in PERSONA_ROLES}

    def _counsellors(self) -> list[str]:
        """Two counsellors of undergraduate classes and one of graduate classes."""
        undergraduate: list[str] = []
        graduate: list[str] = []
        for person, scopes in sorted(self.grants[Role.COUNSELLOR.value].items()):
            levels = {self.classes[class_id].degree_level for class_id in scopes}
            (undergraduate if levels == {"bachelor"} else graduate).append(person)
        picks = _spread(undergraduate, PER_ROLE - 1) + _spread(graduate, 1)
        return picks + _spread(undergraduate, PER_ROLE - len(picks), exclude=picks)

    def _counsellor(self, person: str) -> dict[str, Any]:
        scopes = self.grants[Role.COUNSELLOR.value][person]
        college = self.college_names.get(self.staff[person].unit_id, "")
        return self._role_persona(
            person,
            Role.COUNSELLOR,
            f"{college}{self.staff[person].title}，负责 {len(scopes)} 个班级 "
            f"(counsellor of {len(scopes)} classes)",
        )

    def _students(self, story_classes: list[str]) -> list[dict[str, Any]]:
        monitors = set(self.monitor_of.values())
        picks: list[dict[str, Any]] = []
        for class_id in story_classes:
            info = self.classes[class_id]
            for student_id, name, kind in self.enrolled[class_id]:
                if student_id in monitors:
                    continue
                level = "本科生" if kind == "undergraduate" else "研究生"
                picks.append(
                    _persona(
                        student_id,
                        name,
                        "student",
                        kind,
                        {"type": SELF_SCOPE, "ids": [student_id]},
                        f"{info.name}{level}，{self.college_names[info.college_id]} ({kind})",
                    )
                )
                break
        return picks[:PER_ROLE]

    def _unit_personas(
        self, role: Role, story_units: list[str], unit_names: dict[str, str]
    ) -> list[dict[str, Any]]:
        by_unit: dict[str, str] = {}
        for person, scopes in sorted(self.grants[role.value].items()):
            by_unit.setdefault(scopes[0], person)
        units = story_units + _spread(
            sorted(by_unit), PER_ROLE - len(story_units), exclude=story_units
        )
        return [
            self._role_persona(
                by_unit[unit], role, f"{unit_names[unit]}{self.staff[by_unit[unit]].title}"
            )
            for unit in units[:PER_ROLE]
            if unit in by_unit
        ]

    def _department_approvers(self) -> list[dict[str, Any]]:
        role = Role.DEPARTMENT_APPROVER
        by_department: dict[str, str] = {}
        for person, scopes in sorted(self.grants[role.value].items()):
            if self.scope_types[(role.value, person)] == ScopeType.DEPARTMENT.value:
                by_department.setdefault(scopes[0], person)
        # The departments that most services pass through come first in a demo.
        preferred = ("student_affairs", "it_center", "security")
        ordered = [c for c in preferred if c in by_department] + [
            c for c in DEPARTMENTS if c in by_department and c not in preferred
        ]
        return [
            self._role_persona(
                by_department[code],
                role,
                f"{DEPARTMENTS[code].zh}{self.staff[by_department[code]].title} (approver)",
            )
            for code in ordered[:PER_ROLE]
        ]

    def _plain_staff(self) -> list[dict[str, Any]]:
        """Teaching staff without any role: applicants of the staff services."""
        with_roles = {person for holders in self.grants.values() for person in holders}
        faculty = [
            member
            for member in self.staff.values()
            if member.unit_type == ScopeType.COLLEGE.value and member.staff_id not in with_roles
        ]
        return [
            _persona(
                member.staff_id,
                member.name,
                "staff",
                "staff",
                {"type": SELF_SCOPE, "ids": [member.staff_id]},
                f"{self.college_names.get(member.unit_id, '')}{member.title} (staff)",
            )
            for member in _spread(faculty, PER_ROLE)
        ]

    def _role_persona(self, person: str, role: Role, description: str) -> dict[str, Any]:
        scope_type = self.scope_types[(role.value, person)]
        member = self.staff.get(person)
        if member is not None:
            name, kind = member.name, "staff"
        else:
            name, kind = self.student_names[person]
        return _persona(
            person,
            name,
            role.value,
            kind,
            {"type": scope_type, "ids": list(self.grants[role.value][person])},
            description,
        )


def _unit_title(unit: str, title: str) -> str:
    # 校领导 is a body, not an office: "副校长（校领导）" reads right, "校领导副校长" does not.
    return f"{title}（{unit}）" if unit == DEPARTMENTS["leadership"].zh else f"{unit}{title}"


def _persona(
    user_id: str, name: str, role: str, kind: str, scope: dict[str, Any], description: str
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "name": name,
        "role": role,
        "kind": kind,
        "scope": scope,
        "description": description,
    }
