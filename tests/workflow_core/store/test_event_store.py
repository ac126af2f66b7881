"""The event store contract on SQLite and PostgreSQL: append-only triggers, the migrated schema
equals the metadata, every event type survives the database, and payloads upcast (never down)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from workflow_core.domain.events import (
    EVENT_TYPES,
    Activity,
    ActorRole,
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
    TaskViewed,
    Withdrawn,
)
from workflow_core.errors import ConflictError
from workflow_core.store import db, event_store, serialization
from workflow_core.store.migrate import is_current
from workflow_core.store.schema import events, metadata

T0 = datetime(2026, 3, 2, 2, 0, 0, 123456, tzinfo=UTC)
TASK = {"task": "i1-t1", "node": "counsellor_review", "department": "CS"}


def at(seconds: int) -> dict[str, Any]:
    return {"occurred_at": T0 + timedelta(seconds=seconds), "actor_id": "S00148"}


INSTANCE_EVENTS: list[Event] = [
    Submitted(
        **at(0),
        actor_role=ActorRole.APPLICANT,
        process_key="dorm_air_conditioner",
        process_version=1,
        applicant_id="U202200001",
        form={
            "residents": 4,
            "campus": "本部校区",
            "remarks": "多行\n备注",
            "income": 1234.5,
            "systems": ["教务系统", "OA办公系统"],
            "agree": True,
        },
        campaign_id=None,
        supersedes=None,
    ),
    TaskCreated(
        **at(0),
        actor_role=ActorRole.SYSTEM,
        **TASK,
        assignees=("S00148", "S00150"),
        sla_hours=16.0,
        step=0,
    ),
    TaskViewed(**at(5), actor_role=ActorRole.ASSIGNEE, **TASK),
    TaskViewed(**at(6), actor_role=ActorRole.ASSIGNEE, **TASK, implicit=True),
    Reminded(**at(7), actor_role=ActorRole.APPLICANT, **TASK, message="请尽快"),
    Commented(**at(8), actor_role=ActorRole.APPLICANT, text="补充说明", about_task="i1-t1"),
    Commented(**at(9), actor_role=ActorRole.ASSIGNEE, text="收到"),
    Reassigned(
        **at(10),
        actor_role=ActorRole.ASSIGNEE,
        **TASK,
        to="S00150",
        delegate=True,
        assignees=("S00148", "S00150"),
        reason="出差",
    ),
    Returned(**at(11), actor_role=ActorRole.ASSIGNEE, **TASK, reason="请补充"),
    TaskCancelled(**at(11), actor_role=ActorRole.SYSTEM, **TASK, reason="returned"),
    Resubmitted(**at(12), actor_role=ActorRole.APPLICANT, form={"residents": 3}),
    Approved(**at(13), actor_role=ActorRole.ASSIGNEE, **TASK, comment="同意"),
    Rejected(**at(14), actor_role=ActorRole.ASSIGNEE, **TASK, reason="不同意"),
    Withdrawn(**at(15), actor_role=ActorRole.APPLICANT, reason="不需要了"),
    Completed(**at(16), actor_role=ActorRole.SYSTEM, outcome="approved"),
]
CAMPAIGN_EVENTS: list[Event] = [
    CampaignOpened(
        **at(0),
        actor_role=ActorRole.ORGANISER,
        campaign_id="winter-2026",
        process_key="holiday_whereabouts",
        title="2026 寒假去向登记",
        holiday="寒假",
        opens_at=T0,
        deadline=T0 + timedelta(days=14),
        audience=("undergraduate", "graduate"),
    ),
    CampaignReminded(
        **at(1),
        actor_role=ActorRole.ORGANISER,
        campaign_id="winter-2026",
        student_ids=("U202200001", "U202200002"),
        message="请登记",
    ),
]
IMPORTED_EVENTS: list[Event] = [
    CaseImported(
        **at(0),
        actor_role=ActorRole.RESOURCE,
        case_id="case-10011",
        attributes={"case:channel": "Internet", "AMOUNT_REQ": 20000, "nested": {"a": [1.5]}},
        source="receipt.csv",
        source_sha256="ab" * 32,
        import_key="receipt:" + "ab" * 32,
    ),
    Activity(
        **at(1),
        actor_role=ActorRole.RESOURCE,
        activity="Confirmation of receipt",
        sequence=0,
        lifecycle="complete",
        attributes={"concept:instance": "task-42933"},
        group="Group 1",
    ),
    Activity(**at(1), actor_role=ActorRole.RESOURCE, activity="T02", sequence=1, attributes={}),
]


def append(engine: Engine, stream_id: str, new: list[Event], expected: int = 0) -> None:
    kind = {CampaignOpened: "campaign", CaseImported: "imported"}.get(type(new[0]), "instance")
    with engine.begin() as conn:
        event_store.append(
            conn,
            stream_id=stream_id,
            stream_type=kind,
            expected_version=expected,
            new_events=new,
            process_key="dorm_air_conditioner",
            process_version=1,
            recorded_at=T0 + timedelta(minutes=1),
        )


def all_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(select(events).order_by(events.c.event_id)).mappings()
        ]


# --- append-only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "update events set actor_id = 'forger' where event_id = 1",
        "update events set payload = payload",
        "delete from events where event_id = 1",
        "delete from events",
    ],
)
def test_the_database_refuses_to_change_or_delete_events(
    store_engine: Engine, statement: str
) -> None:
    append(store_engine, "i1", INSTANCE_EVENTS[:2])
    before = all_rows(store_engine)
    with pytest.raises(DBAPIError, match="append-only"), store_engine.begin() as conn:
        conn.execute(text(statement))
    assert all_rows(store_engine) == before


def test_postgresql_refuses_truncate(store_engine: Engine) -> None:
    if store_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    append(store_engine, "i1", INSTANCE_EVENTS[:2])
    before = all_rows(store_engine)
    with pytest.raises(DBAPIError, match="TRUNCATE refused"), store_engine.begin() as conn:
        conn.execute(text("truncate events"))
    assert all_rows(store_engine) == before


def test_the_projections_stay_writable(store_engine: Engine) -> None:
    with store_engine.begin() as conn:
        conn.execute(text("delete from instances"))
        conn.execute(text("delete from inbox"))


# --- the schema -------------------------------------------------------------------------------


def test_the_migrated_schema_is_the_metadata(store_engine: Engine) -> None:
    assert is_current(store_engine)
    with store_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, metadata) == []


# --- what goes in comes out ----------------------------------------------------------------------


def test_every_event_type_is_covered_here() -> None:
    covered = {e.TYPE for e in INSTANCE_EVENTS + CAMPAIGN_EVENTS + IMPORTED_EVENTS}
    assert covered == set(EVENT_TYPES)


def test_every_event_type_round_trips_through_the_database(store_engine: Engine) -> None:
    append(store_engine, "i1", INSTANCE_EVENTS)
    append(store_engine, "winter-2026", CAMPAIGN_EVENTS)
    append(store_engine, "imp-receipt-0123456789abcdef", IMPORTED_EVENTS)
    with store_engine.connect() as conn:
        instance = event_store.load_stream(conn, "i1")
        campaign = event_store.load_stream(conn, "winter-2026")
        imported = event_store.load_stream(conn, "imp-receipt-0123456789abcdef")
        feed = event_store.read_since(conn, 0)
        high = event_store.high_water_mark(conn)
    assert [s.event for s in instance] == INSTANCE_EVENTS
    assert [s.event for s in campaign] == CAMPAIGN_EVENTS
    assert [s.event for s in imported] == IMPORTED_EVENTS
    assert [r["department_id"] for r in all_rows(store_engine)[-2:]] == ["Group 1", None]
    assert [s.stream_version for s in instance] == list(range(1, len(INSTANCE_EVENTS) + 1))
    assert [s.event_id for s in feed] == sorted(s.event_id for s in feed)
    assert high == feed[-1].event_id == len(INSTANCE_EVENTS + CAMPAIGN_EVENTS + IMPORTED_EVENTS)
    assert instance[0].recorded_at == T0 + timedelta(minutes=1)
    assert campaign[0].process_key == "holiday_whereabouts"
    row = all_rows(store_engine)[0]
    assert (row["event_type"], row["schema_version"]) == ("submitted", 1)
    assert row["occurred_at"] == T0  # microseconds and UTC kept


def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(store_engine: Engine) -> None:
    append(store_engine, "i1", INSTANCE_EVENTS[:2])
    with pytest.raises(ConflictError):
        append(store_engine, "i1", INSTANCE_EVENTS[2:4], expected=1)
    with store_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 2
    append(store_engine, "i1", INSTANCE_EVENTS[2:4], expected=2)


def test_a_payload_from_newer_code_is_refused() -> None:
    newer = serialization.SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="newer than this code"):
        serialization.upcast("approved", newer, {"comment": ""})
    row = serialization.to_row(
        INSTANCE_EVENTS[-4],
        stream_id="i1",
        stream_version=1,
        stream_type="instance",
        process_key="p",
        process_version=1,
        recorded_at=T0,
    )
    with pytest.raises(ValueError, match="schema version"):
        serialization.from_row({**row, "event_id": 1, "schema_version": newer})


def test_older_payloads_are_upcast_step_by_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend version 3 is current: approvals of version 1 lacked `comment`, version 2 called it
    # `remark`. Each step runs once, in order.
    monkeypatch.setattr(serialization, "SCHEMA_VERSION", 3)
    steps = {
        ("approved", 1): lambda p: {**p, "remark": ""},
        ("approved", 2): lambda p: {"comment": p.pop("remark"), **p},
    }
    monkeypatch.setattr(serialization, "UPCASTERS", steps)
    assert serialization.upcast("approved", 1, {}) == {"comment": ""}
    assert serialization.upcast("approved", 2, {"remark": "同意"}) == {"comment": "同意"}
    assert serialization.upcast("rejected", 1, {"reason": "x"}) == {"reason": "x"}
    assert serialization.upcast("approved", 3, {"comment": "ok"}) == {"comment": "ok"}


@pytest.mark.parametrize("last", [False, True])
def test_an_append_carries_the_writes_around_it_and_a_clash_writes_none(
    store_engine: Engine, last: bool
) -> None:
    """`ahead` runs before the ids are drawn, `alongside` is made from the stored events, both
    in the append's transaction; `last` (nothing written after it) may commit with it."""
    mark = "?" if store_engine.dialect.name == "sqlite" else "%s"
    note = "insert into inbox (user_id, task_id, instance_id, created_at) values " + (
        f"({mark}, {mark}, {mark}, {mark})"
    )
    seen: list[list[int]] = []

    def run(events_: list[Event], expected: int, user: str) -> None:
        with store_engine.begin() as conn:

            def alongside(stored: list[Any]) -> tuple[str, tuple[Any, ...]]:
                seen.append([s.event_id for s in stored])
                return note, (f"{user}-after", "t1", "i1", "2026-03-02 00:00:00+00:00")

            event_store.append(
                conn,
                stream_id="i1",
                stream_type="instance",
                expected_version=expected,
                new_events=events_,
                process_key="dorm_air_conditioner",
                process_version=1,
                recorded_at=T0 + timedelta(minutes=1),
                ahead=lambda: db.driver_execute(
                    conn, note, (f"{user}-ahead", "t1", "i1", "2026-03-02 00:00:00+00:00")
                ),
                alongside=alongside,
                last=last,
            )

    run(INSTANCE_EVENTS[:2], 0, "a")
    with pytest.raises(ConflictError):
        run(INSTANCE_EVENTS[2:4], 1, "b")
    with store_engine.connect() as conn:
        users = sorted(conn.execute(text("select user_id from inbox")).scalars())
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 2
    assert users == ["a-after", "a-ahead"]
    assert seen[0] == [1, 2]
