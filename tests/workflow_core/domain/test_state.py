"""`with_changes`, the fold's cheap copy, behaves as `dataclasses.replace` on every state class."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from workflow_core.domain.state import (
    CampaignState,
    InstanceState,
    InstanceStatus,
    TaskState,
    TaskStatus,
    with_changes,
)

AT = datetime(2025, 10, 9, 8, 30, tzinfo=UTC)
TASK = TaskState(
    task_id="i-1-t1",
    node_key="counsellor",
    department_id="JC",
    step=0,
    assignees=("S1",),
    sla_hours=8.0,
    created_at=AT,
)


@pytest.mark.parametrize("cls", [TaskState, InstanceState, CampaignState])
def test_the_dict_copy_is_equivalent_to_replace_for_the_class(cls: type) -> None:
    # The copy skips `__init__`: that is only `replace` as long as `__init__` does nothing more
    # than store every field.
    assert not hasattr(cls, "__post_init__")
    assert all(f.init for f in dataclasses.fields(cls))
    assert not hasattr(cls, "__slots__")


def test_with_changes_matches_replace() -> None:
    state = InstanceState("i-1", form={"a": 1}, tasks=(TASK,))
    changes = {"version": 3, "status": InstanceStatus.RETURNED, "updated_at": AT, "returns": 1}
    copied = with_changes(state, **changes)
    replaced = dataclasses.replace(state, **changes)  # type: ignore[arg-type]
    assert copied == replaced
    assert vars(copied) == vars(replaced)
    assert type(copied) is InstanceState
    assert state.version == 0 and state.status is InstanceStatus.NEW  # the original is untouched
    assert copied.form is state.form  # shallow, as replace is

    task = with_changes(TASK, status=TaskStatus.APPROVED, decided_by="S1")
    assert task == dataclasses.replace(TASK, status=TaskStatus.APPROVED, decided_by="S1")
    campaign = with_changes(CampaignState("c-1"), reminders=2)
    assert campaign == CampaignState("c-1", reminders=2)


def test_with_changes_stays_frozen_and_refuses_unknown_fields() -> None:
    copied = with_changes(TASK, reminders=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        copied.reminders = 2  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field colour"):
        with_changes(TASK, colour="red")
