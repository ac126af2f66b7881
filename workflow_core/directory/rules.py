"""Assignee rules read against an applicant's placement, shared by every `Directory` adapter.

Adapters differ only in how they find who holds a role over a unit on a day; which role and unit a
rule asks for, and how a refusal is worded, must not differ between them, or the same submission
would be accepted by one directory and refused by another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from workflow_core.catalog.model import AssigneeRule, AssigneeRuleKind, Audience
from workflow_core.directory.port import Placement, Role, ScopeType
from workflow_core.directory.schema import UNIVERSITY_SCOPE_ID
from workflow_core.errors import BusinessRuleError

LEADERSHIP_DEPARTMENT: Final = "leadership"


@dataclass(frozen=True)
class Target:
    """The grants a rule looks for: role over one scope, plus how to name it when empty."""

    role: Role
    scope_type: ScopeType
    scope_id: str
    department_id: str
    who: str  # "counsellor", "college office staff", … for the error message


def target_of(rule: AssigneeRule, applicant: Placement, day: date) -> Target:
    """The role and unit that `rule` asks for, for `applicant` on `day`.

    Raises `BusinessRuleError` when the applicant belongs to no unit the rule needs.
    """
    kind = rule.kind
    if kind is AssigneeRuleKind.CLASS_COUNSELLOR:
        class_id = required(rule, applicant, applicant.class_id, "class", day)
        college_id = required(rule, applicant, applicant.college_id, "college", day)
        return Target(Role.COUNSELLOR, ScopeType.CLASS, class_id, college_id, "counsellor")
    if kind is AssigneeRuleKind.COLLEGE_OFFICE:
        college_id = required(rule, applicant, applicant.college_id, "college", day)
        return Target(
            Role.COLLEGE_OFFICE, ScopeType.COLLEGE, college_id, college_id, "college office staff"
        )
    if kind is AssigneeRuleKind.RESIDENTIAL_COLLEGE_OFFICE:
        rc_id = required(
            rule, applicant, applicant.residential_college_id, "residential college", day
        )
        return Target(
            Role.RESIDENTIAL_COLLEGE_OFFICE,
            ScopeType.RESIDENTIAL_COLLEGE,
            rc_id,
            rc_id,
            "residential college office staff",
        )
    if kind is AssigneeRuleKind.DEPARTMENT:
        if not rule.department:
            raise BusinessRuleError(
                f"{kind.value}: the rule names no department", {"rule": kind.value}
            )
        return Target(
            Role.DEPARTMENT_APPROVER,
            ScopeType.DEPARTMENT,
            rule.department,
            rule.department,
            "department approver",
        )
    if kind is AssigneeRuleKind.APPLICANT_DEPARTMENT:
        # Staff belong to a department, a college or a 书院; a student applicant falls back to
        # their college, whose approvers act for its students' staff-like requests.
        unit = applicant.department_id or applicant.college_id
        unit_id = required(rule, applicant, unit, "department", day)
        if unit_id == applicant.college_id:
            scope_type = ScopeType.COLLEGE
        elif unit_id == applicant.residential_college_id:
            scope_type = ScopeType.RESIDENTIAL_COLLEGE
        else:
            scope_type = ScopeType.DEPARTMENT
        return Target(Role.DEPARTMENT_APPROVER, scope_type, unit_id, unit_id, "department approver")
    if kind is AssigneeRuleKind.LEADERSHIP:
        return Target(
            Role.LEADERSHIP,
            ScopeType.UNIVERSITY,
            UNIVERSITY_SCOPE_ID,
            LEADERSHIP_DEPARTMENT,
            "university leader",
        )
    raise BusinessRuleError(f"{kind.value}: unsupported assignee rule", {"rule": kind.value})


def required(
    rule: AssigneeRule, applicant: Placement, value: str | None, unit: str, day: date
) -> str:
    """`value`, or a refusal naming the unit the applicant lacks."""
    if value:
        return value
    raise BusinessRuleError(
        f"{rule.kind.value}: applicant {applicant.person_id} belongs to no {unit} "
        f"on {day.isoformat()}",
        {"rule": rule.kind.value, "applicant": applicant.person_id},
    )


def nobody_holds(rule: AssigneeRule, target: Target, day: date) -> BusinessRuleError:
    """The refusal when nobody holds the role a rule needs, so the submission is not stranded."""
    return BusinessRuleError(
        f"{rule.kind.value}: no {target.who} is assigned to "
        f"{unit_phrase(target.scope_type, target.scope_id)} on {day.isoformat()}",
        {"rule": rule.kind.value, target.scope_type.value: target.scope_id},
    )


def unit_phrase(scope_type: ScopeType, scope_id: str) -> str:
    """How an error message names a unit: "class C-…", "the university", …"""
    if scope_type is ScopeType.UNIVERSITY:
        return "the university"
    if scope_type is ScopeType.RESIDENTIAL_COLLEGE:
        return f"residential college {scope_id}"
    return f"{scope_type.value} {scope_id}"


def staff_placement(staff_id: str, unit_type: str, unit_id: str) -> Placement:
    """A staff member's placement: their unit, also as college or 书院 when it is one.

    The rules above read these fields (APPLICANT_DEPARTMENT picks the scope by which one matches),
    so every directory must fill them alike.
    """
    return Placement(
        person_id=staff_id,
        kind=Audience.STAFF,
        college_id=unit_id if unit_type == ScopeType.COLLEGE.value else None,
        residential_college_id=(
            unit_id if unit_type == ScopeType.RESIDENTIAL_COLLEGE.value else None
        ),
        department_id=unit_id,
    )
