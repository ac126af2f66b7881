"""Fourteen simulated days of a small university: every stream replays through the domain, time
never runs backwards, only people the directory knows (students only while 在读) apply,
approvers keep office hours (except the flagged share), and a seed reproduces its history."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select

from tests.tongban.simulator.conftest import streams
from tongban.simulator.approvers import Behaviour
from tongban.simulator.calendar import is_working_time, working_time_between
from tongban.simulator.history import Applicants, LaneResult, ServiceLane
from tongban.simulator.run import CAMPAIGN_LANE, lane_names, simulate_lanes
from tongban.simulator.volumes import VolumeModel
from workflow_core.catalog.loader import Catalog
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.directory.port import StudentStatus
from workflow_core.domain.evolve import fold
from workflow_core.store import projections
from workflow_core.store.batch import BatchWriter
from workflow_core.store.schema import PROJECTION_TABLES, events

# A Monday in the autumn term, inside the generated year: students change class, suspend their
# studies (休学) or leave around it, and the history must follow the directory day by day.
FIRST_DAY = date(2025, 11, 3)
DAYS = 14
DECISIONS = {"approved", "rejected", "returned", "reassigned"}


def simulate(
    engine: Engine,
    catalog: Catalog,
    directory: MemoryDirectory,
    business: Engine,
    seed: int,
    days: int = DAYS,
) -> tuple[LaneResult, int]:
    return simulate_lanes(
        engine,
        catalog,
        directory,
        business,
        names=[n for n in lane_names(catalog) if n != CAMPAIGN_LANE],
        size="small",
        first_day=FIRST_DAY,
        days=days,
        seed=seed,
        batch_events=700,
    )


def projection_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            t.name: [
                dict(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()
            ]
            for t in PROJECTION_TABLES
        }


def test_simulated_history_keeps_the_workflow_rules(
    store_engine: Engine,
    catalog: Catalog,
    directory: MemoryDirectory,
    business_engine: Engine,
) -> None:
    result, written = simulate(store_engine, catalog, directory, business_engine, seed=7)
    assert result.instances > 150 and written > 1_000
    by_stream = streams(store_engine)
    assert len(by_stream) == result.instances
    assert sum(len(s) for s in by_stream.values()) == written

    types: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    decisions = outside_hours = 0
    for stream_id, stored in by_stream.items():
        assert stream_id.startswith("sim7-")
        state = fold(stream_id, (s.event for s in stored))  # replays without error
        statuses[state.status.value] += 1
        submitted = stored[0].event
        assert submitted.TYPE == "submitted"
        applicant = directory.person(submitted.applicant_id, submitted.occurred_at)
        assert applicant is not None, stream_id
        assert applicant.status in (None, StudentStatus.ENROLLED), (stream_id, applicant)
        created: dict[str, Any] = {}
        previous = submitted.occurred_at
        for s in stored:
            event = s.event
            types[event.TYPE] += 1
            assert event.occurred_at >= previous, (stream_id, event)  # time never runs back
            previous = event.occurred_at
            task = getattr(event, "task", None)
            if event.TYPE == "task_created":
                created[task] = event.occurred_at
            elif task is not None:
                assert task in created and event.occurred_at >= created[task]
            if event.TYPE in DECISIONS:
                decisions += 1
                if not is_working_time(event.occurred_at):
                    outside_hours += 1
                    assert task in result.flagged, (stream_id, event)
    # Every kind of thing happens, and some requests are still open at the end.
    for kind in ("approved", "returned", "resubmitted", "rejected", "completed", "task_viewed"):
        assert types[kind] > 0, (kind, types)
    assert statuses["in_progress"] > 0 and statuses["completed"] > 0
    assert 0 < outside_hours <= 0.15 * decisions
    decided = ("approve", "return", "reject", "view")
    assert not any(name.startswith(decided) for name in result.refused), result.refused
    # The batched projections equal a rebuild from the log.
    written = projection_rows(store_engine)
    with store_engine.begin() as conn:
        projections.rebuild(conn)
    assert projection_rows(store_engine) == written


def event_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(events).order_by(events.c.event_id)).mappings()
        return [{k: v for k, v in r.items() if k != "recorded_at"} for r in rows]


def test_a_seed_reproduces_its_history_and_another_seed_does_not(
    fresh_store: Any, catalog: Catalog, directory: MemoryDirectory, business_engine: Engine
) -> None:
    first, again, other = fresh_store("a.db"), fresh_store("b.db"), fresh_store("c.db")
    simulate(first, catalog, directory, business_engine, seed=11, days=6)
    simulate(again, catalog, directory, business_engine, seed=11, days=6)
    simulate(other, catalog, directory, business_engine, seed=12, days=6)
    assert event_rows(first) == event_rows(again)
    assert event_rows(first) != event_rows(other)


def test_urgent_requests_go_through_every_office_within_minutes(
    fresh_store: Any, catalog: Catalog, directory: MemoryDirectory, business_engine: Engine
) -> None:
    engine = fresh_store("urgent.db")
    writer = BatchWriter(engine, catalog, directory, batch_events=500)
    everyone_urgent = Behaviour(urgent_share=1.0, withdraw_share=0.0)
    lane = ServiceLane(
        "enrollment_certificate",
        writer,
        catalog,
        directory,
        Applicants.of(directory),
        VolumeModel.for_size("demo"),  # a demo's volume of certificates on the small directory
        seed=3,
        behaviour=everyone_urgent,
    )
    lane.start()
    for offset in range(3):
        lane.run_day(FIRST_DAY + timedelta(days=offset))
    writer.flush()
    turnarounds = []
    for stored in streams(engine).values():
        if stored[-1].event.TYPE != "completed":
            continue
        decided = [s.event for s in stored if s.event.TYPE == "approved"]
        assert len(decided) == 6 and all(is_working_time(e.occurred_at) for e in decided)
        turnarounds.append(
            working_time_between(stored[0].event.occurred_at, decided[-1].occurred_at)
        )
    # Six nodes of 4–12 office minutes each: the seed reports' shortest certificate is 33 minutes.
    assert len(turnarounds) > 20
    assert all(timedelta(minutes=24) <= t <= timedelta(minutes=72) for t in turnarounds)
