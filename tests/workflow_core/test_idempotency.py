"""Retried commands on SQLite and PostgreSQL: thousands of retries write no duplicate event and
return the first answer; a key reused for another request is refused; twins racing with one key
run once."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select

from tests.workflow_core.conftest import Hall, fitting_form
from workflow_core.catalog.model import Audience
from workflow_core.errors import IdempotencyKeyReusedError
from workflow_core.service import CommandResult
from workflow_core.store.schema import events

RETRIES = 2_000


def event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_thousands_of_retries_write_nothing_and_answer_as_the_first_time(
    hall: Hall, store_engine: Engine, counts: Callable[[], dict[str, int]]
) -> None:
    service, people = hall.service, hall.people
    rng = random.Random(2026)
    visitors = people.by_kind[Audience.VISITOR]
    student = people.persona("student")
    sent: list[tuple[str, Callable[[], CommandResult], CommandResult]] = []

    def send(label: str, command: Callable[[], CommandResult]) -> CommandResult:
        result = command()
        assert not result.replayed
        sent.append((label, command, result))
        return result

    museum = hall.catalog.get("museum_booking")
    dorm = hall.catalog.get("dorm_air_conditioner")
    for n in range(60):
        visitor = visitors[n % len(visitors)]
        form = fitting_form(museum, Audience.VISITOR, n, service.clock())
        key = f"submit-{n}"
        submitted = send(
            "submit",
            lambda v=visitor, f=form, k=key: service.submit(
                v, "museum_booking", f, idempotency_key=k
            ),
        )
        task = submitted.body["instance"]["tasks"][0]
        who = task["assignees"][0]
        verb = rng.choice(["approve", "reject", "return", "view"])
        body = {"reason": "已约满"} if verb in ("reject", "return") else {}
        send(
            verb,
            lambda w=who, t=task["task_id"], v=verb, b=body, k=f"{verb}-{n}": service.act_on_task(
                w, t, v, b, idempotency_key=k
            ),
        )
    for n in range(20):
        form = fitting_form(dorm, Audience.UNDERGRADUATE, n, service.clock())
        submitted = send(
            "submit",
            lambda f=form, k=f"dorm-{n}": service.submit(
                student, "dorm_air_conditioner", f, idempotency_key=k
            ),
        )
        iid = submitted.body["instance"]["instance_id"]
        task = submitted.body["instance"]["tasks"][0]
        send(
            "comment",
            lambda i=iid, k=f"comment-{n}": service.act_on_instance(
                student, i, "comment", {"text": "请老师审核"}, idempotency_key=k
            ),
        )
        send(
            "approve",
            lambda w=task["assignees"][0], t=task["task_id"], k=f"ok-{n}": service.act_on_task(
                w, t, "approve", {"comment": "同意"}, idempotency_key=k
            ),
        )
        if n % 2:
            send(
                "withdraw",
                lambda i=iid, k=f"withdraw-{n}": service.act_on_instance(
                    student, i, "withdraw", {}, idempotency_key=k
                ),
            )

    after_first = counts()
    submits = sum(1 for label, _c, _r in sent if label == "submit")
    assert after_first["instances"] == submits
    schedule = [rng.randrange(len(sent)) for _ in range(RETRIES)]
    for index in schedule:
        _label, command, first = sent[index]
        again = command()
        assert again.replayed
        assert again.body == first.body
    assert counts() == after_first
    with store_engine.connect() as conn:
        duplicates = conn.execute(
            select(events.c.stream_id, events.c.event_type, events.c.task_id, func.count())
            .where(events.c.event_type.in_(["submitted", "approved", "rejected", "returned"]))
            .group_by(events.c.stream_id, events.c.event_type, events.c.task_id)
            .having(func.count() > 1)
        ).all()
    assert duplicates == []


def test_a_retry_after_the_world_moved_on_still_returns_the_first_answer(hall: Hall) -> None:
    service = hall.service
    visitor = hall.people.of(Audience.VISITOR)
    instance = hall.submit("museum_booking", visitor)
    task = instance["tasks"][0]
    who = task["assignees"][0]
    first = service.act_on_task(who, task["task_id"], "view", {}, idempotency_key="v")
    service.act_on_task(who, task["task_id"], "approve", {}, idempotency_key="a")
    again = service.act_on_task(who, task["task_id"], "view", {}, idempotency_key="v")
    assert again.replayed and again.body == first.body
    assert again.body["instance"]["status"] == "in_progress"  # as it was answered then


def test_a_key_reused_for_another_request_is_refused_and_writes_nothing(
    hall: Hall, counts: Callable[[], dict[str, int]]
) -> None:
    service, people = hall.service, hall.people
    visitor = people.of(Audience.VISITOR)
    museum = hall.catalog.get("museum_booking")
    form = fitting_form(museum, Audience.VISITOR, 1, service.clock())
    first = service.submit(visitor, "museum_booking", form, idempotency_key="same")
    task = first.body["instance"]["tasks"][0]
    before = counts()
    other_form = {**form, "visitors": form["visitors"] % 50 + 1}
    attempts: list[Callable[[], Any]] = [
        lambda: service.submit(visitor, "museum_booking", other_form, idempotency_key="same"),
        lambda: service.act_on_instance(
            visitor, first.body["instance"]["instance_id"], "withdraw", {}, idempotency_key="same"
        ),
        lambda: service.act_on_task(visitor, task["task_id"], "remind", {}, idempotency_key="same"),
    ]
    for attempt in attempts:
        try:
            attempt()
        except IdempotencyKeyReusedError:
            pass
        else:
            raise AssertionError("a reused key was accepted")
        assert counts() == before
    # Keys belong to their sender: another person's "same" is a new request.
    other = people.of(Audience.VISITOR, 1)
    assert other != visitor
    fresh = service.submit(other, "museum_booking", form, idempotency_key="same")
    assert not fresh.replayed
    assert fresh.body["instance"]["instance_id"] != first.body["instance"]["instance_id"]


TWINS = 6


def test_twins_racing_with_one_key_run_once(hall: Hall, store_engine: Engine) -> None:
    service, people = hall.service, hall.people
    museum = hall.catalog.get("museum_booking")
    for round_ in range(5):
        visitor = people.of(Audience.VISITOR, round_)
        form = fitting_form(museum, Audience.VISITOR, round_, service.clock())
        before = event_count(store_engine)
        results = _twins(
            lambda v=visitor, f=form, k=f"twin-{round_}": service.submit(
                v, "museum_booking", f, idempotency_key=k
            )
        )
        assert sum(1 for r in results if not r.replayed) == 1
        assert all(r.body == results[0].body for r in results)
        assert event_count(store_engine) == before + 2  # submitted, task_created

        task = results[0].body["instance"]["tasks"][0]
        decided = _twins(
            lambda t=task, k=f"twin-approve-{round_}": service.act_on_task(
                t["assignees"][0], t["task_id"], "approve", {}, idempotency_key=k
            )
        )
        assert sum(1 for r in decided if not r.replayed) == 1
        assert all(r.body == decided[0].body for r in decided)
        assert event_count(store_engine) == before + 5  # viewed, approved, completed


def _twins(command: Callable[[], CommandResult]) -> list[CommandResult]:
    barrier = threading.Barrier(TWINS)
    results: list[Any] = [None] * TWINS

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = command()
        except Exception as exc:  # judged below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(TWINS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failures = [r for r in results if not isinstance(r, CommandResult)]
    assert not failures, failures
    return results
