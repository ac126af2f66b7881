"""Racing commands on threads, on SQLite and PostgreSQL: one decision per task wins, the others
get ConflictError; and the event feed (`read_since`) never skips or repeats an event while many
writers append."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from tests.workflow_core.conftest import Hall
from workflow_core.catalog.model import Audience
from workflow_core.errors import ConflictError, WorkflowError
from workflow_core.store import event_store
from workflow_core.store.schema import events

ROUNDS = 12


def race(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the calls on threads released together; each result is a value or the exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as exc:  # collected and judged by the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racing command hung"
    return results


def stream_types(engine: Engine, stream_id: str) -> list[str]:
    with engine.connect() as conn:
        stored = event_store.load_stream(conn, stream_id)
    assert [s.stream_version for s in stored] == list(range(1, len(stored) + 1))
    return [s.event.TYPE for s in stored]


def test_racing_approvals_of_one_task_let_exactly_one_win(hall: Hall, store_engine: Engine) -> None:
    service = hall.service
    student = hall.people.persona("student")
    for round_ in range(ROUNDS):
        # The winner opens the next node's task: the losers must not trip over it.
        instance = hall.submit("dorm_air_conditioner", student, seed=round_)
        task = hall.open_tasks(instance["instance_id"])[0]
        task_id = task["task_id"]
        deciders = [task["assignees"][i % len(task["assignees"])] for i in range(4)]
        results = race(
            [lambda w=who, t=task_id: service.act_on_task(w, t, "approve", {}) for who in deciders]
        )
        wins = [r for r in results if not isinstance(r, Exception)]
        losses = [r for r in results if isinstance(r, Exception)]
        assert len(wins) == 1, results
        assert all(isinstance(e, ConflictError) for e in losses), losses
        types = stream_types(store_engine, instance["instance_id"])
        assert types.count("approved") == 1 and types.count("task_created") == 2
        after = hall.open_tasks(instance["instance_id"])
        assert [t["node_key"] for t in after] == ["property_capacity_check"]
        for person in after[0]["assignees"]:
            assert after[0]["task_id"] in hall.inbox_ids(person)


def test_racing_decisions_and_a_withdrawal_leave_one_consistent_outcome(
    hall: Hall, store_engine: Engine
) -> None:
    service = hall.service
    visitor = hall.people.of(Audience.VISITOR)
    for round_ in range(ROUNDS):
        instance = hall.submit("museum_booking", visitor, seed=round_)
        iid = instance["instance_id"]
        task = hall.open_tasks(iid)[0]
        first, last, task_id = task["assignees"][0], task["assignees"][-1], task["task_id"]
        results = race(
            [
                lambda a=first, t=task_id: service.act_on_task(a, t, "approve", {}),
                lambda a=last, t=task_id: service.act_on_task(a, t, "reject", {"reason": "满"}),
                lambda i=iid: service.act_on_instance(visitor, i, "withdraw", {}),
            ]
        )
        wins = [r for r in results if not isinstance(r, Exception)]
        assert len(wins) == 1, results
        assert all(isinstance(r, WorkflowError) for r in results if isinstance(r, Exception))
        types = stream_types(store_engine, iid)
        assert sum(types.count(t) for t in ("approved", "rejected", "withdrawn")) == 1
        assert hall.instance(iid)["status"] in ("completed", "withdrawn")


def test_parallel_members_approving_at_once_all_succeed(hall: Hall, store_engine: Engine) -> None:
    service = hall.service
    student = hall.people.persona("student")
    instance = hall.submit("activity_application", student)
    iid = instance["instance_id"]
    for _ in range(3):  # counsellor, college, youth league
        hall.decide_open(iid, lambda _t: ("approve", {}))
    group = hall.open_tasks(iid)
    assert len(group) == 5
    results = race(
        [
            lambda t=t: service.act_on_task(t["assignees"][0], t["task_id"], "approve", {})
            for t in group
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    after = hall.open_tasks(iid)
    assert [t["step"] for t in after] and {t["step"] for t in after} != {group[0]["step"]}
    types = stream_types(store_engine, iid)
    assert types.count("approved") == 3 + 5


# --- the gap-safe feed ----------------------------------------------------------------------------

WRITERS = 6
SUBMITS_PER_WRITER = 25


def test_the_feed_never_skips_or_repeats_an_event(
    hall: Hall, store_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers submit and approve on threads; a loader follows `read_since` with a cursor."""
    # Widen the window between taking an id and committing it, where a naive feed loses events.
    real_append_rows = event_store.append_rows

    def slow_append_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
        ids = real_append_rows(conn, rows)
        time.sleep(random.uniform(0, 0.004))
        return ids

    monkeypatch.setattr(event_store, "append_rows", slow_append_rows)
    service = hall.service
    visitors = hall.people.by_kind[Audience.VISITOR]
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def loader() -> None:
        cursor = 0
        try:
            while True:
                finished = done.is_set()
                with store_engine.connect() as conn:
                    batch = event_store.read_since(conn, cursor, limit=37)
                seen.extend(s.event_id for s in batch)
                if batch:
                    cursor = batch[-1].event_id
                elif finished:
                    return
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    def writer(number: int) -> None:
        try:
            rng = random.Random(number)
            for i in range(SUBMITS_PER_WRITER):
                visitor = visitors[(number + i) % len(visitors)]
                instance = hall.submit("museum_booking", visitor, seed=number * 1000 + i)
                if rng.random() < 0.5:
                    task = instance["tasks"][0]
                    service.act_on_task(task["assignees"][0], task["task_id"], "approve", {})
        except BaseException as exc:
            errors.append(exc)

    follow = threading.Thread(target=loader)
    follow.start()
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    follow.join(timeout=60)
    assert not errors, errors
    with store_engine.connect() as conn:
        table = list(conn.execute(select(events.c.event_id).order_by(events.c.event_id)).scalars())
    assert len(table) >= WRITERS * SUBMITS_PER_WRITER * 2
    assert seen == table  # each event once, in id order, none skipped
