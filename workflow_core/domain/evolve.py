"""Fold events into state: `evolve(state, event) -> state`, pure and total over stored events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workflow_core.domain.events import (
    Activity,
    Approved,
    CampaignOpened,
    CampaignReminded,
    CaseImported,
    Commented,
    Completed,
    Event,
    Reassigned,
    Rejected,
    Reminded,
    Resubmitted,
    Returned,
    Submitted,
    TaskCancelled,
    TaskCreated,
    TaskEvent,
    TaskViewed,
    Withdrawn,
)
from workflow_core.domain.state import (
    CampaignState,
    InstanceState,
    InstanceStatus,
    TaskState,
    TaskStatus,
    with_changes,
)


def evolve(state: InstanceState, event: Event) -> InstanceState:
    """The instance after `event`; the version counts every event of the stream."""
    # Every case makes one copy that also counts the event (the fold's hot path: a second copy
    # per event cost a fifth of the fold).
    at = event.occurred_at
    version = state.version + 1
    match event:
        case Submitted():
            return with_changes(
                state,
                version=version,
                updated_at=at,
                status=InstanceStatus.IN_PROGRESS,
                process_key=event.process_key,
                process_version=event.process_version,
                applicant_id=event.applicant_id,
                campaign_id=event.campaign_id,
                supersedes=event.supersedes,
                form=dict(event.form),
                submitted_at=at,
            )
        case TaskCreated():
            task = TaskState(
                task_id=event.task,
                node_key=event.node,
                department_id=event.department,
                step=event.step,
                assignees=event.assignees,
                sla_hours=event.sla_hours,
                created_at=at,
            )
            return with_changes(
                state, version=version, updated_at=at, step=event.step, tasks=(*state.tasks, task)
            )
        case TaskViewed():
            tasks = _tasks_with(state, event, viewed_at=at)
            return with_changes(state, version=version, updated_at=at, tasks=tasks)
        case Approved():
            tasks = _decided(state, event, TaskStatus.APPROVED)
            return with_changes(state, version=version, updated_at=at, tasks=tasks)
        case Rejected():
            tasks = _decided(state, event, TaskStatus.REJECTED)
            return with_changes(state, version=version, updated_at=at, tasks=tasks)
        case Returned():
            return with_changes(
                state,
                version=version,
                updated_at=at,
                tasks=_decided(state, event, TaskStatus.RETURNED),
                status=InstanceStatus.RETURNED,
                returns=state.returns + 1,
            )
        case Reassigned():
            tasks = _tasks_with(state, event, assignees=event.assignees)
            return with_changes(state, version=version, updated_at=at, tasks=tasks)
        case TaskCancelled():
            tasks = _tasks_with(state, event, status=TaskStatus.CANCELLED)
            return with_changes(state, version=version, updated_at=at, tasks=tasks)
        case Reminded():
            found = state.task(event.task)
            count = found.reminders + 1 if found is not None else 1
            tasks = _tasks_with(state, event, reminders=count, last_reminded_at=at)
            return with_changes(state, version=version, updated_at=at, tasks=tasks)
        case Resubmitted():
            return with_changes(
                state,
                version=version,
                updated_at=at,
                status=InstanceStatus.IN_PROGRESS,
                form=dict(event.form),
            )
        case Withdrawn():
            return with_changes(
                state,
                version=version,
                updated_at=at,
                status=InstanceStatus.WITHDRAWN,
                outcome="withdrawn",
                closed_at=at,
            )
        case Completed():
            return with_changes(
                state,
                version=version,
                updated_at=at,
                status=InstanceStatus.COMPLETED,
                outcome=event.outcome,
                closed_at=at,
            )
        case Commented():
            return with_changes(state, version=version, updated_at=at)
        case CaseImported():
            return with_changes(
                state,
                version=version,
                updated_at=at,
                status=InstanceStatus.IMPORTED,
                process_key=event.process_key,
                process_version=1,
                form=dict(event.attributes),
                submitted_at=at,
                closed_at=at,
            )
        case Activity():
            # A log's file order need not be time order: the case spans its earliest to its
            # latest activity, whatever order they come in.
            first = state.submitted_at
            last = state.closed_at
            return with_changes(
                state,
                version=version,
                submitted_at=at if first is None else min(first, at),
                closed_at=at if last is None else max(last, at),
                updated_at=at if last is None else max(last, at),
            )
    raise TypeError(f"not an instance event: {type(event).__name__}")


def fold(instance_id: str, events: Iterable[Event]) -> InstanceState:
    state = InstanceState(instance_id=instance_id)
    for event in events:
        state = evolve(state, event)
    return state


def evolve_campaign(state: CampaignState, event: Event) -> CampaignState:
    version = state.version + 1
    match event:
        case CampaignOpened():
            return with_changes(
                state,
                version=version,
                opened=True,
                process_key=event.process_key,
                title=event.title,
                holiday=event.holiday,
                opens_at=event.opens_at,
                deadline=event.deadline,
                audience=event.audience,
            )
        case CampaignReminded():
            return with_changes(state, version=version, reminders=state.reminders + 1)
    raise TypeError(f"not a campaign event: {type(event).__name__}")


def fold_campaign(campaign_id: str, events: Iterable[Event]) -> CampaignState:
    state = CampaignState(campaign_id=campaign_id)
    for event in events:
        state = evolve_campaign(state, event)
    return state


def _decided(state: InstanceState, event: TaskEvent, status: TaskStatus) -> tuple[TaskState, ...]:
    return _tasks_with(
        state, event, status=status, decided_at=event.occurred_at, decided_by=event.actor_id
    )


def _tasks_with(state: InstanceState, event: TaskEvent, **changes: Any) -> tuple[TaskState, ...]:
    """The instance's tasks with `changes` made to the one `event` is about."""
    return tuple(
        with_changes(task, **changes) if task.task_id == event.task else task
        for task in state.tasks
    )
