"""The batched history writer refuses what the service refuses, writes the same events, and its
bulk projection rows equal both the live path's rows and a rebuild from the log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.workflow_core.conftest import People, fitting_form
from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import Audience
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.directory.schema import student_class_memberships
from workflow_core.directory.sql_directory import SqlDirectory
from workflow_core.domain.commands import (
    Approve,
    InstanceCommand,
    OpenCampaign,
    Reassign,
    Reject,
    Remind,
    Resubmit,
    ReturnToApplicant,
    Submit,
    ViewTask,
    Withdraw,
)
from workflow_core.domain.state import TaskStatus
from workflow_core.errors import (
    ConflictError,
    FormValidationError,
    NotAuthorizedError,
    NotFoundError,
    UnknownUserError,
    WorkflowError,
)
from workflow_core.service import WorkflowService
from workflow_core.store.batch import BatchWriter
from workflow_core.store.db import make_engine
from workflow_core.store.migrate import upgrade
from workflow_core.store.projections import rebuild
from workflow_core.store.schema import PROJECTION_TABLES, events

START = datetime.fromisoformat("2026-03-02T01:00:00+00:00")
SERVICES = (
    "enrollment_certificate",
    "activity_application",
    "personal_info_change",
    "vpn_application",
    "dorm_air_conditioner",
    "museum_booking",
    "graduate_status_change",
)
Step = tuple[str, str, InstanceCommand, datetime]


def rows_of(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            table.name: [
                dict(r)
                for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            ]
            for table in PROJECTION_TABLES
        }


def event_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        found = conn.execute(
            select(events).order_by(events.c.stream_id, events.c.stream_version)
        ).mappings()
        return [{k: v for k, v in r.items() if k not in ("event_id", "recorded_at")} for r in found]


def run_script(
    writer: BatchWriter, catalog: Catalog, people: People, directory: SqlDirectory
) -> list[Step]:
    """Submit several services and drive every task with a rotating mix of decisions."""
    steps: list[Step] = []
    at = START

    def do(user: str, instance_id: str, command: InstanceCommand) -> None:
        nonlocal at
        at += timedelta(minutes=7)
        writer.execute(user, instance_id, command, at)
        steps.append((user, instance_id, command, at))

    turn = 0
    for index, key in enumerate(SERVICES * 2):
        definition = catalog.get(key)
        applicant, kind = people.applicant_for(definition)
        form = fitting_form(definition, kind, index, at)
        instance_id = f"batch-{index}"
        do(applicant, instance_id, Submit(instance_id, key, form))
        for _round in range(40):
            state = writer.state(instance_id)
            if state.status.terminal:
                break
            if state.status.value == "returned":
                do(applicant, instance_id, Resubmit(form))
                continue
            for task in state.open_tasks:
                current = writer.state(instance_id).task(task.task_id)
                if current is None or current.status is not TaskStatus.OPEN:
                    continue
                who = task.assignees[0]
                turn += 1
                choice = turn % 17
                if index == 9:
                    do(who, instance_id, Reject(task.task_id, "不符合条件"))
                    break
                if index in (4, 12) and _round == 1:
                    do(applicant, instance_id, Withdraw("不需要了"))
                    break
                if choice == 5:
                    do(who, instance_id, ReturnToApplicant(task.task_id, "请补充材料"))
                    break
                if choice == 9:
                    do(applicant, instance_id, Remind(task.task_id, "请尽快办理"))
                if choice == 11:
                    other = next(
                        (
                            p
                            for p in people.by_kind[Audience.STAFF]
                            if p not in task.assignees and p != applicant
                        ),
                        None,
                    )
                    if other is not None and directory.person(other, at) is not None:
                        do(who, instance_id, Reassign(task.task_id, other, delegate=True))
                if choice % 2 == 0:
                    do(who, instance_id, ViewTask(task.task_id))
                do(who, instance_id, Approve(task.task_id, "同意"))
    # One request stays open: its tasks sit in inboxes, one of them viewed.
    definition = catalog.get("activity_application")
    applicant, kind = people.applicant_for(definition)
    form = fitting_form(definition, kind, 99, at)
    do(applicant, "batch-open", Submit("batch-open", definition.key, form))
    task = writer.state("batch-open").open_tasks[0]
    do(task.assignees[0], "batch-open", ViewTask(task.task_id))
    return steps


def replay(service: WorkflowService, steps: list[Step]) -> None:
    for user, instance_id, command, at in steps:
        match command:
            case Submit():
                service.submit(
                    user, command.process_key, command.form, instance_id=instance_id, occurred_at=at
                )
            case ViewTask():
                service.act_on_task(user, command.task_id, "view", {}, occurred_at=at)
            case Approve():
                body = {"comment": command.comment}
                service.act_on_task(user, command.task_id, "approve", body, occurred_at=at)
            case Reject():
                body = {"reason": command.reason}
                service.act_on_task(user, command.task_id, "reject", body, occurred_at=at)
            case ReturnToApplicant():
                body = {"reason": command.reason}
                service.act_on_task(user, command.task_id, "return", body, occurred_at=at)
            case Reassign():
                body = {"to": command.to, "delegate": command.delegate}
                service.act_on_task(user, command.task_id, "reassign", body, occurred_at=at)
            case Remind():
                body = {"message": command.message}
                service.act_on_task(user, command.task_id, "remind", body, occurred_at=at)
            case Resubmit():
                service.act_on_instance(
                    user, instance_id, "resubmit", {"form": command.form}, occurred_at=at
                )
            case Withdraw():
                body = {"reason": command.reason}
                service.act_on_instance(user, instance_id, "withdraw", body, occurred_at=at)
            case _:
                raise AssertionError(command)


@pytest.mark.parametrize("snapshot", [False, True], ids=["sql-directory", "memory-directory"])
def test_batched_history_equals_the_live_path_and_a_rebuild(
    store_engine: Engine,
    business_engine: Engine,
    tmp_path: Path,
    catalog: Catalog,
    directory: SqlDirectory,
    people: People,
    snapshot: bool,
) -> None:
    # A snapshot directory lets the writer remember each caller for the day: the same history.
    known = MemoryDirectory.load(business_engine) if snapshot else directory
    writer = BatchWriter(store_engine, catalog, known, batch_events=37)
    steps = run_script(writer, catalog, people, directory)
    writer.flush()
    kinds = {type(command).__name__ for _u, _i, command, _a in steps}
    assert {"Submit", "Approve", "ReturnToApplicant", "Resubmit", "Withdraw", "Remind"} <= kinds
    assert {"Reject", "Reassign", "ViewTask"} <= kinds
    batched = rows_of(store_engine)
    assert batched["instances"] and batched["tasks"] and batched["inbox"]

    live_engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(live_engine)
    replay(WorkflowService(live_engine, catalog, directory), steps)
    assert event_rows(store_engine) == event_rows(live_engine)
    assert rows_of(live_engine) == batched
    live_engine.dispose()

    with store_engine.begin() as conn:
        rebuild(conn)
    assert rows_of(store_engine) == batched


def test_the_batched_writer_refuses_what_the_service_refuses(
    store_engine: Engine,
    tmp_path: Path,
    catalog: Catalog,
    directory: SqlDirectory,
    people: People,
) -> None:
    writer = BatchWriter(store_engine, catalog, directory)
    live_engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(live_engine)
    service = WorkflowService(live_engine, catalog, directory)
    definition = catalog.get("enrollment_certificate")
    student, kind = people.applicant_for(definition)
    form = fitting_form(definition, kind, 1, START)
    at = START
    writer.submit(student, definition.key, form, instance_id="r-1", occurred_at=at)
    service.submit(student, definition.key, form, instance_id="r-1", occurred_at=at)
    task = writer.state("r-1").open_tasks[0]
    approver = task.assignees[0]
    visitor = people.of(Audience.VISITOR)
    museum = catalog.get("museum_booking")

    cases: list[tuple[type[WorkflowError], Callable[[], object], Callable[[], object]]] = [
        (
            UnknownUserError,
            lambda: writer.act_on_task("nobody-x", Approve(task.task_id), at),
            lambda: service.act_on_task("nobody-x", task.task_id, "approve", {}, occurred_at=at),
        ),
        (
            NotAuthorizedError,
            lambda: writer.act_on_task(student, Approve(task.task_id), at),
            lambda: service.act_on_task(student, task.task_id, "approve", {}, occurred_at=at),
        ),
        (
            NotAuthorizedError,
            lambda: writer.submit(visitor, definition.key, form, instance_id="r-2", occurred_at=at),
            lambda: service.submit(
                visitor, definition.key, form, instance_id="r-2", occurred_at=at
            ),
        ),
        (
            FormValidationError,
            lambda: writer.submit(student, museum.key, {}, instance_id="r-3", occurred_at=at),
            lambda: service.submit(student, museum.key, {}, instance_id="r-3", occurred_at=at),
        ),
        (
            FormValidationError,
            lambda: writer.submit(
                student, "holiday_whereabouts", {}, instance_id="r-4", occurred_at=at
            ),
            lambda: service.submit(
                student, "holiday_whereabouts", {}, instance_id="r-4", occurred_at=at
            ),
        ),
        (
            NotFoundError,
            lambda: writer.act_on_task(approver, Approve("r-9-t1"), at),
            lambda: service.act_on_task(approver, "r-9-t1", "approve", {}, occurred_at=at),
        ),
        (
            ConflictError,
            lambda: writer.submit(student, definition.key, form, instance_id="r-1", occurred_at=at),
            lambda: service.submit(
                student, definition.key, form, instance_id="r-1", occurred_at=at
            ),
        ),
    ]
    for error, batched, live in cases:
        with pytest.raises(error):
            batched()
        with pytest.raises(error):
            live()
    # Deciding twice: the second decision conflicts on both paths.
    writer.act_on_task(approver, Approve(task.task_id), at + timedelta(minutes=1))
    service.act_on_task(
        approver, task.task_id, "approve", {}, occurred_at=at + timedelta(minutes=1)
    )
    with pytest.raises(ConflictError):
        writer.act_on_task(approver, Reject(task.task_id, "不行"), at + timedelta(minutes=2))
    with pytest.raises(ConflictError):
        service.act_on_task(
            approver,
            task.task_id,
            "reject",
            {"reason": "不行"},
            occurred_at=at + timedelta(minutes=2),
        )
    writer.flush()
    # Refusals wrote nothing: both stores hold the same events.
    assert event_rows(store_engine) == event_rows(live_engine)
    live_engine.dispose()


def test_a_claimed_prefix_skips_look_ups_but_never_forgets_what_it_wrote(
    store_engine: Engine, catalog: Catalog, directory: SqlDirectory, people: People
) -> None:
    definition = catalog.get("museum_booking")
    applicant, kind = people.applicant_for(definition)
    form = fitting_form(definition, kind, 3, START)
    writer = BatchWriter(store_engine, catalog, directory)
    writer.claim_prefix("p_1-")
    writer.submit(applicant, definition.key, form, instance_id="p_1-1", occurred_at=START)
    writer.execute(applicant, "p_1-1", Withdraw(), START + timedelta(minutes=1))
    writer.forget("p_1-1")
    writer.flush()
    # Forgotten after the flush: the writer loads it again rather than taking it for new.
    with pytest.raises(ConflictError):
        writer.submit(applicant, definition.key, form, instance_id="p_1-1", occurred_at=START)
    assert writer.state("p_1-1").status.value == "withdrawn"
    # Another writer cannot claim a prefix the store already uses; `_` and `%` match literally.
    with pytest.raises(ConflictError):
        BatchWriter(store_engine, catalog, directory).claim_prefix("p_1-")
    BatchWriter(store_engine, catalog, directory).claim_prefix("p%1-")
    BatchWriter(store_engine, catalog, directory).claim_prefix("pa1-")


def test_a_batched_campaign_equals_the_service_and_supersedes_unflushed_registrations(
    store_engine: Engine,
    tmp_path: Path,
    catalog: Catalog,
    directory: SqlDirectory,
    people: People,
    business_engine: Engine,
) -> None:
    organiser = people.persona("student_affairs")
    monitor = people.persona("class_monitor")
    monitor_class = people.personas["class_monitor"][0]["scope"]["ids"][0]
    with business_engine.connect() as conn:
        members = conn.execute(
            select(student_class_memberships.c.student_id)
            .where(student_class_memberships.c.class_id == monitor_class)
            .order_by(student_class_memberships.c.student_id)
        ).scalars()
        in_class = [
            p
            for p in members
            if p != monitor
            and (placement := directory.placement(p, START)) is not None
            and placement.class_id == monitor_class
        ]
    classmates = in_class[:3]
    outsider = next(
        p
        for p in people.by_kind[Audience.UNDERGRADUATE]
        if (placement := directory.placement(p, START)) is not None
        and placement.class_id != monitor_class
    )
    assert len(classmates) == 3
    opened = OpenCampaign(
        campaign_id="batch-winter",
        process_key="holiday_whereabouts",
        title="寒假去向登记",
        holiday="寒假",
        opens_at=START,
        deadline=START + timedelta(days=5),
        audience=("undergraduate", "graduate"),
    )
    definition = catalog.get("holiday_whereabouts")
    stay = {"stay_or_leave": "留校", "emergency_contact_name": "王芳"}
    stay["emergency_contact_phone"] = "13800000000"
    stay = {f.name: stay[f.name] for f in definition.form if f.name in stay}

    writer = BatchWriter(store_engine, catalog, directory, batch_events=3)
    writer.open_campaign(organiser, opened)
    registrations = [
        (classmates[0], "reg-1", START + timedelta(hours=1)),
        (classmates[1], "reg-2", START + timedelta(hours=2)),
        (classmates[0], "reg-3", START + timedelta(hours=3)),  # a change: supersedes reg-1
        (classmates[0], "reg-4", START + timedelta(hours=4)),
    ]
    for student, instance_id, at in registrations:
        writer.submit(
            student,
            "holiday_whereabouts",
            stay,
            instance_id=instance_id,
            occurred_at=at,
            campaign_id="batch-winter",
        )
    remind_at = START + timedelta(hours=5)
    writer.remind_students(monitor, "batch-winter", [classmates[2]], "请尽快登记", remind_at)
    with pytest.raises(NotAuthorizedError):
        writer.remind_students(monitor, "batch-winter", [outsider], "", remind_at)
    with pytest.raises(ConflictError):
        writer.open_campaign(organiser, opened)
    with pytest.raises(NotFoundError):
        writer.submit(
            classmates[2],
            "holiday_whereabouts",
            stay,
            instance_id="reg-9",
            occurred_at=remind_at,
            campaign_id="no-such-campaign",
        )
    writer.flush()
    assert writer.state("reg-4").supersedes == "reg-3"
    assert writer.state("reg-3").supersedes == "reg-1"

    # A second writer that did not open the campaign finds the latest registration in the store.
    later = BatchWriter(store_engine, catalog, directory)
    at = START + timedelta(hours=6)
    later.submit(
        classmates[0],
        "holiday_whereabouts",
        stay,
        instance_id="reg-5",
        occurred_at=at,
        campaign_id="batch-winter",
    )
    later.flush()
    assert later.state("reg-5").supersedes == "reg-4"

    live_engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(live_engine)
    service = WorkflowService(live_engine, catalog, directory)
    body = {
        "campaign_id": opened.campaign_id,
        "process_key": opened.process_key,
        "title": opened.title,
        "holiday": opened.holiday,
        "opens_at": opened.opens_at.isoformat(),
        "deadline": opened.deadline.isoformat(),
        "audience": list(opened.audience),
    }
    service.open_campaign(organiser, body, occurred_at=START)
    for student, instance_id, registered_at in registrations:
        service.submit(
            student,
            "holiday_whereabouts",
            stay,
            instance_id=instance_id,
            occurred_at=registered_at,
            campaign_id="batch-winter",
        )
    service.remind_students(
        monitor,
        "batch-winter",
        {"student_ids": [classmates[2]], "message": "请尽快登记"},
        occurred_at=remind_at,
    )
    service.submit(
        classmates[0],
        "holiday_whereabouts",
        stay,
        instance_id="reg-5",
        occurred_at=START + timedelta(hours=6),
        campaign_id="batch-winter",
    )
    assert event_rows(store_engine) == event_rows(live_engine)
    assert rows_of(store_engine) == rows_of(live_engine)
    live_engine.dispose()
