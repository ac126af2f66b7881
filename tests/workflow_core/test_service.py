"""Every catalog service driven end to end through the real service on SQLite and PostgreSQL,
a whereabouts campaign, who may do what, and that a refused command writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.workflow_core.conftest import Hall, fitting_form
from workflow_core.catalog.loader import default_catalog
from workflow_core.catalog.model import Audience
from workflow_core.errors import (
    BusinessRuleError,
    ConflictError,
    FormValidationError,
    IdempotencyKeyReusedError,
    NotAuthorizedError,
    NotFoundError,
    UnknownUserError,
    WorkflowError,
)
from workflow_core.service import WorkflowService

SERVICES = default_catalog().keys()
TERMINAL = {"completed", "withdrawn"}


def expected_nodes(hall: Hall, process_key: str, form: dict[str, Any]) -> list[str]:
    definition = hall.catalog.get(process_key)
    return [n.key for step in definition.steps for n in step.nodes if n.applies_to(form)]


def open_winter_campaign(hall: Hall, campaign_id: str = "winter-2026") -> dict[str, Any]:
    now = hall.service.clock()
    body = {
        "campaign_id": campaign_id,
        "process_key": "holiday_whereabouts",
        "title": "2026 寒假去向登记",
        "holiday": "寒假",
        "opens_at": (now - timedelta(days=1)).isoformat(),
        "deadline": (now + timedelta(days=10)).isoformat(),
        "audience": ["undergraduate", "graduate"],
    }
    organiser = hall.people.persona("student_affairs")
    return hall.service.open_campaign(organiser, body, idempotency_key=hall.key()).body


def outside_the_class(hall: Hall, class_id: str) -> str:
    """A student who is not in `class_id`."""
    people, now = hall.people, hall.service.clock()
    for student in people.by_kind[Audience.UNDERGRADUATE] + people.by_kind[Audience.GRADUATE]:
        placement = hall.service.directory.placement(student, now)
        if placement is not None and placement.class_id != class_id:
            return student
    raise AssertionError(f"every known student is in {class_id}")


def assert_inboxes_clean(hall: Hall, view: dict[str, Any]) -> None:
    for task in view["tasks"]:
        for person in task["assignees"]:
            assert task["task_id"] not in hall.inbox_ids(person)


@pytest.mark.parametrize("process_key", SERVICES)
def test_every_service_runs_to_each_of_its_ends(hall: Hall, process_key: str) -> None:
    definition = hall.catalog.get(process_key)
    applicant, _kind = hall.people.applicant_for(definition)
    campaign_id = None
    if definition.campaign_based:
        campaign_id = open_winter_campaign(hall)["campaign"]["campaign_id"]

    # Approved at every node.
    first = hall.submit(process_key, applicant, seed=1, campaign_id=campaign_id)
    assert first["applicant_id"] == applicant and first["process_name"]["zh"]
    done = hall.approve_to_end(first["instance_id"])
    assert (done["status"], done["outcome"]) == ("completed", "approved")
    assert [t["node_key"] for t in done["tasks"]] == expected_nodes(hall, process_key, done["form"])
    assert all(t["status"] == "approved" for t in done["tasks"])
    assert all(t["decided_by"] in t["assignees"] for t in done["tasks"])
    assert applicant not in {p for t in done["tasks"] for p in t["assignees"]}
    assert_inboxes_clean(hall, done)
    events = hall.service.get_events(applicant, first["instance_id"])
    assert events[0]["event_type"] == "submitted" and events[-1]["event_type"] == "completed"
    assert [e["stream_version"] for e in events] == list(range(1, len(events) + 1))
    assert hall.service.get_instance(applicant, first["instance_id"]) == done
    if definition.campaign_based:
        return  # a registration has no approval nodes: nothing to return, reject or withdraw

    # Returned at the first node, corrected, resubmitted, then rejected where it restarted.
    second = hall.submit(process_key, applicant, seed=2)
    returned = hall.decide_open(second["instance_id"], lambda _t: ("return", {"reason": "请补充"}))
    assert returned["status"] == "returned" and returned["returns"] == 1
    assert not [t for t in returned["tasks"] if t["status"] == "open"]
    assert_inboxes_clean(hall, returned)
    resubmitted = hall.service.act_on_instance(
        applicant, second["instance_id"], "resubmit", {"form": returned["form"]}
    ).body["instance"]
    assert resubmitted["status"] == "in_progress"
    reopened = [t for t in resubmitted["tasks"] if t["status"] == "open"]
    first_step = min(t["step"] for t in returned["tasks"])
    assert {t["step"] for t in reopened} == {first_step}
    rejected = hall.decide_open(second["instance_id"], lambda _t: ("reject", {"reason": "不符合"}))
    assert (rejected["status"], rejected["outcome"]) == ("completed", "rejected")
    assert "open" not in {t["status"] for t in rejected["tasks"]}
    assert_inboxes_clean(hall, rejected)

    # Withdrawn while in progress.
    third = hall.submit(process_key, applicant, seed=3)
    withdrawn = hall.service.act_on_instance(
        applicant, third["instance_id"], "withdraw", {"reason": "不需要了"}
    ).body["instance"]
    assert (withdrawn["status"], withdrawn["outcome"]) == ("withdrawn", "withdrawn")
    assert {t["status"] for t in withdrawn["tasks"]} == {"cancelled"}
    assert_inboxes_clean(hall, withdrawn)


def test_a_whereabouts_campaign(hall: Hall) -> None:
    service, people = hall.service, hall.people
    opened = open_winter_campaign(hall)
    assert opened["campaign"]["reminders"] == 0
    assert [e["event_type"] for e in opened["events"]] == ["campaign_opened"]
    student, monitor = people.persona("student"), people.persona("class_monitor")
    monitor_class = people.personas["class_monitor"][0]["scope"]["ids"][0]
    placement = service.directory.placement(student, service.clock())
    assert placement is not None and placement.class_id == monitor_class

    definition = hall.catalog.get("holiday_whereabouts")
    stay = fitting_form(definition, Audience.UNDERGRADUATE, 1, service.clock())
    stay.update(stay_or_leave="留校")
    for name in [f.name for f in definition.form if f.required_when is not None]:
        stay.pop(name, None)
    first = hall.submit("holiday_whereabouts", student, form=stay, campaign_id="winter-2026")
    assert (first["status"], first["supersedes"], first["tasks"]) == ("completed", None, [])
    leave = fitting_form(definition, Audience.UNDERGRADUATE, 7, service.clock())
    leave.update(
        stay_or_leave="离校",
        destination_province="四川省",
        destination_city="成都",
        destination_address="武侯区人民路1号",
        leave_date="2026-03-10",
        return_date="2026-03-20",
        transport="火车",
    )
    second = hall.submit("holiday_whereabouts", student, form=leave, campaign_id="winter-2026")
    assert second["supersedes"] == first["instance_id"]
    third = hall.submit("holiday_whereabouts", student, form=stay, campaign_id="winter-2026")
    assert third["supersedes"] == second["instance_id"]  # the latest one counts

    # Remind (催办): a monitor within their class; outside it is forbidden (403).
    reminded = service.remind_students(
        monitor, "winter-2026", {"student_ids": [student], "message": "请尽快登记"}
    ).body
    assert reminded["campaign"]["reminders"] == 1
    assert reminded["events"][0]["payload"]["student_ids"] == [student]
    outsider = outside_the_class(hall, monitor_class)
    with pytest.raises(NotAuthorizedError):
        service.remind_students(monitor, "winter-2026", {"student_ids": [student, outsider]})
    counsellor = people.persona("counsellor")
    assert service.remind_students(counsellor, "winter-2026", {"student_ids": [student]})
    with pytest.raises(NotAuthorizedError):
        service.remind_students(people.persona("student", 1), "winter-2026", {"student_ids": []})
    with pytest.raises(NotFoundError):
        service.remind_students(monitor, "summer-2026", {"student_ids": [student]})
    campaigns = service.list_campaigns(student)
    assert [(c["campaign_id"], c["reminders"]) for c in campaigns] == [("winter-2026", 2)]

    # Only organisers open campaigns, once; staff cannot register.
    with pytest.raises(NotAuthorizedError):
        service.open_campaign(counsellor, {**_campaign_body(hall), "campaign_id": "other-1"})
    with pytest.raises(ConflictError):
        open_winter_campaign(hall)
    with pytest.raises(NotAuthorizedError):
        hall.submit(
            "holiday_whereabouts", people.of(Audience.STAFF), form=stay, campaign_id="winter-2026"
        )


def _campaign_body(hall: Hall) -> dict[str, Any]:
    now = hall.service.clock()
    return {
        "campaign_id": "winter-2026",
        "process_key": "holiday_whereabouts",
        "title": "寒假",
        "holiday": "寒假",
        "opens_at": now.isoformat(),
        "deadline": (now + timedelta(days=3)).isoformat(),
    }


def test_only_assignees_and_delegates_decide(hall: Hall) -> None:
    service, people = hall.service, hall.people
    student = people.persona("student")
    instance = hall.submit("dorm_air_conditioner", student)
    task = hall.open_tasks(instance["instance_id"])[0]
    counsellor = task["assignees"][0]
    others = [
        student,
        people.persona("student", 1),
        people.persona("class_monitor"),
        people.persona("college_office"),
        people.persona("leadership"),
        people.persona("data_staff"),
    ]
    for person in others:
        for action, body in (("approve", {}), ("reject", {"reason": "x"}), ("view", {})):
            with pytest.raises(NotAuthorizedError):
                service.act_on_task(person, task["task_id"], action, body)
    delegate = people.persona("counsellor", 1)
    assert delegate not in task["assignees"]
    view = hall.act(counsellor, task["task_id"], "reassign", to=delegate, delegate=True)
    assert next(t for t in view["tasks"] if t["task_id"] == task["task_id"])["assignees"] == [
        counsellor,
        delegate,
    ]
    assert task["task_id"] in hall.inbox_ids(delegate) and task["task_id"] in hall.inbox_ids(
        counsellor
    )
    view = hall.act(delegate, task["task_id"], "approve", comment="代为同意")
    decided = next(t for t in view["tasks"] if t["task_id"] == task["task_id"])
    assert (decided["status"], decided["decided_by"]) == ("approved", delegate)
    with pytest.raises(ConflictError):
        service.act_on_task(counsellor, task["task_id"], "approve", {})
    assert task["task_id"] not in hall.inbox_ids(counsellor) | hall.inbox_ids(delegate)

    # Reassign (转办) hands the next task over completely.
    nxt = hall.open_tasks(instance["instance_id"])[0]
    holders, newcomer = nxt["assignees"], people.persona("department_approver", 1)
    assert newcomer not in holders
    hall.act(holders[0], nxt["task_id"], "reassign", to=newcomer, reason="转办")
    assert nxt["task_id"] in hall.inbox_ids(newcomer)
    for holder in holders:
        assert nxt["task_id"] not in hall.inbox_ids(holder)
        with pytest.raises(NotAuthorizedError):
            service.act_on_task(holder, nxt["task_id"], "approve", {})
    hall.act(newcomer, nxt["task_id"], "approve")


def test_only_the_applicant_withdraws_or_resubmits_and_no_student_acts_for_another(
    hall: Hall,
) -> None:
    service, people = hall.service, hall.people
    student, classmate = people.persona("student"), people.persona("student", 1)
    instance = hall.submit("dorm_air_conditioner", student)
    iid = instance["instance_id"]
    task = hall.open_tasks(iid)[0]
    counsellor = task["assignees"][0]
    for person in (classmate, counsellor, people.persona("student_affairs")):
        with pytest.raises(NotAuthorizedError):
            service.act_on_instance(person, iid, "withdraw", {})
    with pytest.raises(NotAuthorizedError):
        service.act_on_instance(classmate, iid, "comment", {"text": "我替他撤回"})
    with pytest.raises(NotAuthorizedError):
        service.act_on_task(classmate, task["task_id"], "remind", {})
    with pytest.raises(NotAuthorizedError):
        service.get_instance(classmate, iid)
    with pytest.raises(NotAuthorizedError):
        service.get_events(classmate, iid)

    hall.act(counsellor, task["task_id"], "return", reason="请补充宿舍号")
    for person in (classmate, counsellor):
        with pytest.raises(NotAuthorizedError):
            service.act_on_instance(person, iid, "resubmit", {"form": instance["form"]})
    view = service.act_on_instance(student, iid, "resubmit", {"form": instance["form"]}).body
    assert view["instance"]["status"] == "in_progress"
    # The applicant may remind (催办) and comment; a supervising office may remind too.
    nxt = hall.open_tasks(iid)[0]
    assert service.act_on_task(student, nxt["task_id"], "remind", {"message": "请审批"}).body
    service.act_on_instance(student, iid, "comment", {"text": "谢谢老师"})
    with pytest.raises(BusinessRuleError):
        service.act_on_task(people.persona("college_office"), nxt["task_id"], "remind", {})
    hall.service.clock.now += timedelta(hours=1)  # type: ignore[attr-defined]
    service.act_on_task(people.persona("college_office"), nxt["task_id"], "remind", {})
    assert hall.instance(iid)["tasks"][-1]["reminders"] == 2
    withdrawn = service.act_on_instance(student, iid, "withdraw", {}).body["instance"]
    assert withdrawn["status"] == "withdrawn"
    with pytest.raises(BusinessRuleError):
        service.act_on_instance(student, iid, "withdraw", {})


def test_an_approver_who_applies_does_not_decide_their_own_request(hall: Hall) -> None:
    service, people = hall.service, hall.people
    approver = people.persona("department_approver")  # 学工部 head, two approvers there
    instance = hall.submit("vehicle_pass", approver)
    task = hall.open_tasks(instance["instance_id"])[0]
    assert task["assignees"] and approver not in task["assignees"]
    with pytest.raises(NotAuthorizedError):
        service.act_on_task(approver, task["task_id"], "approve", {})


def test_a_campaign_is_not_an_instance_and_an_instance_is_not_a_campaign(hall: Hall) -> None:
    service, people = hall.service, hall.people
    open_winter_campaign(hall)
    student = people.persona("student")
    organiser = people.persona("student_affairs")
    with pytest.raises(NotFoundError):
        service.act_on_instance(organiser, "winter-2026", "withdraw", {})
    with pytest.raises(NotFoundError):
        service.act_on_instance(organiser, "winter-2026", "comment", {"text": "hi"})
    with pytest.raises(NotFoundError):
        service.get_events(organiser, "winter-2026")
    instance = hall.submit("dorm_air_conditioner", student)
    definition = hall.catalog.get("holiday_whereabouts")
    form = fitting_form(definition, Audience.UNDERGRADUATE, 1, service.clock())
    with pytest.raises(NotFoundError):
        service.submit(student, "holiday_whereabouts", form, instance["instance_id"])
    with pytest.raises(BusinessRuleError):
        service.remind_students(organiser, instance["instance_id"], {"student_ids": [student]})


# --- refused commands write nothing -------------------------------------------------------------


def test_a_refused_command_writes_nothing(hall: Hall, counts: Callable[[], dict[str, int]]) -> None:
    service, people = hall.service, hall.people
    student, classmate = people.persona("student"), people.persona("student", 1)
    open_winter_campaign(hall)
    museum = hall.submit("museum_booking", people.of(Audience.VISITOR))
    museum_task = hall.open_tasks(museum["instance_id"])[0]
    hall.approve_to_end(museum["instance_id"])
    dorm = hall.submit("dorm_air_conditioner", student)
    dorm_task = hall.open_tasks(dorm["instance_id"])[0]
    counsellor = dorm_task["assignees"][0]
    service.act_on_task(student, dorm_task["task_id"], "remind", {}, idempotency_key="r-1")
    form = dorm["form"]
    staff = people.of(Audience.STAFF)
    monitor = people.persona("class_monitor")
    outsider = outside_the_class(hall, people.personas["class_monitor"][0]["scope"]["ids"][0])

    refusals: list[tuple[type[WorkflowError], Callable[[str], object]]] = [
        (
            FormValidationError,
            lambda k: service.submit(
                student, "dorm_air_conditioner", {**form, "residents": 99}, idempotency_key=k
            ),
        ),
        (
            NotAuthorizedError,
            lambda k: service.submit(staff, "dorm_air_conditioner", form, idempotency_key=k),
        ),
        (
            NotFoundError,
            lambda k: service.submit(student, "no_such_service", form, idempotency_key=k),
        ),
        (
            FormValidationError,
            lambda k: service.submit(
                student, "dorm_air_conditioner", form, "winter-2026", idempotency_key=k
            ),
        ),
        (
            UnknownUserError,
            lambda k: service.submit("nobody", "dorm_air_conditioner", form, idempotency_key=k),
        ),
        (
            NotAuthorizedError,
            lambda k: service.act_on_task(
                classmate, dorm_task["task_id"], "approve", {}, idempotency_key=k
            ),
        ),
        (
            ConflictError,
            lambda k: service.act_on_task(
                museum_task["assignees"][0],
                museum_task["task_id"],
                "approve",
                {},
                idempotency_key=k,
            ),
        ),
        (
            FormValidationError,
            lambda k: service.act_on_task(
                counsellor, dorm_task["task_id"], "reject", {}, idempotency_key=k
            ),
        ),
        (
            NotFoundError,
            lambda k: service.act_on_task(
                counsellor, dorm_task["task_id"], "bless", {}, idempotency_key=k
            ),
        ),
        (
            NotFoundError,
            lambda k: service.act_on_task(
                counsellor, "no-such-task", "approve", {}, idempotency_key=k
            ),
        ),
        (
            BusinessRuleError,
            lambda k: service.act_on_task(
                counsellor, dorm_task["task_id"], "reassign", {"to": counsellor}, idempotency_key=k
            ),
        ),
        (
            BusinessRuleError,
            lambda k: service.act_on_task(
                student, dorm_task["task_id"], "remind", {}, idempotency_key=k
            ),
        ),
        (
            NotAuthorizedError,
            lambda k: service.act_on_instance(
                classmate, dorm["instance_id"], "withdraw", {}, idempotency_key=k
            ),
        ),
        (
            BusinessRuleError,
            lambda k: service.act_on_instance(
                student, dorm["instance_id"], "resubmit", {"form": form}, idempotency_key=k
            ),
        ),
        (
            BusinessRuleError,
            lambda k: service.act_on_instance(
                museum["applicant_id"], museum["instance_id"], "withdraw", {}, idempotency_key=k
            ),
        ),
        (
            NotAuthorizedError,
            lambda k: service.act_on_instance(
                classmate, dorm["instance_id"], "comment", {"text": "hi"}, idempotency_key=k
            ),
        ),
        (
            NotFoundError,
            lambda k: service.act_on_instance(
                student, "no-such-instance", "withdraw", {}, idempotency_key=k
            ),
        ),
        (
            NotFoundError,
            lambda k: service.act_on_instance(
                student, "winter-2026", "withdraw", {}, idempotency_key=k
            ),
        ),
        (
            NotAuthorizedError,
            lambda k: service.open_campaign(
                counsellor, {**_campaign_body(hall), "campaign_id": "c-other"}, idempotency_key=k
            ),
        ),
        (
            ConflictError,
            lambda k: service.open_campaign(
                people.persona("student_affairs"), _campaign_body(hall), idempotency_key=k
            ),
        ),
        (
            FormValidationError,
            lambda k: service.open_campaign(
                people.persona("student_affairs"),
                {**_campaign_body(hall), "campaign_id": "c-long", "holiday": "寒" * 40},
                idempotency_key=k,
            ),
        ),
        (
            NotAuthorizedError,
            lambda k: service.remind_students(
                monitor, "winter-2026", {"student_ids": [outsider]}, idempotency_key=k
            ),
        ),
        (
            FormValidationError,
            lambda k: service.remind_students(
                monitor, "winter-2026", {"student_ids": "all"}, idempotency_key=k
            ),
        ),
        (
            IdempotencyKeyReusedError,
            lambda _k: service.act_on_task(
                student, dorm_task["task_id"], "remind", {"message": "again"}, idempotency_key="r-1"
            ),
        ),
    ]
    before = counts()
    for number, (error, command) in enumerate(refusals):
        with pytest.raises(error):
            command(f"refused-{number}")
        assert counts() == before, (number, error)
    # A refused command's key was not kept: the same key serves a good command afterwards.
    self_reassign = next(i for i, (e, _c) in enumerate(refusals) if e is BusinessRuleError)
    ok = service.act_on_task(
        counsellor, dorm_task["task_id"], "approve", {}, idempotency_key=f"refused-{self_reassign}"
    )
    assert not ok.replayed and counts() != before


def test_an_office_urges_only_the_requests_of_its_own_people(hall: Hall) -> None:
    service, people = hall.service, hall.people
    student = people.persona("student")  # a CS student; the first college office is CS's
    placement = service.directory.placement(student, service.clock())
    assert placement is not None
    office = people.personas["college_office"]
    own = next(p["user_id"] for p in office if placement.college_id in p["scope"]["ids"])
    other = next(p["user_id"] for p in office if placement.college_id not in p["scope"]["ids"])
    instance = hall.submit("dorm_air_conditioner", student)
    task = hall.open_tasks(instance["instance_id"])[0]
    with pytest.raises(NotAuthorizedError):
        service.act_on_task(other, task["task_id"], "remind", {})
    reminded = service.act_on_task(own, task["task_id"], "remind", {}).body
    assert reminded["events"][0]["actor_role"] == "supervisor"
    hall.service.clock.now += timedelta(hours=1)  # type: ignore[attr-defined]
    for office_wide in ("student_affairs", "leadership"):
        service.act_on_task(people.persona(office_wide), task["task_id"], "remind", {})
        hall.service.clock.now += timedelta(hours=1)  # type: ignore[attr-defined]


def test_a_submission_decided_before_its_transaction_stands_only_on_an_unused_id(
    hall: Hall, counts: Callable[[], dict[str, int]]
) -> None:
    """A submission is decided on a new instance before its transaction; where the id it is
    given turns out to be taken (an importer's id), the transaction refuses it and writes
    nothing."""
    service, people = hall.service, hall.people
    open_winter_campaign(hall)
    student = people.persona("student")
    taken = hall.submit("dorm_air_conditioner", student)
    form = fitting_form(
        hall.catalog.get("dorm_air_conditioner"), Audience.UNDERGRADUATE, 2, service.clock()
    )
    before = counts()
    with pytest.raises(ConflictError, match="already exists"):
        service.submit(student, "dorm_air_conditioner", form, instance_id=taken["instance_id"])
    with pytest.raises(ConflictError, match="already in use"):
        service.submit(student, "dorm_air_conditioner", form, instance_id="winter-2026")
    assert counts() == before
    assert hall.instance(taken["instance_id"]) == taken
    fresh = service.submit(student, "dorm_air_conditioner", form, instance_id="import-0001").body
    assert fresh["instance"]["instance_id"] == "import-0001"
    assert [e["event_type"] for e in fresh["events"]][:1] == ["submitted"]


def test_a_command_folds_on_what_another_process_wrote_meanwhile(hall: Hall) -> None:
    """Each service keeps the instances it last acted on; the events another one (another
    worker process) wrote since are folded on, so both decide on the whole stream."""
    service = hall.service
    other = Hall(
        WorkflowService(service.engine, hall.catalog, service.directory, clock=service.clock),
        hall.catalog,
        hall.people,
    )
    instance_id = hall.submit("activity_application", seed=4)["instance_id"]
    views = []
    for turn in range(40):
        tasks = hall.open_tasks(instance_id)
        if not tasks:
            break
        acting = (hall, other)[turn % 2]  # alternate: each finds the other's events unread
        task = tasks[0]
        views.append(acting.act(task["assignees"][0], task["task_id"], "approve", comment="好"))
        reader = WorkflowService(
            service.engine, hall.catalog, service.directory, clock=service.clock
        )
        assert views[-1] == reader.get_instance(hall.people.persona("data_staff"), instance_id)
        assert views[-1]["version"] == len(
            service.get_events(hall.people.persona("data_staff"), instance_id)
        )
    assert len(views) > 2 and views[-1]["status"] == "completed"
    # An answer is the caller's own: changing it changes nothing the service keeps.
    submitted = hall.submit("activity_application", seed=5)
    submitted["form"].clear()
    task = hall.open_tasks(submitted["instance_id"])[0]
    viewed = hall.act(task["assignees"][0], task["task_id"], "view")
    assert viewed["form"] and viewed["form"] == hall.instance(submitted["instance_id"])["form"]
