"""Text neither database can store (NUL, lone surrogates) and ids that cannot exist are refused by
the service with a named field, on SQLite and PostgreSQL, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.workflow_core.conftest import Hall
from workflow_core.catalog.model import Audience
from workflow_core.errors import FormValidationError, NotFoundError, UnknownUserError, WorkflowError

BAD_TEXTS = ["a\x00b", "\ud800", "ok\udfff"]


@pytest.mark.parametrize("bad", BAD_TEXTS, ids=["nul", "high-surrogate", "low-surrogate"])
def test_unstorable_text_is_a_named_form_error(
    hall: Hall, counts: Callable[[], dict[str, int]], bad: str
) -> None:
    service, people = hall.service, hall.people
    student = people.persona("student")
    dorm = hall.submit("dorm_air_conditioner", student)
    task = hall.open_tasks(dorm["instance_id"])[0]
    approver = task["assignees"][0]
    before = counts()
    cases: list[tuple[type[WorkflowError], str, Callable[[], object]]] = [
        (
            FormValidationError,
            "form.remarks",
            lambda: service.submit(
                student, "dorm_air_conditioner", {**dorm["form"], "remarks": bad}
            ),
        ),
        (
            FormValidationError,
            "comment",
            lambda: service.act_on_task(approver, task["task_id"], "approve", {"comment": bad}),
        ),
        (
            FormValidationError,
            "reason",
            lambda: service.act_on_instance(
                student, dorm["instance_id"], "withdraw", {"reason": bad}
            ),
        ),
        (
            FormValidationError,
            "campaign_id",
            lambda: service.submit(student, "dorm_air_conditioner", dorm["form"], f"c{bad}x"),
        ),
        (
            NotFoundError,
            "",
            lambda: service.act_on_task(approver, f"t{bad}", "approve", {}),
        ),
        (NotFoundError, "", lambda: service.get_instance(student, f"i{bad}")),
        (UnknownUserError, "", lambda: service.get_inbox(f"u{bad}")),
    ]
    for error, field, call in cases:
        with pytest.raises(error) as raised:
            call()
        if field:
            assert field in raised.value.fields, (field, raised.value.fields)
    assert counts() == before


def test_an_overlong_importer_instance_id_is_refused(
    hall: Hall, counts: Callable[[], dict[str, int]]
) -> None:
    visitor = hall.people.of(Audience.VISITOR)
    form = hall.submit("museum_booking", visitor)["form"]
    before = counts()
    with pytest.raises(FormValidationError) as raised:
        hall.service.submit(visitor, "museum_booking", form, instance_id="i" * 65)
    assert "instance_id" in raised.value.fields
    assert counts() == before
