"""Helpers for the engine's tests: applicants of every kind from the generated university,
example forms that fit the applicant, driving an instance to its end as each task's resolved
assignee (checking the inbox on the way), and row counts of the event store's tables."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from workflow_core.catalog.examples import example_form
from workflow_core.catalog.forms import validate_form
from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import AssigneeRule, AssigneeRuleKind, Audience, ProcessDefinition
from workflow_core.directory.schema import students
from workflow_core.directory.sql_directory import SqlDirectory
from workflow_core.service import WorkflowService
from workflow_core.store.schema import campaigns, events, idempotency_keys, inbox, instances, tasks

# Forms that say who the applicant is must agree with the applicant (the catalog routes on them).
CATEGORY_FIELDS = ("person_category", "applicant_category")
CATEGORY_OF_KIND = {
    Audience.UNDERGRADUATE: "本科生",
    Audience.GRADUATE: "研究生",
    Audience.STAFF: "教职工",
}
# Preferred applicant kind for each service: the first of these in its audience.
KIND_PREFERENCE = (
    Audience.UNDERGRADUATE,
    Audience.GRADUATE,
    Audience.STAFF,
    Audience.VISITOR,
    Audience.ALUMNI,
)
COUNTED_TABLES = (events, instances, tasks, inbox, campaigns, idempotency_keys)


@dataclass(frozen=True)
class People:
    """Applicants of every kind, each a real person of the generated university."""

    by_kind: dict[Audience, list[str]]
    personas: dict[str, list[dict[str, Any]]]

    def of(self, kind: Audience, index: int = 0) -> str:
        return self.by_kind[kind][index % len(self.by_kind[kind])]

    def applicant_for(self, definition: ProcessDefinition) -> tuple[str, Audience]:
        kind = next(k for k in KIND_PREFERENCE if k in definition.audience)
        return self.of(kind), kind

    def persona(self, role: str, index: int = 0) -> str:
        return str(self.personas[role][index]["user_id"])


@pytest.fixture(scope="session")
def people(
    personas: dict[str, list[dict[str, Any]]],
    directory: SqlDirectory,
    business_engine: Engine,
) -> People:
    now = datetime.fromisoformat("2026-03-02T02:00:00+00:00")
    counsellor = AssigneeRule(AssigneeRuleKind.CLASS_COUNSELLOR)
    college = AssigneeRule(AssigneeRuleKind.COLLEGE_OFFICE)

    def usable_student(person_id: str) -> bool:
        placement = directory.placement(person_id, now)
        if placement is None:
            return False
        try:
            directory.resolve(counsellor, placement, now)
            directory.resolve(college, placement, now)
        except Exception:
            return False
        return True

    by_kind: dict[Audience, list[str]] = {kind: [] for kind in Audience}
    for entries in personas.values():
        for entry in entries:
            kind = Audience(entry["kind"])
            if entry["user_id"] not in by_kind[kind]:
                by_kind[kind].append(str(entry["user_id"]))
    with business_engine.connect() as conn:
        graduates = conn.execute(
            select(students.c.student_id)
            .where(students.c.kind == Audience.GRADUATE.value)
            .order_by(students.c.student_id)
        ).scalars()
        for student_id in graduates:
            if len(by_kind[Audience.GRADUATE]) >= 3:
                break
            if student_id not in by_kind[Audience.GRADUATE] and usable_student(student_id):
                by_kind[Audience.GRADUATE].append(student_id)
    for kind in (Audience.UNDERGRADUATE, Audience.GRADUATE):
        by_kind[kind] = [s for s in by_kind[kind] if usable_student(s)]
    # Staff applicants without an approver role, so their own department can decide for them.
    plain_staff = [str(e["user_id"]) for e in personas.get("staff", [])]
    by_kind[Audience.STAFF] = plain_staff + [
        s for s in by_kind[Audience.STAFF] if s not in plain_staff
    ]
    for kind in KIND_PREFERENCE:
        assert by_kind[kind], f"the generated university has no usable {kind.value}"
    return People(by_kind, personas)


def fitting_form(
    definition: ProcessDefinition, kind: Audience, seed: int, today: datetime
) -> dict[str, Any]:
    """An example form for `definition` that agrees with an applicant of `kind`."""
    form = example_form(definition, random.Random(seed), today=today.date())
    for name in CATEGORY_FIELDS:
        if name in form and kind in CATEGORY_OF_KIND:
            form[name] = CATEGORY_OF_KIND[kind]
    return validate_form(definition, form)


class Hall:
    """The service as people use it, with the checks every scenario repeats."""

    def __init__(self, service: WorkflowService, catalog: Catalog, people: People) -> None:
        self.service = service
        self.catalog = catalog
        self.people = people
        self._keys = itertools.count(1)  # next() is atomic: safe for the threaded tests

    def key(self) -> str:
        return f"k-{next(self._keys)}"

    def submit(
        self,
        process_key: str,
        applicant: str | None = None,
        *,
        seed: int = 1,
        form: dict[str, Any] | None = None,
        campaign_id: str | None = None,
    ) -> dict[str, Any]:
        definition = self.catalog.get(process_key)
        kind = None
        if applicant is None:
            applicant, kind = self.people.applicant_for(definition)
        if form is None:
            if kind is None:
                person = self.service.directory.person(applicant, self.service.clock())
                assert person is not None
                kind = person.kind
            form = fitting_form(definition, kind, seed, self.service.clock())
        body = self.service.submit(
            applicant, process_key, form, campaign_id, idempotency_key=self.key()
        ).body
        return dict(body["instance"])

    def instance(self, instance_id: str) -> dict[str, Any]:
        return self.service.get_instance(self.people.persona("data_staff"), instance_id)

    def open_tasks(self, instance_id: str) -> list[dict[str, Any]]:
        return [t for t in self.instance(instance_id)["tasks"] if t["status"] == "open"]

    def inbox_ids(self, user_id: str) -> set[str]:
        return {t["task_id"] for t in self.service.get_inbox(user_id, limit=100_000)}

    def act(self, user_id: str, task_id: str, action: str, **body: Any) -> dict[str, Any]:
        return dict(
            self.service.act_on_task(
                user_id, task_id, action, body, idempotency_key=self.key()
            ).body["instance"]
        )

    def decide_open(
        self, instance_id: str, action: Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]
    ) -> dict[str, Any]:
        """Decide every open task once, as its first assignee, checking inboxes around it."""
        open_tasks = self.open_tasks(instance_id)
        assert open_tasks, self.instance(instance_id)
        view: dict[str, Any] = {}
        for task in open_tasks:
            for person in task["assignees"]:
                assert task["task_id"] in self.inbox_ids(person), (person, task)
            who = task["assignees"][0]
            self.act(who, task["task_id"], "view")
            verb, body = action(task)
            view = self.act(who, task["task_id"], verb, **body)
            for person in task["assignees"]:
                assert task["task_id"] not in self.inbox_ids(person)
            decided = next(t for t in view["tasks"] if t["task_id"] == task["task_id"])
            assert decided["decided_by"] == who and decided["viewed_at"] is not None
            if view["status"] != "in_progress":
                break
        return view

    def approve_to_end(self, instance_id: str, limit: int = 40) -> dict[str, Any]:
        view = self.instance(instance_id)
        for _ in range(limit):
            if view["status"] != "in_progress":
                return view
            view = self.decide_open(instance_id, lambda _t: ("approve", {"comment": "同意"}))
        raise AssertionError(f"{instance_id} did not end in {limit} rounds: {view}")


@pytest.fixture
def hall(service: WorkflowService, catalog: Catalog, people: People) -> Hall:
    return Hall(service, catalog, people)


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in COUNTED_TABLES
        }


@pytest.fixture
def counts(store_engine: Engine) -> Iterator[Callable[[], dict[str, int]]]:
    yield lambda: table_counts(store_engine)
