"""The store's bulk paths write what SQLAlchemy Core would: the same columns, values and types.

`append_rows` and `upsert_rows` bind through the driver instead of Core's per-value processing
(and draw the event ids themselves); these tests write the same rows both ways and compare what
the database holds, column by column, with the database's own type of each value.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, Table, delete, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from workflow_core.domain.events import (
    Activity,
    ActorRole,
    CampaignOpened,
    CaseImported,
    Event,
    Rejected,
    Submitted,
    TaskCreated,
)
from workflow_core.domain.state import (
    CampaignState,
    InstanceState,
    InstanceStatus,
    TaskState,
    TaskStatus,
    with_changes,
)
from workflow_core.errors import ConflictError
from workflow_core.store import event_store
from workflow_core.store.projections import (
    campaign_row,
    inbox_rows,
    inbox_values,
    instance_row,
    instance_values,
    task_row,
    task_values,
    upsert_rows,
)
from workflow_core.store.schema import campaigns, events, inbox, instances, tasks
from workflow_core.store.serialization import to_row

T0 = datetime(2026, 3, 2, 2, 0, 0, 123456, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
TASK = {"task": "i1-t1", "node": "counsellor_review", "department": "CS"}

EVENTS: list[Event] = [
    Submitted(
        occurred_at=T0,
        actor_id="U1",
        actor_role=ActorRole.APPLICANT,
        process_key="dorm_air_conditioner",
        process_version=1,
        applicant_id="U1",
        form={"residents": 4, "remarks": '多行\n备注 "引号"', "income": 1234.5, "ok": True},
    ),
    TaskCreated(
        # another offset and no microseconds: stored as UTC with six digits all the same
        occurred_at=datetime(2026, 3, 2, 10, 0, tzinfo=CST),
        actor_id="U1",
        actor_role=ActorRole.SYSTEM,
        **TASK,
        assignees=("S1", "S2"),
        sla_hours=16.0,
        step=0,
    ),
    Rejected(
        occurred_at=T0 + timedelta(hours=1),
        actor_id="S1",
        actor_role=ActorRole.ASSIGNEE,
        **TASK,
        reason="不同意",
    ),
    CampaignOpened(
        occurred_at=T0,
        actor_id="O1",
        actor_role=ActorRole.ORGANISER,
        campaign_id="winter-2026",
        process_key="holiday_whereabouts",
        title="2026 寒假去向登记",
        holiday="寒假",
        opens_at=T0,
        deadline=T0 + timedelta(days=14),
        audience=("undergraduate",),
    ),
    CaseImported(
        occurred_at=datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a four-digit year, padded
        actor_id="R1",
        actor_role=ActorRole.RESOURCE,
        case_id="c1",
        attributes={"nested": {"a": [1.5, None, "x"]}, "AMOUNT": 20000},
        source="receipt.csv",
        source_sha256="ab" * 32,
        import_key="receipt:" + "ab" * 32,
    ),
    Activity(
        occurred_at=T0,
        actor_id="R1",
        actor_role=ActorRole.RESOURCE,
        activity="T02",
        sequence=1,
        attributes={},
    ),
]


def rows(prefix: str, process_version: int | None = 1) -> list[dict[str, Any]]:
    return [
        to_row(
            event,
            stream_id=f"{prefix}-{index // 3}",
            stream_version=index % 3 + 1,
            stream_type="instance",
            process_key="dorm_air_conditioner",
            process_version=process_version,
            recorded_at=T0 + timedelta(minutes=1),
        )
        for index, event in enumerate(EVENTS)
    ]


def stored(engine: Engine, prefix: str) -> list[tuple[Any, ...]]:
    """The rows of streams `prefix-*` as the database holds them (without their ids)."""
    columns = [c.name for c in events.columns if c.name not in ("event_id", "stream_id")]
    if engine.dialect.name == "sqlite":
        # typeof: a value bound as text must not come back as the same-looking integer or real
        listed = ", ".join([*columns, *(f"typeof({c})" for c in columns)])
    else:
        listed = ", ".join([*columns, *(f"pg_typeof({c})::text" for c in columns)])
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    f"select {listed} from events where stream_id like :prefix "
                    "order by stream_id, stream_version"
                ),
                {"prefix": f"{prefix}-%"},
            )
        ]


@pytest.mark.parametrize("process_version", [1, None])
def test_append_rows_stores_what_a_core_insert_stores(
    store_engine: Engine, process_version: int | None
) -> None:
    with store_engine.begin() as conn:
        conn.execute(insert(events), rows("core", process_version))
    with store_engine.begin() as conn:
        ids = event_store.append_rows(conn, rows("bulk", process_version))
    assert stored(store_engine, "bulk") == stored(store_engine, "core")
    assert len(stored(store_engine, "core")) == len(EVENTS)
    # The ids handed back are the rows' own, in order, after the ones already there.
    with store_engine.connect() as conn:
        found = conn.execute(
            select(events.c.event_id)
            .where(events.c.stream_id.like("bulk-%"))
            .order_by(events.c.stream_id, events.c.stream_version)
        ).scalars()
        assert ids == list(found)
    assert ids == list(range(len(EVENTS) + 1, 2 * len(EVENTS) + 1))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_bind_events_binds_what_the_row_binder_binds(dialect: str) -> None:
    bind = event_store.driver_binder(dialect, events, [c.name for c in events.columns][1:])
    recorded_at = T0 + timedelta(minutes=1)
    items = [
        (event, f"b-{index // 3}", index % 3 + 1, "instance", "dorm_air_conditioner", 1)
        for index, event in enumerate(EVENTS)
    ]
    expected = [
        bind(
            to_row(
                e,
                stream_id=s,
                stream_version=v,
                stream_type=t,
                process_key=k,
                process_version=pv,
                recorded_at=recorded_at,
            )
        )
        for e, s, v, t, k, pv in items
    ]
    assert event_store.bind_events(dialect, items, recorded_at) == expected
    # A batch's binder remembers times by value: the same moment in another zone, and again.
    to_time = event_store.time_binder(dialect)
    assert event_store.bind_events(dialect, items, recorded_at.astimezone(CST), to_time) == expected
    assert event_store.bind_events(dialect, items, recorded_at, to_time) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"comment": "同意", "implicit": False, "n": None, "x": 1.5, "big": 10**20},
        {"nested": {"a": [1.5, None, 'x\n"引号"']}, "nan": float("nan"), "inf": float("-inf")},
        ["S1", "S2"],
        "外\u0000",
        [],
        {},
    ],
)
def test_json_text_is_json_dumps(value: Any) -> None:
    assert event_store.json_text(value) == json.dumps(value)


def test_append_bound_stores_what_append_rows_stores(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        event_store.append_rows(conn, rows("rows"))
    items = [
        (event, f"bound-{index // 3}", index % 3 + 1, "instance", "dorm_air_conditioner", 1)
        for index, event in enumerate(EVENTS)
    ]
    dialect = store_engine.dialect.name
    with store_engine.begin() as conn:
        bound = event_store.bind_events(dialect, items, T0 + timedelta(minutes=1))
        ids = event_store.append_bound(conn, bound)
    assert stored(store_engine, "bound") == stored(store_engine, "rows")
    assert ids == list(range(len(EVENTS) + 1, 2 * len(EVENTS) + 1))
    clash = pytest.raises(ConflictError, match="bound-0 changed meanwhile")
    with clash, store_engine.begin() as conn:
        event_store.append_bound(conn, bound[:1])


def test_append_rows_refuses_a_taken_version_and_writes_nothing(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        assert event_store.append_rows(conn, rows("s")[:1]) == [1]  # one row: its id too
    with pytest.raises(ConflictError, match="s-0 changed meanwhile"), store_engine.begin() as conn:
        event_store.append_rows(conn, rows("s")[:3])
    assert len(stored(store_engine, "s")) == 1


def test_append_rows_refuses_a_naive_time(store_engine: Engine) -> None:
    row = rows("n")[0] | {"occurred_at": datetime(2026, 3, 2, 2, 0)}
    with pytest.raises(Exception, match="naive datetime"), store_engine.begin() as conn:
        event_store.append_rows(conn, [row])
    assert stored(store_engine, "n") == []


def test_append_rows_of_nothing_writes_nothing(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        assert event_store.append_rows(conn, []) == []


# --- upsert_rows ----------------------------------------------------------------------------

STATE = InstanceState(
    "i1",
    version=3,
    status=InstanceStatus.IN_PROGRESS,
    process_key="dorm_air_conditioner",
    process_version=1,
    applicant_id="U1",
    form={"remarks": "多行\n备注", "residents": 4, "systems": ["教务系统"], "ok": False},
    step=0,
    tasks=(
        TaskState(
            task_id="i1-t1",
            node_key="counsellor_review",
            department_id="CS",
            step=0,
            assignees=("S1", "S2"),
            sla_hours=16.0,
            created_at=datetime(2026, 3, 2, 10, 0, tzinfo=CST),
            viewed_at=T0,
        ),
    ),
    submitted_at=T0,
    updated_at=T0 + timedelta(seconds=1),
)
LATER = with_changes(
    STATE,
    version=4,
    status=InstanceStatus.COMPLETED,
    outcome="approved",
    closed_at=T0 + timedelta(days=1),
    tasks=(with_changes(STATE.tasks[0], status=TaskStatus.APPROVED, decided_by="S1"),),
)
CAMPAIGN = CampaignState(
    "winter-2026",
    version=1,
    opened=True,
    process_key="holiday_whereabouts",
    title="寒假",
    holiday="寒假",
    opens_at=T0,
    deadline=T0 + timedelta(days=14),
    audience=("undergraduate", "graduate"),
)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("state", [STATE, LATER])
def test_bound_projection_values_are_the_bound_rows(dialect: str, state: InstanceState) -> None:
    def binder(table: Table) -> Any:
        return event_store.driver_binder(dialect, table, [c.name for c in table.columns])

    to_time = event_store.time_binder(dialect)
    assert instance_values(state, to_time) == binder(instances)(instance_row(state))
    for task in state.tasks:
        assert task_values("i1", task, to_time) == binder(tasks)(task_row("i1", task))
        expected = [binder(inbox)(row) for row in inbox_rows("i1", task)]
        assert inbox_values("i1", task, to_time) == expected
    assert inbox_values("i1", STATE.tasks[0], to_time)  # an open task has its inbox rows


def projection(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    columns = [c.name for c in table.columns]
    typeof = "typeof" if engine.dialect.name == "sqlite" else "pg_typeof"
    listed = ", ".join([*columns, *(f"{typeof}({c})::text" for c in columns)])
    if engine.dialect.name == "sqlite":
        listed = listed.replace("::text", "")
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"select {listed} from {table.name}"))]


@pytest.mark.parametrize(
    ("table", "key", "first", "second"),
    [
        (instances, "instance_id", instance_row(STATE), instance_row(LATER)),
        (tasks, "task_id", task_row("i1", STATE.tasks[0]), task_row("i1", LATER.tasks[0])),
        (campaigns, "campaign_id", campaign_row(CAMPAIGN), campaign_row(CAMPAIGN) | {"version": 2}),
    ],
)
def test_upsert_rows_stores_what_the_core_upsert_stores(
    store_engine: Engine,
    table: Table,
    key: str,
    first: dict[str, Any],
    second: dict[str, Any],
) -> None:
    stmt: Any = (postgresql if store_engine.dialect.name == "postgresql" else sqlite).insert(table)
    core = stmt.on_conflict_do_update(
        index_elements=[key],
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key},
    )
    seen = []
    for write in ("core", "bulk"):
        with store_engine.begin() as conn:
            conn.execute(delete(table))
        for row in (first, second):  # an insert, then an update of the same key
            with store_engine.begin() as conn:
                if write == "core":
                    conn.execute(core, [row])
                else:
                    upsert_rows(conn, table, [row], (key,))
            seen.append(projection(store_engine, table))
    assert seen[2:] == seen[:2]
    assert seen[0] != seen[1]  # the second write did change the row
