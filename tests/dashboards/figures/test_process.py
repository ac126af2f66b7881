"""Process-flow figures on hand-made frames: Sankey counts, suppressed small cells."""

from __future__ import annotations

import itertools
from datetime import datetime

import polars as pl

from dashboards.figures.process import (
    bin_label,
    case_duration_figure,
    case_duration_histogram,
    critical_path_bars,
    handoff_sankey,
    slowest_rows,
)
from dashboards.formatting import SUPPRESSED

HOUR = 3600.0


def handoffs_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "process_key": ["cert"] * 4,
            "from_department_id": ["applicant", "CS", "CS", "student_affairs"],
            "to_department_id": ["CS", "CS", "student_affairs", "academic_affairs"],
            "handoffs": [222, 187, 3, 175],
            "instances": [193, 187, 3, 175],
            "wait_median_s": [2 * HOUR, HOUR, HOUR, 3 * HOUR],
            "wait_working_median_s": [HOUR, HOUR / 2, HOUR, HOUR],
            "from_name_zh": [None, "计算机学院", "计算机学院", "学生工作部"],
            "to_name_zh": ["计算机学院", "计算机学院", "学生工作部", "教务处"],
        }
    )


def test_sankey_links_are_the_frames_counts_and_small_flows_stay_out() -> None:
    figure = handoff_sankey(handoffs_frame(), "zh", k=5)
    (sankey,) = figure.data
    labels = list(sankey.node.label)
    links = list(zip(sankey.link.source, sankey.link.target, sankey.link.value, strict=True))
    named = {(labels[s], labels[t]): v for s, t, v in links}
    assert named == {
        ("申请人（提交/重新提交）", "→ 计算机学院"): 222,
        ("计算机学院", "→ 计算机学院"): 187,
        ("学生工作部", "→ 教务处"): 175,
    }
    assert sum(sankey.link.value) == 222 + 187 + 175  # the 3-hand-off flow is not drawn
    assert "2小时" in sankey.link.customdata[0] and "1小时" in sankey.link.customdata[0]
    assert figure.layout.annotations[0].text == "另有 1 条流转少于 5 次，未显示"


def test_sankey_of_no_flows_says_no_data() -> None:
    figure = handoff_sankey(handoffs_frame().clear(), "zh", k=5)
    assert not figure.data and figure.layout.annotations[0].text == "暂无数据"
    only_small = handoff_sankey(handoffs_frame().filter(pl.col("handoffs") < 5), "en", k=5)
    assert not only_small.data and only_small.layout.annotations[0].text == "No data"


def test_critical_path_shows_who_held_the_case_up_and_suppresses_small_rounds() -> None:
    frame = pl.DataFrame(
        {
            "process_key": ["act"] * 3,
            "step": [3, 3, 3],
            "node_key": ["security", "assets", "propaganda"],
            "department_id": ["security", "assets", "propaganda"],
            "node_name_zh": ["保卫处审核", "资产审核", "宣传部审核"],
            "department_name_zh": ["保卫处", "国资处", "宣传部"],
            "rounds": [20, 20, 2],
            "times_last": [14, 6, 2],
            "share_last": [0.7, 0.3, 1.0],
            "hold_median_s": [5 * HOUR, HOUR, HOUR],
        }
    )
    (bars,) = critical_path_bars(frame, "zh", k=5).data
    assert list(bars.x) == [70.0, 30.0, None]
    assert bars.text[2] == SUPPRESSED and "样本不足" in bars.y[2]
    assert "14/20" in bars.customdata[0] and "5小时" in bars.customdata[0]


def test_case_durations_use_a_log_axis_when_skewed() -> None:
    summary = {"min": 60.0, "median": HOUR, "mean": 5 * HOUR, "p90": 20 * HOUR, "max": 100 * HOUR}
    slowest = pl.DataFrame({"case_id": ["c-1", "c-2"], "duration_s": [100 * HOUR, 90 * HOUR]})
    figure = case_duration_figure(summary, 500, slowest, "zh", k=5)
    quantiles, slow = figure.data
    assert list(quantiles.x) == [round(60 / 3600, 3), 1.0, 5.0, 20.0, 100.0]
    assert list(slow.text) == ["c-1", "c-2"]
    assert figure.layout.xaxis.type == "log"
    # Neighbouring labels (the median and the mean above all) sit on opposite sides.
    positions = list(quantiles.textposition)
    assert all(a != b for a, b in itertools.pairwise(positions))
    assert positions[1] != positions[2]  # 中位数 / 平均
    even = dict(summary, max=2 * HOUR)
    assert case_duration_figure(even, 500, None, "zh", k=5).layout.xaxis.type == "linear"


def test_case_durations_of_few_or_no_cases_are_not_drawn() -> None:
    summary = {"min": 1.0, "median": 2.0, "mean": 2.0, "p90": 3.0, "max": 3.0}
    few = case_duration_figure(summary, 3, None, "zh", k=5)
    assert not few.data and "少于 5 件" in few.layout.annotations[0].text
    none = case_duration_figure(None, 0, None, "zh", k=5)
    assert not none.data and none.layout.annotations[0].text == "暂无数据"


def test_slowest_rows_are_ids_and_times_for_people() -> None:
    frame = pl.DataFrame(
        {
            "slowness_rank": [2, 1],
            "case_id": ["I-2", "I-1"],
            "started_at": [datetime(2026, 9, 1, 2, 0), datetime(2026, 9, 1, 0, 0)],
            "ended_at": [datetime(2026, 9, 3, 2, 0), datetime(2026, 9, 5, 0, 0)],
            "events": [12, 30],
            "duration_s": [2 * 24 * HOUR, 4 * 24 * HOUR],
        }
    )
    first, second = slowest_rows(frame, "zh")
    assert first == {
        "rank": "1",
        "case_id": "I-1",
        "started_at": "2026-09-01 08:00",
        "ended_at": "2026-09-05 08:00",
        "events": "30",
        "duration": "4天",
    }
    assert second["case_id"] == "I-2"


def bins_frame(cases: list[int]) -> pl.DataFrame:
    edges = [0, 60, 900, 3600, 14400, 86400, 259200, 604800, 2592000, 7776000, None]
    total = sum(cases)
    return pl.DataFrame(
        {
            "bin": list(range(1, 11)),
            "lower_s": edges[:10],
            "upper_s": edges[1:],
            "cases": cases,
            "share": [c / total if total else None for c in cases],
        }
    )


def test_the_duration_histogram_draws_every_bin_with_its_cases() -> None:
    cases = [3, 0, 8, 20, 40, 12, 5, 2, 0, 1]
    figure = case_duration_histogram(bins_frame(cases), "zh", k=5)
    (bars,) = figure.data
    assert list(bars.y) == cases
    assert bars.x[0] == "不足 1分钟" and bars.x[2] == "15分钟–1小时" and bars.x[-1] == "90天 以上"
    assert bars.text[1] == "" and bars.text[4] == "44%"  # empty bins carry no label
    assert bin_label(86400, 259200, "en") == "1 d–3 d"


def test_a_histogram_of_too_few_or_no_cases_says_so_instead() -> None:
    few = case_duration_histogram(bins_frame([1, 1, 0, 0, 0, 0, 0, 0, 0, 1]), "zh", k=5)
    assert not few.data and "少于 5" in few.layout.annotations[0].text
    empty = case_duration_histogram(bins_frame([0] * 10), "en", k=5)
    assert not empty.data and empty.layout.annotations
