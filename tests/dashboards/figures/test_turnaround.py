"""Turnaround figures on hand-made frames: the frame's numbers, small cells suppressed."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from dashboards.figures.turnaround import (
    ageing_bars,
    clocked,
    department_rows,
    department_signals,
    node_wait_handling,
    p90_over_sla,
    ranking_rows,
    service_rows,
    signal_rows,
    weekly_trend,
)
from dashboards.formatting import SUPPRESSED

HOUR = 3600.0


def weekly_services() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "process_key": ["vpn", "vpn", "vpn"],
            "period_start": [date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 21)],
            "submitted": [12, 3, 9],
            "turnaround_median_s": [5 * HOUR, 1 * HOUR, 7 * HOUR],
            "turnaround_p90_s": [20 * HOUR, 2 * HOUR, 30 * HOUR],
            "turnaround_working_median_s": [2 * HOUR, 0.5 * HOUR, 3 * HOUR],
            "turnaround_working_p90_s": [8 * HOUR, 1 * HOUR, 9 * HOUR],
            "is_small_sample": [False, True, False],
        }
    )


def test_weekly_trend_draws_the_frames_volume_and_leaves_small_weeks_out() -> None:
    figure = weekly_trend(weekly_services(), "zh", "working", "service")
    bars, median, p90 = figure.data
    assert list(bars.y) == [12, 3, 9]
    assert list(median.y) == [2.0, None, 3.0]  # the small week has no point
    assert list(p90.y) == [8.0, None, 9.0]
    assert median.text[1] == SUPPRESSED
    wall = weekly_trend(weekly_services(), "zh", "wall", "service")
    assert list(wall.data[1].y) == [5.0, None, 7.0]


def test_weekly_trend_of_several_services_sums_volume_and_draws_no_median() -> None:
    frame = pl.concat(
        [weekly_services(), weekly_services().with_columns(pl.lit("ip").alias("process_key"))]
    )
    figure = weekly_trend(frame, "zh", "working", "service")
    assert len(figure.data) == 1
    assert list(figure.data[0].y) == [24, 6, 18]


def test_empty_frames_say_no_data_instead_of_empty_axes() -> None:
    figure = weekly_trend(weekly_services().clear(), "zh", "working", "service")
    assert not figure.data
    assert figure.layout.annotations[0].text == "暂无数据"
    assert figure.layout.xaxis.visible is False
    english = ageing_bars(pl.DataFrame(), "en", {})
    assert english.layout.annotations[0].text == "No data"


def nodes_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "process_key": ["vpn", "vpn", "vpn"],
            "node_key": ["review", "review", "grant"],
            "department_id": ["CS", "ECON", "it_center"],
            "step": [0, 0, 1],
            "node_name_zh": ["审核", "审核", "开通"],
            "node_name_en": ["Review", "Review", "Grant"],
            "department_name_zh": ["计算机学院", "经济学院", "网络与信息中心"],
            "decided": [40, 3, 60],
            "breaches": [4, 1, 30],
            "sla_hours": [8.0, 8.0, 16.0],
            "wait_median_s": [HOUR, HOUR, 2 * HOUR],
            "handling_median_s": [HOUR / 2, HOUR, HOUR],
            "wait_working_median_s": [HOUR / 4, HOUR, HOUR],
            "handling_working_median_s": [HOUR / 4, HOUR, HOUR / 2],
            "duration_working_p90_s": [4 * HOUR, 9 * HOUR, 32 * HOUR],
            "is_small_sample": [False, True, False],
        }
    )


def test_node_bars_stack_wait_and_handling_and_suppress_small_nodes() -> None:
    figure = node_wait_handling(nodes_frame(), "zh", "working")
    wait, handling = figure.data
    assert list(wait.x) == [0.25, None, 1.0]
    assert list(handling.x) == [0.25, None, 0.5]
    assert "样本不足" in wait.y[1] and "n=3" in wait.y[1]
    assert figure.layout.barmode == "stack"
    two = nodes_frame().with_columns(
        process_key=pl.Series(["vpn", "ip", "ip"]), step=pl.Series([0, 0, 1])
    )
    labels = node_wait_handling(two, "zh", "working", {"vpn": "网络VPN申请"}).data[0].y
    assert labels[0].startswith("ip · 审核 · 经济学院")
    assert labels[2].startswith("网络VPN申请 · 审核 · 计算机学院")


def test_ageing_bars_count_open_tasks_green_yellow_red() -> None:
    frame = pl.DataFrame(
        {
            "department_id": ["CS", "CS", "ECON", "ECON", "ECON"],
            "node_key": ["a", "b", "a", "a", "b"],
            "ageing_status": ["on_track", "on_track", "overdue", "due_soon", "overdue"],
            "open_tasks": [3, 2, 1, 4, 2],
        }
    )
    figure = ageing_bars(frame, "zh", {"CS": "计算机学院", "ECON": "经济学院"})
    traces = {trace.name: trace for trace in figure.data}
    assert list(traces["正常"].y) == ["经济学院", "计算机学院"]  # most overdue first
    assert list(traces["正常"].x) == [0, 5]
    assert list(traces["临期"].x) == [4, 0]
    assert list(traces["超期"].x) == [3, 0]
    assert traces["超期"].marker.color == "#c53030"
    assert traces["正常"].marker.color == "#2f855a"


def test_service_rows_suppress_small_services_but_keep_their_size() -> None:
    services = pl.DataFrame(
        {
            "process_key": ["vpn", "ip"],
            "process_name_zh": ["网络VPN申请", "固定IP办理"],
            "process_name_en": ["VPN", "Static IP"],
            "submitted": [120, 4],
            "finished": [100, 3],
            "completion_rate": [0.9, 0.75],
            "turnaround_median_s": [3 * HOUR, HOUR],
            "turnaround_p90_s": [26 * HOUR, HOUR],
            "turnaround_working_median_s": [2 * HOUR, HOUR],
            "turnaround_working_p90_s": [9 * HOUR, HOUR],
            "is_small_sample": [False, True],
        }
    )
    rows = service_rows(services, nodes_frame(), "zh", "working")
    vpn, ip = rows
    assert vpn["submitted"] == "120" and vpn["completion_rate"] == "90.0%"
    assert vpn["median"] == "2小时" and vpn["p90"] == "9小时"
    # On time: (103 decided − 35 breached) / 103 decided, from the nodes.
    assert vpn["on_time_rate"] == f"{68 / 103 * 100:.1f}%" and vpn["breaches"] == "35"
    assert ip["submitted"] == "4" and ip["finished"] == "3"
    for key in ("completion_rate", "median", "p90", "on_time_rate", "breaches"):
        assert ip[key] == SUPPRESSED, key
    assert ip["small"] == "样本不足"


def departments_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "department_id": ["CS", "ECON", "it_center", "RC-BOYA", "FL"],
            "department_name_zh": ["计算机学院", "经济学院", "网络与信息中心", "博雅书院", "外语"],
            "department_name_en": ["CS", "Economics", "IT center", "Boya", "FL"],
            "decided": [40, 3, 60, 2, 50],
            "instances": [30, 3, 55, 2, 44],
            "duration_median_s": [HOUR, HOUR, HOUR, HOUR, HOUR],
            "duration_p90_s": [HOUR, HOUR, HOUR, HOUR, HOUR],
            "duration_working_median_s": [HOUR, HOUR, HOUR, HOUR, HOUR],
            "duration_working_p90_s": [HOUR, HOUR, HOUR, HOUR, HOUR],
            "sla_ratio_median": [0.2, 0.1, 0.9, 0.1, 0.3],
            "on_time_rate": [0.9, 1.0, 0.5, 1.0, 0.9],
            "breaches": [4, 0, 30, 0, 5],
            "returned": [1, 0, 2, 0, 0],
            "is_small_sample": [False, True, False, True, False],
        }
    )


def test_the_ranking_is_sla_relative_and_leaves_small_departments_unranked() -> None:
    nodes = nodes_frame().vstack(
        nodes_frame()
        .head(1)
        .with_columns(
            pl.lit("FL").alias("department_id"),
            pl.lit(50, dtype=pl.Int64).alias("decided"),
            pl.lit(2 * HOUR).alias("duration_working_p90_s"),
        )
    )
    ratios = p90_over_sla(nodes)
    assert ratios["CS"] == pytest.approx(0.5)  # 4 h p90 against an 8 h SLA
    assert ratios["FL"] == pytest.approx(0.25)
    rows = ranking_rows(departments_frame(), nodes, "zh", {"CS": "计算机学院"})
    assert [(r["rank"], r["department_id"]) for r in rows] == [
        ("1", "FL"),  # same on-time rate as CS, lower p90 over SLA
        ("2", "CS"),
        ("3", "it_center"),
        (SUPPRESSED, "ECON"),  # a perfect on-time rate on 3 decisions ranks nobody first
        (SUPPRESSED, "RC-BOYA"),
    ]
    assert rows[1]["p90_over_sla"] == "0.50×" and rows[1]["decided"] == "40"
    econ = rows[3]
    assert econ["decided"] == "3" and econ["small"] == "样本不足"
    assert econ["on_time_rate"] == SUPPRESSED and econ["breaches"] == SUPPRESSED


def test_department_rows_follow_the_clock_and_suppress_small_departments() -> None:
    frame = departments_frame().with_columns(pl.lit(5 * HOUR).alias("duration_p90_s"))
    names = {"CS": "计算机学院"}
    working = {r["department_id"]: r for r in department_rows(frame, "zh", "working", names)}
    wall = {r["department_id"]: r for r in department_rows(frame, "zh", "wall", names)}
    assert working["CS"]["p90"] == "1小时" and wall["CS"]["p90"] == "5小时"
    assert working["CS"]["department"] == "计算机学院"
    assert working["ECON"]["p90"] == SUPPRESSED and working["ECON"]["decided"] == "3"
    assert clocked("duration_p90_s", "working") == "duration_working_p90_s"


def test_signal_rows_sum_approvers_per_department_and_name_nobody() -> None:
    # A department's own scope gets the read API's per-approver rows, names included.
    frame = pl.DataFrame(
        {
            "department_id": ["it_center"] * 3 + ["library", "library"],
            "approver_id": ["S1", "S2", "S3", "S4", "S5"],
            "approver_name": ["张三", "<b>李四</b>", "王五", "赵六", "钱七"],
            "decisions": [100, 2, 18, 40, 40],
            "instant_approvals": [25, 2, 3, 4, 0],
            "after_hours_decisions": [10, 1, 9, 0, 2],
            "queue_depth": [7, 0, 3, 1, 1],
            "is_small_sample": [False, True, False, False, False],
        }
    )
    rows = signal_rows(frame, "zh", {"it_center": "网络与信息中心", "library": "图书馆"}, k=5)
    assert [row["department"] for row in rows] == ["网络与信息中心", "图书馆"]
    it_center, library = rows
    assert it_center["decisions"] == "120" and it_center["approvers"] == "3"
    assert it_center["instant"] == "30" and it_center["instant_share"] == "25.0%"
    assert it_center["after_hours"] == "20" and it_center["queue_depth"] == "10"
    # Two approvers: their department's shares would be one of two people's; suppressed, the
    # sample sizes stay.
    assert library["approvers"] == "2" and library["decisions"] == "80"
    assert library["instant"] == library["instant_share"] == library["queue_depth"] == SUPPRESSED
    assert library["small"]
    text = repr(rows)
    for name in ("张三", "李四", "王五", "赵六", "钱七", "S1", "S4"):
        assert name not in text


def test_department_signals_suppress_departments_under_k_decisions() -> None:
    # A university-wide scope gets rows per department already (with an approvers count).
    frame = pl.DataFrame(
        {
            "department_id": ["it_center", "library"],
            "decisions": [100, 4],
            "approvals": [90, 4],
            "instant_approvals": [25, 2],
            "after_hours_decisions": [10, 1],
            "queue_depth": [7, 0],
            "approvers": [6, 4],
            "is_small_sample": [False, True],
        }
    )
    summed = department_signals(frame, k=5)
    assert dict(summed.select("department_id", "is_small_sample").iter_rows()) == {
        "it_center": False,
        "library": True,
    }
    big, small = signal_rows(frame, "en", {}, k=5)
    assert big["instant_share"] == "25.0%" and big["after_hours_share"] == "10.0%"
    assert small["decisions"] == "4" and small["instant"] == SUPPRESSED
    assert department_signals(frame.clear(), k=5).is_empty()


def test_weekly_trend_labels_weeks_in_the_readers_language_above_no_legend() -> None:
    frame = weekly_services()
    for lang, day_format, hover in (
        ("zh", "%-m月%-d日", "2026年9月7日起一周"),
        ("en", "%b %-d", "Week of Sep 7, 2026"),
    ):
        figure = weekly_trend(frame, lang, "working", "service")
        axis = figure.layout.xaxis
        formats = [stop.value for stop in axis.tickformatstops]
        assert axis.type == "date" and day_format in formats and axis.tickangle == 0
        assert axis.automargin
        # The legend sits above the plot, clear of the week labels.
        assert figure.layout.legend.y >= 1 and figure.layout.legend.yanchor == "bottom"
        assert figure.data[0].customdata[0] == hover
