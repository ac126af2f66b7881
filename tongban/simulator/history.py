"""One service's hall history (a lane), through the workflow core's rules.

Day by day the service's submissions arrive (`volumes`) from applicants drawn from the
directory by the service's audience and their status that day (students 在读 only). Every
command — submit, view, approve, return, reject, reassign, remind, resubmit, withdraw — runs
through the batched writer, i.e. the domain's `decide`/`evolve` with the directory's answers, in
time order: a priority queue holds the actions people will take, each with its moment. What is
still pending at the end stays open.

A lane is independent of every other lane: its own random stream (seed and service key), its
own instance ids `sim<seed>-<service>-<n>`, and nothing it reads is written by another lane. So
lanes can run in any order or in parallel processes and a seed still gives the same streams.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from tongban.simulator.approvers import (
    ApproverModel,
    Behaviour,
    DecisionPlan,
    Outcome,
    applicant_delay,
    awake,
)
from tongban.simulator.calendar import CAMPUS_TZ, add_working_time
from tongban.simulator.volumes import VolumeModel, arrival_times, poisson
from workflow_core.catalog.examples import example_form
from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import Audience
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.directory.port import Directory, StudentStatus
from workflow_core.domain.commands import (
    Approve,
    InstanceCommand,
    Reassign,
    Reject,
    Remind,
    Resubmit,
    ReturnToApplicant,
    ViewTask,
    Withdraw,
)
from workflow_core.domain.decide import instance_of_task
from workflow_core.domain.events import Event, Reassigned, Returned, TaskCreated
from workflow_core.domain.state import TaskStatus
from workflow_core.errors import BusinessRuleError, NotAuthorizedError, WorkflowError
from workflow_core.store.batch import BatchWriter

# Forms that say who the applicant is must agree with the applicant (the catalog routes on them).
CATEGORY_FIELDS: Final = ("person_category", "applicant_category")
CATEGORY_OF_KIND: Final = {
    Audience.UNDERGRADUATE: "本科生",
    Audience.GRADUATE: "研究生",
    Audience.STAFF: "教职工",
}
APPLICANT_TRIES: Final = 4
RETURN_REASONS: Final = ("材料不全，请补充", "信息有误，请核对后重新提交", "请上传盖章扫描件")
REJECT_REASONS: Final = ("不符合办理条件", "重复申请", "超出受理范围")
APPROVE_COMMENTS: Final = ("同意", "同意。", "已审核，同意", "")
REMIND_MESSAGES: Final = ("请尽快办理，谢谢", "麻烦老师帮忙看一下", "")
WITHDRAW_REASONS: Final = ("不需要了", "信息填错，重新申请", "")


@dataclass
class LaneResult:
    """What lanes produced; `flagged` holds the tasks decided outside office hours on purpose
    (after-hours work or a rubber stamp that ran past the office's closing)."""

    instances: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    flagged: set[str] = field(default_factory=set)

    def add(self, other: LaneResult) -> None:
        self.instances += other.instances
        self.commands.update(other.commands)
        self.refused.update(other.refused)
        self.flagged |= other.flagged


@dataclass
class Applicants:
    """Who might apply, by audience, in a stable order; the staff of each unit (reassignments)."""

    pools: dict[Audience, list[str]]
    directory: MemoryDirectory

    @classmethod
    def of(cls, directory: MemoryDirectory) -> Applicants:
        return cls({kind: list(directory.people_of_kind(kind)) for kind in Audience}, directory)

    def staff_of_unit(self, unit_id: str) -> tuple[str, ...]:
        return self.directory.staff_of_unit(unit_id)


# Actions in the queue: (moment, sequence number, kind, arguments).
_Action = tuple[datetime, int, str, tuple[Any, ...]]


class ServiceLane:
    """The history of one catalog service."""

    def __init__(
        self,
        key: str,
        writer: BatchWriter,
        catalog: Catalog,
        directory: Directory,
        applicants: Applicants,
        volumes: VolumeModel,
        *,
        seed: int,
        behaviour: Behaviour | None = None,
        part: int = 1,
        parts: int = 1,
    ) -> None:
        if not 1 <= part <= parts:
            raise ValueError(f"part {part} of {parts}")
        self.key = key
        self.name = key if parts == 1 else f"{key}/{part}/{parts}"
        self.parts = parts
        self.writer = writer
        self.catalog = catalog
        self.directory = directory
        self.volumes = volumes
        self.seed = seed
        # A part of a cut service draws its own share of the volume: the parts' Poisson counts
        # add up to the service's.
        self.prefix = f"sim{seed}-{key}-" if parts == 1 else f"sim{seed}-{key}-{part}-"
        self.rng = random.Random(f"history:{seed}:{self.name}")
        self.approvers = ApproverModel(seed, behaviour or Behaviour())
        self.behaviour = self.approvers.behaviour
        self.pools = applicants.pools
        self.applicants = applicants
        self._queue: list[_Action] = []
        self._sequence = itertools.count()
        self._ids = itertools.count(1)
        self._closed: set[str] = set()  # terminal instances: later actions on them are moot
        self._urgent: set[str] = set()  # running instances walked through every office (加急)
        self.result = LaneResult()

    def start(self) -> None:
        self.writer.claim_prefix(self.prefix)  # refuses a seed already simulated here

    def run_day(self, day: date) -> None:
        count = poisson(self.rng, self.volumes.expected(self.key, day) / self.parts)
        for moment in arrival_times(self.key, day, count, self.rng):
            self._at(moment, "submit", self.key)
        # In UTC, as the queue's moments: comparing times of two zones asks each for its
        # offset, and the campus zone's answer costs a look-up every time.
        until = datetime.combine(day + timedelta(days=1), time(0), CAMPUS_TZ).astimezone(UTC)
        while self._queue and self._queue[0][0] < until:
            at, _seq, kind, args = heapq.heappop(self._queue)
            self._perform(kind, at, args)

    def finish(self) -> None:
        self._queue.clear()  # what people would do after the end stays undone: still open

    # --- scheduling --------------------------------------------------------------------------

    def _at(self, moment: datetime, kind: str, *args: Any) -> None:
        heapq.heappush(self._queue, (moment.astimezone(UTC), next(self._sequence), kind, args))

    # --- actions -----------------------------------------------------------------------------

    def _perform(self, kind: str, at: datetime, args: tuple[Any, ...]) -> None:
        if kind == "submit":
            self._submit(args[0], at)
            return
        if kind in ("view", "decide", "remind"):
            task_id, actor = args[0], args[1]
            instance_id = instance_of_task(task_id)
            if instance_id in self._closed:
                return
            task = self.writer.state(instance_id).task(task_id)
            if task is None or task.status is not TaskStatus.OPEN:
                return  # cancelled by a sibling's return, a withdrawal, or already decided
            if kind == "view":
                if actor in task.assignees:
                    self._command("view", actor, instance_id, ViewTask(task_id), at)
            elif kind == "decide":
                self._decide(instance_id, task_id, actor, args[2], at)
            else:
                self._remind(instance_id, task_id, at)
            return
        instance_id = args[0]
        if instance_id in self._closed:
            return
        state = self.writer.state(instance_id)
        if kind == "resubmit" and state.status.value == "returned":
            form = self._form(state.process_key, state.applicant_id, at)
            if form is not None:
                self._command("resubmit", state.applicant_id, instance_id, Resubmit(form), at)
        elif kind == "withdraw" and not state.status.terminal:
            reason = self.rng.choice(WITHDRAW_REASONS)
            self._command("withdraw", state.applicant_id, instance_id, Withdraw(reason), at)

    def _submit(self, key: str, at: datetime) -> None:
        definition = self.catalog.get(key)
        audiences = sorted(a.value for a in definition.audience)
        for _try in range(APPLICANT_TRIES):
            kind = Audience(self.rng.choice(audiences))
            pool = self.pools.get(kind, [])
            if not pool:
                continue
            applicant = self.rng.choice(pool)
            person = self.directory.person(applicant, at)
            if person is None or person.status not in (None, StudentStatus.ENROLLED):
                continue  # not yet (or no longer) at the university, or 休学/已离校 that day
            form = self._form(key, applicant, at)
            if form is None:
                continue
            instance_id = f"{self.prefix}{next(self._ids)}"
            try:
                new_events = self.writer.submit(
                    applicant, key, form, instance_id=instance_id, occurred_at=at
                )
            except (BusinessRuleError, NotAuthorizedError) as exc:
                # e.g. nobody but the applicant can decide a node (an approver's own request),
                # or a class without a counsellor that day: the hall refuses, nothing is written.
                self.result.refused[f"submit:{type(exc).__name__}"] += 1
                continue
            self.result.instances += 1
            self.result.commands["submit"] += 1
            if self.rng.random() < self.behaviour.urgent_share:
                self._urgent.add(instance_id)
            self._follow(instance_id, new_events, at)
            if self.rng.random() < self.behaviour.withdraw_share:
                when = awake(at + applicant_delay(self.rng, 20), self.rng)
                self._at(when, "withdraw", instance_id)
            return

    def _form(self, key: str, applicant: str, at: datetime) -> dict[str, Any] | None:
        definition = self.catalog.get(key)
        person = self.directory.person(applicant, at)
        if person is None:
            return None
        form = example_form(
            definition, self.rng, today=at.astimezone(CAMPUS_TZ).date(), normalised=False
        )
        for name in CATEGORY_FIELDS:
            if name in form and person.kind in CATEGORY_OF_KIND:
                form[name] = CATEGORY_OF_KIND[person.kind]
        return form  # `decide` validates it, as it validates every submission

    def _decide(
        self, instance_id: str, task_id: str, actor: str, plan: DecisionPlan, at: datetime
    ) -> None:
        state = self.writer.state(instance_id)
        task = state.task(task_id)
        assert task is not None
        if actor not in task.assignees:
            actor = task.assignees[0]  # reassigned meanwhile: the new assignee decides
        command: InstanceCommand
        if plan.outcome is Outcome.RETURN:
            command = ReturnToApplicant(task_id, self.rng.choice(RETURN_REASONS))
        elif plan.outcome is Outcome.REJECT:
            command = Reject(task_id, self.rng.choice(REJECT_REASONS))
        elif plan.outcome is Outcome.REASSIGN:
            colleague = self._colleague(task.department_id, task.assignees, state.applicant_id, at)
            if colleague is None:
                command = Approve(task_id, self.rng.choice(APPROVE_COMMENTS))
            else:
                command = Reassign(task_id, colleague, reason="请协助办理")
        else:
            command = Approve(task_id, self.rng.choice(APPROVE_COMMENTS))
        if self._command(plan.outcome.value, actor, instance_id, command, at) and (
            plan.after_hours or plan.rubber_stamp
        ):
            self.result.flagged.add(task_id)

    def _remind(self, instance_id: str, task_id: str, at: datetime) -> None:
        state = self.writer.state(instance_id)
        message = self.rng.choice(REMIND_MESSAGES)
        self._command("remind", state.applicant_id, instance_id, Remind(task_id, message), at)

    def _colleague(
        self, department_id: str, assignees: tuple[str, ...], applicant: str, at: datetime
    ) -> str | None:
        others = [
            s
            for s in self.applicants.staff_of_unit(department_id)
            if s not in (*assignees, applicant)
        ]
        if not others:
            return None
        chosen = self.rng.choice(others)
        return chosen if self.directory.person(chosen, at) is not None else None

    def _command(
        self, name: str, actor: str, instance_id: str, command: InstanceCommand, at: datetime
    ) -> bool:
        try:
            new_events = self.writer.execute(actor, instance_id, command, at)
        except WorkflowError as exc:
            self.result.refused[f"{name}:{type(exc).__name__}"] += 1
            return False
        assert self.result is not None
        self.result.commands[name] += 1
        self._follow(instance_id, new_events, at)
        state = self.writer.state(instance_id)
        if state.status.terminal:
            self._closed.add(instance_id)
            self._urgent.discard(instance_id)
            self.writer.forget(instance_id)
        return True

    def _follow(self, instance_id: str, new_events: list[Event], at: datetime) -> None:
        """Schedule what people do next about the events just written."""
        for event in new_events:
            if isinstance(event, TaskCreated):
                self._plan_task(event.task, event.department, event.assignees, event.sla_hours, at)
            elif isinstance(event, Reassigned) and not event.delegate:
                self._plan_task(event.task, event.department, (event.to,), None, at)
            elif isinstance(event, Returned):
                if self.rng.random() < self.behaviour.resubmit_share:
                    when = awake(at + applicant_delay(self.rng, 18), self.rng)
                    self._at(when, "resubmit", instance_id)
                elif self.rng.random() < self.behaviour.abandon_withdraw_share:
                    when = awake(at + applicant_delay(self.rng, 72), self.rng)
                    self._at(when, "withdraw", instance_id)

    def _plan_task(
        self,
        task_id: str,
        department_id: str,
        assignees: tuple[str, ...],
        sla_hours: float | None,
        at: datetime,
    ) -> None:
        actor = self.rng.choice(assignees)
        if instance_of_task(task_id) in self._urgent:
            plan = self.approvers.urgent(at, self.rng)
        else:
            plan = self.approvers.plan(department_id, at, self.rng)
        if plan.view_at is not None:
            self._at(plan.view_at, "view", task_id, actor)
        self._at(plan.decide_at, "decide", task_id, actor, plan)
        if sla_hours is not None:
            due = add_working_time(at, timedelta(hours=sla_hours))
            if plan.decide_at > due and self.rng.random() < self.behaviour.remind_share:
                when = awake(due + applicant_delay(self.rng, 4), self.rng)
                if when < plan.decide_at:
                    self._at(when, "remind", task_id, actor)
