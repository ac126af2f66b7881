"""Campaign C1 (国庆去向登记): rosters on the deadline day, registrations, changes, 催办, marts."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb

from tests.warehouse.models.conftest import EventLog, cst, one, rows_of, warehouse

# C1 opens Mon 09-22 09:00 CST, deadline Fri 09-26 18:00 CST (10:00 UTC), for undergraduates.
# Class cs2023-1: s1 s2 s3 s4 s5(休学 since 09-01) s9, and s6 until 09-25 (valid_to exclusive).
# Class cs2023-2: s7 s8 s10(已离校 since 07-01), and s6 from 09-25. Graduate g1 in cs2025-m1 is
# outside the audience.
# Registrations (CST): s8 09-23 10:05 stay; s1 09-23 10:15 stay; s2 09-23 10:40 浙江 then
# 09-25 20:00 江苏 (supersedes); s6 09-24 11:00 广东; 催办 of s3, s4 at 09-26 09:00 by t_c1;
# s3 09-26 10:30 浙江; s4 09-27 08:00 stay (late). s5, s7, s9, s10 never register.


def test_the_campaign_dimension(wh: duckdb.DuckDBPyConnection) -> None:
    row = one(wh, "select * from dim_campaigns")
    assert row["campaign_id"] == "C1"
    assert row["opens_at"] == cst(2025, 9, 22, 9, 0)
    assert row["deadline"] == cst(2025, 9, 26, 18, 0) == datetime(2025, 9, 26, 10, 0)
    assert row["audience"] == ["undergraduate"]
    assert row["reminder_rounds"] == 1
    # AS_OF (10-17) is past the deadline: closed, roster as it stood on the deadline day.
    assert row["is_open"] is False
    assert row["roster_day"] == date(2025, 9, 26)


def test_registrations_and_their_revisions(wh: duckdb.DuckDBPyConnection) -> None:
    rows = rows_of(
        wh,
        "select registration_id, student_id, revision, is_latest, changes, is_late, supersedes"
        " from fct_registrations order by registration_id",
    )
    assert [tuple(r.values()) for r in rows] == [
        ("R1", "s1", 1, True, 0, False, None),
        ("R2a", "s2", 1, False, 1, False, None),
        ("R2b", "s2", 2, True, 1, False, "R2a"),
        ("R3", "s3", 1, True, 0, False, None),
        ("R4", "s4", 1, True, 0, True, None),
        ("R6", "s6", 1, True, 0, False, None),
        ("R8", "s8", 1, True, 0, False, None),
    ]


def test_the_roster_on_the_deadline_day(wh: duckdb.DuckDBPyConnection) -> None:
    rows = rows_of(
        wh,
        "select student_id, class_id, status, is_excluded, is_registered, latest_registration_id,"
        " changes, is_late, reminders, registered_after_reminder,"
        " seconds_from_reminder_to_registration as from_reminder"
        " from fct_campaign_rosters order by student_id",
    )
    got = {r.pop("student_id"): tuple(r.values()) for r in rows}
    assert got == {
        "s1": ("cs2023-1", "在读", False, True, "R1", 0, False, 0, None, None),
        "s2": ("cs2023-1", "在读", False, True, "R2b", 1, False, 0, None, None),
        # 催办 09-26 09:00 → registered 10:30: 1.5 h.
        "s3": ("cs2023-1", "在读", False, True, "R3", 0, False, 1, True, 5_400),
        # 催办 09-26 09:00 → registered 09-27 08:00: 23 h, after the deadline.
        "s4": ("cs2023-1", "在读", False, True, "R4", 0, True, 1, True, 82_800),
        # 休学: on the roster, excluded, shown.
        "s5": ("cs2023-1", "休学", True, False, None, 0, False, 0, None, None),
        # Moved to class 2 on 09-25: counts there on the deadline day 09-26.
        "s6": ("cs2023-2", "在读", False, True, "R6", 0, False, 0, None, None),
        "s7": ("cs2023-2", "在读", False, False, None, 0, False, 0, None, None),
        "s8": ("cs2023-2", "在读", False, True, "R8", 0, False, 0, None, None),
        "s9": ("cs2023-1", "在读", False, False, None, 0, False, 0, None, None),
        # 已离校: on the roster, excluded, shown.
        "s10": ("cs2023-2", "已离校", True, False, None, 0, False, 0, None, None),
    }
    row = one(wh, "select first_registered_at from fct_campaign_rosters where student_id = 's2'")
    assert row["first_registered_at"] == cst(2025, 9, 23, 10, 40)


def test_progress_per_class(wh: duckdb.DuckDBPyConnection) -> None:
    # cs2023-1: roster s1 s2 s3 s4 s5 s9 = 6; excluded s5 (休学); eligible 5; registered s1 s2
    # s3 s4 = 4 (s4 late), not registered s9; changed s2; reminded s3 s4, both registered
    # after it; rate 4/5. Last first registration s4 09-27 08:00.
    # cs2023-2: roster s6 s7 s8 s10 = 4, excluded s10 (已离校), eligible 3, registered s6 s8
    # = 2: rate 2/3.
    rows = rows_of(
        wh,
        "select class_id, college_id, residential_college_id, roster, excluded,"
        " excluded_suspended, excluded_left, eligible, registered, not_registered,"
        " registered_on_time, registered_late, changed, reminded, registered_after_reminder,"
        " registration_rate, last_registered_at"
        " from mart_registration__progress order by class_id",
    )
    assert rows == [
        {
            "class_id": "cs2023-1",
            "college_id": "cs",
            "residential_college_id": "rc1",
            "roster": 6,
            "excluded": 1,
            "excluded_suspended": 1,
            "excluded_left": 0,
            "eligible": 5,
            "registered": 4,
            "not_registered": 1,
            "registered_on_time": 3,
            "registered_late": 1,
            "changed": 1,
            "reminded": 2,
            "registered_after_reminder": 2,
            "registration_rate": 0.8,
            "last_registered_at": cst(2025, 9, 27, 8, 0),
        },
        {
            "class_id": "cs2023-2",
            "college_id": "cs",
            "residential_college_id": "rc1",
            "roster": 4,
            "excluded": 1,
            "excluded_suspended": 0,
            "excluded_left": 1,
            "eligible": 3,
            "registered": 2,
            "not_registered": 1,
            "registered_on_time": 2,
            "registered_late": 0,
            "changed": 0,
            "reminded": 0,
            "registered_after_reminder": 0,
            "registration_rate": 2 / 3,
            "last_registered_at": cst(2025, 9, 24, 11, 0),
        },
    ]


def test_hourly_cumulative_curve(wh: duckdb.DuckDBPyConnection) -> None:
    # First registrations by campus hour: class 1 — 09-23 10h: s1 10:15, s2 10:40 (its change
    # on 09-25 is no new registration); 09-26 10h: s3; 09-27 08h: s4. Class 2 — 09-23 10h: s8;
    # 09-24 11h: s6.
    rows = rows_of(
        wh,
        "select class_id, campus_hour, registrations, cumulative_registrations"
        " from mart_registration__hourly order by class_id, campus_hour",
    )
    assert [tuple(r.values()) for r in rows] == [
        ("cs2023-1", datetime(2025, 9, 23, 10), 2, 2),
        ("cs2023-1", datetime(2025, 9, 26, 10), 1, 3),
        ("cs2023-1", datetime(2025, 9, 27, 8), 1, 4),
        ("cs2023-2", datetime(2025, 9, 23, 10), 1, 1),
        ("cs2023-2", datetime(2025, 9, 24, 11), 1, 2),
    ]


def test_destinations_from_the_latest_registration(wh: duckdb.DuckDBPyConnection) -> None:
    # s2's latest registration (江苏, back 10-07) replaces her first (浙江): 浙江 is s3 alone.
    rows = rows_of(
        wh,
        "select class_id, stay_or_leave, destination_province, students, earliest_return,"
        " latest_return from mart_registration__destinations order by all",
    )
    assert [tuple(r.values()) for r in rows] == [
        ("cs2023-1", "leave", "江苏", 1, date(2025, 10, 7), date(2025, 10, 7)),
        ("cs2023-1", "leave", "浙江", 1, date(2025, 10, 6), date(2025, 10, 6)),
        ("cs2023-1", "stay", "", 2, None, None),
        ("cs2023-2", "leave", "广东", 1, date(2025, 10, 8), date(2025, 10, 8)),
        ("cs2023-2", "stay", "", 1, None, None),
    ]


def test_while_the_campaign_runs_the_roster_is_today_s(tmp_path: Path, event_log: EventLog) -> None:
    # Built at Wed 09-24 12:00 CST from the events known then: the roster day is 09-24, when s6
    # was still in class 1. Class 1: s1 s2 s3 s4 s5 s6 s9 = 7, excluded s5, eligible 6,
    # registered s1 s2 s6 = 3 → 0.5; class 2: s7 s8 s10 (已离校), eligible 2, registered s8 → 0.5.
    now = cst(2025, 9, 24, 12, 0)
    conn = warehouse(tmp_path / "open.duckdb", event_log, now, until=now)
    campaign = one(conn, "select is_open, roster_day from dim_campaigns")
    assert campaign == {"is_open": True, "roster_day": date(2025, 9, 24)}
    rows = rows_of(
        conn,
        "select class_id, roster, eligible, registered, registration_rate"
        " from mart_registration__progress order by class_id",
    )
    assert [tuple(r.values()) for r in rows] == [
        ("cs2023-1", 7, 6, 3, 0.5),
        ("cs2023-2", 3, 2, 1, 0.5),
    ]
    conn.close()
