"""Fold events into state: `evolve(state, event) -> state`, pure and total over stored events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

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
)


def evolve(state: InstanceState, event: Event) -> InstanceState:
    """The instance after `event`; the version counts every event of the stream."""
    state = replace(state, version=state.version + 1, updated_at=event.occurred_at)
    match event:
        case Submitted():
            return replace(
                state,
                status=InstanceStatus.IN_PROGRESS,
                process_key=event.process_key,
                process_version=event.process_version,
                applicant_id=event.applicant_id,
                campaign_id=event.campaign_id,
                supersedes=event.supersedes,
                form=dict(event.form),
                submitted_at=event.occurred_at,
            )
        case TaskCreated():
            task = TaskState(
                task_id=event.task,
                node_key=event.node,
                department_id=event.department,
                step=event.step,
                assignees=event.assignees,
                sla_hours=event.sla_hours,
                created_at=event.occurred_at,
            )
            return replace(state, step=event.step, tasks=(*state.tasks, task))
        case TaskViewed():
            return _update_task(state, event, viewed_at=event.occurred_at)
        case Approved():
            return _decide_task(state, event, TaskStatus.APPROVED)
        case Rejected():
            return _decide_task(state, event, TaskStatus.REJECTED)
        case Returned():
            state = _decide_task(state, event, TaskStatus.RETURNED)
            return replace(state, status=InstanceStatus.RETURNED, returns=state.returns + 1)
        case Reassigned():
            return _update_task(state, event, assignees=event.assignees)
        case TaskCancelled():
            return _update_task(state, event, status=TaskStatus.CANCELLED)
        case Reminded():
            found = state.task(event.task)
            count = found.reminders + 1 if found is not None else 1
            return _update_task(state, event, reminders=count, last_reminded_at=event.occurred_at)
        case Resubmitted():
            return replace(state, status=InstanceStatus.IN_PROGRESS, form=dict(event.form))
        case Withdrawn():
            return replace(
                state,
                status=InstanceStatus.WITHDRAWN,
                outcome="withdrawn",
                closed_at=event.occurred_at,
            )
        case Completed():
            return replace(
                state,
                status=InstanceStatus.COMPLETED,
                outcome=event.outcome,
                closed_at=event.occurred_at,
            )
        case Commented():
            return state
        case CaseImported():
            return replace(
                state,
                status=InstanceStatus.IMPORTED,
                process_key=event.process_key,
                process_version=1,
                form=dict(event.attributes),
                submitted_at=event.occurred_at,
                closed_at=event.occurred_at,
            )
        case Activity():
            # A log's file order need not be time order: the case spans its earliest to its
            # latest activity, whatever order they come in.
            first = state.submitted_at
            last = state.closed_at
            return replace(
                state,
                submitted_at=event.occurred_at if first is None else min(first, event.occurred_at),
                closed_at=event.occurred_at if last is None else max(last, event.occurred_at),
                updated_at=event.occurred_at if last is None else max(last, event.occurred_at),
            )
    raise TypeError(f"not an instance event: {type(event).__name__}")


def fold(instance_id: str, events: Iterable[Event]) -> InstanceState:
    state = InstanceState(instance_id=instance_id)
    for event in events:
        state = evolve(state, event)
    return state


def evolve_campaign(state: CampaignState, event: Event) -> CampaignState:
    state = replace(state, version=state.version + 1)
    match event:
        case CampaignOpened():
            return replace(
                state,
                opened=True,
                process_key=event.process_key,
                title=event.title,
                holiday=event.holiday,
                opens_at=event.opens_at,
                deadline=event.deadline,
                audience=event.audience,
            )
        case CampaignReminded():
            return replace(state, reminders=state.reminders + 1)
    raise TypeError(f"not a campaign event: {type(event).__name__}")


def fold_campaign(campaign_id: str, events: Iterable[Event]) -> CampaignState:
    state = CampaignState(campaign_id=campaign_id)
    for event in events:
        state = evolve_campaign(state, event)
    return state


def _decide_task(state: InstanceState, event: TaskEvent, status: TaskStatus) -> InstanceState:
    return _update_task(
        state, event, status=status, decided_at=event.occurred_at, decided_by=event.actor_id
    )


def _update_task(state: InstanceState, event: TaskEvent, **changes: object) -> InstanceState:
    tasks = tuple(
        replace(task, **changes) if task.task_id == event.task else task  # type: ignore[arg-type]
        for task in state.tasks
    )
    return replace(state, tasks=tasks)
