"""Decide: `decide(state, command, context) -> events`, pure.

The context carries what a decision may consult besides the instance: the actor (with the
roles the directory gives them), the clock, the process definition, the campaign, and two
look-ups into the directory (who decides a node for this applicant; whether a person exists).
Every refusal is an error type that says why; a refusal emits nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflow_core.catalog.forms import validate_form
from workflow_core.catalog.model import Audience, Node, ProcessDefinition
from workflow_core.directory.port import Assignment, Role
from workflow_core.domain.commands import (
    Approve,
    Comment,
    InstanceCommand,
    OpenCampaign,
    Reassign,
    Reject,
    Remind,
    RemindStudents,
    Resubmit,
    ReturnToApplicant,
    Submit,
    ViewTask,
    Withdraw,
)
from workflow_core.domain.events import (
    ActorRole,
    Approved,
    CampaignOpened,
    CampaignReminded,
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
    TaskViewed,
    Withdrawn,
)
from workflow_core.domain.evolve import evolve
from workflow_core.domain.state import (
    CampaignState,
    InstanceState,
    InstanceStatus,
    TaskState,
    TaskStatus,
)
from workflow_core.errors import (
    BusinessRuleError,
    ConflictError,
    FormValidationError,
    NotAuthorizedError,
    NotFoundError,
)

MAX_TEXT = 2000
MAX_HOLIDAY = 32  # a holiday's name is a short label (the campaigns table keeps 32 characters)
REMIND_INTERVAL = timedelta(hours=1)
# Offices that may urge (催办) any task of their people without being the applicant; who
# "their people" are (a college office: its college; 学工部, 研究生院, leaders: everyone) is
# the context's `supervises`.
SUPERVISING_ROLES = frozenset(
    {Role.COLLEGE_OFFICE, Role.STUDENT_AFFAIRS, Role.GRADUATE_SCHOOL, Role.LEADERSHIP}
)
# Who may run whereabouts campaigns and remind students who have not registered.
CAMPAIGN_ROLES = frozenset(
    {
        Role.CLASS_MONITOR,
        Role.COUNSELLOR,
        Role.COLLEGE_OFFICE,
        Role.RESIDENTIAL_COLLEGE_OFFICE,
        Role.STUDENT_AFFAIRS,
        Role.GRADUATE_SCHOOL,
    }
)
CAMPAIGN_ORGANISERS = frozenset({Role.STUDENT_AFFAIRS, Role.GRADUATE_SCHOOL})


@dataclass(frozen=True)
class Actor:
    person_id: str
    kind: Audience
    roles: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class DecisionContext:
    actor: Actor
    now: datetime
    definition: ProcessDefinition
    assign: Callable[[Node], Assignment]
    person_exists: Callable[[str], bool]
    campaign: CampaignState | None = None
    # Whether one of the actor's supervising offices looks after this applicant (催办 scope).
    supervises: Callable[[str], bool] = lambda _applicant: False


def decide(state: InstanceState, command: InstanceCommand, ctx: DecisionContext) -> list[Event]:
    """The events that `command` causes on the instance, or an error that says why not."""
    if isinstance(command, Submit):
        return _submit(state, command, ctx)
    if state.status is InstanceStatus.NEW:
        raise NotFoundError(f"instance {state.instance_id} does not exist")
    if state.status is InstanceStatus.IMPORTED:
        raise BusinessRuleError(
            f"instance {state.instance_id} is an imported historical case: it takes no commands"
        )
    match command:
        case ViewTask():
            return _view(state, command, ctx)
        case Approve():
            return _approve(state, command, ctx)
        case Reject():
            return _reject(state, command, ctx)
        case ReturnToApplicant():
            return _return(state, command, ctx)
        case Reassign():
            return _reassign(state, command, ctx)
        case Remind():
            return _remind(state, command, ctx)
        case Comment():
            return _comment(state, command, ctx)
        case Resubmit():
            return _resubmit(state, command, ctx)
        case Withdraw():
            return _withdraw(state, command, ctx)
    raise TypeError(f"unknown command {type(command).__name__}")


# --- submission -----------------------------------------------------------------------------


def _submit(state: InstanceState, cmd: Submit, ctx: DecisionContext) -> list[Event]:
    if state.status is not InstanceStatus.NEW:
        raise ConflictError(f"instance {state.instance_id} already exists")
    definition = ctx.definition
    if ctx.actor.kind not in definition.audience:
        raise NotAuthorizedError(
            f"{definition.name.zh} ({definition.key}) is not offered to {ctx.actor.kind.value}s"
        )
    _check_campaign(cmd.campaign_id, ctx)
    form = validate_form(definition, cmd.form)
    submitted = Submitted(
        occurred_at=ctx.now,
        actor_id=ctx.actor.person_id,
        actor_role=ActorRole.APPLICANT,
        process_key=definition.key,
        process_version=definition.version,
        applicant_id=ctx.actor.person_id,
        form=form,
        campaign_id=cmd.campaign_id,
        supersedes=cmd.supersedes,
    )
    after = evolve(state, submitted)
    return [submitted, *_activate_from(after, 0, ctx)]


def _check_campaign(campaign_id: str | None, ctx: DecisionContext) -> None:
    definition = ctx.definition
    if not definition.campaign_based:
        if campaign_id is not None:
            raise FormValidationError(
                f"{definition.key} is not campaign-based",
                {"campaign_id": "this service has no campaigns; leave it out"},
            )
        return
    if campaign_id is None:
        raise FormValidationError(
            f"{definition.key} needs a campaign", {"campaign_id": "required for this service"}
        )
    campaign = ctx.campaign
    if campaign is None or not campaign.opened:
        raise NotFoundError(f"campaign {campaign_id} does not exist")
    if campaign.process_key != definition.key:
        raise BusinessRuleError(f"campaign {campaign_id} is not a {definition.key} campaign")
    if campaign.opens_at is not None and ctx.now < campaign.opens_at:
        raise BusinessRuleError(f"campaign {campaign_id} opens at {campaign.opens_at.isoformat()}")
    if ctx.actor.kind.value not in campaign.audience:
        raise NotAuthorizedError(
            f"campaign {campaign_id} is for {', '.join(campaign.audience)}, "
            f"not {ctx.actor.kind.value}s"
        )


def _activate_from(state: InstanceState, first_step: int, ctx: DecisionContext) -> list[Event]:
    """Tasks for the first step at or after `first_step` with a node that applies; else done."""
    steps = ctx.definition.steps
    for index in range(first_step, len(steps)):
        nodes = [node for node in steps[index].nodes if node.applies_to(state.form)]
        if not nodes:
            continue
        events: list[Event] = []
        for offset, node in enumerate(nodes):
            assignment = ctx.assign(node)
            # Nobody decides their own request (an approver applying for a vehicle pass is
            # one of their department's approvers): the others decide it, and if there are
            # no others the submission is refused rather than left to the applicant.
            assignees = tuple(a for a in assignment.assignees if a != state.applicant_id)
            if not assignees:
                raise BusinessRuleError(
                    f"{node.key}: nobody but the applicant {state.applicant_id} can decide "
                    f"this node for department {assignment.department_id}",
                    {"node": node.key},
                )
            events.append(
                TaskCreated(
                    occurred_at=ctx.now,
                    actor_id=ctx.actor.person_id,
                    actor_role=ActorRole.SYSTEM,
                    task=task_id_of(state.instance_id, len(state.tasks) + offset + 1),
                    node=node.key,
                    department=assignment.department_id,
                    assignees=assignees,
                    sla_hours=node.sla_hours,
                    step=index,
                )
            )
        return events
    return [
        Completed(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.SYSTEM,
            outcome="approved",
        )
    ]


def task_id_of(instance_id: str, number: int) -> str:
    """Task ids name their instance: `<instance id>-t<n>`, n counting the instance's tasks."""
    return f"{instance_id}-t{number}"


def instance_of_task(task_id: str) -> str:
    """The instance a task id belongs to; NotFoundError for an id no task could have."""
    instance_id, sep, number = task_id.rpartition("-t")
    if not sep or not instance_id or not number.isdigit():
        raise NotFoundError(f"task {task_id} does not exist")
    return instance_id


# --- decisions on tasks ---------------------------------------------------------------------


def _open_task_of_assignee(state: InstanceState, task_id: str, ctx: DecisionContext) -> TaskState:
    """The task, if the actor may decide it and it is still open."""
    task = state.task(task_id)
    if task is None:
        raise NotFoundError(f"task {task_id} does not exist")
    if ctx.actor.person_id not in task.assignees:
        raise NotAuthorizedError(f"task {task_id} is not assigned to {ctx.actor.person_id}")
    if ctx.actor.person_id == state.applicant_id:
        raise NotAuthorizedError(f"{ctx.actor.person_id} cannot decide their own request")
    _require_open(task)
    return task


def _require_open(task: TaskState) -> None:
    if task.status is TaskStatus.CANCELLED:
        raise ConflictError(f"task {task.task_id} was cancelled")
    if task.status is not TaskStatus.OPEN:
        raise ConflictError(f"task {task.task_id} was already decided ({task.status.value})")


def _implicit_view(task: TaskState, ctx: DecisionContext) -> list[Event]:
    if task.viewed_at is not None:
        return []
    return [
        TaskViewed(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.ASSIGNEE,
            task=task.task_id,
            node=task.node_key,
            department=task.department_id,
            implicit=True,
        )
    ]


def _view(state: InstanceState, cmd: ViewTask, ctx: DecisionContext) -> list[Event]:
    task = _open_task_of_assignee(state, cmd.task_id, ctx)
    if task.viewed_at is not None:
        return []  # the first view is what the wait time measures; later ones change nothing
    return [
        TaskViewed(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.ASSIGNEE,
            task=task.task_id,
            node=task.node_key,
            department=task.department_id,
        )
    ]


def _approve(state: InstanceState, cmd: Approve, ctx: DecisionContext) -> list[Event]:
    task = _open_task_of_assignee(state, cmd.task_id, ctx)
    _check_text("comment", cmd.comment, required=False)
    events: list[Event] = _implicit_view(task, ctx)
    events.append(
        Approved(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.ASSIGNEE,
            task=task.task_id,
            node=task.node_key,
            department=task.department_id,
            comment=cmd.comment,
        )
    )
    after = state
    for event in events:
        after = evolve(after, event)
    still_open = [t for t in after.tasks if t.step == task.step and t.status is TaskStatus.OPEN]
    if not still_open:
        events.extend(_activate_from(after, task.step + 1, ctx))
    return events


def _reject(state: InstanceState, cmd: Reject, ctx: DecisionContext) -> list[Event]:
    events = _stop_with(state, cmd.task_id, cmd.reason, Rejected, "rejected", ctx)
    events.append(
        Completed(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.SYSTEM,
            outcome="rejected",
        )
    )
    return events


def _return(state: InstanceState, cmd: ReturnToApplicant, ctx: DecisionContext) -> list[Event]:
    return _stop_with(state, cmd.task_id, cmd.reason, Returned, "returned", ctx)


def _stop_with(
    state: InstanceState,
    task_id: str,
    reason: str,
    decision: type[Rejected] | type[Returned],
    cancel_reason: str,
    ctx: DecisionContext,
) -> list[Event]:
    """A decision that stops the instance at this task: the other open tasks are cancelled."""
    task = _open_task_of_assignee(state, task_id, ctx)
    _check_text("reason", reason, required=True)
    events: list[Event] = _implicit_view(task, ctx)
    events.append(
        decision(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.ASSIGNEE,
            task=task.task_id,
            node=task.node_key,
            department=task.department_id,
            reason=reason,
        )
    )
    events.extend(_cancel_open(state, ctx, cancel_reason, except_task=task.task_id))
    return events


def _cancel_open(
    state: InstanceState, ctx: DecisionContext, reason: str, except_task: str | None = None
) -> list[Event]:
    return [
        TaskCancelled(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.SYSTEM,
            task=t.task_id,
            node=t.node_key,
            department=t.department_id,
            reason=reason,
        )
        for t in state.open_tasks
        if t.task_id != except_task
    ]


def _reassign(state: InstanceState, cmd: Reassign, ctx: DecisionContext) -> list[Event]:
    task = _open_task_of_assignee(state, cmd.task_id, ctx)
    _check_text("reason", cmd.reason, required=False)
    if cmd.to == ctx.actor.person_id:
        raise BusinessRuleError("a task cannot be reassigned to oneself", {"to": "is yourself"})
    if cmd.to in task.assignees:
        raise BusinessRuleError(
            f"{cmd.to} is already an assignee of task {task.task_id}",
            {"to": "already an assignee"},
        )
    if cmd.to == state.applicant_id:
        raise BusinessRuleError(
            "the applicant cannot decide their own request", {"to": "is the applicant"}
        )
    if not ctx.person_exists(cmd.to):
        raise BusinessRuleError(f"unknown person {cmd.to}", {"to": "not in the directory"})
    assignees = (*task.assignees, cmd.to) if cmd.delegate else (cmd.to,)
    return [
        Reassigned(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.ASSIGNEE,
            task=task.task_id,
            node=task.node_key,
            department=task.department_id,
            to=cmd.to,
            delegate=cmd.delegate,
            assignees=assignees,
            reason=cmd.reason,
        )
    ]


def _remind(state: InstanceState, cmd: Remind, ctx: DecisionContext) -> list[Event]:
    task = state.task(cmd.task_id)
    if task is None:
        raise NotFoundError(f"task {cmd.task_id} does not exist")
    is_applicant = ctx.actor.person_id == state.applicant_id
    if not is_applicant and not (
        ctx.actor.roles & SUPERVISING_ROLES and ctx.supervises(state.applicant_id)
    ):
        raise NotAuthorizedError(
            "only the applicant or an office that looks after them may remind (催办)"
        )
    _require_open(task)
    _check_text("message", cmd.message, required=False)
    if task.last_reminded_at is not None and ctx.now - task.last_reminded_at < REMIND_INTERVAL:
        raise BusinessRuleError(
            f"task {task.task_id} was reminded at {task.last_reminded_at.isoformat()}; "
            "remind again after an hour"
        )
    return [
        Reminded(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.APPLICANT if is_applicant else ActorRole.SUPERVISOR,
            task=task.task_id,
            node=task.node_key,
            department=task.department_id,
            message=cmd.message,
        )
    ]


def _comment(state: InstanceState, cmd: Comment, ctx: DecisionContext) -> list[Event]:
    if ctx.actor.person_id not in state.participants():
        raise NotAuthorizedError(f"{ctx.actor.person_id} takes no part in {state.instance_id}")
    _check_text("text", cmd.text, required=True)
    if cmd.task_id is not None and state.task(cmd.task_id) is None:
        raise NotFoundError(f"task {cmd.task_id} does not exist")
    role = ActorRole.APPLICANT if ctx.actor.person_id == state.applicant_id else ActorRole.ASSIGNEE
    return [
        Commented(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=role,
            text=cmd.text,
            about_task=cmd.task_id,
        )
    ]


# --- the applicant's commands ---------------------------------------------------------------


def _require_applicant(state: InstanceState, ctx: DecisionContext, what: str) -> None:
    if ctx.actor.person_id != state.applicant_id:
        raise NotAuthorizedError(f"only the applicant may {what} {state.instance_id}")


def _resubmit(state: InstanceState, cmd: Resubmit, ctx: DecisionContext) -> list[Event]:
    _require_applicant(state, ctx, "resubmit")
    if state.status is not InstanceStatus.RETURNED:
        raise BusinessRuleError(
            f"instance {state.instance_id} is {state.status.value}; only a returned request "
            "can be resubmitted"
        )
    form = validate_form(ctx.definition, cmd.form)
    resubmitted = Resubmitted(
        occurred_at=ctx.now, actor_id=ctx.actor.person_id, actor_role=ActorRole.APPLICANT, form=form
    )
    after = evolve(state, resubmitted)
    return [resubmitted, *_activate_from(after, _restart_step(after, ctx), ctx)]


def _restart_step(state: InstanceState, ctx: DecisionContext) -> int:
    """Where a corrected request starts again: the step that returned it, as a rule.

    Earlier approvals stand. But the correction may change the form so that an earlier node now
    applies which never approved it (a 延期毕业 corrected to 退学 needs finance and leadership):
    then the request restarts at the first such step, so a correction cannot skip an approval.
    """
    approved = {t.node_key for t in state.tasks if t.status is TaskStatus.APPROVED}
    for index, step in enumerate(ctx.definition.steps[: state.step]):
        if any(n.applies_to(state.form) and n.key not in approved for n in step.nodes):
            return index
    return state.step


def _withdraw(state: InstanceState, cmd: Withdraw, ctx: DecisionContext) -> list[Event]:
    _require_applicant(state, ctx, "withdraw")
    if state.status.terminal:
        raise BusinessRuleError(f"instance {state.instance_id} is already {_ended(state)}")
    _check_text("reason", cmd.reason, required=False)
    return [
        *_cancel_open(state, ctx, "withdrawn"),
        Withdrawn(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.APPLICANT,
            reason=cmd.reason,
        ),
    ]


def _ended(state: InstanceState) -> str:
    if state.status is InstanceStatus.COMPLETED:
        return f"completed ({state.outcome})"
    return state.status.value


def _check_text(name: str, value: str, *, required: bool) -> None:
    if not isinstance(value, str):
        raise FormValidationError(f"{name} must be text", {name: "must be a string"})
    if required and not value.strip():
        raise FormValidationError(f"{name} is required", {name: "required"})
    if len(value) > MAX_TEXT:
        raise FormValidationError(f"{name} is too long", {name: f"at most {MAX_TEXT} characters"})


# --- campaigns (假期去向登记) ----------------------------------------------------------------


@dataclass(frozen=True)
class CampaignContext:
    actor: Actor
    now: datetime
    definition: ProcessDefinition | None  # of the campaign's process, when opening
    is_student: Callable[[str], bool]
    in_scope: Callable[[str], bool]  # the student belongs to a class or unit the actor looks after


def decide_campaign(
    state: CampaignState, command: OpenCampaign | RemindStudents, ctx: CampaignContext
) -> list[Event]:
    if isinstance(command, OpenCampaign):
        return _open_campaign(state, command, ctx)
    return _remind_students(state, command, ctx)


def _open_campaign(state: CampaignState, cmd: OpenCampaign, ctx: CampaignContext) -> list[Event]:
    if not ctx.actor.roles & CAMPAIGN_ORGANISERS:
        raise NotAuthorizedError("only student affairs or the graduate school open campaigns")
    if state.opened:
        raise ConflictError(f"campaign {cmd.campaign_id} already exists")
    fields: dict[str, str] = {}
    if ctx.definition is None or not ctx.definition.campaign_based:
        fields["process_key"] = "must name a campaign-based service"
    if not cmd.title.strip():
        fields["title"] = "required"
    if not cmd.holiday.strip() or len(cmd.holiday.strip()) > MAX_HOLIDAY:
        fields["holiday"] = f"1–{MAX_HOLIDAY} characters (寒假, 暑假, 国庆, …)"
    if cmd.deadline <= cmd.opens_at:
        fields["deadline"] = "must be after opens_at"
    allowed = {Audience.UNDERGRADUATE.value, Audience.GRADUATE.value}
    if not cmd.audience or not set(cmd.audience) <= allowed:
        fields["audience"] = "one or more of undergraduate, graduate"
    if fields:
        raise FormValidationError("the campaign is not valid", fields)
    return [
        CampaignOpened(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.ORGANISER,
            campaign_id=cmd.campaign_id,
            process_key=cmd.process_key,
            title=cmd.title.strip(),
            holiday=cmd.holiday.strip(),
            opens_at=cmd.opens_at,
            deadline=cmd.deadline,
            audience=tuple(cmd.audience),
        )
    ]


def _remind_students(
    state: CampaignState, cmd: RemindStudents, ctx: CampaignContext
) -> list[Event]:
    if not state.opened:
        raise NotFoundError(f"campaign {state.campaign_id} does not exist")
    if not ctx.actor.roles & CAMPAIGN_ROLES:
        raise NotAuthorizedError("only monitors, counsellors and offices remind students")
    if not cmd.student_ids:
        raise FormValidationError("nobody to remind", {"student_ids": "at least one student"})
    unknown = [s for s in cmd.student_ids if not ctx.is_student(s)]
    if unknown:
        raise FormValidationError(
            "unknown students", {"student_ids": f"not students: {', '.join(unknown[:10])}"}
        )
    outside = [s for s in cmd.student_ids if not ctx.in_scope(s)]
    if outside:
        raise NotAuthorizedError(
            f"{ctx.actor.person_id} does not look after {', '.join(outside[:10])}"
        )
    _check_text("message", cmd.message, required=False)
    return [
        CampaignReminded(
            occurred_at=ctx.now,
            actor_id=ctx.actor.person_id,
            actor_role=ActorRole.ORGANISER,
            campaign_id=state.campaign_id,
            student_ids=tuple(dict.fromkeys(cmd.student_ids)),
            message=cmd.message,
        )
    ]
