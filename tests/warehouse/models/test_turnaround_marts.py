"""Turnaround, ageing, hand-off, critical-path and approver marts over the hand-made log."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.models.conftest import AS_OF, EventLog, cst, one, rows_of, warehouse

ALL = date(1970, 1, 1)


def test_services_completion_rate_and_turnaround(wh: duckdb.DuckDBPyConnection) -> None:
    # museum_booking, submitted I2 I3 I4 I5 I6: terminal I2 I3 I4 I5 → 办结率 4/5; finished
    # (approved or rejected) I2 5 400, I3 61 200, I5 100 800 (wall); working 5 400, 7 200,
    # 32 400. quantile_cont over n = 3: position (n − 1)·q; median = the middle value; p90 at
    # position 1.8 = x2 + 0.8·(x3 − x2): 61 200 + 0.8·39 600 = 92 880; 7 200 + 0.8·25 200
    # = 27 360.
    row = one(
        wh,
        "select * from mart_turnaround__services"
        " where process_key = 'museum_booking' and period_grain = 'all'",
    )
    assert row["period_start"] == ALL
    assert (row["submitted"], row["terminal"], row["open"]) == (5, 4, 1)
    assert (row["approved"], row["rejected"], row["withdrawn"]) == (2, 1, 1)
    assert row["completion_rate"] == 0.8
    assert row["finished"] == 3
    assert row["turnaround_median_s"] == 61_200
    assert row["turnaround_p90_s"] == pytest.approx(92_880)
    assert (row["turnaround_min_s"], row["turnaround_max_s"]) == (5_400, 100_800)
    assert row["turnaround_working_median_s"] == 7_200
    assert row["turnaround_working_p90_s"] == pytest.approx(27_360)
    assert row["turnaround_working_min_s"] == 5_400
    assert row["returns"] == 0


def test_services_by_week_and_other_services(wh: duckdb.DuckDBPyConnection) -> None:
    weeks = rows_of(
        wh,
        "select period_start, submitted, terminal, open, completion_rate, finished,"
        " turnaround_median_s, turnaround_p90_s from mart_turnaround__services"
        " where process_key = 'museum_booking' and period_grain = 'week' order by 1",
    )
    # ISO week of Mon 10-06: I2 (Thu), I3 (Fri): median (5 400 + 61 200) / 2 = 33 300,
    # p90 at 0.9 = 5 400 + 0.9·55 800 = 55 620. Week of Mon 10-13: I4 withdrawn, I5, I6 open:
    # 办结率 2/3, one finished (100 800).
    assert [tuple(r.values()) for r in weeks] == [
        (date(2025, 10, 6), 2, 2, 0, 1.0, 2, 33_300, pytest.approx(55_620)),
        (date(2025, 10, 13), 3, 2, 1, 2 / 3, 1, 100_800, 100_800),
    ]
    # personal_info_change: I8 approved (88 800 / 27 600), I9 rejected (3 600 / 3 600):
    # median 46 200 / 15 600; p90 3 600 + 0.9·85 200 = 80 280; 3 600 + 0.9·24 000 = 25 200.
    pic = one(
        wh,
        "select * from mart_turnaround__services"
        " where process_key = 'personal_info_change' and period_grain = 'all'",
    )
    assert (pic["submitted"], pic["terminal"], pic["completion_rate"]) == (2, 2, 1.0)
    assert (pic["turnaround_median_s"], pic["turnaround_working_median_s"]) == (46_200, 15_600)
    assert pic["turnaround_p90_s"] == pytest.approx(80_280)
    assert pic["turnaround_working_p90_s"] == pytest.approx(25_200)
    # enrollment_certificate: I1 open with one return; no finished request, so no turnaround.
    ec = one(
        wh,
        "select * from mart_turnaround__services"
        " where process_key = 'enrollment_certificate' and period_grain = 'all'",
    )
    assert (ec["submitted"], ec["terminal"], ec["completion_rate"], ec["returns"]) == (1, 0, 0, 1)
    assert ec["finished"] == 0 and ec["turnaround_median_s"] is None
    # Whereabouts registrations are a campaign service, not a request: absent.
    campaign = rows_of(
        wh,
        "select * from mart_turnaround__services where process_key = 'holiday_whereabouts'",
    )
    assert campaign == []


def test_nodes(wh: duckdb.DuckDBPyConnection) -> None:
    # museum_confirm, decided I2 I3 I5 (I4 cancelled, I6 open):
    #   wait      3 600, 3 600, 300            → median 3 600, p90 3 600
    #   handling  1 800, 57 600, 100 500       → median 57 600, p90 57 600 + 0.8·42 900 = 91 920
    #   duration  5 400, 61 200, 100 800       → median 61 200, min 5 400
    #   handling working 1 800, 3 600, 32 100  → median 3 600, p90 3 600 + 0.8·28 500 = 26 400
    #   duration working 5 400, 7 200, 32 400 → median 7 200, p90 27 360, min 5 400
    #   SLA 4 h: I5 breached → on time 2/3.
    row = one(
        wh,
        "select * from mart_turnaround__nodes"
        " where node_key = 'museum_confirm' and period_grain = 'all'",
    )
    assert (row["process_key"], row["department_id"], row["step"]) == (
        "museum_booking",
        "museum",
        0,
    )
    assert (row["decided"], row["approved"], row["rejected"], row["returned"]) == (3, 2, 1, 0)
    assert (row["wait_median_s"], row["wait_p90_s"]) == (3_600, 3_600)
    assert row["handling_median_s"] == 57_600
    assert row["handling_p90_s"] == pytest.approx(91_920)
    assert (row["duration_median_s"], row["duration_min_s"]) == (61_200, 5_400)
    assert row["handling_working_median_s"] == 3_600
    assert row["handling_working_p90_s"] == pytest.approx(26_400)
    assert row["duration_working_median_s"] == 7_200
    assert row["duration_working_p90_s"] == pytest.approx(27_360)
    assert row["duration_working_min_s"] == 5_400
    assert row["on_time_rate"] == pytest.approx(2 / 3)
    assert (row["breaches"], row["sla_hours"]) == (1, 4.0)
    # By ISO week: I2, I3 decided in the week of 10-06 (Sat 10-11 included), I5 in 10-13's.
    weeks = rows_of(
        wh,
        "select period_start, decided, duration_median_s from mart_turnaround__nodes"
        " where node_key = 'museum_confirm' and period_grain = 'week' order by 1",
    )
    assert [tuple(r.values()) for r in weeks] == [
        (date(2025, 10, 6), 2, 33_300),
        (date(2025, 10, 13), 1, 100_800),
    ]
    # registry_check: the returned visit (50 380 s) and the one after resubmission (1 860 s).
    registry = one(
        wh,
        "select decided, approved, returned, duration_median_s, duration_min_s"
        " from mart_turnaround__nodes where node_key = 'registry_check' and period_grain = 'all'",
    )
    assert registry == {
        "decided": 2,
        "approved": 1,
        "returned": 1,
        "duration_median_s": 26_120,
        "duration_min_s": 1_860,
    }
    hr = one(
        wh,
        "select step, is_parallel_step from mart_turnaround__nodes"
        " where node_key = 'hr_verify' and period_grain = 'all'",
    )
    assert hr == {"step": 2, "is_parallel_step": True}


def test_departments(wh: duckdb.DuckDBPyConnection) -> None:
    # academic_affairs, all services: decided I1-t4 (returned; 50 380 wall, 5 400 working),
    # I1-t5 (1 860, 1 860), I8-t1 (1 825, 1 825, 秒批); I9-t1 cancelled, I1-t6 open.
    # wall sorted 1 825, 1 860, 50 380: median 1 860, p90 1 860 + 0.8·48 520 = 40 676;
    # working 1 825, 1 860, 5 400: median 1 860, p90 1 860 + 0.8·3 540 = 4 692;
    # SLA ratio (working / SLA): 5 400/57 600, 1 860/57 600, 1 825/57 600 → median 1 860/57 600.
    row = one(
        wh,
        "select * from mart_turnaround__departments where department_id = 'academic_affairs'"
        " and process_key = '*' and period_grain = 'all'",
    )
    assert (row["decided"], row["instances"], row["nodes"]) == (3, 2, 2)
    assert row["duration_median_s"] == 1_860
    assert row["duration_p90_s"] == pytest.approx(40_676)
    assert row["duration_working_median_s"] == 1_860
    assert row["duration_working_p90_s"] == pytest.approx(4_692)
    assert row["sla_ratio_median"] == pytest.approx(1_860 / 57_600)
    assert (row["on_time_rate"], row["breaches"], row["returned"], row["rejected"]) == (1, 0, 1, 0)
    assert (row["instant_approvals"], row["after_hours_decisions"]) == (1, 0)
    # The same department for enrollment certificates alone: t4 and t5.
    per_service = one(
        wh,
        "select decided, instances, duration_median_s from mart_turnaround__departments"
        " where department_id = 'academic_affairs' and process_key = 'enrollment_certificate'"
        " and period_grain = 'all'",
    )
    assert per_service == {"decided": 2, "instances": 1, "duration_median_s": 26_120}
    # museum: working durations 5 400, 7 200, 32 400 over a 4 h SLA (14 400 s): ratios
    # 0.375, 0.5, 2.25 → median 0.5; on time 2/3.
    museum = one(
        wh,
        "select sla_ratio_median, on_time_rate, rejected from mart_turnaround__departments"
        " where department_id = 'museum' and process_key = '*' and period_grain = 'all'",
    )
    assert museum == {"sla_ratio_median": 0.5, "on_time_rate": pytest.approx(2 / 3), "rejected": 1}


def test_open_tasks_ageing(wh: duckdb.DuckDBPyConnection) -> None:
    # At AS_OF, Fri 10-17 12:00 CST:
    # I1-t6 academic_affairs_seal (SLA 8 h = 28 800), created Wed 10-15 09:31:
    #   working 09:31–12:00 8 940 + 12 600 + Thu 25 200 + Fri 08:30–12:00 12 600 = 59 340
    #   > 28 800 → overdue; wall 2 d 2 h 29 min = 181 740.
    # I7-t1 security_review (security: 08:00–12:00, 13:30–18:00; SLA 8 h), created Thu 10-16
    #   15:00: 15:00–18:00 3 h + Fri 08:00–12:00 4 h = 25 200, 87.5 % → due soon; wall 21 h.
    # I6-t1 museum_confirm (SLA 4 h = 14 400), created Fri 09:30: 2.5 h = 9 000, 62.5 %
    #   → on track; wall 9 000.
    rows = rows_of(
        wh,
        "select ageing_status, process_key, node_key, department_id, open_tasks,"
        " age_working_median_s, age_working_max_s, age_median_s, age_max_s, sla_hours, as_of"
        " from mart_open_tasks__ageing order by process_key",
    )
    got = {r.pop("ageing_status"): tuple(r.values()) for r in rows}
    assert got == {
        "due_soon": (
            *("campus_bus_booking", "security_review", "security", 1),
            *(25_200, 25_200, 75_600, 75_600, 8.0, AS_OF),
        ),
        "overdue": (
            *("enrollment_certificate", "academic_affairs_seal", "academic_affairs", 1),
            *(59_340, 59_340, 181_740, 181_740, 8.0, AS_OF),
        ),
        "on_track": (
            *("museum_booking", "museum_confirm", "museum", 1),
            *(9_000, 9_000, 9_000, 9_000, 4.0, AS_OF),
        ),
    }


def test_handoff_flow(wh: duckdb.DuckDBPyConnection) -> None:
    # Who opened each task: the approval that activated its step, or the applicant for a first
    # step and for the step a resubmission restarts (I1-t5 after the return of I1-t4).
    rows = rows_of(
        wh,
        "select from_department_id, to_department_id, handoffs, instances, waited,"
        " wait_median_s, wait_mean_s from mart_handoff__flow where process_key = '*'"
        " order by from_department_id, to_department_id",
    )
    assert [tuple(r.values()) for r in rows] == [
        # I1-t5 (wait 1 800), I8-t1 (1 800), I9-t1 (cancelled unseen: no wait).
        ("academic_affairs", "academic_affairs", 1, 1, 0, None, None),  # I1-t5 → I1-t6
        ("applicant", "academic_affairs", 3, 3, 2, 1_800, 1_800),
        ("applicant", "cs_college", 1, 1, 1, 234_000, 234_000),  # I1-t1
        ("applicant", "graduate_school", 1, 1, 1, 3_600, 3_600),  # I9-t2
        ("applicant", "hr", 1, 1, 1, 18_000, 18_000),  # I8-t2
        # I2 3 600, I3 3 600, I5 300; I4 cancelled and I6 open unseen → median 3 600,
        # mean 7 500 / 3 = 2 500.
        ("applicant", "museum", 5, 5, 3, 3_600, 2_500),
        ("applicant", "security", 1, 1, 0, None, None),  # I7-t1
        ("cs_college", "cs_college", 1, 1, 1, 18_000, 18_000),  # I1-t1 → I1-t2 (implicit)
        ("cs_college", "student_affairs", 1, 1, 1, 18_000, 18_000),  # I1-t2 → I1-t3
        ("hr", "it_center", 1, 1, 1, 600, 600),  # I8-t2 → I8-t3
        ("student_affairs", "academic_affairs", 1, 1, 1, 46_780, 46_780),  # I1-t3 → I1-t4
    ]
    per_service = rows_of(
        wh,
        "select process_key, handoffs from mart_handoff__flow"
        " where from_department_id = 'applicant' and to_department_id = 'academic_affairs'"
        " and process_key <> '*' order by 1",
    )
    assert [tuple(r.values()) for r in per_service] == [
        ("enrollment_certificate", 1),
        ("personal_info_change", 2),
    ]


def test_critical_path_of_parallel_steps(wh: duckdb.DuckDBPyConnection) -> None:
    # I8's step 2: academic_affairs_verify approved Mon 09:30:25, hr_verify Tue 10-14 09:00:
    # hr was last and alone held the case 23 h 29 min 35 s = 84 575 s. I9's round ended in a
    # rejection: not a complete round, not counted.
    rows = rows_of(
        wh,
        "select node_key, department_id, rounds, times_last, share_last, hold_median_s,"
        " hold_mean_s, duration_median_s, duration_working_median_s"
        " from mart_critical_path__parallel order by node_key",
    )
    assert [tuple(r.values()) for r in rows] == [
        ("academic_affairs_verify", "academic_affairs", 1, 0, 0.0, None, None, 1_825, 1_825),
        ("hr_verify", "hr", 1, 1, 1.0, 84_575, 84_575, 86_400, 25_200),
    ]


def test_approver_signals(wh: duckdb.DuckDBPyConnection) -> None:
    seal_created = cst(2025, 10, 15, 9, 31)
    rows = rows_of(
        wh,
        "select department_id, approver_id, decisions, approvals, instant_approvals,"
        " after_hours_decisions, handling_median_s, duration_working_median_s, queue_depth,"
        " oldest_open_created_at from mart_approver__signals where period_grain = 'all'"
        " order by department_id, approver_id",
    )
    assert [tuple(r.values()) for r in rows] == [
        # t_aa1: I1-t4 returned (handling 3 600, working 5 400), I1-t5 approved (60, 1 860):
        # medians 1 830 and 3 630. Queue: I1-t6, assigned to both, open since 10-15 09:31.
        ("academic_affairs", "t_aa1", 2, 1, 0, 0, 1_830, 3_630, 1, seal_created),
        ("academic_affairs", "t_aa2", 1, 1, 1, 0, 25, 1_825, 1, seal_created),
        ("cs_college", "t_c1", 1, 1, 0, 0, 1_213_200, 163_800, 0, None),
        # Approved with an implicit view: handling 0, counted as 秒批.
        ("cs_college", "t_co1", 1, 1, 1, 0, 0, 10_800, 0, None),
        ("graduate_school", "t_gs1", 1, 0, 0, 0, 0, 3_600, 0, None),
        ("hr", "t_hr1", 1, 1, 0, 0, 68_400, 25_200, 0, None),
        ("it_center", "t_it1", 1, 1, 0, 0, 1_800, 2_400, 0, None),  # viewed 09:10, done 09:40
        # t_mu1: handling 1 800, 57 600, 100 500 → 57 600; working duration median 7 200;
        # queue I6-t1 since Fri 09:30.
        ("museum", "t_mu1", 3, 2, 0, 0, 57_600, 7_200, 1, cst(2025, 10, 17, 9, 30)),
        # t_mu2, t_mu1's delegate on I6-t1, and t_se2, who took I7-t1 over from t_se1, have
        # decided nothing yet but face a queue: it must still show (t_se1's is empty now).
        ("museum", "t_mu2", 0, 0, 0, 0, None, None, 1, cst(2025, 10, 17, 9, 30)),
        ("security", "t_se2", 0, 0, 0, 0, None, None, 1, cst(2025, 10, 16, 15, 0)),
        # t_sa1: I1-t3, 20 s after the view, at 20:00 — 秒批 and after hours.
        ("student_affairs", "t_sa1", 1, 1, 1, 1, 20, 9_000, 0, None),
    ]
    month = one(
        wh,
        "select period_start, decisions, queue_depth from mart_approver__signals"
        " where approver_id = 't_mu1' and period_grain = 'month'",
    )
    assert month == {"period_start": date(2025, 10, 1), "decisions": 3, "queue_depth": None}


def test_periods_are_campus_days(tmp_path: Path) -> None:
    # A booking submitted Wed 10-01 00:10 CST (Tue 09-30 16:10 UTC) and approved 00:30 CST on
    # the National Day holiday: campus month October, although UTC says September. Its 20 min
    # fall on a holiday: 0 working seconds, and the decision is out of office hours.
    log = EventLog()
    log.submit("M1", "museum_booking", cst(2025, 10, 1, 0, 10), "s2")
    log.create("M1-t1", "museum_confirm", "museum", cst(2025, 10, 1, 0, 10), ("t_mu1",), 4.0, 0)
    log.view("M1-t1", cst(2025, 10, 1, 0, 20), "t_mu1")
    log.decide("M1-t1", cst(2025, 10, 1, 0, 30), "t_mu1", "approved")
    log.complete("M1", cst(2025, 10, 1, 0, 30), "t_mu1", "approved")
    conn = warehouse(tmp_path / "midnight.duckdb", log)
    row = one(
        conn,
        "select duration_s, duration_working_s, is_after_hours_decision from fct_tasks",
    )
    assert row == {"duration_s": 1_200, "duration_working_s": 0, "is_after_hours_decision": True}
    service = one(
        conn,
        "select period_start, submitted from mart_turnaround__services"
        " where period_grain = 'month'",
    )
    assert service == {"period_start": date(2025, 10, 1), "submitted": 1}
    for mart in (
        "mart_turnaround__nodes",
        "mart_turnaround__departments",
        "mart_approver__signals",
    ):
        month = one(conn, f"select distinct period_start from {mart} where period_grain = 'month'")
        assert month == {"period_start": date(2025, 10, 1)}, mart
    conn.close()
