"""Pure decisions over the real catalog: every transition and refusal, round-tripped each step."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from workflow_core.catalog.loader import Catalog, default_catalog
from workflow_core.catalog.model import AssigneeRuleKind, Audience, Node, ProcessDefinition
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
from workflow_core.domain.decide import (
    REMIND_INTERVAL,
    Actor,
    CampaignContext,
    DecisionContext,
    decide,
    decide_campaign,
)
from workflow_core.domain.events import (
    ActorRole,
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
from workflow_core.domain.evolve import evolve, evolve_campaign, fold, fold_campaign
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
    WorkflowError,
)
from workflow_core.store.serialization import from_row, to_row

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CATALOG: Catalog = default_catalog()

STUDENT = Actor("s-001", Audience.UNDERGRADUATE)
GRADUATE = Actor("g-001", Audience.GRADUATE)
OTHER_STUDENT = Actor("s-002", Audience.UNDERGRADUATE)
STAFF = Actor("staff-001", Audience.STAFF)
VISITOR = Actor("v-001", Audience.VISITOR)
COUNSELLOR = Actor("counsellor-1", Audience.STAFF, frozenset({Role.COUNSELLOR}))
STUDENT_AFFAIRS = Actor("sa-1", Audience.STAFF, frozenset({Role.STUDENT_AFFAIRS}))
COLLEGE_OFFICE = Actor("office-1", Audience.STAFF, frozenset({Role.COLLEGE_OFFICE}))
MONITOR = Actor("s-009", Audience.UNDERGRADUATE, frozenset({Role.CLASS_MONITOR}))
STRANGER = Actor("staff-999", Audience.STAFF)

# A dict-based assigner: who decides a node of each rule kind, for every applicant.
ASSIGNMENTS: dict[AssigneeRuleKind, Assignment] = {
    AssigneeRuleKind.CLASS_COUNSELLOR: Assignment("college-cs", ("counsellor-1",)),
    AssigneeRuleKind.COLLEGE_OFFICE: Assignment("college-cs", ("office-1", "office-2")),
    AssigneeRuleKind.RESIDENTIAL_COLLEGE_OFFICE: Assignment("rc-1", ("rc-office-1",)),
    AssigneeRuleKind.APPLICANT_DEPARTMENT: Assignment("dept-physics", ("head-1",)),
    AssigneeRuleKind.LEADERSHIP: Assignment("leadership", ("leader-1",)),
}
PEOPLE = frozenset(
    {
        "s-001",
        "s-002",
        "s-009",
        "g-001",
        "staff-001",
        "staff-002",
        "staff-999",
        "v-001",
        "counsellor-1",
        "counsellor-2",
        "office-1",
        "office-2",
        "head-1",
        "leader-1",
        "sa-1",
    }
)


def assigner(
    overrides: dict[AssigneeRuleKind, Assignment] | None = None,
) -> Callable[[Node], Assignment]:
    table = {**ASSIGNMENTS, **(overrides or {})}

    def assign(node: Node) -> Assignment:
        rule = node.assignee
        if rule.kind is AssigneeRuleKind.DEPARTMENT:
            assert rule.department is not None
            return Assignment(rule.department, (f"{rule.department}-approver",))
        return table[rule.kind]

    return assign


def approver(department: str) -> Actor:
    return Actor(f"{department}-approver", Audience.STAFF, frozenset({Role.DEPARTMENT_APPROVER}))


# --- forms that steer the conditions --------------------------------------------------------

DORM_FORM: dict[str, Any] = {
    "campus": "本部校区",
    "dorm_building": "桃园3栋",
    "room_number": "301",
    "residents": 4,
    "rental_plan": "学年租赁",
    "roommates_agree": True,
    "preferred_install_date": "2026-03-20",
    "contact_phone": "13800138000",
}


def activity_form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "title": "迎新文艺晚会",
        "activity_type": "文艺",
        "venue_type": "学生活动中心",
        "venue": "学生活动中心多功能厅",
        "start_time": "2026-03-20T19:00",
        "end_time": "2026-03-20T21:00",
        "expected_attendance": 300,
        "foreign_speaker": False,
        "livestream": False,
        "organiser_contact": "13800138000",
        "description": "一年一度的迎新晚会。",
    }
    form.update(changes)
    return form


LECTURE = {"activity_type": "讲座", "speaker_name": "王伟", "speaker_affiliation": "北京大学教授"}

MUSEUM_FORM: dict[str, Any] = {
    "visit_date": "2026-03-10",
    "time_slot": "09:00-10:30",
    "visitors": 2,
    "group_visit": False,
    "guided_tour": False,
    "contact_name": "李娜",
    "contact_phone": "13900139000",
}

WHEREABOUTS_STAY: dict[str, Any] = {
    "stay_or_leave": "留校",
    "emergency_contact_name": "张强",
    "emergency_contact_phone": "13700137000",
}


# --- the harness: decide, evolve, and round-trip through the store's rows at every step --------


def stored_again(instance_id: str, events: list[Event]) -> list[Event]:
    """The events as the store would give them back: rows, JSON payloads, then events."""
    out: list[Event] = []
    for version, event in enumerate(events, start=1):
        row = to_row(
            event,
            stream_id=instance_id,
            stream_version=version,
            stream_type="instance",
            process_key="p",
            process_version=1,
            recorded_at=NOW,
        )
        row = {**row, "event_id": version, "payload": json.loads(json.dumps(row["payload"]))}
        out.append(from_row(row).event)
    return out


class Run:
    """One instance driven through `decide`; after every command its events are serialised,
    deserialised and folded again, and must give the same state (round-trip at every step)."""

    def __init__(
        self,
        process_key: str,
        instance_id: str = "i1",
        now: datetime = NOW,
        assignments: dict[AssigneeRuleKind, Assignment] | None = None,
    ) -> None:
        self.definition: ProcessDefinition = CATALOG.get(process_key)
        self.assign = assigner(assignments)
        self.state = InstanceState(instance_id=instance_id)
        self.events: list[Event] = []
        self.now = now
        self.campaign: CampaignState | None = None
        self.supervised: set[str] = {"s-001", "g-001"}  # whom the supervising offices look after

    def ctx(self, actor: Actor) -> DecisionContext:
        return DecisionContext(
            actor=actor,
            now=self.now,
            definition=self.definition,
            assign=self.assign,
            person_exists=lambda person: person in PEOPLE,
            campaign=self.campaign,
            supervises=self.supervised.__contains__,
        )

    def do(self, actor: Actor, command: InstanceCommand) -> list[Event]:
        new = decide(self.state, command, self.ctx(actor))
        for event in new:
            self.state = evolve(self.state, event)
        self.events.extend(new)
        assert self.state.version == len(self.events)
        again = stored_again(self.state.instance_id, self.events)
        assert again == self.events
        assert fold(self.state.instance_id, again) == self.state
        return new

    def refused(
        self, actor: Actor, command: InstanceCommand, error: type[WorkflowError]
    ) -> WorkflowError:
        before = self.state
        with pytest.raises(error) as caught:
            decide(self.state, command, self.ctx(actor))
        assert type(caught.value) is error, caught.value
        assert self.state is before
        return caught.value

    def submit(self, actor: Actor, form: dict[str, Any], **kw: Any) -> list[Event]:
        return self.do(actor, Submit(self.state.instance_id, self.definition.key, form, **kw))

    def open_task(self, node_key: str) -> TaskState:
        found = [t for t in self.state.open_tasks if t.node_key == node_key]
        assert len(found) == 1, (node_key, [t.node_key for t in self.state.open_tasks])
        return found[0]

    def approve(self, node_key: str, actor: Actor | None = None) -> list[Event]:
        task = self.open_task(node_key)
        who = actor or Actor(task.assignees[0], Audience.STAFF)
        return self.do(who, Approve(task.task_id))

    def open_nodes(self) -> list[str]:
        return sorted(t.node_key for t in self.state.open_tasks)

    def later(self, delta: timedelta) -> None:
        self.now += delta


def types(events: list[Event]) -> list[str]:
    return [e.TYPE for e in events]


def assignee_of(task: TaskState) -> Actor:
    return Actor(task.assignees[0], Audience.STAFF)


# --- submission -----------------------------------------------------------------------------


def test_submit_creates_the_first_steps_tasks() -> None:
    run = Run("dorm_air_conditioner")
    events = run.submit(STUDENT, {**DORM_FORM, "residents": 4, "dorm_building": " 桃园3栋 "})
    assert types(events) == ["submitted", "task_created"]
    submitted, created = events
    assert isinstance(submitted, Submitted) and isinstance(created, TaskCreated)
    assert submitted.applicant_id == "s-001" and submitted.actor_role == ActorRole.APPLICANT
    assert submitted.form["dorm_building"] == "桃园3栋"  # the normalised form is what is kept
    assert created.node == "counsellor_review"
    assert created.assignees == ("counsellor-1",)
    assert created.department == "college-cs"
    assert created.sla_hours == run.definition.node("counsellor_review").sla_hours
    assert (created.step, created.task, created.actor_role) == (0, "i1-t1", ActorRole.SYSTEM)
    state = run.state
    assert state.status is InstanceStatus.IN_PROGRESS
    assert state.applicant_id == "s-001" and state.submitted_at == NOW and state.step == 0
    assert [t.status for t in state.tasks] == [TaskStatus.OPEN]


def test_submit_refuses_a_bad_form_a_wrong_audience_and_a_second_submit() -> None:
    run = Run("dorm_air_conditioner")
    error = run.refused(
        STUDENT,
        Submit("i1", "dorm_air_conditioner", {**DORM_FORM, "residents": 99}),
        FormValidationError,
    )
    assert "residents" in error.fields
    run.refused(STAFF, Submit("i1", "dorm_air_conditioner", DORM_FORM), NotAuthorizedError)
    run.submit(STUDENT, DORM_FORM)
    run.refused(STUDENT, Submit("i1", "dorm_air_conditioner", DORM_FORM), ConflictError)


def test_commands_on_an_instance_that_does_not_exist_are_not_found() -> None:
    run = Run("dorm_air_conditioner")
    for command in (Approve("i1-t1"), Withdraw(), Comment("hi"), Resubmit(DORM_FORM)):
        run.refused(STUDENT, command, NotFoundError)


# --- steps, parallel groups and conditions ---------------------------------------------------

FIRST_THREE = ("counsellor_review", "college_office_review", "youth_league_review")
PARALLEL_SAFETY = [
    "assets_review",
    "logistics_review",
    "propaganda_review",
    "property_review",
    "security_review",
]


def test_a_parallel_group_needs_every_member() -> None:
    run = Run("activity_application")
    run.submit(STUDENT, activity_form())
    for node in FIRST_THREE:
        run.approve(node)
    assert run.open_nodes() == PARALLEL_SAFETY
    assert {t.step for t in run.state.open_tasks} == {3}
    for node in PARALLEL_SAFETY[:-1]:
        events = run.approve(node)
        assert types(events) == ["task_viewed", "approved"]  # no new task while one is open
    assert run.open_nodes() == ["security_review"]
    events = run.approve("security_review")
    # Step 4's nodes all have conditions that this form does not meet: skipped.
    assert types(events) == ["task_viewed", "approved", "task_created"]
    assert run.open_nodes() == ["student_affairs_review"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"livestream": True}, ["it_center_review"]),
        (LECTURE, ["research_review"]),
        (
            {**LECTURE, "foreign_speaker": True, "livestream": True, "venue_type": "图书馆报告厅"},
            ["international_review", "it_center_review", "library_review", "research_review"],
        ),
    ],
)
def test_conditions_pick_the_nodes_that_run(changes: dict[str, Any], expected: list[str]) -> None:
    run = Run("activity_application")
    run.submit(STUDENT, activity_form(**changes))
    for node in (*FIRST_THREE, *PARALLEL_SAFETY):
        run.approve(node)
    if expected:
        assert run.open_nodes() == expected
        for node in expected:
            run.approve(node)
    assert run.open_nodes() == ["student_affairs_review"]


def test_a_condition_can_skip_the_first_step() -> None:
    run = Run("vpn_application")
    form = {
        "applicant_category": "教职工",
        "purpose": "远程办公",
        "systems": ["OA办公系统"],
        "start_date": "2026-03-03",
        "end_date": "2026-06-30",
        "contact_phone": "13800138000",
        "email": "a@example.edu.cn",
    }
    events = run.submit(STAFF, form)
    created = [e for e in events if isinstance(e, TaskCreated)]
    assert [(c.node, c.step, c.assignees) for c in created] == [
        ("department_review", 1, ("head-1",))
    ]


def test_approving_the_last_node_completes_as_approved() -> None:
    run = Run("museum_booking")
    run.submit(VISITOR, MUSEUM_FORM)
    task = run.open_task("museum_confirm")
    viewer = assignee_of(task)
    assert types(run.do(viewer, ViewTask(task.task_id))) == ["task_viewed"]
    assert run.do(viewer, ViewTask(task.task_id)) == []  # only the first view counts
    events = run.do(viewer, Approve(task.task_id, "欢迎参观"))
    assert types(events) == ["approved", "completed"]  # viewed already: no implicit view
    completed = events[-1]
    assert isinstance(completed, Completed) and completed.outcome == "approved"
    state = run.state
    assert state.status is InstanceStatus.COMPLETED and state.outcome == "approved"
    assert state.closed_at == NOW and state.open_tasks == ()
    decided = state.tasks[0]
    assert (decided.status, decided.decided_by) == (TaskStatus.APPROVED, viewer.person_id)


def test_a_decision_without_a_view_records_an_implicit_view() -> None:
    run = Run("museum_booking")
    run.submit(VISITOR, MUSEUM_FORM)
    events = run.approve("museum_confirm")
    viewed = events[0]
    assert isinstance(viewed, TaskViewed) and viewed.implicit


def test_every_service_runs_to_completion_when_everyone_approves() -> None:
    from workflow_core.catalog.examples import example_form

    for definition in CATALOG:
        if definition.campaign_based:
            continue
        kind = sorted(definition.audience)[0]
        run = Run(definition.key)
        run.submit(Actor("applicant-1", kind), example_form(definition, today=NOW.date()))
        for _ in range(len(definition.nodes) + 1):
            if not run.state.open_tasks:
                break
            run.approve(run.state.open_tasks[0].node_key)
        assert run.state.status is InstanceStatus.COMPLETED, definition.key
        assert run.state.outcome == "approved"


# --- reject, return, resubmit, withdraw --------------------------------------------------------


def _at_parallel_step() -> Run:
    run = Run("activity_application")
    run.submit(STUDENT, activity_form())
    for node in FIRST_THREE:
        run.approve(node)
    run.approve("assets_review")
    return run


def test_reject_cancels_the_siblings_and_completes_as_rejected() -> None:
    run = _at_parallel_step()
    task = run.open_task("security_review")
    events = run.do(approver("security"), Reject(task.task_id, "安全预案不完整"))
    assert types(events) == ["task_viewed", "rejected", *["task_cancelled"] * 3, "completed"]
    assert isinstance(events[1], Rejected) and events[1].reason == "安全预案不完整"
    assert {e.reason for e in events if isinstance(e, TaskCancelled)} == {"rejected"}
    assert isinstance(events[-1], Completed) and events[-1].outcome == "rejected"
    by_node = {t.node_key: t.status for t in run.state.tasks}
    assert by_node["assets_review"] is TaskStatus.APPROVED
    assert by_node["security_review"] is TaskStatus.REJECTED
    for node in ("logistics_review", "propaganda_review", "property_review"):
        assert by_node[node] is TaskStatus.CANCELLED
    assert run.state.status is InstanceStatus.COMPLETED and run.state.outcome == "rejected"


def test_return_then_resubmit_restarts_at_the_returning_step() -> None:
    run = Run("dorm_air_conditioner")
    run.submit(STUDENT, DORM_FORM)
    run.approve("counsellor_review")
    task = run.open_task("property_capacity_check")
    events = run.do(approver("property"), ReturnToApplicant(task.task_id, "请补充房间号"))
    assert types(events) == ["task_viewed", "returned"]
    assert isinstance(events[-1], Returned)
    assert run.state.status is InstanceStatus.RETURNED and run.state.returns == 1
    assert run.state.open_tasks == ()
    run.refused(approver("property"), Approve(task.task_id), ConflictError)

    new_form = {**DORM_FORM, "room_number": "302"}
    events = run.do(STUDENT, Resubmit(new_form))
    assert types(events) == ["resubmitted", "task_created"]
    assert isinstance(events[0], Resubmitted) and events[0].form["room_number"] == "302"
    created = events[1]
    assert isinstance(created, TaskCreated)
    # Earlier approvals stand: the counsellor is not asked again.
    assert (created.node, created.step, created.task) == ("property_capacity_check", 1, "i1-t3")
    assert run.state.status is InstanceStatus.IN_PROGRESS and run.state.form == new_form
    run.approve("property_capacity_check")
    run.approve("logistics_installation")
    assert run.state.status is InstanceStatus.COMPLETED and run.state.returns == 1


def test_a_return_in_a_parallel_group_cancels_the_siblings_and_reopens_the_group() -> None:
    run = _at_parallel_step()
    task = run.open_task("logistics_review")
    events = run.do(approver("logistics"), ReturnToApplicant(task.task_id, "请补充保障方案"))
    assert types(events) == ["task_viewed", "returned", *["task_cancelled"] * 3]
    assert {e.reason for e in events if isinstance(e, TaskCancelled)} == {"returned"}
    run.do(STUDENT, Resubmit(activity_form(expected_attendance=200)))
    assert run.open_nodes() == PARALLEL_SAFETY
    assert {t.step for t in run.state.open_tasks} == {3}
    assert len({t.task_id for t in run.state.tasks}) == len(run.state.tasks)


def test_resubmit_is_for_the_applicant_of_a_returned_request_only() -> None:
    run = Run("dorm_air_conditioner")
    run.submit(STUDENT, DORM_FORM)
    run.refused(STUDENT, Resubmit(DORM_FORM), BusinessRuleError)  # in progress
    task = run.open_task("counsellor_review")
    run.do(COUNSELLOR, ReturnToApplicant(task.task_id, "请核对"))
    run.refused(OTHER_STUDENT, Resubmit(DORM_FORM), NotAuthorizedError)
    run.refused(COUNSELLOR, Resubmit(DORM_FORM), NotAuthorizedError)
    run.refused(STUDENT, Resubmit({**DORM_FORM, "residents": 0}), FormValidationError)
    run.do(STUDENT, Resubmit(DORM_FORM))
    assert run.open_nodes() == ["counsellor_review"]


def test_withdraw_cancels_the_open_tasks_and_ends_the_request() -> None:
    run = _at_parallel_step()
    run.refused(OTHER_STUDENT, Withdraw(), NotAuthorizedError)
    run.refused(COUNSELLOR, Withdraw(), NotAuthorizedError)
    events = run.do(STUDENT, Withdraw("活动取消"))
    assert types(events) == [*["task_cancelled"] * 4, "withdrawn"]
    assert isinstance(events[-1], Withdrawn) and events[-1].reason == "活动取消"
    assert run.state.status is InstanceStatus.WITHDRAWN and run.state.outcome == "withdrawn"
    assert run.state.open_tasks == () and run.state.closed_at == NOW
    run.refused(STUDENT, Withdraw(), BusinessRuleError)


def test_a_returned_request_can_be_withdrawn() -> None:
    run = Run("museum_booking")
    run.submit(VISITOR, MUSEUM_FORM)
    task = run.open_task("museum_confirm")
    run.do(assignee_of(task), ReturnToApplicant(task.task_id, "日期已满"))
    assert types(run.do(VISITOR, Withdraw())) == ["withdrawn"]


def test_a_terminal_request_refuses_every_change() -> None:
    run = Run("museum_booking")
    run.submit(VISITOR, MUSEUM_FORM)
    task = run.open_task("museum_confirm")
    museum = assignee_of(task)
    run.approve("museum_confirm")
    run.refused(VISITOR, Withdraw(), BusinessRuleError)
    run.refused(VISITOR, Resubmit(MUSEUM_FORM), BusinessRuleError)
    for command in (
        Approve(task.task_id),
        Reject(task.task_id, "x"),
        ReturnToApplicant(task.task_id, "x"),
        Reassign(task.task_id, "staff-002"),
        ViewTask(task.task_id),
    ):
        run.refused(museum, command, ConflictError)
    run.refused(VISITOR, Remind(task.task_id), ConflictError)


# --- who may decide ----------------------------------------------------------------------------


def test_only_an_assignee_decides_a_task() -> None:
    run = Run("dorm_air_conditioner")
    run.submit(STUDENT, DORM_FORM)
    task = run.open_task("counsellor_review")
    for actor in (STUDENT, OTHER_STUDENT, STRANGER, COLLEGE_OFFICE, STUDENT_AFFAIRS):
        for command in (
            ViewTask(task.task_id),
            Approve(task.task_id),
            Reject(task.task_id, "no"),
            ReturnToApplicant(task.task_id, "no"),
            Reassign(task.task_id, "counsellor-2"),
        ):
            run.refused(actor, command, NotAuthorizedError)
    run.refused(COUNSELLOR, Approve("i1-t99"), NotFoundError)


def test_a_decided_or_cancelled_task_cannot_be_decided_again() -> None:
    run = _at_parallel_step()
    assets = next(t for t in run.state.tasks if t.node_key == "assets_review")
    run.refused(approver("assets"), Approve(assets.task_id), ConflictError)
    run.refused(approver("assets"), Reject(assets.task_id, "x"), ConflictError)
    security = run.open_task("security_review")
    run.do(approver("security"), Reject(security.task_id, "不同意"))
    property_task = next(t for t in run.state.tasks if t.node_key == "property_review")
    assert property_task.status is TaskStatus.CANCELLED
    error = run.refused(approver("property"), Approve(property_task.task_id), ConflictError)
    assert "cancelled" in error.message


def test_reasons_are_required_for_reject_and_return_and_text_is_bounded() -> None:
    run = Run("museum_booking")
    run.submit(VISITOR, MUSEUM_FORM)
    task = run.open_task("museum_confirm")
    museum = assignee_of(task)
    run.refused(museum, Reject(task.task_id, "  "), FormValidationError)
    run.refused(museum, ReturnToApplicant(task.task_id, ""), FormValidationError)
    run.refused(museum, Approve(task.task_id, "x" * 2001), FormValidationError)


# --- reassign and delegate ---------------------------------------------------------------------


def test_reassign_moves_the_task_to_another_person() -> None:
    run = Run("dorm_air_conditioner")
    run.submit(STUDENT, DORM_FORM)
    task = run.open_task("counsellor_review")
    events = run.do(COUNSELLOR, Reassign(task.task_id, "counsellor-2", reason="出差"))
    reassigned = events[0]
    assert isinstance(reassigned, Reassigned)
    assert (reassigned.to, reassigned.delegate, reassigned.assignees) == (
        "counsellor-2",
        False,
        ("counsellor-2",),
    )
    assert run.open_task("counsellor_review").assignees == ("counsellor-2",)
    run.refused(COUNSELLOR, Approve(task.task_id), NotAuthorizedError)
    run.do(Actor("counsellor-2", Audience.STAFF), Approve(task.task_id))
    assert run.open_nodes() == ["property_capacity_check"]


def test_delegate_adds_a_person_beside_the_assignees() -> None:
    run = Run("dorm_air_conditioner")
    run.submit(STUDENT, DORM_FORM)
    task = run.open_task("counsellor_review")
    run.do(COUNSELLOR, Reassign(task.task_id, "counsellor-2", delegate=True))
    assert run.open_task("counsellor_review").assignees == ("counsellor-1", "counsellor-2")
    run.do(Actor("counsellor-2", Audience.STAFF), Approve(task.task_id))
    decided = run.state.task(task.task_id)
    assert decided is not None and decided.decided_by == "counsellor-2"
    run.refused(COUNSELLOR, Approve(task.task_id), ConflictError)


def test_reassign_refuses_oneself_a_current_assignee_the_applicant_and_strangers() -> None:
    run = Run("activity_application")
    run.submit(STUDENT, activity_form())
    run.approve("counsellor_review")
    task = run.open_task("college_office_review")
    office = Actor("office-1", Audience.STAFF)
    run.refused(office, Reassign(task.task_id, "office-1"), BusinessRuleError)
    run.refused(office, Reassign(task.task_id, "office-2"), BusinessRuleError)
    run.refused(office, Reassign(task.task_id, "s-001"), BusinessRuleError)
    run.refused(office, Reassign(task.task_id, "nobody-here"), BusinessRuleError)
    run.do(office, Reassign(task.task_id, "staff-002"))


# --- remind (催办) and comment ----------------------------------------------------------------


def test_remind_is_for_the_applicant_or_a_supervising_office_once_an_hour() -> None:
    run = Run("dorm_air_conditioner")
    run.submit(STUDENT, DORM_FORM)
    task = run.open_task("counsellor_review")
    events = run.do(STUDENT, Remind(task.task_id, "请尽快审批"))
    reminded = events[0]
    assert isinstance(reminded, Reminded) and reminded.actor_role == ActorRole.APPLICANT
    error = run.refused(STUDENT, Remind(task.task_id), BusinessRuleError)
    assert "hour" in error.message
    run.refused(COLLEGE_OFFICE, Remind(task.task_id), BusinessRuleError)  # interval per task
    run.later(REMIND_INTERVAL - timedelta(seconds=1))
    run.refused(STUDENT, Remind(task.task_id), BusinessRuleError)
    run.later(timedelta(seconds=1))
    events = run.do(COLLEGE_OFFICE, Remind(task.task_id))
    assert events[0].actor_role == ActorRole.SUPERVISOR
    remembered = run.open_task("counsellor_review")
    assert (remembered.reminders, remembered.last_reminded_at) == (2, run.now)
    run.later(REMIND_INTERVAL)
    for actor in (OTHER_STUDENT, STRANGER, COUNSELLOR, MONITOR):
        run.refused(actor, Remind(task.task_id), NotAuthorizedError)
    run.refused(STUDENT, Remind("i1-t42"), NotFoundError)
    run.supervised = set()  # an office of another college
    run.refused(COLLEGE_OFFICE, Remind(task.task_id), NotAuthorizedError)


def test_comments_come_from_participants() -> None:
    run = Run("dorm_air_conditioner")
    run.submit(STUDENT, DORM_FORM)
    task = run.open_task("counsellor_review")
    events = run.do(STUDENT, Comment("补充：已征得室友同意"))
    assert isinstance(events[0], Commented) and events[0].actor_role == ActorRole.APPLICANT
    events = run.do(COUNSELLOR, Comment("收到", task.task_id))
    assert isinstance(events[0], Commented)
    assert events[0].about_task == task.task_id and events[0].actor_role == ActorRole.ASSIGNEE
    run.refused(OTHER_STUDENT, Comment("我也想装"), NotAuthorizedError)
    run.refused(STUDENT, Comment("   "), FormValidationError)
    run.refused(STUDENT, Comment("about nothing", "i1-t9"), NotFoundError)
    assert run.state.status is InstanceStatus.IN_PROGRESS  # comments change no status


# --- campaigns (假期去向登记) --------------------------------------------------------------------

OPENS = datetime(2026, 1, 5, tzinfo=UTC)
DEADLINE = datetime(2026, 1, 20, 16, 0, tzinfo=UTC)


def campaign_ctx(
    actor: Actor,
    *,
    definition: ProcessDefinition | None = None,
    in_scope: Callable[[str], bool] = lambda _s: True,
) -> CampaignContext:
    return CampaignContext(
        actor=actor,
        now=NOW,
        definition=definition,
        is_student=lambda person: person.startswith(("s-", "g-")),
        in_scope=in_scope,
    )


def open_command(**changes: Any) -> OpenCampaign:
    command = OpenCampaign(
        campaign_id="winter-2026",
        process_key="holiday_whereabouts",
        title="2026 寒假去向登记",
        holiday="寒假",
        opens_at=OPENS,
        deadline=DEADLINE,
        audience=("undergraduate", "graduate"),
    )
    return replace(command, **changes)


def opened_campaign(**changes: Any) -> CampaignState:
    definition = CATALOG.get("holiday_whereabouts")
    ctx = campaign_ctx(STUDENT_AFFAIRS, definition=definition)
    events = decide_campaign(CampaignState("winter-2026"), open_command(**changes), ctx)
    return fold_campaign("winter-2026", events)


def test_a_registration_completes_at_once_and_remembers_what_it_supersedes() -> None:
    run = Run("holiday_whereabouts")
    run.campaign = opened_campaign()
    events = run.submit(STUDENT, WHEREABOUTS_STAY, campaign_id="winter-2026", supersedes="i0")
    assert types(events) == ["submitted", "completed"]
    submitted = events[0]
    assert isinstance(submitted, Submitted)
    assert (submitted.campaign_id, submitted.supersedes) == ("winter-2026", "i0")
    assert run.state.status is InstanceStatus.COMPLETED and run.state.outcome == "approved"
    assert run.state.supersedes == "i0"


def test_registrations_are_checked_against_their_campaign() -> None:
    run = Run("holiday_whereabouts")
    submit = Submit("i1", "holiday_whereabouts", WHEREABOUTS_STAY, "winter-2026")
    run.refused(STUDENT, replace(submit, campaign_id=None), FormValidationError)
    run.refused(STUDENT, submit, NotFoundError)  # no such campaign
    run.campaign = CampaignState("winter-2026")
    run.refused(STUDENT, submit, NotFoundError)  # never opened
    run.campaign = replace(opened_campaign(), process_key="museum_booking")
    run.refused(STUDENT, submit, BusinessRuleError)
    run.campaign = opened_campaign(opens_at=NOW + timedelta(days=1), deadline=NOW + timedelta(9))
    run.refused(STUDENT, submit, BusinessRuleError)  # not open yet
    run.campaign = opened_campaign(audience=("graduate",))
    run.refused(STUDENT, submit, NotAuthorizedError)
    run.submit(GRADUATE, WHEREABOUTS_STAY, campaign_id="winter-2026")
    # A late registration is still taken (the counsellor sees it as late).
    assert run.campaign.deadline is not None and run.campaign.deadline < NOW


def test_a_registration_refuses_a_staff_member_and_a_leaving_student_without_destination() -> None:
    run = Run("holiday_whereabouts")
    run.campaign = opened_campaign()
    submit = Submit("i1", "holiday_whereabouts", WHEREABOUTS_STAY, "winter-2026")
    run.refused(STAFF, submit, NotAuthorizedError)
    leaving = replace(submit, form={**WHEREABOUTS_STAY, "stay_or_leave": "离校"})
    error = run.refused(STUDENT, leaving, FormValidationError)
    assert "destination_province" in error.fields


def test_a_campaign_id_on_an_ordinary_service_is_refused() -> None:
    run = Run("museum_booking")
    submit = Submit("i1", "museum_booking", MUSEUM_FORM, campaign_id="winter-2026")
    run.refused(VISITOR, submit, FormValidationError)


def test_opening_a_campaign() -> None:
    definition = CATALOG.get("holiday_whereabouts")
    ctx = campaign_ctx(STUDENT_AFFAIRS, definition=definition)
    events = decide_campaign(CampaignState("winter-2026"), open_command(), ctx)
    assert types(events) == ["campaign_opened"]
    opened = events[0]
    assert isinstance(opened, CampaignOpened) and opened.actor_role == ActorRole.ORGANISER
    state = evolve_campaign(CampaignState("winter-2026"), opened)
    assert state.opened and state.deadline == DEADLINE and state.version == 1
    with pytest.raises(ConflictError):
        decide_campaign(state, open_command(), ctx)
    for actor in (COUNSELLOR, MONITOR, COLLEGE_OFFICE, STUDENT):
        with pytest.raises(NotAuthorizedError):
            decide_campaign(CampaignState("c"), open_command(), campaign_ctx(actor))
    bad = open_command(title=" ", deadline=OPENS, audience=("staff",), holiday="寒" * 33)
    with pytest.raises(FormValidationError) as caught:
        decide_campaign(CampaignState("c"), bad, ctx)
    assert set(caught.value.fields) == {"title", "deadline", "audience", "holiday"}
    with pytest.raises(FormValidationError) as caught:
        decide_campaign(CampaignState("c"), open_command(holiday=" "), ctx)
    assert set(caught.value.fields) == {"holiday"}
    assert decide_campaign(CampaignState("c"), open_command(holiday="寒" * 32), ctx)
    museum = campaign_ctx(STUDENT_AFFAIRS, definition=CATALOG.get("museum_booking"))
    with pytest.raises(FormValidationError) as caught:
        decide_campaign(CampaignState("c"), open_command(process_key="museum_booking"), museum)
    assert set(caught.value.fields) == {"process_key"}


def test_reminding_students_checks_role_students_and_scope() -> None:
    campaign = opened_campaign()
    remind = RemindStudents(("s-001", "s-002", "s-001"), "请尽快登记")
    my_class = {"s-001", "s-002"}

    monitor = campaign_ctx(MONITOR, in_scope=my_class.__contains__)
    events = decide_campaign(campaign, remind, monitor)
    reminded = events[0]
    assert isinstance(reminded, CampaignReminded)
    assert reminded.student_ids == ("s-001", "s-002")  # once each, in order
    assert evolve_campaign(campaign, reminded).reminders == 1

    with pytest.raises(NotFoundError):
        decide_campaign(CampaignState("nope"), remind, campaign_ctx(MONITOR))
    for actor in (STUDENT, STRANGER):
        with pytest.raises(NotAuthorizedError):
            decide_campaign(campaign, remind, campaign_ctx(actor))
    with pytest.raises(NotAuthorizedError):
        decide_campaign(
            campaign,
            RemindStudents(("s-001", "s-777")),
            campaign_ctx(MONITOR, in_scope=my_class.__contains__),
        )
    with pytest.raises(FormValidationError):
        decide_campaign(campaign, RemindStudents(("staff-001",)), campaign_ctx(COUNSELLOR))
    with pytest.raises(FormValidationError):
        decide_campaign(campaign, RemindStudents(()), campaign_ctx(COUNSELLOR))


# --- findings: a correction must not skip an approval; nobody decides their own request --------

STATUS_CHANGE: dict[str, Any] = {
    "change_type": "延期毕业",
    "effective_date": "2026-06-30",
    "supervisor_name": "刘敏",
    "supervisor_agrees": True,
    "reason": "论文实验需要延长。",
    "contact_phone": "13600136000",
}


def test_a_corrected_form_that_needs_an_earlier_node_restarts_there() -> None:
    run = Run("graduate_status_change")
    run.submit(GRADUATE, STATUS_CHANGE)
    for node in ("counsellor_review", "college_review", "graduate_school_review"):
        run.approve(node)
    assert run.open_nodes() == ["graduate_school_filing"]  # finance and leadership skipped
    task = run.open_task("graduate_school_filing")
    run.do(approver("graduate_school"), ReturnToApplicant(task.task_id, "请确认异动类型"))
    # Corrected to 退学 (leaving): finance settlement and leadership approval now apply, and
    # were never approved, so the request goes back to finance, not straight to filing.
    run.do(GRADUATE, Resubmit({**STATUS_CHANGE, "change_type": "退学"}))
    assert run.open_nodes() == ["finance_settlement"]
    run.approve("finance_settlement")
    assert run.open_nodes() == ["leadership_approval"]
    run.approve("leadership_approval")
    assert run.open_nodes() == ["graduate_school_filing"]
    run.approve("graduate_school_filing")
    assert run.state.status is InstanceStatus.COMPLETED


def test_an_unchanged_correction_still_restarts_at_the_returning_step() -> None:
    run = Run("graduate_status_change")
    run.submit(GRADUATE, {**STATUS_CHANGE, "change_type": "退学"})
    for node in ("counsellor_review", "college_review", "graduate_school_review"):
        run.approve(node)
    run.approve("finance_settlement")
    task = run.open_task("leadership_approval")
    run.do(Actor("leader-1", Audience.STAFF), ReturnToApplicant(task.task_id, "请补充材料"))
    run.do(GRADUATE, Resubmit({**STATUS_CHANGE, "change_type": "退学", "reason": "补充说明。"}))
    assert run.open_nodes() == ["leadership_approval"]


FIXED_IP_FORM: dict[str, Any] = {
    "building": "理科楼",
    "room": "305",
    "device_type": "服务器",
    "mac_address": "00:1A:2B:3C:4D:5E",
    "quantity": 1,
    "external_access": False,
    "purpose": "课题组计算服务器。",
    "contact_phone": "13800138000",
}


def test_an_approver_who_applies_is_not_an_assignee_of_their_own_request() -> None:
    heads = Assignment("dept-physics", ("head-1", "head-2"))
    run = Run("fixed_ip", assignments={AssigneeRuleKind.APPLICANT_DEPARTMENT: heads})
    head = Actor("head-1", Audience.STAFF, frozenset({Role.DEPARTMENT_APPROVER}))
    run.submit(head, FIXED_IP_FORM)
    task = run.open_task("department_review")
    assert task.assignees == ("head-2",)
    run.refused(head, Approve(task.task_id), NotAuthorizedError)
    run.do(Actor("head-2", Audience.STAFF), Approve(task.task_id))


def test_a_request_only_its_applicant_could_decide_is_refused() -> None:
    run = Run("fixed_ip")  # head-1 is the department's only approver
    head = Actor("head-1", Audience.STAFF, frozenset({Role.DEPARTMENT_APPROVER}))
    error = run.refused(head, Submit("i1", "fixed_ip", FIXED_IP_FORM), BusinessRuleError)
    assert "department_review" in error.message
