"""Data-quality figures and rows on hand-made frames: statuses marked and coloured, failing first,
ages in 天/小时/分钟, Beijing time, runs linked into the Dagster UI."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from dashboards.figures.quality import (
    STATUS_COLOURS,
    asset_rows,
    check_options,
    dagster_run_url,
    default_check,
    freshness_rows,
    run_rows,
    sample_rows,
    status_label,
    status_rows,
    trend_figure,
)
from dashboards.formatting import SUPPRESSED

AT = datetime(2026, 11, 2, 2, 0)  # naive UTC: 10:00 in Shanghai


def statuses() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "layer": ["source", "source", "source", "model"],
            "asset": ["raw_business", "raw_events", "raw_events", "mart_registration__progress"],
            "suite": ["business", "events", "integrity", "marts"],
            "check_name": ["b_overlap", "e_unique", "i_after", "m_rate"],
            "severity": ["warn", "error", "error", "warn"],
            "status": ["warn", "pass", "fail", "not_run"],
            "description_zh": ["不重叠", "唯一", "决定晚于创建", "范围"],
            "description_en": ["no overlap", "unique", None, "range"],
            "run_id": ["r2", "r2", "r2", None],
            "evaluated_at": [AT, AT, AT, None],
            "element_count": [2400, 120_000, 30_000, None],
            "unexpected_count": [2, 0, 1, None],
            "unexpected_percent": [2 / 2400 * 100, 0.0, 1 / 30_000 * 100, None],
        }
    )


def test_status_rows_mark_each_check_and_keep_what_links_need() -> None:
    rows = status_rows(statuses(), "zh")
    assert [row["mark"] for row in rows] == ["! 警告", "✓ 通过", "✗ 未通过", "– 未运行"]
    assert [row["severity"] for row in rows] == ["警告", "阻断", "阻断", "警告"]
    assert rows[1]["unexpected"] == "0" and rows[1]["elements"] == "120,000"
    assert rows[0]["share"] == "0.08%"
    assert rows[1]["share"] == "0.00%" and rows[2]["share"] == "<0.01%"  # 1 of 30,000 is not 0
    assert rows[0]["evaluated"] == "2026-11-02 10:00"  # Beijing time
    assert rows[3]["unexpected"] == rows[3]["evaluated"] == SUPPRESSED  # never run, not zero
    assert (rows[2]["run_id"], rows[2]["check_name"]) == ("r2", "i_after")
    english = status_rows(statuses(), "en")
    assert english[0]["description"] == "no overlap"
    assert english[2]["description"] == "决定晚于创建"  # no English text: the Chinese one


def test_failing_checks_come_first_and_the_page_opens_on_the_worst() -> None:
    frame = statuses()
    assert [o["value"] for o in check_options(frame, "zh")] == [
        "i_after",
        "b_overlap",
        "e_unique",
        "m_rate",
    ]
    assert check_options(frame, "en")[0]["label"] == "✗ Failed · raw_events · i_after"
    assert default_check(frame) == "i_after"
    assert default_check(frame.filter(pl.col("status") != "fail")) == "b_overlap"
    assert default_check(frame.filter(pl.col("status") == "pass")) == "e_unique"
    assert default_check(frame.head(0)) is None


def test_asset_rows_name_the_sources_and_count_their_checks() -> None:
    summary = pl.DataFrame(
        {
            "layer": ["source", "model"],
            "asset": ["raw_events", "mart_x"],
            "suites": [["events", "integrity"], ["marts"]],
            "checks": [2, 1],
            "pass": [1, 0],
            "warn": [0, 0],
            "fail": [1, 0],
            "not_run": [0, 1],
            "status": ["fail", "not_run"],
        }
    )
    events, mart = asset_rows(summary, "zh")
    assert events["name"] == "事件库 · raw_events" and events["layer"] == "数据源"
    assert events["counts"] == "✓ 通过 1 · ! 警告 0 · ✗ 未通过 1"  # "not run" only when some are
    assert events["suites"] == "events, integrity"
    assert mart["name"] == "mart_x" and mart["layer"] == "模型"
    assert mart["counts"].endswith("– 未运行 1")


def test_the_trend_draws_unexpected_rows_per_run_coloured_by_status() -> None:
    frame = pl.DataFrame(
        {
            "evaluated_at": [AT - timedelta(hours=1), AT],
            "run_id": ["r1", "r2"],
            "status": ["pass", "fail"],
            "unexpected_count": [0, 3],
            "element_count": [100, 120],
        }
    )
    figure = trend_figure(frame, "zh", "i_after")
    (points,) = figure.data
    assert list(points.y) == [0, 3]
    assert [str(x) for x in points.x] == ["2026-11-02 09:00:00", "2026-11-02 10:00:00"]
    assert list(points.marker.color) == [STATUS_COLOURS["pass"], STATUS_COLOURS["fail"]]
    assert [list(data) for data in points.customdata] == [
        ["r1", 100, "i_after"],
        ["r2", 120, "i_after"],
    ]
    assert figure.layout.yaxis.title.text == "不符合的行数"
    assert figure.layout.yaxis.dtick == 1  # whole rows
    assert figure.layout.xaxis.tickformatstops[1].value == "%-m月%-d日"
    empty = trend_figure(frame.head(0), "en", "i_after")
    assert not empty.data and empty.layout.annotations[0].text == "No results for this check yet"


def test_sample_rows_show_every_value_as_text() -> None:
    frame = pl.DataFrame(
        {"instance_id": ["I-1", None], "seconds": [12345, 7], "late": [True, False]}
    )
    assert sample_rows(frame) == [
        {"instance_id": "I-1", "seconds": "12,345", "late": "true"},
        {"instance_id": SUPPRESSED, "seconds": "7", "late": "false"},
    ]


def test_runs_say_published_which_snapshot_or_blocked() -> None:
    frame = pl.DataFrame(
        {
            "run_id": ["r3", "r2", "r1"],
            "job_name": ["refresh"] * 3,
            "evaluated_at": [AT, AT, AT],
            "outcome": ["blocked", "published", "checked"],
            "blocking_failures": [2, 0, 0],
            "warnings": [1, 1, 0],
            "snapshot_number": [None, 41, None],
            "events_cursor": [12_000, 11_000, 10_000],
        }
    )
    rows = run_rows(frame, "zh")
    assert [row["outcome"] for row in rows] == ["已阻断", "已发布 #41", "仅检查"]
    assert rows[0]["blocking"] == "2" and rows[0]["cursor"] == "12,000"
    assert run_rows(frame, "en")[1]["outcome"] == "Published #41"


def test_freshness_ages_read_in_days_hours_and_minutes() -> None:
    frame = pl.DataFrame(
        {
            "source": ["business", "events", "hr_feed", "snapshot"],
            "loaded_at": [AT - timedelta(days=2, hours=3), AT - timedelta(minutes=4), AT, AT],
            "newest_at": [None, AT - timedelta(minutes=7), AT, None],
            "row_count": [2400, 120_000, None, None],
            "detail": [None, "incremental", None, "11"],
        }
    )
    rows = freshness_rows(
        frame,
        "zh",
        now=AT,
        snapshot_number=12,
        snapshot_as_of=AT - timedelta(hours=1, minutes=30),
        snapshot_published_at=AT - timedelta(hours=1, minutes=29),
    )
    # The pages' own snapshot replaces the report's "snapshot" row (when the last one was made).
    business, events, feed, snapshot = rows
    assert business["source"] == "业务系统 · business" and business["loaded_age"] == "2天3小时"
    assert business["newest"] == business["newest_age"] == SUPPRESSED
    assert events["newest_age"] == "7分钟" and events["loaded_age"] == "4分钟"
    assert events["rows"] == "120,000" and events["detail"] == "incremental"
    assert feed["source"] == "hr_feed"  # a source the page has no name for keeps its own
    assert snapshot["source"] == "已发布快照 #12"
    assert snapshot["newest_age"] == "1小时30分钟" and snapshot["loaded_age"] == "1小时29分钟"
    assert snapshot["newest"] == "2026-11-02 08:30"
    english = freshness_rows(
        frame,
        "en",
        now=AT,
        snapshot_number=None,
        snapshot_as_of=None,
        snapshot_published_at=None,
    )
    assert len(english) == 4 and english[0]["loaded_age"] == "2 d 3 h"
    assert english[3]["source"] == "Published snapshot · snapshot" and english[3]["detail"] == "11"


def test_status_labels_and_dagster_links() -> None:
    assert status_label("fail", "en") == "✗ Failed"
    assert (
        dagster_run_url("http://127.0.0.1:3000/", "a1b2-c3") == "http://127.0.0.1:3000/runs/a1b2-c3"
    )
    assert dagster_run_url("http://d:3000", "x/../y?z") == "http://d:3000/runs/x%2F..%2Fy%3Fz"
