"""Figures of the whereabouts page (去向登记): pure builders from read-API frames, no I/O.

- `progress_bars(frame, lang)`: one horizontal stacked bar per unit (class, college, …) of
  `registration.progress`: registered, not yet registered, excluded (休学/离校), with the rate
  as text. A suppressed unit (small cell, aggregate-only scope) gets no bar and reads "—".
- `cumulative_curve(frame, lang, deadline=…, opens=…)`: `registration.curve`, cumulative first
  registrations by campus hour against the eligible count, the deadline marked; the x axis
  keeps the campaign window in view (late registrations are counted at its right edge) and
  dates read "9月20日" / "Sep 20".
- `destinations_bars(frame, lang)`: `registration.destinations`, students staying (留校) and
  leaving per destination province.

Every builder answers an empty frame with an empty figure that says there is no data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import plotly.graph_objects as go
import polars as pl

from dashboards.formatting import SUPPRESSED, count, date_ticks, month_day, percent, to_shanghai
from dashboards.i18n import register_messages, t

FONT: Final = (
    '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"WenQuanYi Micro Hei", system-ui, sans-serif'
)
REGISTERED_COLOUR: Final = "#2f855a"
MISSING_COLOUR: Final = "#c53030"
EXCLUDED_COLOUR: Final = "#a0aec0"
ACCENT: Final = "#9b1c1c"
STAY: Final = "留校"
# The curve shows the campaign window and this much of it again on either side (at least
# MIN_MARGIN), so the first hour and the deadline never sit on the frame.
WINDOW_MARGIN: Final = 0.04
MIN_MARGIN: Final = timedelta(hours=6)

register_messages(
    "registration.",
    {
        "registration.figure.no_data": {"zh": "暂无数据", "en": "No data"},
        "registration.figure.registered": {"zh": "已登记", "en": "Registered"},
        "registration.figure.missing": {"zh": "未登记", "en": "Not registered"},
        "registration.figure.excluded": {"zh": "不计入（休学/离校）", "en": "Excluded"},
        "registration.figure.students": {"zh": "人数", "en": "Students"},
        "registration.figure.cumulative": {"zh": "累计登记人数", "en": "Registered so far"},
        "registration.figure.eligible": {"zh": "应登记 {count} 人", "en": "{count} expected"},
        "registration.figure.deadline": {"zh": "截止", "en": "Deadline"},
        "registration.figure.hour": {"zh": "时间（北京时间）", "en": "Time (Beijing)"},
        "registration.figure.stay": {"zh": "留校", "en": "Staying"},
        "registration.figure.later": {
            "zh": "截止后另有 {count} 人登记（最晚 {day}）→",
            "en": "{count} more registered after the deadline (last {day}) →",
        },
        "registration.figure.suppressed": {
            "zh": "— 人数过少，不予显示",
            "en": "— too few students to show",
        },
    },
)


def _base(lang: str, *, height: int) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        font={"family": FONT, "size": 13},
        height=height,
        margin={"l": 10, "r": 20, "t": 30, "b": 40},
        # Above the plot: below it, the legend ran into the x axis title.
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
        separators=".,",
    )
    return figure


def empty_figure(lang: str, *, height: int = 260) -> go.Figure:
    """A figure with nothing plotted that says so (rather than empty axes)."""
    figure = _base(lang, height=height)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.add_annotation(
        text=t("registration.figure.no_data", lang),
        showarrow=False,
        font={"size": 16, "color": "#616e7c"},
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
    )
    return figure


def _counts(frame: pl.DataFrame, column: str) -> list[int | None]:
    return [None if v is None else int(v) for v in frame[column].to_list()]


def progress_bars(frame: pl.DataFrame, lang: str) -> go.Figure:
    """Stacked registered / not registered / excluded per unit; suppressed units read "—"."""
    if frame.is_empty():
        return empty_figure(lang)
    names = [str(n) for n in frame["name"].to_list()]
    registered = _counts(frame, "registered")
    missing = _counts(frame, "not_registered")
    excluded = _counts(frame, "excluded")
    rates = frame["registration_rate"].to_list()
    labels = [t("registration.figure.suppressed", lang) if r is None else percent(r) for r in rates]
    figure = _base(lang, height=max(220, 60 + 28 * len(names)))
    for values, key, colour in (
        (registered, "registration.figure.registered", REGISTERED_COLOUR),
        (missing, "registration.figure.missing", MISSING_COLOUR),
        (excluded, "registration.figure.excluded", EXCLUDED_COLOUR),
    ):
        figure.add_trace(
            go.Bar(
                y=names,
                x=values,
                orientation="h",
                name=t(key, lang),
                marker_color=colour,
                hovertemplate="%{y}: %{x}<extra>" + t(key, lang) + "</extra>",
            )
        )
    # The rate sits at the end of each bar; a suppressed unit shows its "—" note at zero.
    ends = [sum(v or 0 for v in parts) for parts in zip(registered, missing, excluded, strict=True)]
    figure.add_trace(
        go.Scatter(
            y=names,
            x=ends,
            mode="text",
            text=labels,
            textposition="middle right",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(title_text=t("registration.figure.students", lang), rangemode="tozero")
    return figure


def _campus(moment: datetime) -> datetime:
    """A naive-UTC warehouse moment on the campus clock (the curve's hours are campus hours)."""
    return to_shanghai(moment).replace(tzinfo=None)


def window(
    opens: datetime | None, deadline: datetime | None, first: datetime, last: datetime
) -> tuple[datetime, datetime] | None:
    """The x range of the curve on the campus clock: the campaign window (opens → deadline)
    with a little margin, so a late registration weeks later does not squash the campaign into
    the left edge. None (plotly's autorange) without a deadline."""
    if deadline is None:
        return None
    end = _campus(deadline)
    start = _campus(opens) if opens is not None else first
    start = min(start, first)
    if end <= start:
        return None
    margin = max((end - start) * WINDOW_MARGIN, MIN_MARGIN)
    return start - margin, end + margin


def cumulative_curve(
    frame: pl.DataFrame,
    lang: str,
    *,
    deadline: datetime | None = None,
    opens: datetime | None = None,
) -> go.Figure:
    """Cumulative registrations by campus hour, the eligible count and the deadline marked.

    The x axis shows the campaign window (`opens` → `deadline`, naive UTC like the warehouse,
    with a margin); registrations after its right edge are counted in a note at that edge."""
    if frame.is_empty():
        return empty_figure(lang)
    hours = frame["campus_hour"].to_list()
    cumulative = frame["cumulative"].to_list()
    eligible = frame["eligible"][0]
    figure = _base(lang, height=320)
    figure.add_trace(
        go.Scatter(
            x=hours,
            y=cumulative,
            mode="lines",
            line={"shape": "hv", "color": REGISTERED_COLOUR, "width": 2},
            name=t("registration.figure.cumulative", lang),
            hovertemplate="%{x|%Y-%m-%d %H:00}: %{y}<extra></extra>",
        )
    )
    if eligible is not None:
        figure.add_hline(
            y=int(eligible),
            line={"dash": "dot", "color": "#616e7c"},
            annotation_text=t("registration.figure.eligible", lang, count=count(eligible)),
            annotation_position="top left",
        )
    if deadline is not None:
        # A shape and an annotation rather than add_vline's annotation, which needs numbers on
        # a date axis.
        at = _campus(deadline)
        figure.add_shape(
            type="line",
            x0=at,
            x1=at,
            y0=0,
            y1=1,
            xref="x",
            yref="paper",
            line={"color": ACCENT, "dash": "dash", "width": 2},
        )
        figure.add_annotation(
            x=at,
            y=1,
            xref="x",
            yref="paper",
            text=f"{t('registration.figure.deadline', lang)} {month_day(at, lang)} {at:%H:%M}",
            showarrow=False,
            yanchor="bottom",
            xanchor="right",
            font={"color": ACCENT},
        )
    shown = window(opens, deadline, hours[0], hours[-1])
    if shown is not None:
        figure.update_xaxes(range=list(shown), autorange=False)
        before = [c for h, c in zip(hours, cumulative, strict=True) if h <= shown[1]]
        later = int(cumulative[-1]) - (int(before[-1]) if before else 0)
        if later > 0:
            figure.add_annotation(
                x=1,
                y=0.04,
                xref="paper",
                yref="paper",
                xanchor="right",
                yanchor="bottom",
                text=t(
                    "registration.figure.later",
                    lang,
                    count=count(later),
                    day=month_day(hours[-1], lang),
                ),
                showarrow=False,
                align="right",
                font={"size": 12, "color": "#616e7c"},
                bgcolor="rgba(255, 255, 255, 0.85)",
            )
    figure.update_xaxes(
        title_text=t("registration.figure.hour", lang),
        type="date",
        tickformatstops=date_ticks(lang),
        hoverformat="%Y-%m-%d %H:00",
    )
    figure.update_yaxes(title_text=t("registration.figure.students", lang), rangemode="tozero")
    figure.update_layout(showlegend=False)
    return figure


def destinations_bars(frame: pl.DataFrame, lang: str) -> go.Figure:
    """Students staying, then leaving per destination province (most students first)."""
    if frame.is_empty():
        return empty_figure(lang)
    rows = frame.select("stay_or_leave", "destination_province", "students").to_dicts()
    labels: list[str] = []
    values: list[int] = []
    colours: list[str] = []
    stay = sum(int(r["students"]) for r in rows if r["stay_or_leave"] == STAY)
    if any(r["stay_or_leave"] == STAY for r in rows):
        labels.append(t("registration.figure.stay", lang))
        values.append(stay)
        colours.append(EXCLUDED_COLOUR)
    for row in rows:
        if row["stay_or_leave"] == STAY:
            continue
        labels.append(str(row["destination_province"] or SUPPRESSED))
        values.append(int(row["students"]))
        colours.append(ACCENT)
    figure = _base(lang, height=max(220, 60 + 24 * len(labels)))
    figure.add_trace(
        go.Bar(
            y=labels,
            x=values,
            orientation="h",
            marker_color=colours,
            text=[count(v) for v in values],
            textposition="outside",
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(title_text=t("registration.figure.students", lang), rangemode="tozero")
    figure.update_layout(showlegend=False)
    return figure
