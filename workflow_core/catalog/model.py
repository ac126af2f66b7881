"""Process definitions: the services of the hall as data (流程定义), apart from running instances.

A process is a form and a sequence of steps. A step is one node, or a parallel group of nodes
that must all approve before the instance moves on. Each node names the department that acts,
the rule that resolves its assignees from the applicant's organisation, an optional condition on
the form, and its target time (SLA) in working hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Audience(StrEnum):
    """Who may submit: the hall serves these kinds of people."""

    UNDERGRADUATE = "undergraduate"
    GRADUATE = "graduate"
    STAFF = "staff"
    ALUMNI = "alumni"
    VISITOR = "visitor"


class FieldType(StrEnum):
    """Types a form field may have; the API reports them in the process definition."""

    TEXT = "text"
    TEXTAREA = "textarea"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    PHONE = "phone"
    EMAIL = "email"
    PROVINCE = "province"


class AssigneeRuleKind(StrEnum):
    """How a node finds the people who must decide it, from the applicant's organisation."""

    CLASS_COUNSELLOR = "class_counsellor"  # 辅导员 of the applicant's class
    COLLEGE_OFFICE = "college_office"  # 学院办公室 of the applicant's college
    RESIDENTIAL_COLLEGE_OFFICE = "residential_college_office"  # 书院办公室
    DEPARTMENT = "department"  # approvers of a named department (宣传部, 保卫处, …)
    APPLICANT_DEPARTMENT = "applicant_department"  # approvers of the staff applicant's department
    LEADERSHIP = "leadership"  # 校领导


@dataclass(frozen=True)
class Text:
    """A label in Chinese, with its English for the switch."""

    zh: str
    en: str


@dataclass(frozen=True)
class FormField:
    """One field of a service's form."""

    name: str
    label: Text
    type: FieldType
    required: bool = True
    options: tuple[str, ...] = ()
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    help: str | None = None
    # Required only when another field has a given value (destination only when leaving).
    required_when: Condition | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": {"zh": self.label.zh, "en": self.label.en},
            "type": self.type.value,
            "required": self.required,
        }
        if self.options:
            out["options"] = list(self.options)
        if self.max_length is not None:
            out["max_length"] = self.max_length
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.help:
            out["help"] = self.help
        if self.required_when is not None:
            out["required_when"] = self.required_when.as_dict()
        return out


@dataclass(frozen=True)
class FormRule:
    """A cross-field ordering rule: `field` must come after `other` (or not before it).

    Both fields are dates or datetimes; the rule is checked only when both are filled in.
    """

    field: str
    other: str
    strict: bool = True  # True: field > other ("after"); False: field >= other ("not_before")

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, ("after" if self.strict else "not_before"): self.other}


@dataclass(frozen=True)
class Condition:
    """A node runs only when the form satisfies this: field equals a value or is one of several."""

    field: str
    equals: Any = None
    one_of: tuple[Any, ...] = ()

    def holds(self, form: Mapping[str, Any]) -> bool:
        value = form.get(self.field)
        if self.one_of:
            return value in self.one_of
        return bool(value == self.equals)

    def as_dict(self) -> dict[str, Any]:
        if self.one_of:
            return {"field": self.field, "one_of": list(self.one_of)}
        return {"field": self.field, "equals": self.equals}


@dataclass(frozen=True)
class AssigneeRule:
    """Which role, resolved against the applicant's organisation, decides a node."""

    kind: AssigneeRuleKind
    department: str | None = None  # for DEPARTMENT: the department code

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.department:
            out["department"] = self.department
        return out


@dataclass(frozen=True)
class Node:
    """One approval node (审批节点)."""

    key: str
    name: Text
    assignee: AssigneeRule
    sla_hours: float
    condition: Condition | None = None

    def applies_to(self, form: Mapping[str, Any]) -> bool:
        return self.condition is None or self.condition.holds(form)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "name": {"zh": self.name.zh, "en": self.name.en},
            "assignee": self.assignee.as_dict(),
            "sla_hours": self.sla_hours,
        }
        if self.condition is not None:
            out["condition"] = self.condition.as_dict()
        return out


@dataclass(frozen=True)
class Step:
    """Nodes that run together; a single node is a step of one. All must approve to move on."""

    nodes: tuple[Node, ...]

    @property
    def parallel(self) -> bool:
        return len(self.nodes) > 1


@dataclass(frozen=True)
class ProcessDefinition:
    """A service of the hall: its form, audience and approval steps."""

    key: str
    version: int
    name: Text
    category: str
    owner_department: str
    audience: frozenset[Audience]
    form: tuple[FormField, ...]
    steps: tuple[Step, ...]
    description: Text | None = None
    campaign_based: bool = False  # 去向登记: submissions belong to a campaign with a deadline
    rules: tuple[FormRule, ...] = ()  # cross-field checks on the form (return after leave, …)
    source_path: str = field(default="", compare=False)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(node for step in self.steps for node in step.nodes)

    def node(self, key: str) -> Node:
        for node in self.nodes:
            if node.key == key:
                return node
        raise KeyError(key)

    def form_field(self, name: str) -> FormField | None:
        for form_field in self.form:
            if form_field.name == name:
                return form_field
        return None

    def as_dict(self) -> dict[str, Any]:
        """The definition as the API shows it: form schema and steps."""
        return {
            "key": self.key,
            "version": self.version,
            "name": {"zh": self.name.zh, "en": self.name.en},
            "description": (
                {"zh": self.description.zh, "en": self.description.en} if self.description else None
            ),
            "category": self.category,
            "owner_department": self.owner_department,
            "audience": sorted(a.value for a in self.audience),
            "campaign_based": self.campaign_based,
            "form": [f.as_dict() for f in self.form],
            "rules": [r.as_dict() for r in self.rules],
            "steps": [
                {"parallel": step.parallel, "nodes": [n.as_dict() for n in step.nodes]}
                for step in self.steps
            ],
        }
