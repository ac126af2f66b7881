"""fct_tasks on the hand-made log: wait, handling, duration in wall-clock and working seconds."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from tests.warehouse.models.conftest import cst, newest_events, one, rows_of


def task(wh: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, Any]:
    return one(wh, "select * from fct_tasks where task_id = ?", [task_id])


def test_every_task_is_one_row(wh: duckdb.DuckDBPyConnection) -> None:
    # I1: 6 tasks, I2–I7: one each (6), I8: 3, I9: 2 → 17; registrations have no tasks.
    assert one(wh, "select count(*) as n, count(distinct task_id) as d from fct_tasks") == {
        "n": 17,
        "d": 17,
    }


def test_a_task_across_the_national_day_holiday_and_the_makeup_saturday(
    wh: duckdb.DuckDBPyConnection,
) -> None:
    # I1-t1 counsellor_review, department cs_college (no calendar of its own → '*').
    # Created Fri 09-26 16:00, viewed Mon 09-29 09:00, approved Mon 10-13 10:00 (CST).
    # Wall clock: wait  Fri 16:00 → Mon 09:00 = 2 d 17 h            = 234 000 s
    #             handling Mon 09-29 09:00 → Mon 10-13 10:00 = 14 d 1 h = 1 213 200 s
    #             duration 1 447 200 s (17 d − 6 h)
    # Working, '*' calendar (summer hours 08:30–12:00, 14:30–18:00 up to 09-30):
    #   wait:  Fri 16:00–18:00 2 h; Sat 09-27 off; Sun 09-28 调休 7 h; Mon 08:30–09:00 0.5 h
    #          = 9.5 h = 34 200 s
    #   handling: Mon 09-29 09:00–12:00 + 14:30–18:00 = 6.5 h; Tue 09-30 7 h;
    #          10-01…10-08 holiday 0; Thu 10-09, Fri 10-10 (default hours) 14 h;
    #          Sat 10-11 调休 7 h; Sun 10-12 off; Mon 10-13 08:30–10:00 1.5 h
    #          = 36 h = 129 600 s
    #   duration 45.5 h = 163 800 s > SLA 8 h = 28 800 s → breached
    row = task(wh, "I1-t1")
    assert row["calendar_id"] == "*"
    assert row["created_at"] == cst(2025, 9, 26, 16, 0)
    assert (row["wait_s"], row["handling_s"], row["duration_s"]) == (234_000, 1_213_200, 1_447_200)
    assert (row["wait_working_s"], row["handling_working_s"], row["duration_working_s"]) == (
        34_200,
        129_600,
        163_800,
    )
    assert row["sla_working_s"] == 28_800
    assert row["is_breached"] is True
    assert row["outcome"] == "approved" and row["decided_by"] == "t_c1"
    assert row["is_after_hours_decision"] is False
    assert row["is_instant_approval"] is False


def test_an_implicit_view_takes_no_handling_time(wh: duckdb.DuckDBPyConnection) -> None:
    # I1-t2 created Mon 10-13 10:00, approved 15:00 with only an implicit view at 15:00.
    # wait = 5 h wall = 18 000; working 10:00–12:00 + 14:00–15:00 = 3 h = 10 800; handling 0.
    # 10 800 < 16 h → on time. With handling 0 s the approval counts as "within 30 s of the
    # (implicit) view": an approval made without ever opening the task is a 秒批 too.
    row = task(wh, "I1-t2")
    assert row["first_viewed_at"] == cst(2025, 10, 13, 15, 0)
    assert (row["wait_s"], row["handling_s"], row["duration_s"]) == (18_000, 0, 18_000)
    assert (row["wait_working_s"], row["handling_working_s"], row["duration_working_s"]) == (
        10_800,
        0,
        10_800,
    )
    assert row["is_breached"] is False
    assert row["is_instant_approval"] is True


def test_an_instant_approval_out_of_office_hours(wh: duckdb.DuckDBPyConnection) -> None:
    # I1-t3, student_affairs (its own copy of the default hours): created Mon 10-13 15:00,
    # viewed 20:00:00, approved 20:00:20. wait 5 h = 18 000 wall, working 15:00–17:30 = 9 000;
    # handling 20 s wall, 0 working (after hours); 20 s < 30 s → 秒批; 20:00 > 17:30 → after
    # hours.
    row = task(wh, "I1-t3")
    assert row["calendar_id"] == "student_affairs"
    assert (row["wait_s"], row["handling_s"], row["duration_s"]) == (18_000, 20, 18_020)
    assert (row["wait_working_s"], row["handling_working_s"], row["duration_working_s"]) == (
        9_000,
        0,
        9_000,
    )
    assert row["is_instant_approval"] is True
    assert row["is_after_hours_decision"] is True
    assert row["is_breached"] is False


def test_an_instant_approval_in_hours_and_a_slow_one(wh: duckdb.DuckDBPyConnection) -> None:
    # I8-t1: viewed 09:30:00, approved 09:30:25 → 25 s, instant, in hours.
    # I1-t5: viewed 09:30, approved 09:31 → 60 s, not instant.
    fast, slow = task(wh, "I8-t1"), task(wh, "I1-t5")
    assert (fast["handling_s"], fast["is_instant_approval"]) == (25, True)
    assert fast["is_after_hours_decision"] is False
    assert (slow["handling_s"], slow["is_instant_approval"]) == (60, False)


def test_a_returned_task_and_its_resubmitted_successor(wh: duckdb.DuckDBPyConnection) -> None:
    # I1-t4 registry_check (academic_affairs) created Mon 10-13 20:00:20 (after hours), viewed
    # Tue 10-14 09:00, returned 10:00. wait 12 h 59 min 40 s = 46 780 wall; working: the clock
    # stood still overnight, 08:30–09:00 = 1 800; handling 3 600 both; duration 50 380 / 5 400.
    returned = task(wh, "I1-t4")
    assert returned["outcome"] == "returned" and returned["is_decided"] is True
    assert (returned["wait_s"], returned["handling_s"], returned["duration_s"]) == (
        46_780,
        3_600,
        50_380,
    )
    assert (returned["wait_working_s"], returned["duration_working_s"]) == (1_800, 5_400)
    assert returned["is_breached"] is False
    # I1-t5, the same node after the resubmission at Wed 10-15 09:00: 1 800 + 60 s.
    again = task(wh, "I1-t5")
    assert (again["node_key"], again["step"], again["outcome"]) == ("registry_check", 3, "approved")
    assert (again["wait_working_s"], again["handling_working_s"]) == (1_800, 60)


def test_cancelled_and_open_tasks(wh: duckdb.DuckDBPyConnection) -> None:
    # I4-t1 cancelled by the withdrawal at 09:10; I9-t1 cancelled when its sibling rejected.
    for task_id, reason_at in (
        ("I4-t1", cst(2025, 10, 13, 9, 10)),
        ("I9-t1", cst(2025, 10, 14, 11)),
    ):
        row = task(wh, task_id)
        assert row["outcome"] == "cancelled"
        assert row["cancelled_at"] == reason_at
        assert row["is_decided"] is False and row["is_open"] is False
        assert row["duration_s"] is None and row["is_breached"] is None
    # I1-t6, I6-t1 and I7-t1 are open: no decision, no duration, no breach yet.
    open_tasks = rows_of(wh, "select task_id from fct_tasks where is_open order by task_id")
    assert [r["task_id"] for r in open_tasks] == ["I1-t6", "I6-t1", "I7-t1"]
    row = task(wh, "I7-t1")
    assert row["calendar_id"] == "security"
    assert row["decided_at"] is None and row["is_breached"] is None
    assert row["is_after_hours_decision"] is False


def test_reassignment_and_delegation_change_who_may_decide(wh: duckdb.DuckDBPyConnection) -> None:
    # I7-t1 created for t_se1, handed over (转办) to t_se2; I6-t1 created for t_mu1, who added
    # t_mu2 as a delegate (委托). The assignees are those after the last change.
    handed = task(wh, "I7-t1")
    assert (handed["assignees"], handed["reassignments"], handed["delegations"]) == (
        ["t_se2"],
        1,
        0,
    )
    delegated = task(wh, "I6-t1")
    assert (delegated["assignees"], delegated["reassignments"], delegated["delegations"]) == (
        ["t_mu1", "t_mu2"],
        0,
        1,
    )
    assert task(wh, "I1-t6")["assignees"] == ["t_aa1", "t_aa2"]


@pytest.mark.parametrize(
    ("task_id", "wall", "working", "breached"),
    [
        # I2-t1 Thu 10-09 10:00 → 11:30, all in the morning.
        ("I2-t1", 5_400, 5_400, False),
        # I3-t1 Fri 10-10 16:00 → Sat 10-11 09:00 (调休): 17 h wall; 16:00–17:30 + 08:30–09:00.
        ("I3-t1", 61_200, 7_200, False),
        # I5-t1 Tue 10-14 11:00 → Wed 10-15 15:00: 28 h wall; 1 + 3.5 + 3.5 + 1 = 9 h > 4 h SLA.
        ("I5-t1", 100_800, 32_400, True),
        # I8-t2 hr Mon 10-13 09:00 → Tue 09:00: 24 h; 3 + 3.5 + 0.5 = 7 h < 16 h.
        ("I8-t2", 86_400, 25_200, False),
        # I9-t2 Tue 10-14 10:00 → 11:00 rejected with an implicit view.
        ("I9-t2", 3_600, 3_600, False),
    ],
)
def test_durations(
    wh: duckdb.DuckDBPyConnection, task_id: str, wall: int, working: int, breached: bool
) -> None:
    row = task(wh, task_id)
    assert (row["duration_s"], row["duration_working_s"], row["is_breached"]) == (
        wall,
        working,
        breached,
    )


def test_parallel_steps_are_marked_from_the_catalog(wh: duckdb.DuckDBPyConnection) -> None:
    parallel = rows_of(wh, "select task_id from fct_tasks where is_parallel_step order by 1")
    assert [r["task_id"] for r in parallel] == ["I8-t1", "I8-t2", "I9-t1", "I9-t2"]


def test_each_task_knows_its_instances_last_event_so_the_checks_find_what_moved(
    wh: duckdb.DuckDBPyConnection,
) -> None:
    from pipelines.quality.checks import FRAMES

    lasts = newest_events(wh)
    marks = wh.execute("select instance_id, instance_last_event_id from fct_tasks").fetchall()
    assert marks and all(lasts[instance] == last for instance, last in marks)

    # The task-duration check's frame after a mark: exactly the tasks of instances that moved.
    mark = sorted(lasts.values())[len(lasts) // 2]
    wh.execute("set variable quality_after = ?::bigint", [mark])
    found = {row[0] for row in wh.execute(FRAMES["task_durations"].sql).fetchall()}
    moved = {
        row[0]
        for row in wh.execute(
            "select task_id from fct_tasks where instance_id in (select stream_id from raw_events"
            " where event_id > ? and stream_type = 'instance')",
            [mark],
        ).fetchall()
    }
    assert found and found == moved
