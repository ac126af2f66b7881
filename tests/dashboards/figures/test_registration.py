"""Whereabouts figures from hand-made read-API frames: stacked progress with suppressed units
shown as "—", the hourly curve with the deadline on the campus clock, destinations with the
students staying first, and a figure that says so when there is no data."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from dashboards.figures.registration import (
    cumulative_curve,
    destinations_bars,
    empty_figure,
    progress_bars,
)


def progress_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "class_id": ["C-1", "C-2"],
            "name": ["计算机2023级1班", "小班"],
            "roster": [20, None],
            "excluded": [1, None],
            "eligible": [19, None],
            "registered": [15, None],
            "not_registered": [4, None],
            "registration_rate": [15 / 19, None],
            "is_suppressed": [False, True],
        },
        schema_overrides={
            c: pl.Int64 for c in ("roster", "excluded", "eligible", "registered", "not_registered")
        },
    )


def test_progress_bars_stack_registered_missing_and_excluded_and_suppress_small_units() -> None:
    figure = progress_bars(progress_frame(), "zh")
    bars = [trace for trace in figure.data if trace.type == "bar"]
    assert [bar.name for bar in bars] == ["已登记", "未登记", "不计入（休学/离校）"]
    assert [list(bar.x) for bar in bars] == [[15, None], [4, None], [1, None]]
    assert list(bars[0].y) == ["计算机2023级1班", "小班"]
    (labels,) = [trace for trace in figure.data if trace.type == "scatter"]
    assert list(labels.text) == ["78.9%", "— 人数过少，不予显示"]
    assert list(labels.x) == [20, 0]
    assert figure.layout.barmode == "stack"
    english = progress_bars(progress_frame(), "en")
    assert next(t.name for t in english.data if t.type == "bar") == "Registered"


def test_curve_marks_the_deadline_on_the_campus_clock() -> None:
    frame = pl.DataFrame(
        {
            "campus_hour": [datetime(2026, 9, 18, 11), datetime(2026, 9, 19, 9)],
            "registrations": [3, 5],
            "cumulative": [3, 8],
            "eligible": [10, 10],
        }
    )
    # 04:00 UTC is noon in Asia/Shanghai, the clock the curve's hours are on.
    figure = cumulative_curve(frame, "zh", deadline=datetime(2026, 9, 24, 4, 0))
    (line,) = figure.data
    assert list(line.y) == [3, 8]
    deadline = [s for s in figure.layout.shapes if s.yref == "paper"]
    assert len(deadline) == 1 and deadline[0].x0 == datetime(2026, 9, 24, 12, 0)
    texts = [a.text for a in figure.layout.annotations]
    assert "截止 9月24日 12:00" in texts
    assert "应登记 10 人" in texts
    # Dates in the reader's language, not plotly's English month names.
    formats = [stop.value for stop in figure.layout.xaxis.tickformatstops]
    assert "%-m月%-d日" in formats and not any("%b" in value for value in formats)
    english = cumulative_curve(frame, "en", deadline=datetime(2026, 9, 24, 4, 0))
    assert "Deadline Sep 24 12:00" in [a.text for a in english.layout.annotations]
    assert "%b %-d" in [stop.value for stop in english.layout.xaxis.tickformatstops]


def test_a_late_registration_does_not_squash_the_campaign_window() -> None:
    frame = pl.DataFrame(
        {
            "campus_hour": [
                datetime(2026, 9, 18, 11),
                datetime(2026, 9, 19, 9),
                datetime(2026, 11, 20, 9),
            ],
            "registrations": [3, 5, 2],
            "cumulative": [3, 8, 10],
            "eligible": [10, 10, 10],
        }
    )
    # Opens 2026-09-17 08:00 and closes 2026-09-24 12:00, campus time.
    figure = cumulative_curve(
        frame, "zh", deadline=datetime(2026, 9, 24, 4, 0), opens=datetime(2026, 9, 17, 0, 0)
    )
    start, end = figure.layout.xaxis.range
    assert datetime(2026, 9, 16) < start < datetime(2026, 9, 17, 8)
    assert datetime(2026, 9, 24, 12) < end < datetime(2026, 9, 26)
    texts = [a.text for a in figure.layout.annotations]
    assert "截止后另有 2 人登记（最晚 11月20日）→" in texts
    # No deadline known: plotly fits the data.
    assert cumulative_curve(frame, "zh").layout.xaxis.range is None


def test_destinations_put_students_staying_first_then_provinces() -> None:
    frame = pl.DataFrame(
        {
            "stay_or_leave": ["离校", "留校", "离校"],
            "destination_province": ["湖北省", "", "福建省"],
            "students": [7, 37, 4],
            "earliest_return": [date(2026, 10, 6), None, date(2026, 10, 7)],
            "latest_return": [date(2026, 10, 7), None, date(2026, 10, 8)],
        }
    )
    (bars,) = destinations_bars(frame, "zh").data
    assert list(bars.y) == ["留校", "湖北省", "福建省"]
    assert list(bars.x) == [37, 7, 4]


def test_empty_frames_give_a_figure_that_says_there_is_no_data() -> None:
    for figure in (
        progress_bars(progress_frame().clear(), "zh"),
        cumulative_curve(pl.DataFrame(schema={"campus_hour": pl.Datetime}), "zh"),
        destinations_bars(pl.DataFrame(schema={"students": pl.Int64}), "zh"),
        empty_figure("zh"),
    ):
        assert not figure.data
        assert [a.text for a in figure.layout.annotations] == ["暂无数据"]
    assert [a.text for a in empty_figure("en").layout.annotations] == ["No data"]
