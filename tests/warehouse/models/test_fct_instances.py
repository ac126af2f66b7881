"""fct_instances on the hand-made log: turnaround of approved, rejected, withdrawn, open cases."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.warehouse.models.conftest import cst, newest_events, one


def instance(wh: duckdb.DuckDBPyConnection, instance_id: str) -> dict[str, Any]:
    return one(wh, "select * from fct_instances where instance_id = ?", [instance_id])


@pytest.mark.parametrize(
    ("instance_id", "event", "outcome", "wall", "working"),
    [
        # I2 museum booking, Thu 10-09 10:00 → 11:30: 1.5 h, all in the morning.
        ("I2", "completed", "approved", 5_400, 5_400),
        # I3 Fri 10-10 16:00 → rejected Sat 10-11 09:00 (调休 workday): 17 h wall;
        # working 16:00–17:30 + 08:30–09:00 = 2 h.
        ("I3", "completed", "rejected", 61_200, 7_200),
        # I4 Mon 10-13 09:00 → withdrawn 09:10.
        ("I4", "withdrawn", "withdrawn", 600, 600),
        # I5 Tue 10-14 11:00 → Wed 10-15 15:00: 28 h; 11–12, 14–17:30, 08:30–12, 14–15 = 9 h.
        ("I5", "completed", "approved", 100_800, 32_400),
        # I8 Mon 10-13 09:00 → Tue 10-14 09:40: 24 h 40 min = 88 800; working
        # 09:00–12:00 + 14:00–17:30 + 08:30–09:40 = 3 + 3.5 + 1 h 10 min = 27 600.
        ("I8", "completed", "approved", 88_800, 27_600),
        # I9 Tue 10-14 10:00 → 11:00 rejected.
        ("I9", "completed", "rejected", 3_600, 3_600),
    ],
)
def test_turnaround_of_finished_requests(
    wh: duckdb.DuckDBPyConnection,
    instance_id: str,
    event: str,
    outcome: str,
    wall: int,
    working: int,
) -> None:
    row = instance(wh, instance_id)
    assert row["is_terminal"] is True
    assert (row["terminal_event"], row["outcome"]) == (event, outcome)
    assert (row["turnaround_s"], row["turnaround_working_s"]) == (wall, working)


def test_an_open_request_with_a_return(wh: duckdb.DuckDBPyConnection) -> None:
    # I1 was returned once at registry_check and resubmitted; six tasks over five nodes
    # (registry_check twice); still open at AS_OF: no terminal event, no turnaround.
    row = instance(wh, "I1")
    assert row["submitted_at"] == cst(2025, 9, 26, 16, 0)
    assert row["is_terminal"] is False
    assert row["terminal_at"] is None and row["outcome"] is None
    assert row["turnaround_s"] is None and row["turnaround_working_s"] is None
    assert (row["returns"], row["resubmissions"], row["tasks"], row["nodes_visited"]) == (
        1,
        1,
        6,
        5,
    )
    # Events: submitted; t1 created, viewed, approved; t2 created, implicit view, approved;
    # t3 created, viewed, approved; t4 created, viewed, returned; resubmitted; t5 created,
    # viewed, approved; t6 created = 18.
    assert row["events"] == 18


def test_registrations_are_instances_too(wh: duckdb.DuckDBPyConnection) -> None:
    # Seven registrations (R1, R2a, R2b, R3, R4, R6, R8), each submitted and completed at
    # once (the service has no approval step): turnaround 0. With I1–I9: 16 instances.
    row = one(
        wh,
        "select count(*) as n, max(turnaround_s) as longest, bool_and(is_terminal) as done"
        " from fct_instances where campaign_id = 'C1'",
    )
    assert row == {"n": 7, "longest": 0, "done": True}
    total = one(wh, "select count(*) as n from fct_instances")
    assert total == {"n": 9 + 7}


def test_each_instance_knows_its_last_event_so_the_checks_find_what_moved(
    wh: duckdb.DuckDBPyConnection,
) -> None:
    from pipelines.quality.checks import FRAMES

    lasts = newest_events(wh)
    facts = dict(wh.execute("select instance_id, last_event_id from fct_instances").fetchall())
    assert facts and all(lasts[i] == last for i, last in facts.items())

    # The turnaround check's frame after a mark: exactly the instances with an event past it.
    mark = sorted(lasts.values())[len(lasts) // 2]
    wh.execute("set variable quality_after = ?::bigint", [mark])
    found = {row[0] for row in wh.execute(FRAMES["instance_turnaround"].sql).fetchall()}
    moved = {
        row[0]
        for row in wh.execute(
            "select distinct stream_id from raw_events where event_id > ?"
            " and stream_type = 'instance'",
            [mark],
        ).fetchall()
    }
    assert found and found == moved & set(facts)
